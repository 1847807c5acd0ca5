"""Shared by the CLI tests: a small insecure project and a run that keeps stderr's order."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SECRET = "ghp_" + "b" * 36
FORMATS = ("text", "compact", "json", "sarif", "gitlab", "checkstyle", "junit")


def make_project(root: Path) -> Path:
    """A Dockerfile with a literal token, an SSH port and unpinned packages."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(
        "FROM python:3.12\n"
        f"ENV API_TOKEN={SECRET}\n"
        "RUN apt-get update && apt-get install -y curl\n"
        "EXPOSE 22\n"
    )
    return root


def run_merged(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI with stderr merged into stdout, so the order of what it says is visible."""
    return subprocess.run(
        [sys.executable, "-m", "lockdock", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
