"""The local `docker save` read path: unchunked HTTP/1.0 body, end-of-archive check,
short reads through nested layers, and the per-entry fast paths of the layer scanner."""

from __future__ import annotations

import hashlib
import re
import tarfile
from typing import Any

import pytest

from lockdock.engine import images
from lockdock.engine.layerfacts import CACHE_PATTERNS, CACHE_ROOTS, LayerScanner, normalise
from lockdock.engine.rawapi import EngineNotFound, LocalAPI
from lockdock.engine.savestream import read_save
from lockdock.engine.tarstream import TarEntry

from .images_fixture import risky_image
from .tarkit import Entry, chunks, file, layer, legacy_save, oci_save


def _all_facts(archive) -> list[dict[str, Any]]:
    """Each layer's facts, bottom first, without `bytes_read` (how far the reader pulled
    past the end-of-archive blocks depends on the read sizes; no check uses it)."""
    _entry, names, _config = archive.images()[0]
    return [{k: v for k, v in archive.layers[n].to_json().items() if k != "bytes_read"} for n in names]


def _sample_layers() -> list[bytes]:
    return [
        layer([file("etc/os-release", b'ID=debian\nPRETTY_NAME="Debian GNU/Linux 12"\n'),
               file("usr/bin/curl", b"e" * 70000, 0o4755), file("etc/passwd", b"root:x:0:0::/root:/bin/sh\nnp::1:1::/:/bin/sh\n")]),
        layer([file("app/.env", b"TOKEN=abc"), file("var/lib/apt/lists/deb_main", b"P" * 3000),
               file("a/" + "long" * 40 + "/x.txt", b"1" * 513), Entry("d/", type=tarfile.DIRTYPE, mode=0o755)]),
        layer([file("app/.wh..env", b""), file("srv/big.bin", b"\1" * 300000), file(".git/config", b"[core]")]),
    ]


@pytest.mark.parametrize("size", [1, 7, 511, 512, 513, 4096, 65536, 1 << 20])
def test_facts_do_not_depend_on_how_the_stream_is_cut(size):
    """Nested layer tars are read through short reads (`read_some`): every chunking,
    down to one byte, gives the same facts, plain and gzip layers alike."""
    legacy = legacy_save(_sample_layers())
    want = _all_facts(read_save(chunks(legacy, 1 << 22)))
    assert want[0]["files"] and want[1]["caches"] and want[2]["whiteouts"] == ["app/.env"]
    assert _all_facts(read_save(chunks(legacy, size), prefetch=0)) == want
    oci = oci_save(_sample_layers(), ["gzip", "none", "gzip"])
    got = _all_facts(read_save(chunks(oci, size), prefetch=0))
    assert [{**g, "compression": "none", "name": ""} for g in got] == [
        {**w, "compression": "none", "name": ""} for w in want]


def test_a_stream_cut_between_members_is_reported():
    """The local body ends with the connection: without the tar end-of-archive blocks the
    read is partial, even when the cut falls exactly between two members."""
    whole = legacy_save(_sample_layers())
    assert whole.endswith(bytes(1024))
    assert read_save(images._tar_ended(chunks(whole))).error is None
    # Cut right after the first member's data: a header boundary, which the tar reader alone
    # takes for a normal end of the archive.
    first_size = int(whole[124:136].rstrip(b"\0 "), 8)
    boundary = 512 + first_size + (-first_size % 512)
    assert read_save(chunks(whole[:boundary])).error is None  # what the tar layer alone says
    cut = read_save(images._tar_ended(chunks(whole[:boundary])))
    assert cut.error and "ended before the end of the archive" in cut.error


def _reference_normalise(name: str) -> tuple[str, str | None]:
    """normalise() without its fast path (the slow path's rules, restated)."""
    odd = None
    if re.search("[\x00-\x1f\x7f-\x9f]", name):
        odd = "control characters in name"
    if name.startswith("/"):
        odd = odd or "absolute path"
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        return "", "path with '..'"
    if len(name) > 4096 or any(len(p) > 255 for p in parts):
        odd = odd or "overlong name"
    return "/".join(parts), odd


@pytest.mark.parametrize("name", [
    "usr/bin/curl", "a", ".", "..", "./a", "a/.", "a/..", "a/../b", "a//b", "/etc/passwd", "a/", "a.",
    "a./b", "a/.b", ".wh..wh..opq", "app/.wh..env", "x\x1by", "x\x85y", "é/ü", "", "a/" + "x" * 256,
    "y" * 255, "y" * 256, "a/./b", "..a/b", "a/b..", "a/b../c",
])
def test_normalise_fast_path_agrees(name):
    assert normalise(name) == _reference_normalise(name)


def test_every_cache_pattern_is_under_a_cache_root():
    """The scanner tries CACHE_PATTERNS only under CACHE_ROOTS: a path one of them matches
    must start with a root, or the cache would be missed."""
    examples = {
        "apt lists": "var/lib/apt/lists/deb_main", "apt archives": "var/cache/apt/archives/x.deb",
        "apt cache": "var/cache/apt/pkgcache.bin", "apk cache": "etc/apk/cache/x.apk",
        "yum/dnf cache": "var/cache/dnf/x.rpm", "pip cache": "home/u/.cache/pip/http/ab",
        "npm cache": "root/.npm/_cacache/index-v5/ab", "yarn cache": "usr/local/share/.cache/yarn/v6/ab",
    }
    assert set(examples) == {kind for kind, _p in CACHE_PATTERNS}
    for kind, path in examples.items():
        assert path.startswith(CACHE_ROOTS)
        scanner = LayerScanner("l")
        scanner.entry(TarEntry(path, "", 5, 0o644, b"0"))
        assert scanner.facts.caches[kind].count == 1


@pytest.mark.engine
def test_local_body_stream_is_the_sdk_archive(docker_api, load_image_tar):
    """The unchunked local stream carries the same bytes as the SDK's `get_image` in whole
    1 MiB blocks, ends with the end-of-archive blocks, and reads to the same facts."""
    from lockdock.engine.connect import connect

    data, tag = risky_image()
    load_image_tar(data)
    try:
        engine = connect()
        assert isinstance(engine.api, LocalAPI)
        local = list(images.save_stream(engine.api, tag, 60))
        assert max(len(b) for b in local) <= 1 << 20
        assert all(len(b) == 1 << 20 for b in local[:-1])  # whole blocks (MSG_WAITALL)
        sdk = b"".join(docker_api.get_image(tag, chunk_size=1 << 20))
        body = b"".join(local)
        assert hashlib.sha256(body).hexdigest() == hashlib.sha256(sdk).hexdigest()
        assert body.endswith(bytes(1024))
        assert _all_facts(read_save(images.save_stream(engine.api, tag, 60))) == _all_facts(read_save(chunks(sdk)))
        assert "docker" not in type(engine.api.__dict__.get("_sdk")).__module__  # no SDK client was built
        with pytest.raises(EngineNotFound):
            images.save_stream(engine.api, "lockdock-no-such-image:0", 10)
    finally:
        docker_api.remove_image(tag, force=True)
