"""Engine rows without a working engine: unreachable endpoints, untrusted names, the rules
that group targets per engine and refuse another machine's daemon.json fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lockdock.engine.contexts import Endpoint, host_endpoint
from lockdock.model import Finding, Location, Severity, Target, TargetKind
from lockdock.scan import TargetResult
from lockdock.tui import create_app
from lockdock.tui.inventory import Inventory, engine_label, short_reason
from lockdock.tui.state import AppState, EngineRow

from .conftest import drive, screen_text, wait_scan


def result(kind: TargetKind, name: str, engine: str | None) -> TargetResult:
    key = f"{kind.value}:{name}"
    return TargetResult(Target(kind, name, key=f"{engine}|{key}" if engine else key, engine=engine), None)


def test_by_section_keeps_each_engines_targets_apart() -> None:
    state = AppState()
    for tr in (result(TargetKind.IMAGE, "app:1", "prod"), result(TargetKind.IMAGE, "app:1", "staging"),
               result(TargetKind.CONTAINER, "web", "prod"), result(TargetKind.DOCKERFILE, "Dockerfile", None)):
        state.targets[tr.target.key] = tr
    prod = state.by_section(engine="prod")
    assert [t.target.engine for t in prod["Images"]] == ["prod"] and len(prod["Containers"]) == 1
    assert not prod["Dockerfiles"]
    files = state.by_section(engine=None)
    assert len(files["Dockerfiles"]) == 1 and not files["Images"]
    assert len(state.by_section()["Images"]) == 2  # every engine
    assert not state.fleet
    state.engines = {"prod": EngineRow("prod", "ssh"), "staging": EngineRow("staging", "tcp")}
    assert state.fleet


def test_engine_row_says_state_first_and_escapes_an_untrusted_name() -> None:
    row = EngineRow("evil\x1b[31mctx", "ssh", state="down", reason="engine not reachable at ssh://x: refused")
    label = engine_label(row, 0, width=40)
    assert label.plain.startswith("DOWN evil")
    assert "\x1b" not in label.plain and "\\e[31m" in label.plain  # shown, not obeyed
    assert label.plain.endswith(" ssh")
    up = engine_label(EngineRow("unix:///run/docker.sock", "unix", state="up", version="20.10"), 7, width=60)
    assert up.plain == "up unix:///run/docker.sock (7)"  # a URL name does not repeat its kind
    long = engine_label(EngineRow("unix:///very/long/path/to/some/engine/docker.sock", "unix", "up"), 3, width=30)
    assert "…" in long.plain and long.plain.endswith("docker.sock (3)")
    assert short_reason("engine not reachable at tcp://h:1 (context prod): connection refused") == \
        "not reachable: connection refused"


def test_unreachable_engines_are_rows_with_their_reason_and_files_still_work(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM nginx:latest\nUSER root\n")
    endpoints = [host_endpoint("tcp://127.0.0.1:1"), host_endpoint(f"unix://{tmp_path}/no.sock")]
    app = create_app([tmp_path], endpoints=endpoints, fleet_problems=["docker context 'gone' not found"],
                     engine_timeout=20)
    seen: dict[str, Any] = {}

    async def body(pilot: Any) -> None:
        await wait_scan(pilot, timeout=60)
        await pilot.pause(0.5)
        seen["rows"] = {n: (r.state, r.reason) for n, r in app.state.engines.items()}
        seen["kinds"] = {tr.target.kind for tr in app.state.targets.values()}
        seen["errors"] = [e.message for e in app.state.errors]
        inv = app.query_one(Inventory)
        seen["top"] = [str(n.data) for n in inv.root.children]
        seen["text"] = " ".join(screen_text(app).split())

    drive(app, body, size=(120, 36))
    assert all(state == "down" and reason for state, reason in seen["rows"].values()), seen["rows"]
    assert TargetKind.DOCKERFILE in seen["kinds"]
    assert seen["top"] == ["section:Dockerfiles", "section:Repository",
                           "engine:tcp://127.0.0.1:1", f"engine:unix://{tmp_path}/no.sock"]
    assert "2 engines: 2 down" in seen["text"] and "DOWN tcp://127.0.0.1:1" in seen["text"]
    assert "not reachable: connection refused" in seen["text"]
    assert any("docker context 'gone' not found" in m for m in seen["errors"])
    assert any("not reachable at tcp://127.0.0.1:1" in m for m in seen["errors"])  # in full in Problems


def test_a_daemon_json_fix_is_never_offered_for_another_machine(tmp_path: Path) -> None:
    app = create_app([tmp_path], endpoints=[Endpoint("prod", "ssh://ops@prod"), Endpoint("ci", "tcp://ci:2376")])
    app.state.engines = {"prod": EngineRow("prod", "ssh", "up", host_note="docker info only (no --remote-host-files)"),
                         "ci": EngineRow("ci", "tcp", "up")}
    host = Target(TargetKind.HOST, "prod", key="prod|host:prod", engine="prod")
    finding = Finding("runtime.live-restore", host, "live-restore is off", Location(None), severity=Severity.MEDIUM)
    why = app.host_fix_refusal(finding)
    assert why is not None and "engine prod" in why and "only on this machine" in why and "docker info only" in why
    local = Target(TargetKind.HOST, "local", key="host:local")
    assert app.host_fix_refusal(Finding("runtime.live-restore", local, "off")) is None
