"""The Textual front end. Only this package imports textual, and only when the app is built,
so `lockdock scan` (which imports `lockdock.tui.cli` for its parser) stays headless and fast."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lockdock.config import Config
    from lockdock.tui.app import LockdockApp


def create_app(
    paths: list[Path] | list[str],
    *,
    use_engine: bool = True,
    read_only: bool = False,
    config: Config | None = None,
    scope: str = "all",
) -> LockdockApp:
    """Build (not run) the app; tests and the screenshot script drive it with `run_test()`.

    `scope` is the inventory's first scope (`state.in_scope`): "all", "project", "engine"."""
    from lockdock.tui.app import LockdockApp

    return LockdockApp([Path(p) for p in paths], use_engine=use_engine, read_only=read_only, config=config,
                       scope=scope)


def run_tui(
    paths: list[Path] | list[str],
    *,
    use_engine: bool = True,
    read_only: bool = False,
    config: Config | None = None,
    scope: str = "all",
) -> int:
    """Run the app in the terminal until the user quits; returns the exit code."""
    app = create_app(paths, use_engine=use_engine, read_only=read_only, config=config, scope=scope)
    result = app.run()
    return int(result or app.return_code or 0)
