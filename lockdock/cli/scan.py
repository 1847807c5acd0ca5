"""`lockdock scan`: scan files and the local engine, print a text, JSON or SARIF report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lockdock.cli.fleetopts import add_fleet_options, fleet_scan, wants_fleet
from lockdock.cli.options import EXIT_USAGE, UsageError, config_for, selectors
from lockdock.model import Severity
from lockdock.text import sanitize


def add_scan_parser(sub: argparse._SubParsersAction) -> None:
    """Register `scan` and its options on the subcommand parser `sub`."""
    p = sub.add_parser("scan", help="scan files and the local engine; print a report")
    p.add_argument("paths", nargs="*", type=Path, help="files or directories (default: .)")
    p.add_argument("--no-engine", action="store_true", help="scan files only; do not contact the Docker engine")
    p.add_argument("--image", action="append", default=[], metavar="REF", help="scan only this local image (repeatable)")
    p.add_argument("--daemon-json", type=Path, metavar="PATH", help="daemon.json to check (default /etc/docker/daemon.json)")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    p.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the report to FILE")
    p.add_argument("--fail-on", metavar="SEVERITY", help="exit 1 when a finding is at or above this (default: high)")
    p.add_argument("--select", action="append", metavar="IDS", help="only these check ids or layers (comma-separated)")
    p.add_argument("--ignore", action="append", metavar="IDS", help="skip these check ids or layers (comma-separated)")
    p.add_argument("--show-suppressed", action="store_true", help="text report: list suppressed findings too")
    p.add_argument("--config", type=Path, metavar="FILE", help="use this config file instead of the usual lookup")
    p.add_argument("--no-cache", action="store_true",
                   help="analyse every file again; do not read or write the result cache ($XDG_CACHE_HOME/lockdock)")
    add_fleet_options(p)


def run_scan(args: argparse.Namespace) -> int:
    """Run `lockdock scan`; returns the exit code (0 clean, 1 findings at `--fail-on`, 2
    nothing scanned). Raises `UsageError`.
    """
    from lockdock.context import ScanContext
    from lockdock.reports import json_report, sarif_report, text_report
    from lockdock.scan import scan

    paths = args.paths or [Path(".")]
    start = paths[0] if paths[0].is_dir() else paths[0].parent
    config = config_for(args, start)
    fail_on = config.fail_on
    if args.fail_on:
        try:
            fail_on = Severity.parse(args.fail_on)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    select = selectors(args.select)
    ignore = selectors(args.ignore)
    if args.daemon_json is not None and not args.daemon_json.exists():
        raise UsageError(f"--daemon-json {args.daemon_json}: no such file")
    ctx = ScanContext(
        cwd=Path.cwd(),
        config=config,
        use_engine=not args.no_engine,
        daemon_json=args.daemon_json,
        images=list(args.image),
    )
    from lockdock.cache import disabled_by_env

    if wants_fleet(args):
        result = fleet_scan(args, paths, ctx)
    else:
        result = scan(paths, ctx, use_cache=not (args.no_cache or disabled_by_env()),
                      selection=f"select={sorted(select or [])};ignore={sorted(ignore or [])}")
    if select or ignore:
        for t in result.targets.values():
            t.findings = [
                f for f in t.findings if (not select or f.check in select) and f.check not in ignore
            ]
    if not result.targets and any(e.kind == "error" for e in result.errors):
        code = EXIT_USAGE  # nothing could be scanned at all
    else:
        from lockdock.reports.summary import exit_code

        code = exit_code(result, fail_on)
    if args.format == "json":
        text = json_report.render(result, fail_on, pretty=args.output is None and sys.stdout.isatty())
    elif args.format == "sarif":
        text = sarif_report.render(result)
    else:
        colour = args.output is None and text_report.use_colour(sys.stdout.isatty())
        text = text_report.render(result, fail_on, colour=colour, show_suppressed=args.show_suppressed)
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"lockdock: cannot write {sanitize(args.output)}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    else:
        sys.stdout.write(text)
    if code == EXIT_USAGE:
        print("lockdock: nothing could be scanned", file=sys.stderr)
    return code
