"""Generating layer tars and `docker save` archives (legacy and OCI) for the engine tests."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from typing import Any


@dataclass
class Entry:
    """One tar entry: a file (data), dir, symlink, hard link, char device or fifo."""

    name: str
    data: bytes = b""
    mode: int = 0o644
    type: bytes = tarfile.REGTYPE
    linkname: str = ""


def file(name: str, data: bytes = b"x", mode: int = 0o644) -> Entry:
    return Entry(name, data, mode)


def layer(entries: list[Entry], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = e.type
            info.mode = e.mode
            info.linkname = e.linkname
            info.mtime = 1_700_000_000
            if e.type == tarfile.REGTYPE:
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _test_labels() -> dict[str, str]:
    """The labels by which the session cleanup knows an image as this run's own."""
    from tests.conftest import SESSION, SESSION_LABEL, STARTED, STARTED_LABEL, TEST_LABEL

    return {TEST_LABEL: "1", SESSION_LABEL: SESSION, STARTED_LABEL: STARTED}


_TEST_LABELS = _test_labels()


def config_for(
    blobs: list[bytes],
    history: list[dict[str, Any]] | None,
    config: dict[str, Any] | None,
    created: str = "2026-01-01T00:00:00Z",
) -> dict[str, Any]:
    diff_ids = ["sha256:" + hashlib.sha256(b).hexdigest() for b in blobs]
    return {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {**(config or {}), "Labels": {**_TEST_LABELS, **((config or {}).get("Labels") or {})}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history
        if history is not None
        else [{"created": "2026-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(len(blobs))],
    }


def legacy_save(
    layers: list[bytes],
    tag: str = "t:1",
    history: list[dict[str, Any]] | None = None,
    config: dict[str, Any] | None = None,
    manifest_first: bool = False,
    created: str = "2026-01-01T00:00:00Z",
) -> bytes:
    """A legacy-layout `docker save` archive (Docker < 25), loadable by `docker load`."""
    cfg = json.dumps(config_for(layers, history, config, created)).encode()
    cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
    names = [f"{hashlib.sha256(b).hexdigest()}/layer.tar" for b in layers]
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": [tag], "Layers": names}]).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        if manifest_first:
            _add(tar, "manifest.json", manifest)
        for name, blob in zip(names, layers, strict=True):
            _add(tar, name.replace("layer.tar", "VERSION"), b"1.0")
            _add(tar, name, blob)
        _add(tar, cfg_name, cfg)
        if not manifest_first:
            _add(tar, "manifest.json", manifest)
    return out.getvalue()


def oci_save(layers: list[bytes], compress: list[str] | None = None, history: list[dict[str, Any]] | None = None) -> bytes:
    """An OCI-layout archive as Docker 25+ writes it; layers gzip/zstd/plain per `compress`."""
    compress = compress or ["gzip"] * len(layers)
    cfg = json.dumps(config_for(layers, history, None)).encode()
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return digest

    layer_descs = []
    for data, how in zip(layers, compress, strict=True):
        if how == "gzip":
            data = gzip.compress(data)
        elif how == "zstd":
            data = b"\x28\xb5\x2f\xfd" + b"\0" * 600  # a zstd frame header; content irrelevant
        layer_descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": blob(data), "size": len(data)})
    man = json.dumps({"schemaVersion": 2, "config": {"digest": blob(cfg)}, "layers": layer_descs}).encode()
    man_digest = blob(man)
    index = json.dumps({"schemaVersion": 2, "manifests": [{"digest": man_digest}]}).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for digest, data in blobs.items():
            _add(tar, "blobs/sha256/" + digest.split(":")[1], data)
        _add(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add(tar, "index.json", index)
    return out.getvalue()


def chunks(data: bytes, size: int = 65536) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]
