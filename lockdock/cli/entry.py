"""The `lockdock` command line: the argument parser, dispatch to the commands, `main`.

With no arguments on a terminal it opens the TUI on the current directory; otherwise it
prints the text report. No traceback ever reaches the user: unexpected errors become one
sanitised line and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from lockdock import __version__
from lockdock.cli.explain import add_explain_parsers, run_checks, run_explain
from lockdock.cli.init import add_init_parser, run_init
from lockdock.cli.merge import add_merge_parser, run_merge
from lockdock.cli.options import EXIT_OK, EXIT_USAGE, UsageError
from lockdock.cli.scan import add_scan_parser, run_scan
from lockdock.config import ConfigError
from lockdock.text import sanitize


def build_parser() -> argparse.ArgumentParser:
    """The whole `lockdock` argument parser (TUI subcommands only when textual imports)."""
    parser = argparse.ArgumentParser(
        prog="lockdock",
        description="Docker hardening assistant: scan Dockerfiles, compose files, images, "
        "containers and daemon settings against a security checklist, and fix what it finds.",
    )
    parser.add_argument("--version", action="version", version=f"lockdock {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_scan_parser(sub)
    add_explain_parsers(sub)
    add_merge_parser(sub)
    add_init_parser(sub)
    _add_optional_parsers(sub)
    return parser


def _add_optional_parsers(sub: argparse._SubParsersAction) -> None:
    """Subcommands that live in other modules (fix/undo, tui/demo)."""
    from lockdock.cli.fix import add_fix_parser

    add_fix_parser(sub)
    try:
        from lockdock.tui.cli import add_tui_parsers
    except ImportError as exc:  # textual missing: the headless commands still work
        _TUI_IMPORT_ERROR.append(str(exc))
        return
    add_tui_parsers(sub)


_TUI_IMPORT_ERROR: list[str] = []


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command == "scan":
        return run_scan(args)
    if args.command == "merge":
        return run_merge(args)
    if args.command == "checks":
        return run_checks(args)
    if args.command == "explain":
        return run_explain(args)
    if args.command == "init":
        return run_init(args)
    if args.command in ("fix", "undo"):
        from lockdock.cli import fix

        return fix.run_fix(args) if args.command == "fix" else fix.run_undo(args)
    if args.command in ("tui", "demo"):
        from lockdock.tui.cli import run_tui_command

        return run_tui_command(args)
    parser.print_help()
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Run the command line on `argv` (default `sys.argv[1:]`); returns the exit code, never
    raises.
    """
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
    except Exception as exc:  # the last line of defence: no traceback (re-raised for LOCKDOCK_DEBUG)
        if os.environ.get("LOCKDOCK_DEBUG"):
            raise
        print(
            f"lockdock: internal error: {type(exc).__name__}: {sanitize(str(exc))[:300]} "
            "(set LOCKDOCK_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return EXIT_USAGE
