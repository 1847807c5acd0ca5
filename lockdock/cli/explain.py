"""`lockdock checks` and `lockdock explain`: the catalogue and one check's documentation."""

from __future__ import annotations

import argparse
import sys

from lockdock import checks
from lockdock.cli.options import EXIT_OK, UsageError


def add_explain_parsers(sub: argparse._SubParsersAction) -> None:
    """Register `checks` and `explain` on the subcommand parser `sub`."""
    sub.add_parser("checks", help="list every check (id, level, severity, where, fixable)")
    p = sub.add_parser("explain", help="show what a check looks at, why, and how to fix it")
    p.add_argument("check", help="a check id, e.g. container.non-root")


def run_checks(_args: argparse.Namespace) -> int:
    """Print the catalogue table; returns 0."""
    from lockdock.reports.text_report import render_checks

    sys.stdout.write(render_checks())
    return EXIT_OK


def run_explain(args: argparse.Namespace) -> int:
    """Print the doc of `args.check`; returns 0. Raises `UsageError` for an unknown id."""
    if args.check not in checks.CATALOGUE:
        raise UsageError(f"unknown check id: {args.check!r} (see `lockdock checks`)")
    from lockdock.checks import render_doc

    sys.stdout.write(render_doc(args.check).rstrip("\n") + "\n")
    return EXIT_OK
