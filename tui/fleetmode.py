"""The app over several engines: one row per engine, live events from each, and every
engine write or read routed to the engine that owns the object.

A mixin of `LockdockApp`, used when the app was given endpoints (`lockdock tui
--context/--all-contexts/--host`). Endpoints come from `lockdock.engine.contexts.resolve`
(the same resolution as `lockdock scan`); scanning is `lockdock.fleet` per engine
(`fleetscan`). Targets of an engine carry `Target.engine` (its context name or URL), which
is how a fix, an undo, inspect, logs or a layer file tree finds its engine. Container ids
are unique per engine (random 256-bit); image ids are content addresses and may be on
several engines, so image work always goes by the target's engine, never by id alone.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable
from typing import Any

from textual.worker import get_current_worker

from lockdock.context import ScanContext
from lockdock.engine.contexts import Endpoint
from lockdock.engine.rawapi import close_stream
from lockdock.model import Finding, Fix, TargetKind
from lockdock.text import safe
from lockdock.tui import fleetscan, scanner
from lockdock.tui.messages import EngineEvent, EngineLive, EngineLost, EngineRowChanged
from lockdock.tui.state import EngineRow

# Seconds before trying a down engine again, then the next ones (the last repeats).
RETRY_SECONDS = (5.0, 10.0, 20.0, 40.0, 60.0)


class FleetProblem(Exception):
    """Work that cannot go to one engine; `str()` is one line for the user."""


class FleetMode:
    """Mixed into `LockdockApp` (which provides state, ctx, notify, workers, ...)."""

    state: Any
    ctx: Any
    endpoints: list[Endpoint]
    fleet_problems: list[str]
    remote_host_files: bool
    engine_timeout: float

    def _fleet_init(self) -> None:
        self.engines: dict[str, Any] = {}  # name -> the session's own Engine connection
        self._engine_hosts: dict[str, Any] = {}  # name -> HostSubject (daemon facts) for rescans
        self._event_streams: dict[str, Any] = {}
        self._fleet_event_ids: dict[str, set[str]] = {}
        self._fleet_timers: dict[str, Any] = {}
        self._epoch = 0
        self._retries: dict[str, int] = {}
        self._retry_timers: dict[str, Any] = {}

    @property
    def fleet_mode(self) -> bool:
        return bool(self.endpoints)

    # ------------------------------------------------------------------ scanning

    def _start_fleet_scan(self) -> None:
        self._epoch += 1
        self.state.engines = {ep.name: EngineRow(ep.name, ep.scheme) for ep in self.endpoints}
        epoch = self._epoch

        def body() -> None:
            worker = get_current_worker()
            fleetscan.full_fleet_scan(
                self.paths, self.ctx, self.endpoints, list(self.fleet_problems), self.post_message,
                lambda: worker.is_cancelled or epoch != self._epoch,
                remote_host_files=self.remote_host_files, engine_timeout=self.engine_timeout)

        self.run_worker(body, thread=True, group="scan", exclusive=True, exit_on_error=False)

    def on_engine_row_changed(self, msg: EngineRowChanged) -> None:
        row = self.state.engines.get(msg.name)
        if row is None:
            return
        row.state, row.reason = msg.state, msg.reason
        row.version = msg.version or row.version
        row.host_note = msg.host_note or row.host_note
        self._dirty = True
        if msg.state == "up" and msg.name not in self.engines:
            self._watch(msg.name)
        elif msg.state == "down":
            self._schedule_retry(msg.name)

    def _watch(self, name: str) -> None:
        endpoint = next((ep for ep in self.endpoints if ep.name == name), None)
        if endpoint is None:
            return
        epoch = self._epoch

        def keep(stream: Any) -> None:
            self._event_streams[name] = stream

        def body() -> None:
            worker = get_current_worker()
            fleetscan.watch_engine(endpoint, self.ctx, epoch, self.post_message,
                                   lambda: worker.is_cancelled or epoch != self._epoch, keep,
                                   remote_host_files=self.remote_host_files)

        self.run_worker(body, thread=True, group=f"events:{name}", exclusive=True, exit_on_error=False)

    def on_engine_live(self, msg: EngineLive) -> None:
        row = self.state.engines.get(msg.name)
        if msg.epoch != self._epoch or row is None:
            with contextlib.suppress(Exception):  # a connection of a scan replaced since
                msg.engine.close()  # type: ignore[attr-defined]
            return
        old = self.engines.get(msg.name)
        self.engines[msg.name] = msg.engine
        self._engine_hosts[msg.name] = msg.host
        if old is not None and old is not msg.engine:
            with contextlib.suppress(Exception):
                old.close()
        self._retries.pop(msg.name, None)
        row.live = True
        self._dirty = True
        if row.state in ("down", "timeout"):  # it came back: what it holds may have changed
            self.notify(f"engine {msg.name} answers again; scanning it.", markup=False)
            row.state, row.reason = "scanning", None
            self._scan_again(msg.name)
            return
        row.state = "up"

    def _fleet_engine_lost(self, msg: EngineLost) -> None:
        name = msg.engine_name or ""
        row = self.state.engines.get(name)
        current = self.engines.get(name)
        if row is None or (msg.engine is not None and msg.engine is not current):
            return  # the stream of a connection replaced by a rescan
        if row.state != "down":
            self.notify(f"engine {name}: {msg.reason}. lockdock tries it again in the background; "
                        "the other engines and the files keep working.",
                        severity="warning", markup=False)
        row.state, row.reason, row.live = "down", msg.reason, False
        self.engines.pop(name, None)
        self._event_streams.pop(name, None)
        if current is not None:
            with contextlib.suppress(Exception):
                current.close()
        self._dirty = True
        self._schedule_retry(name)

    def _schedule_retry(self, name: str) -> None:
        """Try a down engine again later (`RETRY_SECONDS`), until it answers, the user
        rescans or quits."""
        if name in self._retry_timers or name not in self.state.engines:
            return
        n = self._retries.get(name, 0)
        self._retries[name] = n + 1
        delay = RETRY_SECONDS[min(n, len(RETRY_SECONDS) - 1)]
        self._retry_timers[name] = self.set_timer(delay, functools.partial(self._retry, name, self._epoch))

    def _retry(self, name: str, epoch: int) -> None:
        self._retry_timers.pop(name, None)
        row = self.state.engines.get(name)
        if epoch != self._epoch or name in self.engines or row is None or row.state != "down":
            return
        self._watch(name)  # connects; EngineLive rescans it, EngineLost schedules the next try

    def _scan_again(self, name: str) -> None:
        endpoint = next((ep for ep in self.endpoints if ep.name == name), None)
        if endpoint is None:
            return
        old = {tr.target.key for tr in self._targets_of(name)}
        epoch = self._epoch

        def body() -> None:
            worker = get_current_worker()
            fleetscan.rescan_whole_engine(endpoint, self.ctx, old, self.post_message,
                                          lambda: worker.is_cancelled or epoch != self._epoch,
                                          remote_host_files=self.remote_host_files,
                                          engine_timeout=self.engine_timeout)

        self.run_worker(body, thread=True, group="rescan", exit_on_error=False)

    # ------------------------------------------------------------------ live events

    def _fleet_event(self, msg: EngineEvent) -> None:
        """An event of engine `msg.engine_name`: only that engine's rows change."""
        name = msg.engine_name or ""
        if msg.action in ("destroy", "delete", "untag"):
            for key in scanner.touched_keys(self._targets_of(name), set(), {msg.object_id}):
                self.state.remove(key)
                self._dirty = True
            if msg.action != "untag":
                return
        self._fleet_event_ids.setdefault(name, set()).add(msg.object_id)
        timer = self._fleet_timers.get(name)
        if timer is not None:
            timer.stop()
        self._fleet_timers[name] = self.set_timer(0.5, functools.partial(self._fleet_rescan_events, name))

    def _fleet_rescan_events(self, name: str) -> None:
        ids = self._fleet_event_ids.pop(name, set())
        if ids and not self.state.progress.running:
            self._engine_rescan(name, ids)
        elif ids:  # wait until the full scan is done
            self._fleet_event_ids.setdefault(name, set()).update(ids)
            self._fleet_timers[name] = self.set_timer(1.0, functools.partial(self._fleet_rescan_events, name))

    def _targets_of(self, name: str) -> list[Any]:
        return [tr for tr in self.state.targets.values() if tr.target.engine == name]

    def _engine_rescan(self, name: str, object_ids: set[str]) -> None:
        engine = self.engines.get(name)
        if engine is None:
            return
        ctx = fleetscan.engine_context(self.ctx, engine, self._engine_hosts.get(name))
        old = self._targets_of(name)

        def body() -> None:
            worker = get_current_worker()
            fleetscan.rescan_engine(name, ctx, object_ids, old, self.post_message, lambda: worker.is_cancelled)

        self.run_worker(body, thread=True, group="rescan", exit_on_error=False)

    def _rescan(self, paths: set[str], object_ids: set[str]) -> None:
        """Rescan after a write: files here, engine objects on the engine that owns them."""
        if not self.fleet_mode:
            self._rescan_worker(paths, object_ids)
            return
        if paths:
            self._rescan_worker(paths, set())
        by_engine: dict[str, set[str]] = {}
        for oid in object_ids:
            name = self._owner_of(oid)
            if name is not None:
                by_engine.setdefault(name, set()).add(oid)
        for name, ids in by_engine.items():
            self._engine_rescan(name, ids)

    # ------------------------------------------------------------------ routing

    def _owner_of(self, object_id: str) -> str | None:
        """The engine holding container (or image) `object_id` among the scanned targets."""
        for tr in self.state.targets.values():
            if tr.target.engine is not None and scanner._is_object(tr.subject, tr.target.key, {object_id}):
                return str(tr.target.engine)
        return None

    def _ctx_for(self, key: str | None) -> ScanContext:
        """The context for work on target `key`: the session's one in single-engine mode
        and for files; else one holding that target's engine connection (None, with the
        reason as `engine_error`, when the engine is down)."""
        if not self.fleet_mode:
            return self.ctx
        tr = self.state.targets.get(key) if key else None
        name = tr.target.engine if tr is not None else None
        if name is None:
            return self.ctx
        return self._engine_ctx(name)

    def _engine_ctx(self, name: str) -> ScanContext:
        engine = self.engines.get(name)
        error = None
        if engine is None:
            row = self.state.engines.get(name)
            why = (row.reason or row.state) if row is not None else "not connected"
            error = f"engine {safe(name, 120)} is not connected ({safe(why, 160)})"
        return fleetscan.engine_context(self.ctx, engine, self._engine_hosts.get(name), error)

    def engine_of_fixes(self, fixes: Iterable[Fix]) -> str | None:
        """The one engine these fixes' targets live on (None: files); raises `FleetProblem`
        for fixes spread over several engines."""
        names = set()
        for fix in fixes:
            tr = self.state.targets.get(fix.target or "")
            names.add(tr.target.engine if tr is not None else None)
        names.discard(None)
        if len(names) > 1:
            raise FleetProblem("these fixes belong to several engines: apply them one target at a time")
        return next(iter(names), None) if self.fleet_mode else None

    def _ctx_for_fixes(self, fixes: list[Fix]) -> tuple[ScanContext, str | None]:
        name = self.engine_of_fixes(fixes)
        return (self._engine_ctx(name) if name is not None else self.ctx), name

    def _ctx_for_objects(self, object_ids: set[str]) -> ScanContext:
        """Undo of `docker update`: the engine that holds those containers (from this
        session's targets, else the live engine that knows the id); raises `FleetProblem`."""
        if not self.fleet_mode or not object_ids:
            return self.ctx
        names = {self._owner_of(oid) for oid in object_ids}
        if None in names:
            for name, engine in self.engines.items():
                with contextlib.suppress(Exception):  # not on this engine
                    for oid in object_ids:
                        engine.api.inspect_container(oid)
                    names = {name}
                    break
        names.discard(None)
        if len(names) != 1:
            raise FleetProblem("no connected engine holds the containers this undo changes"
                               if not names else "this undo spans several engines")
        return self._engine_ctx(str(next(iter(names))))

    def host_fix_refusal(self, finding: Finding) -> str | None:
        """Why a host (daemon settings) finding of another machine's engine has no fix."""
        name = finding.target.engine
        if not self.fleet_mode or name is None or finding.target.kind is not TargetKind.HOST:
            return None
        row = self.state.engines.get(name)
        note = (row.host_note if row is not None else None) or "its settings were not read from files here"
        return (f"{finding.check} on engine {name}: no fix is offered because lockdock writes daemon.json only "
                f"on this machine ({note}); change it on that host.")

    # ------------------------------------------------------------------ closing

    def _close_fleet(self) -> None:
        """Close every event stream and engine connection (quit, rescan)."""
        streams, self._event_streams = self._event_streams, {}
        engines, self.engines = self.engines, {}
        for stream in streams.values():
            close_stream(stream)  # also over ssh://; never raises
        for engine in engines.values():
            with contextlib.suppress(Exception):
                engine.close()
        for row in self.state.engines.values():
            row.live = False
        for timer in self._retry_timers.values():
            timer.stop()
        self._retry_timers = {}
        self._retries = {}
