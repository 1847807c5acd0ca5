"""`lockdock scan`: scan files and the local engine, print a report in one of `FORMATS`.

Exit codes: 0 nothing at or above `--fail-on` (default high); 1 something is; 2 bad usage,
or an asked-for target that could not be scanned (`lockdock.cli.targets`), said on stderr
before any report.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from lockdock.cli.fleetopts import add_fleet_options, fleet_scan, wants_fleet
from lockdock.cli.options import (
    EXIT_OK,
    EXIT_USAGE,
    SEVERITY_WORDS,
    UsageError,
    add_common_options,
    parse_severity,
    selectors,
    write_report,
)
from lockdock.text import sanitize

FORMATS = {
    "text": "for people: by target and checklist layer, then a summary line (default)",
    "compact": "one line per finding: `path:line: SEVERITY check message`\n"
    + " " * 14 + "(`image@layerN` or the container's name for engine targets)",
    "json": "lockdock's JSON report (version 1, keys are only ever added)",
    "sarif": "SARIF 2.1.0 for code scanning (GitHub upload-sarif)",
    "gitlab": "GitLab Code Quality JSON (artifacts:reports:codequality)",
    "checkstyle": "Checkstyle XML (Jenkins warnings-ng, reviewdog)",
    "junit": "JUnit XML: a test suite per target, a failing test case per finding",
}


def add_scan_parser(sub: argparse._SubParsersAction) -> None:
    """Register `scan` and its options on the subcommand parser `sub`."""
    p = sub.add_parser(
        "scan", help="scan files and the local engine; print a report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Scan Dockerfiles, compose files and the repository under PATHS (default .),\n"
        "and the local engine's images, containers and daemon settings.",
        epilog="formats:\n" + "\n".join(f"  {name:<11} {text}" for name, text in FORMATS.items())
        + "\n\nexit codes: 0 passed, 1 a finding at or above --fail-on, 2 usage error or an "
        "asked-for target not scanned",
    )
    add_common_options(p, command="scan")
    p.add_argument("--format", choices=tuple(FORMATS), default="text", metavar="FORMAT",
                   help="report format: " + ", ".join(FORMATS) + " (see below; default text)")
    p.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the report to FILE")
    p.add_argument("--fail-on", metavar="SEVERITY",
                   help=f"exit 1 when a finding is at or above this ({SEVERITY_WORDS}; default: high)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="text and compact formats: print nothing when the scan passes (exit 0); when "
                   "it fails, print the findings without the summary. Errors still go to stderr; "
                   "machine formats and --output are unaffected")
    p.add_argument("--show-suppressed", action="store_true", help="text report: list suppressed findings too")
    p.add_argument("--baseline", type=Path, metavar="FILE",
                   help="report only findings not recorded in this baseline (see --write-baseline)")
    p.add_argument("--write-baseline", type=Path, metavar="FILE",
                   help="record today's findings in FILE by stable fingerprint (check, target, path, "
                   "line content; not line numbers), then report as usual")
    p.add_argument("--no-cache", action="store_true",
                   help="analyse every file again; do not read or write the result cache ($XDG_CACHE_HOME/lockdock)")
    add_fleet_options(p)


# Young-generation threshold of the cyclic garbage collector during a scan (CPython's
# default is 700 allocations; see `fewer_collections`).
SCAN_GC_THRESHOLD = (50_000, 20, 10)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run CPython's cyclic garbage collector less often inside the block.

    A scan builds one large graph of objects that lives until the report is written (every
    parsed file, project and finding); with the default thresholds the collector walks that
    graph again and again as it grows: a quarter to a third of the CPU time of a
    300-project compose scan. Objects alive when the block starts (modules, config) are
    kept out of the collector's sight (`gc.freeze`) and collections start after
    `SCAN_GC_THRESHOLD` allocations; unreachable cycles are still collected. Both are
    undone when the block ends (an in-process caller gets its collector back as it was).
    """
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*SCAN_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


