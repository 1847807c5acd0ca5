"""The Textual front end. Only this package imports textual, and only when the app is built,
so `lockdock scan` (which imports `lockdock.tui.cli` for its parser) stays headless and fast."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lockdock.config import Config
    from lockdock.engine.contexts import Endpoint
    from lockdock.tui.app import LockdockApp


def create_app(
    paths: list[Path] | list[str],
    *,
    use_engine: bool = True,
    read_only: bool = False,
    config: Config | None = None,
    scope: str = "all",
    endpoints: list[Endpoint] | None = None,
    fleet_problems: list[str] | None = None,
    remote_host_files: bool = False,
    engine_timeout: float | None = None,
    head_start: bool = False,
) -> LockdockApp:
    """Build (not run) the app; tests and the screenshot script drive it with `run_test()`.

    `scope` is the inventory's first scope (`state.in_scope`): "all", "project", "engine".
    `endpoints` (`lockdock.engine.contexts.resolve`) opens those engines instead of the
    local one, each its own inventory row when there are several; `engine_timeout` is in
    seconds per engine (default `lockdock.fleet.DEFAULT_ENGINE_TIMEOUT`).

    `head_start` (what `lockdock tui` does): connect to the engine and start reading
    its images and containers now, in background threads, before Textual is imported
    (`scanflow.HeadStart`); the app's first scan takes those answers. Off by default: a
    caller that changes `app.ctx` (e.g. `ctx.images`) before running the app needs the
    reads to start after that. Ignored without the engine or with `endpoints`."""
    early = None
    if head_start and use_engine and not endpoints:
        from lockdock.config import Config
        from lockdock.tui.scanflow import HeadStart

        config = config or Config()
        early = HeadStart([Path(p) for p in paths], config, use_engine)
    from lockdock.tui.app import LockdockApp

    return LockdockApp([Path(p) for p in paths], use_engine=use_engine, read_only=read_only, config=config,
                       scope=scope, endpoints=endpoints, fleet_problems=fleet_problems,
                       remote_host_files=remote_host_files, engine_timeout=engine_timeout, head_start=early)


def run_tui(
    paths: list[Path] | list[str],
    *,
    use_engine: bool = True,
    read_only: bool = False,
    config: Config | None = None,
    scope: str = "all",
    **fleet: Any,
) -> int:
    """Run the app in the terminal until the user quits; returns the exit code. `fleet`:
    the several-engine keywords of `create_app`."""
    app = create_app(paths, use_engine=use_engine, read_only=read_only, config=config, scope=scope,
                     head_start=True, **fleet)
    result = app.run()
    return int(result or app.return_code or 0)
