"""The `lockdock` command line.

With no arguments on a terminal it opens the TUI on the current directory; otherwise it
prints the text report. No traceback ever reaches the user: unexpected errors become one
sanitised line and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lockdock import __version__, catalogue
from lockdock.config import Config, ConfigError, load_config
from lockdock.model import Severity
from lockdock.text import sanitize

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments discovered after parsing (unknown check id, bad severity)."""


def _selectors(values: list[str] | None) -> set[str]:
    ids: set[str] = set()
    for value in values or []:
        for word in value.split(","):
            if not word.strip():
                continue
            try:
                ids |= catalogue.resolve_selector(word)
            except KeyError:
                raise UsageError(f"unknown check id or layer: {word.strip()!r} (see `lockdock checks`)") from None
    return ids


def _add_scan_parser(sub: argparse._SubParsersAction) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lockdock",
        description="Docker hardening assistant: scan Dockerfiles, compose files, images, "
        "containers and daemon settings against a security checklist, and fix what it finds.",
    )
    parser.add_argument("--version", action="version", version=f"lockdock {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_scan_parser(sub)
    sub.add_parser("checks", help="list every check (id, level, severity, where, fixable)")
    p = sub.add_parser("explain", help="show what a check looks at, why, and how to fix it")
    p.add_argument("check", help="a check id, e.g. container.non-root")
    _add_optional_parsers(sub)
    return parser


def _add_optional_parsers(sub: argparse._SubParsersAction) -> None:
    """Subcommands that live in other modules (fix/undo, tui/demo)."""
    from lockdock.cli_fix import add_fix_parser

    add_fix_parser(sub)
    try:
        from lockdock.tui.cli import add_tui_parsers
    except ImportError as exc:  # textual missing: the headless commands still work
        _TUI_IMPORT_ERROR.append(str(exc))
        return
    add_tui_parsers(sub)


_TUI_IMPORT_ERROR: list[str] = []


def _config_for(args: argparse.Namespace, start: Path) -> Config:
    return load_config(start, getattr(args, "config", None))


def run_scan(args: argparse.Namespace) -> int:
    from lockdock.context import ScanContext
    from lockdock.reports import json_report, sarif_report, text_report
    from lockdock.scan import scan

    paths = args.paths or [Path(".")]
    start = paths[0] if paths[0].is_dir() else paths[0].parent
    config = _config_for(args, start)
    fail_on = config.fail_on
    if args.fail_on:
        try:
            fail_on = Severity.parse(args.fail_on)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    select = _selectors(args.select)
    ignore = _selectors(args.ignore)
    if args.daemon_json is not None and not args.daemon_json.exists():
        raise UsageError(f"--daemon-json {args.daemon_json}: no such file")
    ctx = ScanContext(
        cwd=Path.cwd(),
        config=config,
        use_engine=not args.no_engine,
        daemon_json=args.daemon_json,
        images=list(args.image),
    )
    result = scan(paths, ctx)
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


def run_explain(args: argparse.Namespace) -> int:
    if args.check not in catalogue.CATALOGUE:
        raise UsageError(f"unknown check id: {args.check!r} (see `lockdock checks`)")
    from lockdock.checkdocs import render_doc

    sys.stdout.write(render_doc(args.check).rstrip("\n") + "\n")
    return EXIT_OK


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command == "scan":
        return run_scan(args)
    if args.command == "checks":
        from lockdock.reports.text_report import render_checks

        sys.stdout.write(render_checks())
        return EXIT_OK
    if args.command == "explain":
        return run_explain(args)
    if args.command in ("fix", "undo"):
        from lockdock import cli_fix

        return cli_fix.run_fix(args) if args.command == "fix" else cli_fix.run_undo(args)
    if args.command in ("tui", "demo"):
        from lockdock.tui.cli import run_tui_command

        return run_tui_command(args)
    parser.print_help()
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        if not argv:
            if sys.stdin.isatty() and sys.stdout.isatty() and not _TUI_IMPORT_ERROR and os.environ.get("TERM") != "dumb":
                argv = ["tui"]
            else:
                argv = ["scan"]
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
            return int(exc.code or 0)
        return _dispatch(args, parser)
    except UsageError as exc:
        print(f"lockdock: {sanitize(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"lockdock: config error: {sanitize(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("lockdock: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback
        if os.environ.get("LOCKDOCK_DEBUG"):
            raise
        print(
            f"lockdock: internal error: {type(exc).__name__}: {sanitize(str(exc))[:300]} "
            "(set LOCKDOCK_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return EXIT_USAGE
