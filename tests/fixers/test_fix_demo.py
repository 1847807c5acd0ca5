"""`lockdock fix --apply --unsafe` on the deliberately insecure demo project, then undo."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from lockdock.demo import copy_demo


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lockdock", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def _snapshot(root: Path) -> dict[str, tuple[bytes | None, int]]:
    snap: dict[str, tuple[bytes | None, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            data = p.read_bytes() if stat.S_ISREG(st.st_mode) else None
            snap[str(p.relative_to(root))] = (data, stat.S_IMODE(st.st_mode))
    return snap


def test_fix_everything_then_scan_then_undo_restores_every_byte(tmp_path: Path) -> None:
    root = copy_demo(tmp_path / "demo")
    (root / ".git").mkdir()
    before = _snapshot(root)
    before_scan = json.loads(_cli("scan", "--no-engine", "--format", "json", ".", cwd=root).stdout)
    fixable_before = [f for f in before_scan["findings"] if f["fix"] and not f["suppressed"]]
    assert len(fixable_before) >= 10

    r = _cli("fix", "--no-engine", "--unsafe", "--apply", ".", cwd=root)
    assert "applied" in r.stdout
    applied = int(r.stdout.split(" applied")[0].rsplit(" ", 1)[-1])
    assert applied >= 10, r.stdout
    rolled_back = r.stdout.count("  skipped: ")

    after = json.loads(_cli("scan", "--no-engine", "--format", "json", ".", cwd=root).stdout)
    assert after["errors"] == []  # every written file still reads and parses
    still_fixable = [f for f in after["findings"] if f["fix"] and not f["suppressed"]]
    # Only fixes the run refused (and said so) are left; nothing was silently dropped.
    assert len(still_fixable) <= rolled_back, (r.stdout, still_fixable)
    assert len(after["findings"]) < len(before_scan["findings"])

    u = _cli("undo", cwd=root)
    assert u.returncode == 0, u.stderr
    assert _snapshot(root) == before  # bytes, modes, and no leftover files or directories
