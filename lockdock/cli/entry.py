"""The `lockdock` command line: the argument parser, dispatch to the commands, `main`.

With no arguments on a terminal it opens the TUI on the current directory; otherwise it
prints the text report. No traceback ever reaches the user: unexpected errors become one
sanitised line and exit code 2.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

from lockdock import __version__
from lockdock.cli.options import EXIT_OK, EXIT_USAGE, UsageError
from lockdock.config import ConfigError
from lockdock.text import sanitize


def _add_scan(sub: argparse._SubParsersAction) -> None:
    from lockdock.cli.scan import add_scan_parser

    add_scan_parser(sub)


def _add_explain(sub: argparse._SubParsersAction) -> None:
    from lockdock.cli.explain import add_explain_parsers

    add_explain_parsers(sub)


def _add_merge(sub: argparse._SubParsersAction) -> None:
    from lockdock.cli.merge import add_merge_parser

    add_merge_parser(sub)


def _add_init(sub: argparse._SubParsersAction) -> None:
    from lockdock.cli.init import add_init_parser

    add_init_parser(sub)


def _add_fix(sub: argparse._SubParsersAction) -> None:
    from lockdock.cli.fix import add_fix_parser

    add_fix_parser(sub)


def _add_tui(sub: argparse._SubParsersAction) -> None:
    """`tui` and `demo`, when lockdock.tui.cli imports (textual missing: the headless
    commands still work)."""
    try:
        from lockdock.tui.cli import add_tui_parsers
    except ImportError as exc:
        _TUI_IMPORT_ERROR.append(str(exc))
        return
    add_tui_parsers(sub)


# Each subcommand's parser, in help order; the module of a command is imported only when
# its parser is built. Several names share one adder (it registers them all).
_PARSERS: tuple[tuple[tuple[str, ...], Callable[[argparse._SubParsersAction], None]], ...] = (
    (("scan",), _add_scan),
    (("checks", "explain"), _add_explain),
    (("merge",), _add_merge),
    (("init",), _add_init),
    (("fix", "undo"), _add_fix),
    (("tui", "demo"), _add_tui),
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole `lockdock` argument parser (TUI subcommands only when textual imports).

    With `command`, the name of a subcommand, only that subcommand is registered: it parses
    and reports errors and `--help` for that command exactly as the whole parser does, and
    running it imports no other command's modules (`lockdock scan` does not load the fix,
    merge, init or TUI code). Any other `command`, or one whose parser cannot be built
    (`tui` without textual), gives the whole parser.
    """
    if command is not None:
        parser, sub = _top_parser()
        for names, add in _PARSERS:
            if command in names:
                add(sub)
        if command in sub.choices:
            return parser
    parser, sub = _top_parser()
    for _names, add in _PARSERS:
        add(sub)
    return parser


def _top_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = argparse.ArgumentParser(
        prog="lockdock",
        description="Docker hardening assistant: scan Dockerfiles, compose files, images, "
        "containers and daemon settings against a security checklist, and fix what it finds.",
    )
    parser.add_argument("--version", action="version", version=f"lockdock {__version__}")
    return parser, parser.add_subparsers(dest="command", metavar="COMMAND")


def _tui_available() -> bool:
    """Whether the TUI's command module imports (textual installed); the reason is kept."""
    try:
        import lockdock.tui.cli  # noqa: F401
    except ImportError as exc:
        _TUI_IMPORT_ERROR.append(str(exc))
        return False
    return True


_TUI_IMPORT_ERROR: list[str] = []


# Commands whose process may end without freeing what they built (see `run`); `main` adds
# the command it dispatched.
LEAN_EXIT_COMMANDS = frozenset({"scan", "fix"})  # fix: its writes are whole (fd-level, fsynced) before main returns
_DISPATCHED: list[str] = []


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    _DISPATCHED.append(args.command or "")
    if args.command == "scan":
        from lockdock.cli.scan import run_scan

        return run_scan(args)
    if args.command == "merge":
        from lockdock.cli.merge import run_merge

        return run_merge(args)
    if args.command in ("checks", "explain"):
        from lockdock.cli.explain import run_checks, run_explain

        return run_checks(args) if args.command == "checks" else run_explain(args)
    if args.command == "init":
        from lockdock.cli.init import run_init

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
        if not argv:
            interactive = sys.stdin.isatty() and sys.stdout.isatty() and os.environ.get("TERM") != "dumb"
            argv = ["tui"] if interactive and _tui_available() else ["scan"]
        parser = build_parser(argv[0])
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


def run() -> NoReturn:
    """The process entry point (`python -m lockdock`, the `lockdock` console script): `main()`,
    then exit with its code.

    After `lockdock scan` and `lockdock fix` the process ends without CPython's teardown, which frees every
    object the scan built one by one (about 0.1 s of CPU for 300 compose projects, ~2
    million objects, measured alternating on the shared 2-core machine): the standard
    streams are flushed and the `atexit` functions run (logging, multiprocessing,
    `weakref.finalize` clean-ups such as temporary directories), then `os._exit`. Only
    when this is the only thread left and the flush succeeded; otherwise, and for every
    other command, the ordinary `sys.exit`."""
    from lockdock.cli.lean import lean_exit_ahead

    lean_exit_ahead()
    code = main()
    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)  # CPython's; absent: the ordinary exit
    if (run_exitfuncs is not None and _DISPATCHED and _DISPATCHED[-1] in LEAN_EXIT_COMMANDS
            and threading.active_count() == 1):
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed or broken stream: let the interpreter say it
            sys.exit(code)
        run_exitfuncs()
        os._exit(code)
    sys.exit(code)
