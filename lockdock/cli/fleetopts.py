"""`lockdock scan` and `lockdock fix` options for several engines: --context, --all-contexts, --host."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from lockdock.cli.options import UsageError

if TYPE_CHECKING:
    from lockdock.context import ScanContext
    from lockdock.fleet import EngineRun
    from lockdock.scan import ScanResult


def add_fleet_options(p: argparse.ArgumentParser, *, command: str = "scan") -> None:
    """Register the multi-engine options on the `scan` or `fix` parser `p` (`command`
    only changes the help wording)."""
    verb = "scan" if command == "scan" else "scan and fix"
    g = p.add_argument_group("several engines")
    g.add_argument("--context", action="append", default=[], metavar="NAME",
                   help=f"{verb} the engine of this docker context (repeatable)")
    g.add_argument("--all-contexts", action="store_true", help=f"{verb} the engine of every docker context")
    g.add_argument("--host", action="append", default=[], metavar="URL",
                   help=f"{verb} this engine: unix://PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT] (repeatable)")
    g.add_argument("--remote-host-files", action="store_true",
                   help="ssh:// engines: read daemon.json and the dockerd command line over ssh")
    g.add_argument("--engine-timeout", type=float, metavar="SECONDS",
                   help="seconds each engine may take (default 120)")


def wants_fleet(args: argparse.Namespace) -> bool:
    return bool(args.context or args.all_contexts or args.host)


def fleet_scan(args: argparse.Namespace, paths: list[Path], ctx: ScanContext) -> ScanResult:
    """Resolve the named engines and scan them all (`lockdock.fleet`); raises `UsageError`."""
    return _fleet(args, paths, ctx, keep_engines=False)[0]


def fleet_fix_scan(args: argparse.Namespace, paths: list[Path], ctx: ScanContext) -> tuple[ScanResult, list[EngineRun]]:
    """`fleet_scan` for `lockdock fix`: also each engine's run, its connection kept open
    (`EngineRun.engine`; the caller closes it). Raises `UsageError`."""
    return _fleet(args, paths, ctx, keep_engines=True)


def _fleet(args: argparse.Namespace, paths: list[Path], ctx: ScanContext,
           keep_engines: bool) -> tuple[ScanResult, list[EngineRun]]:
    from lockdock.engine.contexts import resolve
    from lockdock.fleet import DEFAULT_ENGINE_TIMEOUT, scan_fleet_runs

    if args.no_engine:
        raise UsageError("--no-engine cannot be combined with --context, --all-contexts or --host")
    if args.daemon_json is not None:
        raise UsageError("--daemon-json names one host's file; it cannot be combined with --context or --host")
    timeout = args.engine_timeout if args.engine_timeout is not None else DEFAULT_ENGINE_TIMEOUT
    if not timeout > 0 or timeout == float("inf"):
        raise UsageError("--engine-timeout: expected a positive number of seconds")
    endpoints, problems = resolve(args.context, args.host, args.all_contexts)
    if not endpoints:
        raise UsageError("; ".join(problems) or "no engine to scan")
    return scan_fleet_runs(paths, ctx, endpoints, problems=problems, remote_host_files=args.remote_host_files,
                           engine_timeout=timeout, keep_engines=keep_engines)
