"""Shared fixtures of the fixer tests: a private state dir (journal, locks) per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def lockdock_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Journal and locks of each test live in their own directory, never in ~/.local."""
    state = tmp_path_factory.mktemp("state")
    os.chmod(state, 0o777)  # privilege-dropped children lock files here too
    monkeypatch.setenv("LOCKDOCK_STATE_DIR", str(state))
    # `fix --verify` runs of this test carry this tag, so leftover checks see only their own.
    monkeypatch.setenv("LOCKDOCK_VERIFY_TAG", "t" + os.urandom(4).hex())
    return state


@pytest.fixture
def nobody_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory a privilege-dropped child (uid nobody) can reach."""
    base = Path("/tmp") / f"lockdock-fixtest-{os.getpid()}-{os.urandom(3).hex()}"
    base.mkdir(mode=0o777)
    os.chmod(base, 0o777)
    yield base
    import shutil

    for dirpath, dirnames, _files in os.walk(base):
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o755)
    shutil.rmtree(base, ignore_errors=True)
