"""RELIABILITY.md "Terminal" and "Secrets" rows: hostile text is shown literally, secrets never."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lockdock.model import TargetKind
from lockdock.tui import create_app
from lockdock.tui.detail import Detail
from lockdock.tui.findings import FindingsList

from ..conftest import SESSION
from .conftest import drive, screen_text, select, wait_crash, wait_scan

HOSTILE_DIR = "[bold]x[/]\x1b]0;pwned\x07\x1b[2J"
HOSTILE_SERVICE = "[@click=app.quit]svc"


def test_markup_and_escapes_in_paths_and_names_render_literally(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    evil = root / HOSTILE_DIR
    evil.mkdir(parents=True)
    (evil / "Dockerfile").write_text("FROM nginx:latest\nADD a /a\n")
    (root / "compose.yaml").write_text(
        f'services:\n  "{HOSTILE_SERVICE}":\n    image: "nginx:latest"\n    privileged: true\n'
        '    labels:\n      note: "[link=https://evil.example]click[/link]"\n'
    )
    app = create_app([root], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        for kind in ("dockerfile", "compose-service"):
            key = next(k for k, tr in app.state.targets.items() if tr.target.kind.value == kind)
            await select(pilot, key)
            seen[kind] = screen_text(app)
        # Pressing enter on the hostile service must not trigger the embedded action.
        await pilot.press("enter")
        await pilot.pause(0.2)
        seen["running"] = app.is_running

    drive(app, body)
    assert seen["running"]
    text = seen["dockerfile"]
    assert "[bold]x[/]" in text  # markup shown as typed, not applied
    assert "\\e]0;pwned" in text and "\\e[2J" in text  # escapes made visible
    assert "\x1b" not in text
    assert HOSTILE_SERVICE in seen["compose-service"]


@pytest.mark.engine
def test_container_label_with_markup_and_ansi_is_literal(tmp_path: Path, docker_api: Any, busybox_image: str) -> None:
    """A compose-made container's service label is shown in the inventory, literally."""
    name = f"lockdock-test-tui-{uuid.uuid4().hex[:8]}"
    labels = {
        "io.lockdock.test": "1",
        "io.lockdock.test-session": SESSION,
        "com.docker.compose.service": "[bold red]web\x1b[31m[/]",
        "com.docker.compose.project.config_files": "/srv/[link=https://evil.example]c[/link].yml",
    }
    cid = docker_api.create_container(busybox_image, command=["true"], name=name, labels=labels)["Id"]
    try:
        app = create_app([tmp_path], use_engine=True)
        app.ctx.images = [busybox_image]
        seen: dict[str, Any] = {}

        async def body(pilot):
            await wait_scan(pilot, timeout=120)
            key = next(k for k, tr in app.state.targets.items()
                       if tr.target.kind is TargetKind.CONTAINER and name in tr.target.name)
            await select(pilot, key)
            seen["text"] = screen_text(app)

        drive(app, body, size=(160, 40))
        text = seen["text"]
        assert "2 Findings: " + name + " ([bold red]web\\e[31m[/] @ link].yml)" in text
        assert "[bold red]web\\e[31m[/]" in text
        assert "[link=https://evil.example]c[/link].yml" in text
    finally:
        docker_api.remove_container(cid, force=True)


def _demo_like(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "Dockerfile").write_text(
        "FROM nginx:1.25\nENV AWS_ACCESS_KEY_ID=AKIAFAKEDEMOKEYABCDE\nENV DB_PASSWORD=Tr0ub4dor-demo-fake\n"
    )
    (root / "compose.yaml").write_text(
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: s3cr3t-Pa55word-demo\n"
    )
    return root


RAW_SECRETS = ("AKIAFAKEDEMOKEYABCDE", "Tr0ub4dor-demo-fake", "s3cr3t-Pa55word-demo")


def test_secret_values_never_reach_the_screen(tmp_path: Path) -> None:
    root = _demo_like(tmp_path)
    app = create_app([root], use_engine=False)
    screens: list[str] = []
    secret_findings: list[str] = []

    async def body(pilot):
        await wait_scan(pilot)
        for key in list(app.state.targets):
            await select(pilot, key)
            fl = app.query_one(FindingsList)
            for f in list(fl.shown):
                if f.layer.value == "secrets":
                    secret_findings.append(f.check)
                fl.select_finding(f)
                app.query_one(Detail).show(f)
                await pilot.pause(0.02)
                screens.append(screen_text(app))

    drive(app, body)
    assert "secrets.no-secrets-in-image" in secret_findings
    assert "secrets.no-secrets-in-env" in secret_findings
    joined = "\n".join(screens)
    for raw in RAW_SECRETS:
        assert raw not in joined


def test_crash_output_has_no_locals_and_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    root = _demo_like(tmp_path)
    app = create_app([root], use_engine=False)

    def boom(self: Any, finding: Any) -> None:
        token = "AKIA" + "FAKEDEMOKEYABCDE"  # locals the default crash screen would print
        note = "plain-local-" + "value"
        raise RuntimeError(f"detail failed on {token} / ghp_" + "a" * 36 + note[:0])

    monkeypatch.setattr(Detail, "show", boom)
    seen: dict[str, bool] = {}

    async def body(pilot):
        seen["crashed"] = await wait_crash(pilot)

    with pytest.raises(RuntimeError):
        drive(app, body)
    assert seen.get("crashed") is not False  # the crash ended the body, not a timeout
    buf = io.StringIO()
    console = Console(file=buf, width=120, color_system=None)
    for r in app._exit_renderables:  # still pending, or already printed to stderr
        console.print(r)
    captured = capfd.readouterr()
    out = buf.getvalue() + captured.out + captured.err
    assert "RuntimeError" in out and "detail failed on" in out
    assert "AKIAFAKEDEMOKEYABCDE" not in out
    assert "ghp_" + "a" * 36 not in out
    assert "plain-local-value" not in out  # no locals section


def test_diff_preview_masks_secrets_in_context_lines(tmp_path: Path) -> None:
    from lockdock.tui.diff_screen import DiffScreen

    root = tmp_path / "proj"
    root.mkdir()
    (root / "a.txt").write_text("a\n")
    (root / "Dockerfile").write_text(
        "FROM nginx:1.25\nENV DB_PASSWORD=Tr0ub4dor-demo-fake\nADD a.txt /a.txt\nUSER nginx\n"
    )
    app = create_app([root], use_engine=False)
    seen: dict[str, Any] = {}

    async def body(pilot):
        await wait_scan(pilot)
        key = next(k for k, tr in app.state.targets.items() if tr.target.kind is TargetKind.DOCKERFILE)
        await select(pilot, key, "build.copy-not-add")
        await pilot.press("f")
        await pilot.pause(0.3)
        assert isinstance(app.screen, DiffScreen)
        seen["text"] = screen_text(app)

    drive(app, body)
    text = seen["text"]
    assert "-ADD a.txt" in text and "+COPY a.txt" in text
    assert "ENV DB_PASSWORD=" in text  # the context line is there...
    assert "Tr0ub4dor-demo-fake" not in text  # ...with its value masked
