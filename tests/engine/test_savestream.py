"""The streaming `docker save` reader: layouts, compression, whiteouts, budgets, odd entries."""

from __future__ import annotations

import gzip
import io
import tarfile
import tracemalloc

import pytest

from lockdock.engine.layerfacts import deleted_by
from lockdock.engine.savestream import Budgets, read_save

from .tarkit import Entry, chunks, file, layer, legacy_save, oci_save


def _facts(archive, index=0):
    _entry, names, _config = archive.images()[0]
    return archive.layers[names[index]]


def test_legacy_layout_layers_in_manifest_order():
    l0 = layer([file("etc/os-release", b'ID=debian\nPRETTY_NAME="Debian GNU/Linux 12"\n'), file("usr/bin/curl")])
    l1 = layer([file("app/.env", b"PASSWORD=hunter2hunter2"), file("var/lib/apt/lists/deb.debian.org_dists", b"x" * 100)])
    archive = read_save(chunks(legacy_save([l0, l1])))
    assert archive.error is None
    assert archive.layout == "legacy"
    f0, f1 = _facts(archive, 0), _facts(archive, 1)
    assert "etc/os-release" in f0.os_release
    assert [(f.kind, f.path) for f in f0.files] == [("tool", "usr/bin/curl")]
    assert [(f.kind, f.path) for f in f1.files] == [("secret", "app/.env")]
    assert f1.caches["apt lists"].count == 1 and f1.caches["apt lists"].size == 100


def test_manifest_before_layers_also_works():
    l0 = layer([file("usr/bin/wget")])
    archive = read_save(chunks(legacy_save([l0], manifest_first=True)))
    assert [f.path for f in _facts(archive).files] == ["usr/bin/wget"]


def test_oci_layout_gzip_and_plain_layers():
    l0 = layer([file("usr/bin/git")])
    l1 = layer([file("root/.ssh/id_rsa", b"k")])
    archive = read_save(chunks(oci_save([l0, l1], ["gzip", "none"])))
    assert archive.layout == "oci"
    assert _facts(archive, 0).compression == "gzip"
    assert [f.kind for f in _facts(archive, 0).files] == ["tool"]
    assert [f.kind for f in _facts(archive, 1).files] == ["secret"]


def test_zstd_layer_is_reported_not_analysed():
    archive = read_save(chunks(oci_save([layer([file("a")])], ["zstd"])))
    facts = _facts(archive)
    assert facts.compression == "zstd"
    assert facts.stopped and "zstd layer not analysed" in facts.stopped


def test_whiteouts_and_opaque_dirs():
    l1 = layer([file("app/.wh.secret.pem", b""), file("var/lib/apt/lists/.wh..wh..opq", b""), file(".wh..wh..plnk", b"")])
    archive = read_save(chunks(legacy_save([layer([file("a")]), l1])))
    facts = _facts(archive, 1)
    assert facts.whiteouts == ["app/secret.pem"]
    assert facts.opaque == ["var/lib/apt/lists"]
    assert deleted_by("app/secret.pem", facts)
    assert deleted_by("var/lib/apt/lists/x", facts)
    assert not deleted_by("var/lib/apt/lists", facts)
    assert not deleted_by("app/secret.pem.bak", facts)


def test_setuid_setgid_and_links():
    l0 = layer([
        file("usr/bin/passwd", b"elf", 0o4755),
        file("usr/bin/wall", b"elf", 0o2755),
        Entry("usr/bin/gcc-12", b"elf", 0o755),
        Entry("usr/bin/gcc", type=tarfile.LNKTYPE, linkname="usr/bin/gcc-12"),
        Entry("bin/nc", type=tarfile.SYMTYPE, linkname="busybox"),
    ])
    facts = _facts(read_save(chunks(legacy_save([l0]))))
    kinds = {(f.kind, f.path) for f in facts.files}
    assert ("setuid", "usr/bin/passwd") in kinds
    assert ("setgid", "usr/bin/wall") in kinds
    assert ("compiler", "usr/bin/gcc") in kinds and ("compiler", "usr/bin/gcc-12") in kinds
    assert ("tool", "bin/nc") in kinds
    assert ("setuid", "usr/bin/wall") not in kinds


def test_odd_entries_are_sanitised_and_nothing_touches_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    l0 = layer(
        [
            file("../../escape", b"x"),
            file("/abs/path.pem", b"x"),
            file("evil\x1b]0;title\x07name", b"x"),
            file("d/" + "n" * 300, b"x"),
            Entry("dev/sda", type=tarfile.CHRTYPE),
            Entry("etc/shadow-link", type=tarfile.SYMTYPE, linkname="/etc/shadow"),
        ],
        fmt=tarfile.GNU_FORMAT,
    )
    facts = _facts(read_save(chunks(legacy_save([l0]))))
    joined = "\n".join(facts.odd)
    assert "path with '..'" in joined
    assert "absolute path" in joined
    assert "control characters" in joined and "\x1b" not in joined and "\x07" not in joined
    assert "overlong name" in joined
    assert "device node" in joined
    assert ("secret", "abs/path.pem") in {(f.kind, f.path) for f in facts.files}
    assert list(tmp_path.iterdir()) == []


