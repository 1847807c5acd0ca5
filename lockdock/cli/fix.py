"""`lockdock fix` and `lockdock undo`.

`fix` scans, then shows the combined diff of every offered fix (`--diff`, the default,
writes nothing) or applies them (`--apply`): safe fixes only unless `--unsafe`. The
output says what was applied, what was skipped and why, and which unsafe fixes exist.

With `--context`/`--all-contexts`/`--host` (several engines, `lockdock.fleet`) every
`docker update` goes to the engine that owns its container: the preview names it, the
journal records it (context name or host URL) and `undo` reconnects to it, refusing when
it cannot. daemon.json fixes are offered only for an engine whose files are on this
machine; an engine that is down is reported and the others are fixed.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lockdock.cli.fleetopts import add_fleet_options, wants_fleet
from lockdock.cli.options import EXIT_OK, EXIT_USAGE, add_common_options, parse_severity, selectors
from lockdock.model import Applicability, Finding, Fix, TargetKind
from lockdock.text import safe, sanitize

EXIT_REFUSED = 1  # a fix was refused or failed


def add_fix_parser(sub: argparse._SubParsersAction) -> None:
    """Register `fix` and `undo` on the subcommand parser `sub`."""
    p = sub.add_parser("fix", help="show (default) or apply the fixes for what a scan finds")
    add_common_options(p, command="fix")
    p.add_argument("--check", action="append", dest="select", metavar="ID", help="the same as --select")
    p.add_argument("--unsafe", action="store_true", help="also apply fixes that change behaviour")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--diff", action="store_true", help="print the combined unified diff; write nothing (default)")
    mode.add_argument("--apply", action="store_true", help="write the fixes (atomically, journalled for `lockdock undo`)")
    p.add_argument("--unmasked-diff", action="store_true", help="with --diff: write secret values raw, so the patch applies; only to a file or pipe, never a terminal")
    p.add_argument("--containers", action="store_true", help="also change the engine's containers (docker update; with --context/--host on the engine that owns each); off unless asked")
    p.add_argument("--verify", action="store_true", help="with --apply: first build and start the fixed stack in a throwaway copy; apply only the fixes that keep it working")
    p.add_argument("--verify-seconds", type=float, metavar="S", help="with --verify: observe each run at most S seconds (default 20)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="with --verify: report format")
    add_fleet_options(p, command="fix")
    u = sub.add_parser("undo", help="undo this project's last applied fix run, byte for byte")
    u.add_argument("path", nargs="?", type=Path, default=Path("."),
                   help="a directory of the project (default: .); the project is its git repository, else the directory")
    u.add_argument("--list", action="store_true", help="show what undo would revert (runs of this project, newest first); change nothing")
    u.add_argument("--all", action="store_true", help="with --list: every project's runs")
    u.add_argument("--entry", metavar="ID", help="undo this run (an id from --list), whatever its project")
    u.add_argument("--no-engine", action="store_true", help="do not contact the Docker engine")


@dataclass
class _Offer:
    finding: Finding
    subject: Any
    fix: Fix

    def where(self) -> str:
        loc = self.finding.location
        path = loc.path or self.finding.target.path or self.finding.target.name
        return safe(path, 120) + (f":{loc.line}" if loc.line else "")

    def label(self) -> str:
        return f"{self.where()}: {safe(self.fix.title, 120)} ({self.finding.check})"


def _roots(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        a = Path(os.path.abspath(p))
        out.append(a if a.is_dir() else a.parent)
    return out


def _offers(result: Any, select: set[str], ignore: set[str] = frozenset(), at_least: Any = None) -> list[_Offer]:
    from lockdock.scan import severity_of

    offers = []
    for tr in result.targets.values():
        for f in tr.active:
            if f.fix is None or (select and f.check not in select) or f.check in ignore:
                continue
            if at_least is not None and severity_of(f) < at_least:
                continue
            offers.append(_Offer(f, tr.subject, f.fix))
    return offers


def _select(
    result: Any, select: set[str], args: argparse.Namespace, ctx: Any
) -> tuple[list[_Offer], list[_Offer], list[_Offer], list[_Offer]]:
    """The offers to write, then those left out: unsafe, daemon.json, live containers."""
    from lockdock.fixing.apply import materialize

    wanted: list[_Offer] = []
    unsafe_left: list[_Offer] = []
    host_left: list[_Offer] = []
    container_left: list[_Offer] = []
    for o in _offers(result, select, selectors(args.ignore), parse_severity(args.severity, "--severity")):
        if o.finding.target.kind == TargetKind.HOST and args.daemon_json is None and not select:
            # The daemon's config is the machine's, not the project's: only on request.
            host_left.append(o)
            continue
        if o.finding.target.kind == TargetKind.CONTAINER and not args.containers and not select:
            # Live containers are not the project's files either: only on request.
            container_left.append(o)
            continue
        if o.fix.applicability != Applicability.SAFE and not args.unsafe:
            unsafe_left.append(o)
            continue
        if o.fix.pending:
            fix = materialize(o.finding, o.subject, _engine_ctx(o.finding, ctx))
            if fix is None or not fix.changes:
                continue
            o.fix = fix
        _route(o)
        wanted.append(o)
    return wanted, unsafe_left, host_left, container_left


def _engine_ctx(finding: Finding, ctx: Any) -> Any:
    """The context a fixer of `finding` measures through: for a target of a multi-engine
    run, one whose `engine` is the connection to the target's own engine."""
    from lockdock.context import ScanContext
    from lockdock.engine.update import FLEET_ENGINES

    engines = ctx.cache.get(FLEET_ENGINES)
    if not engines or finding.target.engine is None:
        return ctx
    sub = ScanContext(cwd=ctx.cwd, config=ctx.config, engine=engines.get(finding.target.engine),
                      use_engine=True, timeout=ctx.timeout)
    sub.cache[FLEET_ENGINES] = engines
    return sub


