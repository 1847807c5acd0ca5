"""`docker save` read ahead of the analysis (`lockdock.engine.saveahead`): the export of
an image starts as soon as its inspect is in, one stream at a time, in list order, each
image asked once, and the analysis gets exactly what it would have read itself."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lockdock.context import ScanContext
from lockdock.engine import saveahead
from lockdock.engine.connect import connect
from lockdock.engine.images import iter_images

from .fakeengine import FakeEngine, Reply, ok
from .tarkit import file, layer, legacy_save

N_IMAGES = 3


def _layers(i: int) -> list[bytes]:
    return [
        layer([file("etc/os-release", b"ID=debian\n"), file("usr/bin/passwd", b"elf", 0o4755)]),
        layer([file(f"app/{i}/.env", b"TOKEN=abc"), file("var/lib/apt/lists/x", b"P" * 700)]),
    ]


def _diff_ids(i: int) -> list[str]:
    return ["sha256:" + hashlib.sha256(b).hexdigest() for b in _layers(i)]


IDS = ["sha256:" + f"{i:02x}" * 32 for i in range(1, N_IMAGES + 1)]


def _inspect(i: int) -> dict[str, Any]:
    return {
        "Id": IDS[i], "RepoTags": [f"ahead/img{i}:1.0"], "RepoDigests": [], "Created": "2026-01-01T00:00:00Z",
        "Config": {"User": "app", "Labels": {}}, "Os": "linux", "Architecture": "amd64",
        "RootFS": {"Type": "layers", "Layers": _diff_ids(i)}, "Size": 1000,
        "GraphDriver": {"Name": "vfs", "Data": {}},
    }


class SavingEngine(FakeEngine):
    """Lists and inspects N images and answers `docker save` of each with a small archive,
    after `save_delay` seconds (the export). Records the order of the save requests and
    how many run at once."""

    def __init__(self, path: Path, save_delay: float = 0.0) -> None:
        routes = {
            "/images/json": ok([{"Id": i, "Created": 100 - n} for n, i in enumerate(IDS)]),
            "/images/[^/]+/history": ok([]),
        }
        super().__init__(path, routes)
        self.saved: list[str] = []
        self.running = 0
        self.most_at_once = 0
        lock = threading.Lock()
        base = self.reply_for

        def reply_for(p: str) -> Reply:
            for n, image_id in enumerate(IDS):
                if p == f"/images/{image_id}/get":
                    with lock:
                        self.saved.append(image_id)
                        self.running += 1
                        self.most_at_once = max(self.most_at_once, self.running)
                    time.sleep(save_delay)
                    with lock:
                        self.running -= 1
                    return Reply(200, legacy_save(_layers(n), tag=f"ahead/img{n}:1.0"), content_type="application/x-tar")
                if p == f"/images/{image_id}/json":
                    return ok(_inspect(n))
            return base(p)

        self.reply_for = reply_for  # type: ignore[method-assign]


def _ctx(sock: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ScanContext:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    monkeypatch.setenv("LOCKDOCK_ENGINE_TIMEOUT", "5")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / f"cache-{time.monotonic_ns()}"))
    return ScanContext(cwd=tmp_path, engine=connect(), daemon_json=tmp_path / "none.json")


def _contents(subjects: list[Any], ctx: ScanContext) -> list[Any]:
    out = []
    for s in subjects:
        got = s.load(ctx)
        out.append((s.id, [lf.to_json() if lf else None for lf in got.layers], got.empty_flags, got.error))
    return out


def test_saves_start_before_the_analysis_asks_in_list_order(sock: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with SavingEngine(sock, save_delay=0.2) as engine:
        ctx = _ctx(sock, tmp_path, monkeypatch)
        subjects = iter_images(ctx)
        assert [s.id for s in subjects] == IDS
        deadline = time.monotonic() + 30
        while len(engine.saved) < N_IMAGES and time.monotonic() < deadline:
            time.sleep(0.05)
        # No load() has been called: the reads ran ahead, one at a time, in list order.
        assert engine.saved == IDS
        assert engine.most_at_once == 1
        ahead = _contents(subjects, ctx)
        assert engine.saved == IDS  # the analysis took those reads, it did not ask again
    assert all(layers[1]["whiteouts"] == [] and err is None for _i, layers, _f, err in ahead)
    assert all({"kind": "setuid", "path": "usr/bin/passwd", "size": 3, "detail": "mode 4755"} in layers[0]["files"]
               for _i, layers, _f, _e in ahead)


def test_the_analysis_gets_what_it_would_have_read_itself(sock: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with SavingEngine(sock) as engine:
        ahead = _contents(iter_images(ctx := _ctx(sock, tmp_path, monkeypatch)), ctx)
        monkeypatch.setattr(saveahead, "will_save", lambda _s, _c: False)  # every read by the analysis
        inline_ctx = _ctx(sock, tmp_path, monkeypatch)
        inline = _contents(iter_images(inline_ctx), inline_ctx)
        assert engine.saved == IDS + IDS
    assert ahead == inline
    assert saveahead.KEY not in inline_ctx.cache or not inline_ctx.cache[saveahead.KEY]._jobs


def test_cached_images_are_not_read_ahead(sock: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An image whose contents are cached is never exported again (the cache answers)."""
    with SavingEngine(sock) as engine:
        ctx = _ctx(sock, tmp_path, monkeypatch)
        first = _contents(iter_images(ctx), ctx)
        assert engine.saved == IDS
        again = ScanContext(cwd=tmp_path, engine=connect(), daemon_json=tmp_path / "none.json")  # same cache
        second = _contents(iter_images(again), again)
        time.sleep(0.3)
        assert engine.saved == IDS
    assert [c[:3] for c in first] == [c[:3] for c in second]


