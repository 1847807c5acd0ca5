"""The lockdock Textual app: inventory, findings, detail, image layers, fixes with a diff.

The first screen is drawn before anything is scanned; discovery, the engine and layer
analysis run in thread workers that post typed messages (see `scanner`). Results stream
into `AppState`; the widgets are redrawn from it at most a few times a second.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import threading
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Input, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from lockdock import checks
from lockdock.config import Config
from lockdock.context import ScanContext
from lockdock.engine.contexts import Endpoint
from lockdock.engine.rawapi import close_stream
from lockdock.fleet import DEFAULT_ENGINE_TIMEOUT
from lockdock.model import Finding, TargetKind
from lockdock.scan import TargetResult
from lockdock.text import display
from lockdock.tui import bindings, scanflow, scanner
from lockdock.tui.actions import WriteActions
from lockdock.tui.detail import Detail
from lockdock.tui.findings import FindingsList
from lockdock.tui.fleetmode import FleetMode
from lockdock.tui.footer import LeanFooter
from lockdock.tui.header import StatusBar
from lockdock.tui.inventory import Inventory
from lockdock.tui.layers import LayersView
from lockdock.tui.messages import (
    Analysing,
    EngineConnected,
    EngineEvent,
    EngineLost,
    EngineTotals,
    ScanFinished,
    TargetScanned,
    TargetsRescanned,
    TargetsScanned,
)
from lockdock.tui.navigation import Navigation, closing_safe
from lockdock.tui.problems import ProblemsView
from lockdock.tui.scanflow import HeadStart
from lockdock.tui.state import AppState

REFRESH_SECONDS = 0.25


class LockdockApp(WriteActions, FleetMode, Navigation, App[int]):
    CSS_PATH = "lockdock.tcss"
    TITLE = "lockdock"
    BINDINGS = bindings.BINDINGS

    def __init__(
        self,
        paths: list[Path],
        *,
        use_engine: bool = True,
        read_only: bool = False,
        config: Config | None = None,
        scope: str = "all",
        endpoints: list[Endpoint] | None = None,
        fleet_problems: list[str] | None = None,
        remote_host_files: bool = False,
        engine_timeout: float | None = None,
        head_start: HeadStart | None = None,
    ) -> None:
        """`endpoints` (from `lockdock.engine.contexts.resolve`): scan these engines, each
        its own inventory row, instead of the local one; `fleet_problems` are the
        endpoints that could not be resolved (shown as problems). `head_start`: the
        engine connected and read before the app was built (its paths and context
        become the app's; the first full scan takes its answers)."""
        super().__init__()
        self.initial_scope = scope
        self.endpoints = list(endpoints or [])
        self.fleet_problems = list(fleet_problems or [])
        self.remote_host_files = remote_host_files
        self.engine_timeout = engine_timeout or DEFAULT_ENGINE_TIMEOUT
        self._fleet_init()
        if self.endpoints:
            use_engine = False  # the files are scanned without one; each endpoint has its own
        self.paths, self.root = scanflow.scan_root(paths)
        self.config = config or Config()
        self.read_only = read_only
        self.use_engine = use_engine
        self.ctx = self._new_context()
        self._head_start = head_start
        if head_start is not None and not self.endpoints:  # the engine is being read already
            self.paths, self.ctx = head_start.paths, head_start.ctx
        self.state = AppState()
        self.state.engine.wanted = use_engine or bool(self.endpoints)
        self.current_key: str | None = None
        self.undo_depth = 0
        self._dirty = False
        self._findings_dirty = False
        self._event_ids: set[str] = set()
        self._event_timer: Any = None
        self._event_stream: Any = None
        self._stream_lock = threading.Lock()  # the events worker's thread hands streams over
        self._events_closed = False  # set when the app quits: a stream opened after that is closed at once
        self._keymap = bindings.keymap_from_config(self.config.keys)
        if read_only:  # the footer offers no write key; pressing one still says why not
            from dataclasses import replace as _replace

            from textual.binding import BindingsMap

            self._bindings = BindingsMap(
                [_replace(b, show=False) if b.action in self.WRITE_ACTIONS else b for b in bindings.BINDINGS]
            )
        self._file_trees: dict[str, tuple[Any, str | None]] = {}

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Horizontal(id="main"):
            with Vertical(id="inv-col"):
                yield Input(placeholder="search: name, kind, label (esc clears)", id="inv-search")
                yield Inventory()
            with Vertical(id="right"):
                with TabbedContent(id="tabs", initial="tab-findings"):
                    with TabPane("Findings", id="tab-findings"):
                        yield Input(placeholder="filter: words, check id, severity (sev>=high), layer",
                                    id="filter")
                        yield FindingsList()
                    with TabPane("Layers", id="tab-layers"):
                        yield LayersView()
                    with TabPane("Problems", id="tab-problems"):
                        yield ProblemsView()
                yield Detail()
        yield LeanFooter(show_command_palette=False)

    def on_mount(self) -> None:
        if self._keymap:
            self.set_keymap(self._keymap)
        self._main("#filter", Input).display = False
        self._main("#inv-search", Input).display = False
        self._main(Inventory).scope = self.initial_scope
        self._main(FindingsList).show(None)
        self._main(Detail).border_title = "3 Detail"
        self._refresh_status()
        self._main(Inventory).focus()
        self.set_interval(REFRESH_SECONDS, self._redraw)
        self.start_scan()

    def on_resize(self, event: Any) -> None:
        """Short terminals: the Layers tab drops its findings strip (Detail shows them)."""
        with contextlib.suppress(NoMatches):
            self._main("#right").set_class(event.size.height < 32, "short")

    def _main(self, selector: Any, expect_type: Any = None) -> Any:
        """Query the main screen's widgets (App.query_one looks at the top screen, which
        may be a modal preview while results keep coming in)."""
        if not self.screen_stack:
            raise NoMatches("no screen (the app is not running)")
        base = self.screen_stack[0]
        return base.query_one(selector, expect_type) if expect_type else base.query_one(selector)

    def _new_context(self) -> ScanContext:
        return scanflow.new_context(self.root, self.config, self.use_engine)

    # ------------------------------------------------------------------ workers

    def start_scan(self) -> None:
        self.state.progress.running = True
        self.state.progress.elapsed = None
        self.state.progress.targets_done = 0
        self.state.progress.images_done = 0
        self.state.progress.containers_done = 0
        self._refresh_status()
        if self.fleet_mode:
            self._start_fleet_scan()
            return
        self._scan_worker()

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def _scan_worker(self) -> None:
        worker = get_current_worker()
        sink = scanner.BatchingSink(self.post_message, lambda: worker.is_cancelled)  # one message per batch
        scanflow.full_scan(self.paths, self.ctx, sink, lambda: worker.is_cancelled)

    @work(thread=True, group="rescan", exit_on_error=False)
    def _rescan_worker(self, touched_paths: set[str], object_ids: set[str]) -> None:
        worker = get_current_worker()
        # Several engines: this rescan is the files'; each engine's objects are rescanned
        # on their engine (`FleetMode._rescan`), so none of them is dropped here.
        old = [tr for tr in self.state.targets.values() if not (self.fleet_mode and tr.target.engine)]
        scanner.rescan(
            self.paths,
            self.ctx,
            touched_paths,
            object_ids,
            old,
            self.post_message,
            lambda: worker.is_cancelled,
        )

    @work(thread=True, exclusive=True, group="events", exit_on_error=False)
    def _events_worker(self) -> None:
        worker = get_current_worker()
        scanner.watch_events(self.ctx, self.post_message, lambda: worker.is_cancelled, self._keep_stream)

    def _keep_stream(self, stream: Any) -> None:
        """Called on the events worker's thread once its stream is open. The app follows one
        stream: one that a replaced worker opened is closed here, and so is a stream that
        opened after the app began to quit (otherwise its blocked read would keep the
        worker's thread, and with it the process, alive after the app has exited)."""
        with self._stream_lock:
            if self._events_closed:
                stale = stream
            else:
                stale, self._event_stream = self._event_stream, stream
        if stale is not None and (stale is not stream or self._events_closed):
            close_stream(stale)  # never raises

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that crashed is reported, never fatal (the engine may have vanished)."""
        if event.state is WorkerState.ERROR:
            err = event.worker.error
            msg = f"background task {event.worker.group} failed: {type(err).__name__}: {display(str(err))[:200]}"
            self.ctx.error(None, msg)
            self.state.errors = list(self.ctx.errors)
            if event.worker.group == "scan":
                self.state.progress.running = False
            self._dirty = True
            self.notify(msg, severity="error", markup=False)

    def on_unmount(self) -> None:
        if self._head_start is not None and self._head_start.child is not None:
            self._head_start.child.close()  # still analysing when the user quit
        self._close_event_stream(quitting=True)
        self._close_fleet()

    def _close_event_stream(self, *, quitting: bool = False) -> None:
        with self._stream_lock:
            self._events_closed = self._events_closed or quitting
            stream, self._event_stream = self._event_stream, None
        if stream is not None:
            close_stream(stream)  # also over ssh://; never raises

    async def action_quit(self) -> None:
        self.workers.cancel_all()
        self._close_event_stream(quitting=True)
        self._close_fleet()
        self.exit(0)

    # ------------------------------------------------------------------ scan messages

    def on_engine_connected(self, msg: EngineConnected) -> None:
        eng = self.state.engine
        eng.endpoint, eng.version, eng.error = msg.endpoint, msg.version, msg.error
        eng.lost = False
        self._dirty = True
        if msg.endpoint:
            self._events_worker()

    def on_engine_totals(self, msg: EngineTotals) -> None:
        self.state.progress.images_total = msg.images
        self.state.progress.containers_total = msg.containers
        self._dirty = True

    def on_analysing(self, msg: Analysing) -> None:
        self.state.progress.current = msg.name

    def on_target_scanned(self, msg: TargetScanned) -> None:
        self.state.add(msg.result)
        if msg.result.target.key == self.current_key:
            self._findings_dirty = True
        self._dirty = True

    def on_targets_scanned(self, msg: TargetsScanned) -> None:
        for result in msg.results:
            self.state.add(result)
            if result.target.key == self.current_key:
                self._findings_dirty = True
        self._dirty = True

    @closing_safe
    def on_scan_finished(self, msg: ScanFinished) -> None:
        p = self.state.progress
        p.running, p.elapsed, p.current = False, msg.elapsed, ""
        self.state.errors = msg.errors
        if msg.keys is not None:
            for key in [k for k in self.state.targets if k not in msg.keys]:
                self.state.remove(key)
        self._dirty = True
        self._findings_dirty = True
        self._redraw()

    @closing_safe
    def on_targets_rescanned(self, msg: TargetsRescanned) -> None:
        for key in msg.dropped:
            self.state.remove(key)
        for tr in msg.results:
            self.state.targets[tr.target.key] = tr
        keys = set(self.state.targets)
        self.state.errors = [e for e in self.state.errors if e.target is None or e.target in keys]
        self.state.errors.extend(e for e in msg.errors if e not in self.state.errors)
        self._dirty = True
        self._findings_dirty = True
        self._redraw()

    def on_engine_event(self, msg: EngineEvent) -> None:
        if msg.engine_name is not None:
            self._fleet_event(msg)
            return
        if msg.action in ("destroy", "delete", "untag"):
            for key, tr in list(self.state.targets.items()):
                if scanner.touched_keys([tr], set(), {msg.object_id}):
                    self.state.remove(key)
                    self._dirty = True
            if msg.action != "untag":
                return
        self._event_ids.add(msg.object_id)
        if self._event_timer is not None:
            self._event_timer.stop()
        self._event_timer = self.set_timer(0.5, self._rescan_events)

    def _rescan_events(self) -> None:
        ids, self._event_ids = self._event_ids, set()
        if ids and not self.state.progress.running:
            self._rescan_worker(set(), ids)
        elif ids:
            self._event_ids |= ids  # wait until the full scan is done
            self._event_timer = self.set_timer(1.0, self._rescan_events)

    @closing_safe
    def on_engine_lost(self, msg: EngineLost) -> None:
        if msg.engine_name is not None:
            self._fleet_engine_lost(msg)
            return
        if msg.engine is not None and msg.engine is not self.ctx.engine:
            return  # the stream of a connection replaced by a rescan
        eng = self.state.engine
        if not eng.lost:
            self.notify(msg.reason + ". File checks keep working.", severity="warning", markup=False)
        eng.lost, eng.error = True, msg.reason
        self._event_stream = None
        self._dirty = True

    # ------------------------------------------------------------------ drawing

    def _redraw(self) -> None:
        try:
            self._redraw_now()
        except NoMatches:  # shutting down: the widgets are gone
            return

    def _redraw_now(self) -> None:
        if self._dirty:
            self._dirty = False
            self._main(Inventory).update_from(self.state, full=not self.state.progress.running)
            self._main(ProblemsView).show(self.state.errors)
            self._refresh_status()
            inv = self._main(Inventory)
            if not inv.user_moved:  # until the user moves, the cursor follows the worst target
                first = inv.first_target_key(self.state)
                if first is not None and first != self.current_key:
                    self.call_after_refresh(inv.select_key, first, True)
        if self._findings_dirty:
            self._findings_dirty = False
            self._show_target(self.current_key)
        else:
            self._refresh_status()

    def _refresh_status(self) -> None:
        with contextlib.suppress(NoMatches):
            self._main(StatusBar).refresh_from(self.state, read_only=self.read_only, undo_depth=self.undo_depth)

    def _show_target(self, key: str | None) -> None:
        with contextlib.suppress(NoMatches):
            self._show_target_now(key)

    def _show_target_now(self, key: str | None) -> None:
        tr = self.state.targets.get(key) if key else None
        self._main(FindingsList).show(tr)
        self._main(LayersView).show_target(tr, None)
        tab = self._main("#tab-layers", TabPane)
        tab.disabled = tr is None or tr.target.kind is not TargetKind.IMAGE
        if tab.disabled and self._main(TabbedContent).active == "tab-layers":
            self._main(TabbedContent).active = "tab-findings"
        elif not tab.disabled and self._main(TabbedContent).active == "tab-layers":
            self._main(LayersView).want_files()

    def on_inventory_target_highlighted(self, msg: Inventory.TargetHighlighted) -> None:
        if msg.key == self.current_key:
            return
        if msg.key is None and self.current_key in self.state.targets:
            return  # a section heading (or a rebuild passing by): keep showing the target
        self.current_key = msg.key
        self._show_target(msg.key)

    @closing_safe
    def on_inventory_target_chosen(self, _msg: Inventory.TargetChosen) -> None:
        self.action_focus_panel("findings")

    @closing_safe
    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """The detail pane follows the active tab; the layers tab gets more room."""
        layers = event.pane.id == "tab-layers"
        self._main("#right").set_class(layers, "layers-mode")
        if layers:
            self._main(LayersView).announce()
            self._main(LayersView).want_files()
        elif event.pane.id == "tab-findings":
            self._main(Detail).show(self._selected_finding())

    @closing_safe
    def on_findings_list_finding_highlighted(self, msg: FindingsList.FindingHighlighted) -> None:
        self._main(Detail).show(msg.finding)
        if msg.finding is not None and msg.finding.fix is not None and msg.finding.fix.pending:
            self.check_pending(msg.finding)

    # ------------------------------------------------------------------ navigation

    WRITE_ACTIONS = frozenset({"fix", "fix_all", "ignore", "undo"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys typed into a search box are text, not commands; write keys are not offered
        (nor shown in the footer) in --read-only or while a modal (the diff) is open."""
        if len(self.screen_stack) > 1 and action in self.WRITE_ACTIONS | {
                "edit", "rescan", "filter", "sort", "scope", "focus_panel", "tab", "inspect", "logs"}:
            return False
        if action in {"fix", "fix_all", "ignore", "undo", "edit", "rescan", "filter", "help",
                      "focus_panel", "tab", "quit", "sort", "scope", "inspect", "logs"}:
            focused = self.focused
            if isinstance(focused, Input):
                return False
        return True

    def _current(self) -> TargetResult | None:
        return self.state.targets.get(self.current_key) if self.current_key else None

    def _selected_finding(self) -> Finding | None:
        return self._main(FindingsList).selected

    # ------------------------------------------------------------------ rescan / edit

    def action_rescan(self) -> None:
        if self.state.progress.running:
            self.notify("A scan is already running.")
            return
        old = self.ctx.engine
        self._close_event_stream()
        self._close_fleet()
        self.ctx = self._new_context()
        if old is not None:
            old.close()
        self.start_scan()

    def action_edit(self) -> None:
        finding = self._selected_finding()
        tr = self._current()
        path = (finding.location.path if finding else None) or (tr.target.path if tr else None)
        if not path or (tr is not None and tr.target.kind in (TargetKind.IMAGE, TargetKind.CONTAINER)):
            self.notify("Nothing to edit: this target is not a file.", markup=False)
            return
        full = Path(path) if Path(path).is_absolute() else self.root / path
        if not full.is_file():
            self.notify(f"Not a file: {display(str(full))}", markup=False)
            return
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        line = finding.location.line if finding and finding.location.line else 1
        cmd = [*shlex.split(editor), f"+{line}", str(full)]
        try:
            with self.suspend():
                subprocess.run(cmd, check=False)
        except Exception as exc:  # noqa: BLE001 - headless, no editor, or suspend unsupported
            self.notify(f"Cannot open the editor: {type(exc).__name__}: {display(str(exc))[:120]}",
                        severity="warning", markup=False)
            return
        self.refresh()
        self._rescan({self.ctx.rel(full) or path}, set())

    # ------------------------------------------------------------------ toasts

    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast goes through `text.display` (masked, escapes visible) and never markup:
        messages quote names, paths and engine replies."""
        super().notify(display(message), title=display(title), severity=severity, timeout=timeout,
                       markup=False)

    # ------------------------------------------------------------------ crash output

    def _fatal_error(self) -> None:
        """Like Textual's, but without local variables and with secrets masked."""
        self.bell()
        from lockdock.tui.crash import masked_traceback  # rich.traceback: imported only on a crash

        self._exit_renderables.append(masked_traceback())
        self._close_messages_no_wait()

    # ------------------------------------------------------------------ command palette

    def get_system_commands(self, screen: Screen) -> Any:
        yield from super().get_system_commands(screen)
        yield SystemCommand("rescan", "Scan everything again", self.action_rescan)
        yield SystemCommand("undo", "Undo the last applied fix", self.action_undo)
        tr = self._current()
        if tr is None:
            return
        seen: set[str] = set()
        for f in tr.active:
            if f.fix is not None:
                title = _palette_safe(f"fix: {f.check}: {f.fix.title}")
                yield SystemCommand(title, _palette_safe(f.message), lambda f=f: self.fix_finding(f))
        for f in tr.findings:
            if f.check not in seen:
                seen.add(f.check)
                title = _palette_safe(f"explain: {f.check}")
                yield SystemCommand(title, checks.get(f.check).title, lambda f=f: self._explain(f))

    def _explain(self, finding: Finding) -> None:
        self._main(FindingsList).select_finding(finding)
        self._main(Detail).show(finding)
        self._main(Detail).focus()


def _palette_safe(text: str) -> str:
    """Palette titles are matched and highlighted as text; keep them free of escapes and
    of square brackets (some Textual versions treat them as markup)."""
    return display(text).replace("[", "(").replace("]", ")")[:120]