def _route(o: _Offer) -> None:
    """Name the engine that owns the target on each of the fix's engine actions."""
    from lockdock.model import EngineAction

    for c in o.fix.changes:
        if isinstance(c, EngineAction) and c.engine is None:
            c.engine = o.finding.target.engine


def run_fix(args: argparse.Namespace) -> int:
    """Run `lockdock fix`; returns 0, 1 (a fix refused, failed or held back by --verify) or 2.

    Its scans (and an --apply run's rescans) keep every parsed file alive as `lockdock
    scan` does, so the garbage collector runs as rarely as there (`fewer_collections`)."""
    from lockdock.cli.scan import fewer_collections

    runs: list[Any] = []
    try:
        with fewer_collections():
            return _run_fix(args, runs)
    finally:
        for r in runs:  # the connections a multi-engine run kept for routing
            if r.engine is not None:
                r.engine.close()


def _run_fix(args: argparse.Namespace, runs: list[Any]) -> int:
    from lockdock.cli.targets import after_scan, plan
    from lockdock.context import ScanContext
    from lockdock.fixing.apply import apply_fixes
    from lockdock.fixing.preview import build_preview
    from lockdock.scan import scan

    if args.verify and not args.apply:
        print("lockdock fix: --verify needs --apply", file=sys.stderr)
        return EXIT_USAGE
    fleet = wants_fleet(args)
    if args.verify and fleet:
        print("lockdock fix: --verify starts the stack on this machine's engine; it cannot be combined "
              "with --context, --all-contexts or --host", file=sys.stderr)
        return EXIT_USAGE
    if args.unmasked_diff and (args.apply or sys.stdout.isatty()):
        why = "it is for --diff" if args.apply else "standard output is a terminal; redirect it to a file or a pipe"
        print(f"lockdock fix: --unmasked-diff refused: {why}", file=sys.stderr)
        return EXIT_USAGE
    select = selectors(args.select)
    selectors(args.ignore)
    parse_severity(args.severity, "--severity")
    pl = plan(args)
    for message in pl.problems:
        print(f"lockdock fix: error: {sanitize(message)}", file=sys.stderr)
    if pl.problems:  # an asked-for target was not scanned: fix nothing rather than part of it
        return EXIT_USAGE
    paths, ctx, config = pl.paths, pl.ctx, pl.config
    if fleet:
        from lockdock.cli.fleetopts import fleet_fix_scan
        from lockdock.engine.update import FLEET_ENGINES

        result, found = fleet_fix_scan(args, paths, ctx)
        runs += found
        ctx.cache[FLEET_ENGINES] = {r.endpoint.name: r.engine for r in runs if r.engine is not None}
        for e in result.errors:  # an engine down or unknown: said, and the others are fixed
            if e.kind == "error" and e.path is None and e.target is None:
                print(f"lockdock fix: {sanitize(e.message)}", file=sys.stderr)
    else:
        result = scan(paths, ctx)
    after_scan(pl, result)
    if pl.problems:
        for message in pl.problems:
            print(f"lockdock fix: error: {sanitize(message)}", file=sys.stderr)
        return EXIT_USAGE
    if not result.targets and any(e.kind == "error" for e in result.errors):
        for e in result.errors:
            print(f"lockdock: {sanitize(e.path or '')}: {sanitize(e.message)}", file=sys.stderr)
        return EXIT_USAGE

    wanted, unsafe_left, host_left, container_left = _select(result, select, args, ctx)
    out = sys.stdout
    by_fix = {id(o.fix): o for o in wanted}
    if not args.apply:
        preview = build_preview([o.fix for o in wanted], ctx.cwd, unmasked=args.unmasked_diff)
        out.write(preview.text)
        info = sys.stderr
        if args.unmasked_diff:
            print("lockdock fix: warning: --unmasked-diff: this diff holds secret values in clear; "
                  "keep the file private and delete it after use", file=info)
        print(f"lockdock fix: {len(wanted) - len(preview.deferred)} fix(es) shown; nothing written "
              "(use --apply to write)", file=info)
        for d in preview.deferred:
            print(f"  later (overlaps another fix): {by_fix[id(d)].label()}", file=info)
        for p in preview.problems:
            print(f"  cannot preview: {p}", file=info)
        _print_unsafe(unsafe_left, info)
        _print_host(host_left, info)
        _print_containers(container_left, info)
        _print_remote_hosts(runs, info)
        return EXIT_REFUSED if preview.problems else EXIT_OK

    if args.verify:  # the whole --verify hook: lockdock/fixing/verify_cli.py
        from lockdock.fixing.verify_cli import apply_verified

        def again() -> list[tuple[Fix, str]]:  # the offers of a fresh scan (the next pass)
            sub = ScanContext(cwd=ctx.cwd, config=config, engine=ctx.engine, use_engine=ctx.engine is not None,
                              daemon_json=args.daemon_json, images=list(ctx.images), timeout=ctx.timeout)
            return [(o.fix, o.label()) for o in _select(scan(paths, sub), select, args, sub)[0]]

        return apply_verified([(o.fix, o.label()) for o in wanted], again, ctx, _roots(paths), args)
    report = apply_fixes([o.fix for o in wanted], ctx, root=_roots(paths), allow_unsafe=args.unsafe)

    def label(fix: Fix) -> str:
        o = by_fix.get(id(fix))
        if o is not None:
            return o.label()
        finding = report.origins.get(id(fix))
        return _Offer(finding, None, fix).label() if finding else safe(fix.title, 120)

    print(
        f"lockdock fix: {len(report.applied)} applied, {len(report.skipped)} skipped, "
        f"{len(report.errors)} error(s)",
        file=out,
    )
    for fix in report.applied:
        print(f"  applied: {label(fix)}", file=out)
    for s in report.skipped:
        print(f"  skipped: {label(s.fix)}: {sanitize(s.reason)}", file=out)
    for e in report.errors:
        print(f"  error: {sanitize(e)}", file=out)
    for w in report.warnings:
        print(f"  warning: {sanitize(w)}", file=out)
    _print_unsafe(unsafe_left, out)
    _print_host(host_left, out)
    _print_containers(container_left, out)
    _print_remote_hosts(runs, out)
    if report.applied:
        print("  undo with: lockdock undo", file=out)
    refused = report.errors or any(s.refused for s in report.skipped)
    return EXIT_REFUSED if refused else EXIT_OK


