"""Per-layer file lists (the dive-like Layers tree) read from a real `docker save`-shaped archive."""

from __future__ import annotations

from lockdock.tui import filetree
from lockdock.tui.filetree import classify, read_layer_files, still_lives

from ..conftest import image_tarball


def _chunks(data: bytes, size: int = 4096):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def test_added_changed_deleted_with_sizes_in_manifest_order() -> None:
    data = image_tarball(
        [
            {"etc/": None, "etc/app.conf": b"a=1\n", "root/": None, "root/.ssh/": None,
             "root/.ssh/id_rsa": (b"KEY" * 100, 0o600)},
            {"etc/app.conf": b"a=2\nb=3\n", "root/.ssh/.wh.id_rsa": b""},
            {"srv/": None, "srv/.wh..wh..opq": b"", "srv/new": b"x"},
        ],
        tag="lockdock-test-unused:1",
    )
    layers, error = read_layer_files(_chunks(data))
    assert error is None and len(layers) == 3
    first = {e.path: e for e in layers[0].entries}
    assert first["root/.ssh/id_rsa"].status == "added" and first["root/.ssh/id_rsa"].size == 300
    second = {e.path: e for e in layers[1].entries}
    assert second["etc/app.conf"].status == "changed" and second["etc/app.conf"].size == 8
    assert second["root/.ssh/id_rsa"].status == "deleted"
    assert still_lives("root/.ssh/id_rsa", 1, layers) == [0]
    assert filetree.deleted_in("root/.ssh/id_rsa", 0, layers) == 1
    third = {e.path: e.status for e in layers[2].entries}
    assert third["srv"] == "deleted" and third["srv/new"] == "added"  # opaque dir hides the lower srv/


def test_entries_are_capped_per_layer_and_counted(monkeypatch) -> None:
    monkeypatch.setattr(filetree, "MAX_ENTRIES", 10)
    data = image_tarball([{f"f{i}": b"x" for i in range(25)}], tag="lockdock-test-unused:2")
    layers, _ = read_layer_files(_chunks(data))
    assert len(layers[0].entries) == 10 and layers[0].total == 25 and layers[0].capped == 15


def test_a_broken_stream_keeps_what_was_read() -> None:
    data = image_tarball([{"a": b"1" * 5000}, {"b": b"2"}], tag="lockdock-test-unused:3")
    layers, error = read_layer_files(_chunks(data[: len(data) // 2]))
    assert error is not None or any(lf.stopped for lf in layers)


def test_classify_without_manifest_keeps_order() -> None:
    raw = [filetree._Raw(names=[("a", 1, False, False)], total=1),
           filetree._Raw(names=[("a", 2, False, False)], total=1)]
    out = classify(raw)
    assert [e.status for e in out[0].entries] == ["added"] and [e.status for e in out[1].entries] == ["changed"]