# Seconds a thread may hold CPython's interpreter lock while another waits for it, during a
# scan (CPython's default is 5 ms; see `prompt_readers`).
SCAN_SWITCH_INTERVAL = 0.0005


@contextmanager
def prompt_readers() -> Iterator[None]:
    """Hand the interpreter lock over sooner inside the block (`sys.setswitchinterval`).

    An engine scan analyses images and containers in the main thread while other threads
    read the next ones from the engine (`lockdock.sources.engine.prefetch`). A reader whose
    reply has arrived needs the lock for a moment to send its next request; with the
    default 5 ms interval it waits while the main thread analyses, and the engine idles.
    Measured on 320 containers and ~120 images (2 CPUs shared, load 8-10, medians of 9):
    1.26 s wall with 5 ms, 1.10 s with 1 ms, 0.92 s with 0.2 ms, the same CPU time; a
    second run put 0.5 ms (0.58 s) beside 5 ms (0.69 s). Undone when the block ends.
    """
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, SCAN_SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def run_scan(args: argparse.Namespace) -> int:
    """Run `lockdock scan`; returns the exit code. Raises `UsageError` and `ConfigError`."""
    with fewer_collections(), prompt_readers():
        return _run_scan(args)


def _run_scan(args: argparse.Namespace) -> int:
    from lockdock.cli.targets import after_scan, plan
    from lockdock.scan import ScanResult, severity_of

    bl: Any = None  # lockdock.reports.baseline, imported for --baseline / --write-baseline only
    if args.baseline is not None or args.write_baseline is not None:
        from lockdock.reports import baseline as bl
    from lockdock.scan import scan as run

    select = selectors(args.select)
    ignore = selectors(args.ignore)
    shown_from = parse_severity(args.severity, "--severity")
    fail_on_arg = parse_severity(args.fail_on, "--fail-on")
    if args.daemon_json is not None and not args.daemon_json.exists():
        raise UsageError(f"--daemon-json {args.daemon_json}: no such file")
    held_back = None
    if args.baseline is not None:
        try:
            held_back = bl.load(args.baseline)
        except bl.BaselineError as exc:
            raise UsageError(str(exc)) from None
    p = plan(args)
    fail_on = fail_on_arg if fail_on_arg is not None else p.config.fail_on
    for message in p.problems:  # said first, before the (possibly long) scan and any report
        print(f"lockdock: error: {sanitize(message)}", file=sys.stderr)
    said = len(p.problems)
    recorder: Any = None  # lockdock.scanrecord.Recorder: the cached answer of this whole scan
    if p.nothing_left:  # no scan at all (not the engine either); the report says why
        print("lockdock: nothing asked for could be scanned", file=sys.stderr)
        result = ScanResult()
    elif wants_fleet(args):
        result = fleet_scan(args, p.paths, p.ctx)
    else:
        from lockdock.cache import disabled_by_env
        from lockdock.files import recording_reads

        use_cache = not (args.no_cache or disabled_by_env())
        selection = f"select={sorted(select or [])};ignore={sorted(ignore or [])}"
        if use_cache and not said:
            from lockdock import scanrecord

            if scanrecord.eligible(args):
                recorder = scanrecord.Recorder.open(args, p.ctx, p.paths, selection)
                kept = recorder.replay() if recorder is not None else None
                if kept is not None:  # an unchanged tree: the answer the same scan gave
                    return _emit(args, *kept)
        if args.format == "json" and not _pretty_json(args):  # entries made where analysed
            from lockdock.reports.json_report import encoded_entries

            p.ctx.report_entries = encoded_entries
        with recording_reads() if recorder is not None else nullcontext([]) as reads:
            result = run(p.paths, p.ctx, use_cache=use_cache, selection=selection, throughput=True,
                         recording=recorder)
        if recorder is not None:
            recorder.reads = reads
    after_scan(p, result)
    for message in p.problems[said:]:
        print(f"lockdock: error: {sanitize(message)}", file=sys.stderr)
    if select or ignore:
        for t in result.targets.values():
            t.findings = [f for f in t.findings if (not select or f.check in select) and f.check not in ignore]
    if args.write_baseline is not None:
        try:
            n = bl.write(args.write_baseline, result.findings, p.ctx.cwd)
        except bl.BaselineError as exc:
            raise UsageError(str(exc)) from None
        print(f"lockdock: baseline of {n} finding(s) written to {sanitize(args.write_baseline)}", file=sys.stderr)
    meta: dict[str, Any] = {"problems": len(p.problems)}
    if held_back is not None:
        lines = bl.LineSource(p.ctx.cwd)
        held = 0
        for t in result.targets.values():
            t.findings, n = bl.split(t.findings, held_back, lines)
            held += n
        meta["baselined"] = held
    from lockdock.reports.summary import exit_code, nothing_found

    failed = exit_code(result, fail_on) == 1
    meta["failed"] = failed
    if nothing_found(result):
        result.targets = {}  # an empty folder has no level to report
    if shown_from is not None:
        hidden = 0
        for t in result.targets.values():
            keep = [f for f in t.findings if severity_of(f) >= shown_from]
            hidden += sum(1 for f in t.findings if f.suppressed is None) - sum(1 for f in keep if f.suppressed is None)
            t.findings = keep
        meta.update(hidden=hidden, severity_threshold=shown_from.label)
    code = EXIT_USAGE if p.problems else (1 if failed else EXIT_OK)
    text = _render(args, result, fail_on, meta, p.ctx.cwd, quiet=args.quiet and code != EXIT_OK)
    if recorder is not None and not p.problems:
        recorder.store(text, code)
    from lockdock.cli.lean import keep_until_exit

    keep_until_exit(result, p, text)  # freed by the process's end, not by this return
    return _emit(args, text, code)