def _print_left(left: list[_Offer], what: str, how: str, out: Any) -> None:
    """List fixes held back because they change the machine, not the project."""
    if not left:
        return
    print(f"  {len(left)} {what} not included ({how}):", file=out)
    for o in left:
        print(f"    {o.label()}", file=out)


def _print_host(left: list[_Offer], out: Any) -> None:
    _print_left(left, "Docker daemon fix(es)", "they change the machine's daemon.json; use --daemon-json PATH or --check ID", out)


def _print_containers(left: list[_Offer], out: Any) -> None:
    _print_left(left, "container fix(es)", "they change running containers; use --containers or --check ID", out)


def _print_remote_hosts(runs: list[Any], out: Any) -> None:
    """Say which engines' daemon.json fixes were not offered (their files are not here)."""
    for r in runs:
        if r.host_fixes_withheld:
            print(f"  engine {safe(r.endpoint.name, 120)}: {r.host_fixes_withheld} Docker daemon fix(es) not offered: "
                  f"its daemon.json is not on this machine ({safe(r.host_facts or 'docker info only', 200)})", file=out)


def _print_unsafe(unsafe_left: list[_Offer], out: Any) -> None:
    if not unsafe_left:
        return
    print(f"  {len(unsafe_left)} unsafe fix(es) available (change behaviour; use --unsafe):", file=out)
    for o in unsafe_left:
        print(f"    {o.label()}", file=out)


