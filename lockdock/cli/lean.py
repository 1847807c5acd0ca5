"""What a command leaves for the end of the process under `lockdock.cli.entry.run`.

`run` ends `lockdock scan` and `lockdock fix` with `os._exit` (no teardown of their object
graph). A command that returns drops its local variables first, and with them the whole
scan, one object at a time: ~20 ms of CPU for 300 compose projects, in the wall time of
every scan. `keep_until_exit` holds such objects until the process ends instead.
"""

from __future__ import annotations

_LEAN: list[bool] = []  # [True] once `run` (the process entry) is in charge of the exit
_KEPT: list[object] = []  # what `keep_until_exit` holds


def lean_exit_ahead() -> None:
    """Called by `run` before the command: `keep_until_exit` holds from now on."""
    _LEAN[:] = [True]


def keep_until_exit(*objects: object) -> None:
    """Hold `objects` until the process ends, under `run` only: a no-op for in-process callers
    of `main` (tests, embedders), which get their memory back when the command returns."""
    if _LEAN:
        _KEPT.extend(objects)
