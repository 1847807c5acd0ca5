"""The app's actions that write or reach into the engine: fix, fix all, ignore (with a
scope and a reason), undo (this project's journal, listed first), and the read-only
container triage views (inspect JSON, last log lines).

A mixin of `LockdockApp` (kept apart so each module stays readable); it uses the app's
state, context and screens. Writes run in workers and always pass through a preview.
"""

from __future__ import annotations

import contextlib
from typing import Any

from textual import work
from textual.css.query import NoMatches
from textual.worker import get_current_worker

from lockdock.model import Applicability, Finding, Fix, TargetKind
from lockdock.scan import TargetResult
from lockdock.text import safe
from lockdock.tui.diff_screen import DiffScreen
from lockdock.tui.layers import LayersView
from lockdock.tui.render import plain, plain_str


class WriteActions:
    """Mixed into `LockdockApp` (which provides notify, push_screen, state, ctx, ...)."""

    state: Any
    ctx: Any
    root: Any
    read_only: bool
    undo_depth: int
    current_key: str | None

    # ------------------------------------------------------------------ fixes

    def _refuse_write(self, what: str) -> bool:
        if self.read_only:
            self.notify(f"read-only mode: {what} is disabled (started with --read-only).",
                        severity="warning", markup=False)
            return True
        return False

    def action_fix(self) -> None:
        finding = self._selected_finding()
        if finding is None:
            self.notify("Select a finding first (panel 2).")
            return
        self.fix_finding(finding)

    def fix_finding(self, finding: Finding) -> None:
        if self._refuse_write("fixing"):
            return
        if finding.fix is None:
            why = self.host_fix_refusal(finding)
            self.notify(why or f"{finding.check} has no automatic fix; the detail pane says how to fix it.",
                        markup=False)
            return
        self._prepare_fixes([finding], title=finding.fix.title)

    def action_fix_all(self) -> None:
        if self._refuse_write("fixing"):
            return
        tr = self._current()
        if tr is None:
            self.notify("Pick a target first (panel 1).")
            return
        safe = [f for f in tr.active if f.fix is not None and f.fix.applicability is Applicability.SAFE]
        if not safe:
            self.notify("This target has no safe fixes.")
            return
        self._prepare_fixes(safe, title=f"{len(safe)} safe fix(es) for {tr.target.name}")

    def action_ignore(self) -> None:
        """Ask for the scope and the reason, then preview the write (or show the label line)."""
        if self._refuse_write("adding an ignore pragma"):
            return
        finding = self._selected_finding()
        if finding is None:
            self.notify("Select a finding first (panel 2).")
            return
        from lockdock.tui.modals import IgnoreScreen, ignore_scopes

        def chosen(choice: Any) -> None:
            if choice is not None:
                self._ignore_with(finding, choice)

        self.push_screen(IgnoreScreen(finding, ignore_scopes(finding, self._image_name_of(finding))), chosen)

    def _image_name_of(self, finding: Finding) -> str | None:
        """The `[per-image-ignores]` key of the finding's image (an image's first repo tag, a
        container's image reference); None when it has no name (an id, untagged)."""
        from lockdock.config import image_name_key
        from lockdock.suppress import image_names

        subject = self.state.subject_of(finding.target.key)
        for ref in image_names(subject) if subject is not None else []:
            if (key := image_name_key(ref)) is not None:
                return key
        return None

    def _ignore_with(self, finding: Finding, choice: Any) -> None:
        from lockdock.tui import fixflow
        from lockdock.tui.modals import TextScreen

        if choice.scope.kind == "label":
            line = choice.scope.detail.replace("{reason}", choice.reason)
            body = plain("Add this where the object is built or run, then rebuild or recreate it "
                              "(the labels of an existing image or container cannot be changed):\n\n"
                              + line + "\n\nNothing was written.", keep_newlines=True)
            self.push_screen(TextScreen(f"Ignore {finding.check} by label", body))
            return
        if choice.scope.kind == "image-name":
            from lockdock.fixing.ignore import config_fix

            name_fix = config_fix(finding, self.ctx, choice.reason, image_name=choice.scope.detail)
            if name_fix is None:
                self.notify("cannot add the ignore to .lockdock.toml (already ignored for this name, settings in pyproject.toml, "
                            "or the file does not parse)", severity="warning", markup=False)
                return
            self._preview_and_apply([name_fix], title=name_fix.title)
            return
        try:
            fix = fixflow.ignore_fix(finding, self.ctx, choice.reason, project=choice.scope.kind == "project")
        except fixflow.FixProblem as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        self._preview_and_apply([fix], title=fix.title)

    def action_undo(self) -> None:
        """Show this project's journal (files, fixes, when), then undo the newest on `y`."""
        if self._refuse_write("undo"):
            return
        from lockdock.tui import fixflow
        from lockdock.tui.modals import UndoScreen, project_entries

        items = project_entries(self.root)

        def done(confirmed: bool | None) -> None:
            if not confirmed:
                return
            from lockdock.tui.fleetmode import FleetProblem

            entries = [i.entry for i in items]
            run = entries[0].run if entries else ""
            ids = {e.object_id for entry in entries if entry is entries[0] or (run and entry.run == run)
                   for e in entry.engine}
            try:
                undone = fixflow.undo_entries(self._ctx_for_objects(ids), entries)
            except (fixflow.FixProblem, FleetProblem) as exc:
                self.notify(str(exc), severity="warning", markup=False)
                return
            self.undo_depth = max(0, self.undo_depth - 1)
            self.notify("Undone: " + "; ".join(undone.messages)[:300], markup=False)
            self._rescan(undone.paths, undone.object_ids)

        self.push_screen(UndoScreen(items, self.root), done)

    # ------------------------------------------------------------------ container triage

    def _container_target(self) -> TargetResult | None:
        finding = self._selected_finding()
        key = finding.target.key if finding is not None else self.current_key
        tr = self.state.targets.get(key) if key else None
        if tr is None or tr.target.kind is not TargetKind.CONTAINER:
            tr = self._current()
        if tr is None or tr.target.kind is not TargetKind.CONTAINER:
            self.notify("Inspect and logs are for containers: pick one in the Containers section.")
            return None
        ctx = self._ctx_for(tr.target.key)
        if ctx.engine is None:
            self.notify("No engine connection: inspect and logs need the engine"
                        + (f" ({ctx.engine_error})." if ctx.engine_error else "."), severity="warning", markup=False)
            return None
        return tr

    def action_inspect(self) -> None:
        tr = self._container_target()
        if tr is not None:
            self._triage_worker(tr, "inspect")

    def action_logs(self) -> None:
        tr = self._container_target()
        if tr is not None:
            self._triage_worker(tr, "logs")

    @work(thread=True, group="triage", exit_on_error=False)
    def _triage_worker(self, tr: TargetResult, what: str) -> None:
        """Read-only engine calls (inspect, logs --tail); never exec."""
        from lockdock.tui.modals import LOG_LINES, TextScreen, inspect_text, logs_text

        ident = str(getattr(tr.subject, "id", "") or tr.target.name)
        engine = self._ctx_for(tr.target.key).engine
        try:
            if what == "inspect":
                body = inspect_text(engine.api.inspect_container(ident))
                title = f"docker inspect {tr.target.name} (secrets masked)"
            else:
                raw = engine.api.logs(ident, tail=LOG_LINES, stdout=True, stderr=True, timestamps=False)
                body = logs_text(raw)
                title = f"docker logs --tail {LOG_LINES} {tr.target.name} (secrets masked)"
        except Exception as exc:  # noqa: BLE001 - the container vanished or the engine failed
            self.call_from_thread(self.notify, f"{what} {tr.target.name}: {type(exc).__name__}: {exc}",
                                  severity="warning")
            return
        self.call_from_thread(self.push_screen, TextScreen(title, body, "read-only"))

    def _prepare_fixes(self, findings: list[Finding], title: str) -> None:
        """Pending fixes (engine measurements) are computed in a worker before the preview.
        Findings the engine scan's child process sent (no payload, fixes without edits:
        `childscan.Sketch` subjects) are first analysed again here from a fresh inspect."""
        from lockdock.tui.childscan import Sketch

        if any(isinstance(self.state.subject_of(f.target.key), Sketch) for f in findings):
            self._full_then_fix(findings, title)
            return
        if any(f.fix is not None and f.fix.pending for f in findings):
            self._compute_lazy(findings, title)
            return
        self._preview_and_apply([f.fix for f in findings if f.fix is not None], title=title)

    @work(thread=True, group="lazy-fix", exit_on_error=False)
    def _full_then_fix(self, findings: list[Finding], title: str) -> None:
        """Analyse the targets of `findings` again in this process (`childscan.full_result`),
        put the results in place of the child's, then prepare the fixes of the same
        findings; one that is gone (the object changed) is said, not fixed."""
        from lockdock.tui.childscan import full_result, same_finding

        fresh: dict[str, TargetResult] = {}
        for key in dict.fromkeys(f.target.key for f in findings):
            tr = self.state.targets.get(key)
            full = full_result(tr, self._ctx_for(key)) if tr is not None else None
            if full is not None:
                fresh[key] = full
        again = []
        for f in findings:
            g = next((g for g in fresh[f.target.key].findings if same_finding(f, g)), None) if f.target.key in fresh \
                else None
            if g is not None and g.fix is not None:
                again.append(g)
        self.call_from_thread(self._fixes_after_full, fresh, again, len(findings), title)

    def _fixes_after_full(self, fresh: dict[str, TargetResult], again: list[Finding], wanted: int,
                          title: str) -> None:
        for key, tr in fresh.items():
            if key in self.state.targets:
                self.state.targets[key] = tr
                self._findings_dirty = self._findings_dirty or key == self.current_key
        self._dirty = True
        if len(again) < wanted:
            self.notify("The object changed since the scan: its findings were read again; check the fix.",
                        severity="warning", markup=False)
        if again:
            self._prepare_fixes(again, title)

    @work(thread=True, group="lazy-fix", exit_on_error=False)
    def _compute_lazy(self, findings: list[Finding], title: str) -> None:
        from lockdock.tui import fixflow

        fixes: list[Fix] = []
        for f in findings:
            subject = self.state.subject_of(f.target.key)
            fix = fixflow.materialise(f, subject, self._ctx_for(f.target.key))
            if fix is not None:
                fixes.append(fix)
        if not fixes:
            self.call_from_thread(self.notify, "The fix cannot be computed now (engine data missing).")
            return
        self.call_from_thread(self._preview_and_apply, fixes, title)

    def _preview_and_apply(self, fixes: list[Fix], title: str) -> None:
        from lockdock.tui import fixflow
        from lockdock.tui.fleetmode import FleetProblem

        try:
            # Several engines: the container's own engine does the `docker update`.
            ctx, engine_name = self._ctx_for_fixes(fixes)
            preview = fixflow.build_preview(fixes, ctx, title=title, engine=engine_name)
        except (fixflow.FixProblem, FleetProblem) as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return

        def done(confirmed: Any) -> None:
            if isinstance(confirmed, fixflow.Verified):
                self._verified(confirmed, preview.stamps, ctx)
            elif confirmed:
                self.notify("Applying…", timeout=2)
                self._apply_worker(fixes, preview.stamps, ctx)
            else:
                self.notify("Cancelled: nothing was written.")

        self.push_screen(DiffScreen(preview, lambda: fixflow.verify(fixes, ctx)), done)

    def _verified(self, result: Any, stamps: dict[str, Any], ctx: Any = None) -> None:
        """After `v`: show the per-service verdicts; apply only the verified fixes (as `y`)."""
        from lockdock.tui.modals import TextScreen

        body = plain("\n".join(result.lines), keep_newlines=True)
        if result.fixes:
            body.append("\n")
            body.append(plain(f"Applying {len(result.fixes)} verified fix(es); "
                              f"{len(result.held)} held back, not written.", "bold"))
            self._apply_worker(result.fixes, stamps, ctx)
        else:
            body.append("\n")
            body.append(plain("Nothing written: no fix was verified.", "bold"))
        self.push_screen(TextScreen("Verify by running: result", body, "held-back fixes are not written"))
        held = "; ".join(f"{t}: {v}" + (f" ({r})" if r else "") for t, v, r in result.held)
        if held:
            self.notify("Held back (not written): " + plain_str(held)[:300], severity="warning", markup=False)

    @work(thread=True, group="apply", exclusive=True, exit_on_error=False)
    def _apply_worker(self, fixes: list[Fix], stamps: dict[str, Any], ctx: Any = None) -> None:
        """Write, journal and verify off the UI thread, then rescan what was touched.
        `ctx` holds the engine that owns the fixes' containers (default: the session's)."""
        from lockdock.tui import fixflow

        ctx = ctx or self.ctx
        try:
            applied = fixflow.apply(fixes, ctx, stamps)
        except fixflow.FixProblem as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            self.call_from_thread(self._rescan, fixflow.paths_of(fixes, ctx), set())
            return
        self.call_from_thread(self._applied, applied)

    def _applied(self, applied: Any) -> None:
        self.undo_depth += 1
        self.notify("Applied: " + "; ".join(applied.messages)[:300] + "  (u undoes)", markup=False)
        if self._reload_written_config(applied.paths):
            # An ignore written to .lockdock.toml can suppress findings of any target.
            paths = {tr.target.path for tr in self.state.targets.values() if tr.target.path}
            ids = {str(getattr(tr.subject, "id", "") or "") for tr in self.state.targets.values()
                   if tr.target.kind in (TargetKind.IMAGE, TargetKind.CONTAINER)}
            self._rescan(applied.paths | paths, applied.object_ids | (ids - {""}))
            return
        self._rescan(applied.paths, applied.object_ids)

    def _reload_written_config(self, written: set[str]) -> bool:
        """After an ignore wrote the project's .lockdock.toml, read the settings again so the
        rescan applies it; False when nothing was written there, or when this session's
        settings come from another file (`--config`): then it counts from the next run."""
        from pathlib import Path

        from lockdock.config import ConfigError, load_config, user_config_path

        targets = {(Path(p) if Path(p).is_absolute() else self.ctx.cwd / p).resolve()
                   for p in written if Path(p).name == ".lockdock.toml"}
        if not targets:
            return False
        config = getattr(self, "config", None)
        used = {Path(f).resolve() for f in (config.files if config is not None else [])}
        if used - targets - {user_config_path().resolve()}:
            self.notify("The ignore was written to .lockdock.toml; this session reads other "
                        "settings (--config), so it counts from the next run.", markup=False)
            return False
        try:
            fresh = load_config(self.root)
        except ConfigError as exc:
            self.notify(f"cannot read the settings again: {safe(exc, 200)}", severity="warning", markup=False)
            return False
        self.config = fresh
        self.ctx.config = fresh
        return True

    # ------------------------------------------------------------------ layer file trees

    def on_layers_view_files_wanted(self, msg: LayersView.FilesWanted) -> None:
        cached = self._file_trees.get(msg.key)
        if cached is not None:
            self._main(LayersView).set_files(msg.key, *cached)
            return
        tr = self.state.targets.get(msg.key)
        engine = self._ctx_for(msg.key).engine
        if tr is None or engine is None:
            self._main(LayersView).set_files(msg.key, None, "file tree: needs the engine (docker save)")
            return
        self._files_worker(msg.key, str(getattr(tr.subject, "id", "") or tr.target.name), engine)

    @work(thread=True, group="layer-files", exclusive=True, exit_on_error=False)
    def _files_worker(self, key: str, image_id: str, engine: Any) -> None:
        """Read one image's per-layer file lists from `docker save` (bounded per layer)."""
        from lockdock.engine.images import save_stream
        from lockdock.tui.filetree import read_layer_files

        worker = get_current_worker()
        try:
            files, error = read_layer_files(save_stream(engine.api, image_id))
        except Exception as exc:  # noqa: BLE001 - engine gone, image removed, timeout
            files, error = None, f"file tree unavailable: {type(exc).__name__}: {safe(exc, 160)}"
        if worker.is_cancelled:
            return
        # The file tree marks the paths a finding's payload names: a result of the engine
        # scan's child has none, so the image is analysed again here (`childscan`).
        from lockdock.tui.childscan import Sketch, full_result

        tr = self.state.targets.get(key)
        fresh = None
        if files is not None and tr is not None and isinstance(tr.subject, Sketch):
            fresh = full_result(tr, self._ctx_for(key))
        if worker.is_cancelled:
            return
        if fresh is not None:
            self.call_from_thread(self._full_result_in, key, tr, fresh)
        if files is not None:
            while len(self._file_trees) >= 2:  # bounded: the last two images looked at
                self._file_trees.pop(next(iter(self._file_trees)))
            self._file_trees[key] = (files, error)
        self.call_from_thread(self._files_ready, key, files, error)

    def _full_result_in(self, key: str, old: TargetResult, fresh: TargetResult) -> None:
        """Put `fresh` (analysed here) in place of the child's `old` result, unless a rescan
        replaced that meanwhile."""
        if self.state.targets.get(key) is not old:
            return
        self.state.targets[key] = fresh
        self._dirty = True
        self._findings_dirty = self._findings_dirty or key == self.current_key
        with contextlib.suppress(NoMatches):
            view = self._main(LayersView)
            if view.image_key == key:
                view.findings = fresh.findings

    def _files_ready(self, key: str, files: Any, error: str | None) -> None:
        with contextlib.suppress(NoMatches):  # the app is closing
            self._main(LayersView).set_files(key, files, error)

    # ------------------------------------------------------------------ fixes that need a measurement

    def check_pending(self, finding: Finding) -> None:
        """A lazy fix (sized from `docker stats`, say) is computed when its finding is
        highlighted, so the list never promises a fix the engine cannot give."""
        if getattr(finding, "_lockdock_checking", False) or self._ctx_for(finding.target.key).engine is None:
            return
        finding._lockdock_checking = True  # type: ignore[attr-defined]
        self._pending_worker(finding)

    @work(thread=True, group="pending-fix", exit_on_error=False)
    def _pending_worker(self, finding: Finding) -> None:
        from lockdock.tui import fixflow
        from lockdock.tui.childscan import Sketch, full_result, same_finding

        subject = self.state.subject_of(finding.target.key)
        try:
            full = finding
            tr = self.state.targets.get(finding.target.key)
            if tr is not None and isinstance(subject, Sketch):  # from the child: read the object again
                fresh = full_result(tr, self._ctx_for(finding.target.key))
                if fresh is not None and fresh is not tr:
                    subject = fresh.subject
                    full = next((g for g in fresh.findings if same_finding(finding, g)), finding)
            fix = fixflow.materialise(full, subject, self._ctx_for(finding.target.key))
        except Exception:  # noqa: BLE001 - engine gone: keep the promise unresolved, f will say why
            finding._lockdock_checking = False  # type: ignore[attr-defined]
            return
        self.call_from_thread(self._pending_done, finding, fix)

    def _pending_done(self, finding: Finding, fix: Fix | None) -> None:
        finding.fix = fix
        with contextlib.suppress(NoMatches):
            from lockdock.tui.detail import Detail
            from lockdock.tui.findings import FindingsList

            fl = self._main(FindingsList)
            fl.show(self._current())
            if fl.selected is finding:
                self._main(Detail).show(finding)
