"""`lockdock merge REPORT.json...`: one report from the JSON reports of many hosts."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

from lockdock.cli.options import EXIT_USAGE, UsageError, write_report
from lockdock.model import Severity
from lockdock.text import sanitize


def add_merge_parser(sub: argparse._SubParsersAction) -> None:
    """Register `merge` on the subcommand parser `sub`."""
    p = sub.add_parser("merge", help="combine per-host JSON reports into one report")
    p.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json",
                   help="reports made by `lockdock scan --format json` (one per host)")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    p.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the merged report to FILE")
    p.add_argument("--fail-on", metavar="SEVERITY", default="high",
                   help="exit 1 when a finding is at or above this (default: high)")


def run_merge(args: argparse.Namespace) -> int:
    """Run `lockdock merge`: 0 clean, 1 findings at `--fail-on`, 2 no report readable.

    A report that cannot be read is one error line (in the report and on stderr); the
    others are merged. Raises `UsageError` for a bad `--fail-on`."""
    try:
        fail_on = Severity.parse(args.fail_on)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    gc.disable()  # tens of thousands of small objects, no cycles: collections only cost time
    try:
        return _merge(args, fail_on)
    finally:
        gc.enable()


def _merge(args: argparse.Namespace, fail_on: Severity) -> int:
    from lockdock.reportfile import merge, render_json
    from lockdock.reports.summary import exit_code

    result, read = merge(list(args.reports))
    named = tuple(sanitize(str(p)) for p in args.reports)
    for e in result.errors:
        if e.message.startswith(named):
            print(f"lockdock: {sanitize(e.message)}", file=sys.stderr)
    if args.format == "json":
        text = render_json(result, fail_on, pretty=args.output is None and sys.stdout.isatty())
    elif args.format == "sarif":
        from lockdock.reports import sarif_report

        text = sarif_report.render(result)
    else:
        from lockdock.reports import text_report

        text = text_report.render(result, fail_on, colour=False)
    if not write_report(text, args.output or None):
        return EXIT_USAGE
    if read == 0:
        print("lockdock: no report could be read", file=sys.stderr)
        return EXIT_USAGE
    return exit_code(result, fail_on)
