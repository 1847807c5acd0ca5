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



_PRESS_Q = r"""
import asyncio, sys
from pathlib import Path
from lockdock.tui import create_app

app = create_app([Path(sys.argv[1])], use_engine=False)

async def main():
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("q")
        for _ in range(100):  # plain sleeps: a pump that refuses messages never answers pilot.pause
            if app.return_code is not None:
                break
            await asyncio.sleep(0.05)
        print("return code", app.return_code, flush=True)

asyncio.run(main())
"""


def test_q_quits_the_app(tmp_path: Path) -> None:
    """`q` ends the app. Its quit action closes the event stream first; a flag of that once
    shadowed Textual's own `_closing`, and the app stopped taking messages instead of
    exiting (run in a subprocess: that app never ends)."""
    import subprocess
    import sys

    (tmp_path / "Dockerfile").write_text("FROM alpine:3.19\n")
    try:
        done = subprocess.run([sys.executable, "-c", _PRESS_Q, str(tmp_path)], capture_output=True, text=True,
                              timeout=60)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the app did not end after q: {exc.stdout!r}") from None
    assert "return code 0" in done.stdout, done.stdout + done.stderr[-2000:]
