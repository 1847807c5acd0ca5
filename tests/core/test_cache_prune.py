"""The result cache keeps its folder under a size cap (lockdock.cache.prune): least recently
used files go first, at most one check an hour, and a pruned result is only a miss."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lockdock import cache


def _file(path: Path, size: int, age: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    when = time.time() - age
    os.utime(path, (when, when))
    return path


def test_least_recently_used_files_go_until_three_quarters_of_the_cap(tmp_path: Path) -> None:
    base = tmp_path / "v2"
    old = [_file(base / "aa" / f"old{i}.bin", 1000, 1000 + i) for i in range(4)]
    new = [_file(base / "bb" / f"new{i}.bin", 1000, 10 + i) for i in range(4)]
    record = _file(base / "scans" / "r.bin", 1000, 5)
    other = _file(base / "aa" / "notes.txt", 50_000, 9999)  # not a cache file: never counted or removed
    removed, freed = cache.prune(base, 8000)  # 9 files, 9,000 bytes: down to 6,000
    assert (removed, freed) == (3, 3000)
    assert [p.exists() for p in old] == [True, False, False, False]  # the oldest went first
    assert all(p.exists() for p in new) and record.exists() and other.exists()
    assert cache.prune(base, 8000) == (0, 0)  # under the cap: nothing to do
    assert cache.prune(base, 0) == (0, 0)  # no cap


def test_a_read_keeps_a_file(tmp_path: Path) -> None:
    """Recency is the later of access and modification: a hit (a read) counts as a use."""
    base = tmp_path / "v2"
    used = _file(base / "aa" / "used.bin", 1000, 5000)
    os.utime(used, (time.time(), used.stat().st_mtime))  # read just now
    idle = _file(base / "aa" / "idle.bin", 1000, 10)
    assert cache.prune(base, 1500) == (1, 1000)
    assert used.exists() and not idle.exists()


def test_the_size_is_checked_at_most_once_an_hour(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path / "v2"
    monkeypatch.setenv("LOCKDOCK_CACHE_MAX_MB", str(1500 / 1024 / 1024))
    _file(base / "aa" / "a.bin", 1000, 100)
    cache._prune_if_due(base)  # 1,000 bytes: under the cap; the stamp is set
    later = _file(base / "aa" / "b.bin", 1000, 50)
    cache._prune_if_due(base)  # over the cap now, but checked a moment ago
    assert later.exists() and (base / "aa" / "a.bin").exists()
    stamp = base / ".pruned"
    os.utime(stamp, (time.time() - cache.PRUNE_EVERY - 1,) * 2)
    cache._prune_if_due(base)
    assert not (base / "aa" / "a.bin").exists() and later.exists()
    monkeypatch.setenv("LOCKDOCK_CACHE_MAX_MB", "0")  # no cap: never walks the folder
    os.utime(stamp, (0, 0))
    _file(base / "aa" / "c.bin", 10_000, 100)
    cache._prune_if_due(base)
    assert (base / "aa" / "c.bin").exists()


def test_max_bytes_reads_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCKDOCK_CACHE_MAX_MB", raising=False)
    assert cache.max_bytes() == cache.MAX_MB * 1024 * 1024
    monkeypatch.setenv("LOCKDOCK_CACHE_MAX_MB", "2")
    assert cache.max_bytes() == 2 * 1024 * 1024
    monkeypatch.setenv("LOCKDOCK_CACHE_MAX_MB", "lots")
    assert cache.max_bytes() == cache.MAX_MB * 1024 * 1024


def test_a_pruned_cache_gives_the_cold_answer(tmp_path: Path) -> None:
    """Through `lockdock scan`: warm, then pruned to almost nothing, then warm again: every
    run prints the same report as a scan without the cache."""
    tree = tmp_path / "tree"
    for i in range(30):
        d = tree / f"s{i:02d}"
        d.mkdir(parents=True)
        (d / "Dockerfile").write_text(f"FROM alpine:3.{i}\nRUN apk add curl\nUSER root\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("LOCKDOCK_NO_CACHE", None)

    def scan(*extra: str, **more: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "lockdock", "scan", "--no-engine", "--format", "json",
                               *extra, "."], cwd=tree, env={**env, **more}, capture_output=True, text=True,
                              timeout=120, check=False)
        assert proc.returncode == 1, proc.stderr[-1000:]
        return proc.stdout

    cold = scan("--no-cache")
    assert scan() == cold
    base = tmp_path / "cache" / "lockdock" / cache.FORMAT
    stale = _file(base / "zz" / "stale.bin", 200_000, 86_400)  # an old result of another tree
    os.utime(base / ".pruned", (0, 0))
    assert scan(LOCKDOCK_CACHE_MAX_MB="0.05") == cold  # pruned when opened, then filled again
    assert not stale.exists()
    assert scan() == cold
