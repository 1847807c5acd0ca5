"""Finding messages read as one sentence: no parenthesis inside another (issue 13)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lockdock.demo import copy_demo


def _depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth = max(0, depth - 1)
    return deepest


def test_depth_helper() -> None:
    assert _depth("a (b) c (d)") == 1 and _depth("a (b (c))") == 2


def test_no_nested_parentheses_in_the_demo_findings(tmp_path: Path) -> None:
    copy_demo(tmp_path / "p")
    proc = subprocess.run(
        [sys.executable, "-m", "lockdock", "scan", "--no-engine", "--format", "json", str(tmp_path / "p")],
        capture_output=True, text=True, timeout=120,
    )
    findings = json.loads(proc.stdout)["findings"]
    assert len(findings) > 40
    nested = [f"{f['check']}: {f['message']}" for f in findings if _depth(f["message"]) > 1]
    assert nested == []
