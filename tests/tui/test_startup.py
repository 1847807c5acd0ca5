"""The app starts at once, scans in the background and fills the inventory."""

from __future__ import annotations

from pathlib import Path

from lockdock.tui import create_app
from lockdock.tui.inventory import Inventory

from .conftest import drive, screen_text, wait_scan


def test_first_screen_before_scan_and_inventory_after(project: Path) -> None:
    app = create_app([project], use_engine=False)
    seen: dict[str, object] = {}

    async def body(pilot):
        seen["tree_at_start"] = app.query_one(Inventory) is not None
        await wait_scan(pilot)
        seen["text"] = screen_text(app)
        seen["keys"] = set(app.state.targets)

    drive(app, body)
    assert seen["tree_at_start"]
    text = str(seen["text"])
    assert "no engine: file-only mode" in text
    assert "Compose" in text and "Dockerfiles" in text
    assert any(k.startswith("compose-file:") for k in seen["keys"])  # type: ignore[union-attr]