def test_entry_budget_stops_that_layer_only():
    big = layer([file(f"f{i}") for i in range(50)])
    small = layer([file("usr/bin/curl")])
    archive = read_save(chunks(legacy_save([big, small])), Budgets(max_entries=10))
    assert "more than 10 entries" in (_facts(archive, 0).stopped or "")
    assert _facts(archive, 1).stopped is None
    assert [f.path for f in _facts(archive, 1).files] == ["usr/bin/curl"]


def test_gzip_bomb_hits_byte_budget():
    bomb = layer([file("zeros", b"\0" * (4 * 1024 * 1024))])
    archive = read_save(chunks(oci_save([bomb, layer([file("usr/bin/wget")])])), Budgets(max_bytes=1024 * 1024))
    assert "compression bomb" in (_facts(archive, 0).stopped or "")
    assert [f.path for f in _facts(archive, 1).files] == ["usr/bin/wget"]


def test_truncated_stream_is_flagged_partial():
    data = legacy_save([layer([file("usr/bin/curl", b"x" * 50000)]), layer([file("b")])])
    archive = read_save(chunks(data[: len(data) // 2]))
    assert archive.error and "truncated or corrupt" in archive.error


def test_garbage_stream_is_an_error_not_an_exception():
    archive = read_save([b"this is not a tar archive" * 100])
    assert archive.error is not None
    assert archive.layers == {}


def test_corrupt_gzip_layer_is_a_layer_warning():
    good = gzip.compress(layer([file("a")]))
    broken = good[:20] + b"\xff" * 40
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("blobs/sha256/" + "a" * 64)
        info.size = len(broken)
        tar.addfile(info, io.BytesIO(broken))
    archive = read_save(chunks(out.getvalue()))
    assert archive.error is None
    assert "truncated or corrupt" in (archive.layers["blobs/sha256/" + "a" * 64].stopped or "")


def test_memory_stays_bounded_for_a_large_layer():
    """A 64 MiB layer streamed in chunks never sits in memory as a whole."""
    payload = b"\1" * (64 * 1024 * 1024)

    def stream():
        header = tarfile.TarInfo("big.bin")
        header.size = len(payload)
        inner = io.BytesIO()
        inner.write(header.tobuf(format=tarfile.PAX_FORMAT))
        head = inner.getvalue()
        pad = (512 - len(payload) % 512) % 512
        inner_size = len(head) + len(payload) + pad + 1024
        outer = tarfile.TarInfo("x/layer.tar")
        outer.size = inner_size
        yield outer.tobuf()
        yield head
        for i in range(0, len(payload), 1 << 20):
            yield payload[i : i + (1 << 20)]
        yield b"\0" * (pad + 1024)
        yield b"\0" * ((512 - inner_size % 512) % 512) + b"\0" * 1024

    tracemalloc.start()
    archive = read_save(stream())
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert archive.error is None
    assert archive.layers["x/layer.tar"].entries == 1
    assert peak < 16 * 1024 * 1024


def test_tar_reader_agrees_with_tarfile():
    """Names, sizes, types, modes and link targets as the standard library reads them."""
    from lockdock.engine.tarstream import TarReader

    entries = [
        file("a/" + "long" * 40 + "/name.txt", b"1" * 1000, 0o640),
        file("ü/ünicode", b"x"),
        Entry("d", type=tarfile.DIRTYPE, mode=0o755),
        Entry("l", type=tarfile.SYMTYPE, linkname="t/" + "x" * 120),
        Entry("h", type=tarfile.LNKTYPE, linkname="a/" + "long" * 40 + "/name.txt"),
        file("big", b"\0" * 70000, 0o4755),
        Entry("f", type=tarfile.FIFOTYPE),
    ]
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT):
        usable = [e for e in entries if fmt != tarfile.USTAR_FORMAT or (len(e.name) < 100 and len(e.linkname) < 100 and e.name.isascii())]
        data = layer(usable, fmt)
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            want = [(t.name, t.size if t.isreg() else 0, t.type, t.mode, t.linkname) for t in tf]
        got = [(e.name, e.size if e.isreg() else 0, e.type, e.mode, e.linkname) for e in TarReader(io.BytesIO(data)).entries()]
        assert got == want


def test_tar_reader_rejects_bad_checksum():
    from lockdock.engine.tarstream import TarCorrupt, TarReader

    data = bytearray(layer([file("x")]))
    data[0] ^= 0xFF
    try:
        list(TarReader(io.BytesIO(bytes(data))).entries())
    except TarCorrupt:
        return
    raise AssertionError("a damaged header was accepted")


@pytest.mark.timeout(30)
def test_stream_error_inside_a_layer_ends_the_read_without_hanging():
    """The engine connection breaking mid-layer: the error is kept, every later read sees it."""
    data = legacy_save([layer([file("usr/bin/curl", b"x" * 300000)]), layer([file("b")])])

    def broken():
        yield data[:150000]
        raise ConnectionResetError("connection reset by peer")

    archive = read_save(broken())
    assert archive.error and "connection reset" in archive.error
