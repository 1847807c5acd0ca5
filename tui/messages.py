"""Typed messages that background workers post to the app as results come in."""

from __future__ import annotations

from textual.message import Message

from lockdock.model import ScanError
from lockdock.scan import TargetResult


class EngineConnected(Message):
    def __init__(self, endpoint: str | None, version: str | None, error: str | None) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.version = version
        self.error = error


class EngineTotals(Message):
    """How many images and containers the engine has (for per-image progress)."""

    def __init__(self, images: int | None, containers: int | None) -> None:
        super().__init__()
        self.images = images
        self.containers = containers


class Analysing(Message):
    """A target is being analysed now (the header names it)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class TargetScanned(Message):
    def __init__(self, result: TargetResult) -> None:
        super().__init__()
        self.result = result


class TargetsScanned(Message):
    """Several results at once (`scanner.BatchingSink`: the app's own full scan posts one
    per batch instead of one `TargetScanned` per target)."""

    def __init__(self, results: list[TargetResult]) -> None:
        super().__init__()
        self.results = results


class ScanFinished(Message):
    def __init__(self, errors: list[ScanError], elapsed: float, keys: set[str] | None) -> None:
        super().__init__()
        self.errors = errors
        self.elapsed = elapsed
        self.keys = keys  # every target key the full scan saw; None for a partial rescan


class TargetsRescanned(Message):
    """A partial rescan after a fix, undo or engine event: replace `dropped` by `results`."""

    def __init__(self, dropped: set[str], results: list[TargetResult], errors: list[ScanError]) -> None:
        super().__init__()
        self.dropped = dropped
        self.results = results
        self.errors = errors


class EngineEvent(Message):
    def __init__(self, kind: str, action: str, object_id: str, name: str, engine_name: str | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.action = action
        self.object_id = object_id
        self.name = name
        self.engine_name = engine_name  # several engines: the one that sent it


class EngineLost(Message):
    def __init__(self, reason: str, engine: object = None, engine_name: str | None = None) -> None:
        super().__init__()
        self.reason = reason
        self.engine = engine  # the connection that broke (a stale one is ignored)
        self.engine_name = engine_name  # several engines: whose row goes down


class EngineRowChanged(Message):
    """Several engines: one engine's scan state changed (`state.EngineRow` fields)."""

    def __init__(self, name: str, state: str, reason: str | None = None, version: str | None = None,
                 host_note: str | None = None) -> None:
        super().__init__()
        self.name = name
        self.state = state
        self.reason = reason
        self.version = version
        self.host_note = host_note


class EngineLive(Message):
    """Several engines: the session's own connection to engine `name` is open (events,
    fixes, inspect and logs go through it); `host` is its `HostSubject` for rescans."""

    def __init__(self, name: str, engine: object, host: object, epoch: int) -> None:
        super().__init__()
        self.name = name
        self.engine = engine
        self.host = host
        self.epoch = epoch  # the scan generation that opened it (a rescan starts a new one)