def run_undo(args: argparse.Namespace) -> int:
    """Run `lockdock undo`: this project's newest run (or `--entry ID`), or `--list` it.

    Returns 0, or 1 when there is nothing to undo or undo is refused.
    """
    from lockdock.engine.update import EngineActionFailed
    from lockdock.fixing import journal, writer

    if not args.path.is_dir():
        print(f"lockdock undo: {safe(args.path)}: not a directory", file=sys.stderr)
        return EXIT_USAGE
    project = journal.project_of(args.path)
    if args.list:
        return _list_undo(journal.entries_for(None if args.all else project), project, args.all)
    try:
        run = journal.find_run(project, args.entry)
    except journal.UndoRefused as exc:
        print(f"lockdock undo: {sanitize(exc)}", file=sys.stderr)
        return EXIT_REFUSED
    engines = None
    if not args.no_engine:
        from lockdock.engine.connect import EngineUnavailable
        from lockdock.engine.update import connect_engines

        try:  # every engine the run changed (context name or host URL), before anything is undone
            engines = connect_engines(journal.engines_needed([e for _p, e in run]))
        except EngineUnavailable as exc:
            print(f"lockdock undo: {sanitize(exc)}; nothing undone", file=sys.stderr)
            return EXIT_REFUSED
    try:
        entry, done = journal.undo_last(engines, project, run[0][1].id)
    except (journal.UndoRefused, writer.WriteRefused, writer.WriteFailed, EngineActionFailed) as exc:
        print(f"lockdock undo: {sanitize(exc)}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        if engines is not None:
            engines.close(default=True)
    print(f"lockdock undo: undid {'; '.join(safe(t, 100) for t in entry.titles)}")
    for line in done:
        print(f"  {line}")
    return EXIT_OK


def _list_undo(items: list[Any], project: Path, every: bool) -> int:
    """Print the runs `lockdock undo` can revert, newest first (the first is the next)."""
    import time

    from lockdock.fixing import journal

    where = "every project" if every else safe(project)
    print(f"lockdock undo: {len(items)} run(s) to undo in {where}; journal: {safe(journal.journal_dir())} "
          "(private: it keeps the original bytes)")
    for n, s in enumerate(items):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.created_at))
        mark = "next" if n == 0 and not every else f"#{n + 1}"
        print(f"  {mark}: entry {safe(s.id)}  {when}  project {safe(s.project)}")
        for t in s.titles:
            print(f"    fix: {safe(t, 120)}")
        for f in s.files:
            print(f"    file: {safe(f)}")
        for m in s.modes:
            print(f"    mode: {safe(m)}")
        for c in s.containers:
            print(f"    container: {safe(c, 80)}")
    return EXIT_OK
