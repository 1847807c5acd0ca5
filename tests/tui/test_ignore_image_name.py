"""`i` on a container finding: the "this image name" scope writes a `[per-image-ignores]`
entry after a preview, and the rescan suppresses the check on the container and its image."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from lockdock.config import image_name_key, load_config
from lockdock.model import TargetKind
from lockdock.tui import create_app
from lockdock.tui.diff_screen import DiffScreen
from lockdock.tui.modals import IgnoreScreen

from ..conftest import SESSION, SESSION_LABEL, TEST_LABEL
from .conftest import drive, screen_text, select, wait_scan, wait_screen


@pytest.mark.engine
def test_image_name_scope_writes_the_entry_and_suppresses(tmp_path: Path, docker_api: Any,
                                                         busybox_image: str) -> None:
    mark = uuid.uuid4().hex[:10]
    cid = docker_api.create_container(busybox_image, command=["/bin/sh"],
                                      labels={TEST_LABEL: "1", SESSION_LABEL: SESSION, "lockdock-test-w3": mark})["Id"]
    try:
        (tmp_path / ".git").mkdir()
        settings = f'# mine\n[scan]\ncontainer-labels = ["lockdock-test-w3={mark}"]\n'
        (tmp_path / ".lockdock.toml").write_text(settings)
        app = create_app([tmp_path], use_engine=True, config=load_config(tmp_path))
        app.ctx.images = [busybox_image]
        name = image_name_key(busybox_image)
        seen: dict[str, Any] = {}

        def keys() -> tuple[str, str]:
            targets = app.state.targets.items()
            c = next(k for k, tr in targets if tr.target.kind is TargetKind.CONTAINER)
            i = next(k for k, tr in targets if tr.target.kind is TargetKind.IMAGE and busybox_image in tr.target.name)
            return c, i

        async def body(pilot):
            await wait_scan(pilot, timeout=120)
            ckey, ikey = keys()
            await select(pilot, ikey, "runtime.healthcheck")
            await pilot.press("i")
            await wait_screen(pilot, IgnoreScreen)
            seen["image_scopes"] = [s.kind for s in app.screen.scopes]
            await pilot.press("escape")
            await pilot.pause(0.1)
            await select(pilot, ckey, "runtime.healthcheck")
            await pilot.press("i")
            screen = await wait_screen(pilot, IgnoreScreen)
            seen["container_scopes"] = [s.kind for s in screen.scopes]
            seen["modal"] = screen_text(app)
            await pilot.press("down")  # label -> this image name
            await pilot.press(*"base image has none")
            await pilot.press("enter")
            await wait_screen(pilot, DiffScreen)
            seen["diff"] = screen_text(app)
            seen["unwritten"] = (tmp_path / ".lockdock.toml").read_text() == settings
            await pilot.press("y")
            for _ in range(200):
                await pilot.pause(0.05)
                if (tmp_path / ".lockdock.toml").read_text() != settings:
                    break
            await wait_scan(pilot, timeout=120)
            ckey, ikey = keys()
            for key, label in ((ckey, "container"), (ikey, "image")):
                f = next(f for f in app.state.targets[key].findings if f.check == "runtime.healthcheck")
                seen[label] = f.suppressed

        drive(app, body, size=(160, 50))
    finally:
        docker_api.remove_container(cid, force=True)

    assert seen["image_scopes"] == ["label", "image-name", "project"]
    assert seen["container_scopes"] == ["label", "image-name", "project"]
    assert "this image name" in seen["modal"] and name in seen["modal"]
    assert "per-image-ignores" in seen["diff"] and seen["unwritten"]
    text = (tmp_path / ".lockdock.toml").read_text()
    assert text.startswith(settings)
    assert text[len(settings):] == f'\n[per-image-ignores]\n"{name}" = ["runtime.healthcheck"]  # base image has none\n'
    for label in ("container", "image"):
        sup = seen[label]
        assert sup is not None, label
        assert (sup.source, sup.reason) == ("config", f"ignored in config for image {name}")