def test_an_image_the_worker_has_not_reached_is_read_by_the_analysis(sock: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The last image's read is still queued behind slow exports when its analysis asks:
    the analysis reads it itself (the queued read is cancelled); each image is exported once."""
    with SavingEngine(sock, save_delay=0.6) as engine:
        ctx = _ctx(sock, tmp_path, monkeypatch)
        subjects = iter_images(ctx)
        last = _contents(subjects[-1:], ctx)
        rest = _contents(subjects[:-1], ctx)
        time.sleep(0.8)
        assert sorted(engine.saved) == sorted(IDS)  # each once
        # The analysis read the last image itself, before the worker reached the second.
        assert engine.saved.index(IDS[-1]) < engine.saved.index(IDS[1])
        assert engine.most_at_once == 2
    assert last[0][3] is None and all(r[3] is None for r in rest)


@pytest.mark.engine
def test_real_engine_findings_are_the_same_read_ahead_or_not(docker_api: Any, load_image_tar: Any, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """On the real engine, through `docker save`: the findings of an image read ahead are
    those of the same image read by its analysis (every field of every finding)."""
    from lockdock import registry
    from lockdock.scan import analyze_subject

    from .images_fixture import risky_image

    data, tag = risky_image()
    load_image_tar(data)
    registry.load_plugins()
    monkeypatch.setenv("LOCKDOCK_LAYER_SOURCE", "save")
    try:
        runs: list[list[str]] = []
        setuid: list[list[str]] = []
        for ahead in (True, False):
            if not ahead:
                monkeypatch.setattr(saveahead, "will_save", lambda _s, _c: False)
            monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / f"cache-{ahead}"))
            ctx = ScanContext(cwd=tmp_path, engine=connect(), images=[tag])
            (subject,) = iter_images(ctx)
            assert (saveahead.KEY in ctx.cache and subject.id in ctx.cache[saveahead.KEY]._jobs) == ahead
            result = analyze_subject(subject, ctx)
            runs.append(sorted(repr(f) for f in result.findings))
            setuid.append([str(f.location) for f in result.findings if "usr/bin/passwd" in f.message])
        assert runs[0] == runs[1]
        assert setuid[0] and setuid[0] == setuid[1]  # a layer finding: read from the save stream
    finally:
        docker_api.remove_image(tag, force=True)
