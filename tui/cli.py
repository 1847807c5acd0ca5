"""`lockdock tui [PATH]` and `lockdock demo`: the command-line doors into the app.

Imported by `lockdock.cli` for every command, so nothing here imports textual at module
level: `lockdock scan` stays headless. A missing textual is an ImportError at parser time
(the CLI then hides these commands and keeps working).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

if importlib.util.find_spec("textual") is None:  # pragma: no cover - textual is a dependency
    raise ImportError("textual is not installed: the TUI is unavailable")


def add_tui_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tui", help="open the interactive app on PATH and the local engine")
    p.add_argument("path", nargs="?", type=Path, default=Path("."), help="project directory (default: .)")
    p.add_argument("--from", dest="from_reports", nargs="+", type=Path, metavar="REPORT.json",
                   help="browse these JSON reports (e.g. one per host) read-only instead of scanning")
    _common(p)
    from lockdock.cli.fleetopts import add_fleet_options

    add_fleet_options(p)  # the same --context/--all-contexts/--host as `lockdock scan`
    d = sub.add_parser("demo", help="copy a deliberately insecure sample project to a temp dir and open it")
    _common(d)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-engine", action="store_true", help="file checks only; do not contact Docker")
    p.add_argument("--read-only", action="store_true", help="disable every write (fix, ignore, undo)")
    p.add_argument("--config", type=Path, default=None, help="use this config file only")


def fleet_arguments(args: argparse.Namespace) -> dict[str, object]:
    """`create_app` keywords for --context/--all-contexts/--host (empty without them).

    Endpoints are resolved by `lockdock.engine.contexts.resolve`, as for `lockdock scan`;
    one that cannot be used is a problem row and the others are opened. Raises
    `ValueError` (a usage error: exit 2) when nothing usable is named or the options clash."""
    from lockdock.cli.fleetopts import wants_fleet

    if not wants_fleet(args):
        return {}
    if args.no_engine:
        raise ValueError("--no-engine cannot be combined with --context, --all-contexts or --host")
    if args.from_reports:
        raise ValueError("--from browses reports; it cannot be combined with --context or --host")
    timeout = args.engine_timeout
    if timeout is not None and (not timeout > 0 or timeout == float("inf")):
        raise ValueError("--engine-timeout: expected a positive number of seconds")
    from lockdock.engine.contexts import resolve

    endpoints, problems = resolve(args.context, args.host, args.all_contexts)
    if not endpoints:
        raise ValueError("; ".join(problems) or "no engine to open")
    return {"endpoints": endpoints, "fleet_problems": problems, "remote_host_files": args.remote_host_files,
            "engine_timeout": timeout}


def copy_demo_project() -> Path:
    """Copy the bundled demo project into a fresh temporary directory (modes set on purpose)."""
    from lockdock.demo import copy_demo

    return copy_demo(Path(tempfile.mkdtemp(prefix="lockdock-demo-")))


def terminal_problem() -> str | None:
    """Why the interactive app cannot run here (None when it can)."""
    import os

    if os.environ.get("TERM") == "dumb":
        return "the interactive app needs a terminal with cursor control (TERM=dumb)"
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return "the interactive app needs a terminal (stdin and stdout must be a tty)"
    return None


def run_tui_command(args: argparse.Namespace) -> int:
    from lockdock.config import load_config
    from lockdock.tui import run_tui

    fleet: dict[str, object] = {}
    if args.command == "tui":
        try:  # a usage error is said before anything else
            fleet = fleet_arguments(args)
        except ValueError as exc:
            print(f"lockdock: {exc}", file=sys.stderr)
            return 2
    problem = terminal_problem()
    if problem is not None:
        print(f"lockdock: {problem}; use `lockdock scan` for a report", file=sys.stderr)
        return 2
    if getattr(args, "from_reports", None):
        return run_from_reports(list(args.from_reports), args.config)
    if args.command == "demo":
        try:
            path = copy_demo_project()
        except (OSError, RuntimeError) as exc:
            print(f"lockdock: cannot copy the demo project: {exc}", file=sys.stderr)
            return 1
        print(f"lockdock demo project: {path}")
    else:
        path = args.path.resolve()
        if not path.exists():
            print(f"lockdock: no such file or directory: {path}", file=sys.stderr)
            return 2
    config = load_config(path if path.is_dir() else path.parent, args.config)
    from lockdock.tui.bindings import KeymapError

    try:
        # The demo opens on its own files; S widens the scope to the host's images and containers.
        scope = "project" if args.command == "demo" else "all"
        code = run_tui([path], use_engine=not args.no_engine, read_only=args.read_only, config=config,
                       scope=scope, **fleet)  # type: ignore[arg-type]
    except KeymapError as exc:
        print(f"lockdock: config error: {exc}", file=sys.stderr)
        return 2
    if args.command == "demo":
        print(f"lockdock demo project kept at: {path}")
    return code


def report_app(reports: list[Path], config_path: Path | None = None) -> object:
    """The app browsing `reports` read-only: no engine, no paths of its own, the report
    targets from `lockdock.sources.report` (its working directory is an empty one)."""
    from lockdock.config import load_config
    from lockdock.sources.report import REPORT_FILES
    from lockdock.tui import create_app

    empty = Path(tempfile.mkdtemp(prefix="lockdock-reports-"))
    app = create_app([empty], use_engine=False, read_only=True, config=load_config(empty, config_path))
    app.paths = []  # nothing to discover: the reports are the targets
    app.ctx.cache[REPORT_FILES] = [str(p) for p in reports]
    return app


def run_from_reports(reports: list[Path], config_path: Path | None) -> int:
    """`lockdock tui --from REPORT.json...`."""
    app = report_app(reports, config_path)
    result = app.run()  # type: ignore[attr-defined]
    return int(result or app.return_code or 0)  # type: ignore[attr-defined]
