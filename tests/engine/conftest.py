"""Fixtures shared by the engine tests."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def sock() -> Iterator[Path]:
    """A fresh unix socket path (its folder removed afterwards), short enough for AF_UNIX."""
    d = Path(f"/tmp/lockdock-lean-{os.getpid()}-{time.monotonic_ns()}")
    d.mkdir()
    yield d / "s.sock"
    for p in d.iterdir():
        p.unlink()
    d.rmdir()
