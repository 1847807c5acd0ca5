"""The footer (lockdock.tui.footer.LeanFooter) is drawn again only when the keys it shows
change: the same keys after a focus move cost no recompose, other keys are shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lockdock.tui import create_app
from lockdock.tui.footer import LeanFooter

from .conftest import drive, settled_text, wait_scan


def test_the_footer_is_recomposed_only_when_its_keys_change(project: Path, monkeypatch: Any) -> None:
    app = create_app([project], use_engine=False)
    composed: list[int] = []
    real = LeanFooter.compose

    def counting(self: LeanFooter) -> Any:
        composed.append(1)
        return real(self)

    monkeypatch.setattr(LeanFooter, "compose", counting)
    seen: dict[str, Any] = {}

    async def body(pilot: Any) -> None:
        await wait_scan(pilot)
        before = (await settled_text(pilot)).rsplit("\n", 1)[-1]
        count = len(composed)
        for _ in range(3):  # the same bindings said again: nothing to draw
            app.screen.refresh_bindings()
            await pilot.pause(0.1)
        seen["same"] = len(composed) - count
        await pilot.press("slash")  # the search box: write keys are not offered while typing
        await pilot.pause(0.3)
        seen["typing"] = (await settled_text(pilot, must="Search")).rsplit("\n", 1)[-1]
        seen["changed"] = len(composed) - count
        seen["before"] = before

    drive(app, body)
    assert seen["same"] == 0
    assert seen["changed"] >= 1
    assert "Fix" in seen["before"] and "Quit" in seen["before"]
    assert seen["typing"] != seen["before"] and "Fix" not in seen["typing"]
