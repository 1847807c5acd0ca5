"""Repository fixes: .gitignore / .dockerignore patterns, secret file permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lockdock.context import ScanContext
from lockdock.fixing.apply import apply_fixes
from lockdock.scan import scan


def _findings(root: Path, check: str) -> list:
    result = scan([root], ScanContext(cwd=root, use_engine=False))
    return [f for f in result.findings if f.check == check and f.suppressed is None]


def _apply(root: Path, check: str) -> None:
    fixes = [f.fix for f in _findings(root, check) if f.fix is not None]
    assert fixes, f"no fix offered for {check}"
    report = apply_fixes(fixes, ScanContext(cwd=root, use_engine=False), root=root)
    assert report.errors == [] and len(report.applied) == len(fixes), report


def test_missing_gitignore_is_created(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    _apply(tmp_path, "secrets.gitignore")
    text = (tmp_path / ".gitignore").read_text()
    assert {".env", "secrets/", "*.key", "*.pem"} <= set(text.splitlines())
    assert _findings(tmp_path, "secrets.gitignore") == []


def test_gitignore_append_is_idempotent_and_keeps_existing_lines(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_bytes(b"\xef\xbb\xbf*.log\n.env\n")
    _apply(tmp_path, "secrets.gitignore")
    raw = (tmp_path / ".gitignore").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf*.log\n.env\n")  # BOM and lines kept
    assert raw.count(b".env") == 1  # not added twice
    assert _findings(tmp_path, "secrets.gitignore") == []


def test_compose_build_context_gets_dockerignore(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "package.json").write_text("{}")
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    build: ./web\n")
    _apply(tmp_path, "build.dockerignore")
    lines = set((tmp_path / "web" / ".dockerignore").read_text().splitlines())
    assert {".git", ".env", "node_modules"} <= lines
    assert _findings(tmp_path, "build.dockerignore") == []


def test_secret_file_permissions_fixed_to_0600(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text(".env\nsecrets/\n*.key\n*.pem\n")
    key = tmp_path / "server.key"
    key.write_text("k")
    os.chmod(key, 0o664)
    _apply(tmp_path, "secrets.file-permissions")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert key.read_text() == "k"
    assert _findings(tmp_path, "secrets.file-permissions") == []