def _emit(args: argparse.Namespace, text: str, code: int) -> int:
    """Write the rendered report `text` (nothing for a passing quiet scan); returns the
    exit code: `code`, or 2 when the --output file cannot be written."""
    if args.quiet and code == EXIT_OK and args.output is None and args.format in ("text", "compact"):
        return code
    if not write_report(text, args.output or None):
        return EXIT_USAGE
    return code


def _pretty_json(args: argparse.Namespace) -> bool:
    """A JSON report is indented for a person: written to a terminal, not to --output."""
    return args.output is None and sys.stdout.isatty()


def _render(args: argparse.Namespace, result: Any, fail_on: Any, meta: dict[str, Any], cwd: Path,
            *, quiet: bool) -> str:
    """The report in `args.format`; `quiet` leaves the summary line out (text, compact)."""
    fmt = args.format
    if fmt == "json":
        from lockdock.reports import json_report

        return json_report.render(result, fail_on, pretty=_pretty_json(args), meta=meta)
    if fmt == "sarif":
        from lockdock.reports import sarif_report

        return sarif_report.render(result, meta)
    if fmt in ("compact", "gitlab"):
        from lockdock.reports import ci_reports

        if fmt == "gitlab":
            return ci_reports.render_gitlab(result, cwd)
        return ci_reports.render_compact(result, fail_on, quiet=quiet, meta=meta)
    if fmt in ("checkstyle", "junit"):
        from lockdock.reports import xml_reports

        return xml_reports.render_checkstyle(result) if fmt == "checkstyle" else xml_reports.render_junit(result)
    from lockdock.reports import text_report

    colour = args.output is None and text_report.use_colour(sys.stdout.isatty())
    text = text_report.render(result, fail_on, colour=colour, show_suppressed=args.show_suppressed, meta=meta)
    if quiet:  # the findings without the summary line
        text = "\n".join(text.rstrip("\n").split("\n")[:-1]).rstrip("\n") + "\n"
    return text
