"""Image analysis against the real engine: planted problems found and attributed to layers."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from lockdock import registry
from lockdock.context import ScanContext
from lockdock.engine.connect import connect
from lockdock.engine.images import iter_images
from lockdock.scan import analyze_subject

from .images_fixture import ENV_PASSWORD, GH_TOKEN, hardened_image, history_heavy_image, risky_image

pytestmark = pytest.mark.engine


@pytest.fixture(autouse=True, params=["save", "auto"])
def layer_source(request, tmp_path, monkeypatch) -> str:
    """Every test runs twice: layers from `docker save`, and from the local layer store."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    if request.param == "save":
        monkeypatch.setenv("LOCKDOCK_LAYER_SOURCE", "save")
    else:
        monkeypatch.delenv("LOCKDOCK_LAYER_SOURCE", raising=False)
    return request.param


@pytest.fixture(scope="module")
def loaded(docker_api: Any, load_image_tar) -> dict[str, str]:
    tags = {}
    for name, make in (("risky", risky_image), ("hardened", hardened_image), ("history", history_heavy_image)):
        data, tag = make()
        load_image_tar(data)
        tags[name] = tag
    yield tags
    for tag in tags.values():
        docker_api.remove_image(tag, force=True)


def scan_image(tag: str, tmp_path) -> tuple[Any, list[Any], ScanContext]:
    registry.load_plugins()
    ctx = ScanContext(cwd=tmp_path, engine=connect(), images=[tag])
    (subject,) = iter_images(ctx)
    result = analyze_subject(subject, ctx)
    return subject, result.findings, ctx


def by_check(findings, check):
    return [f for f in findings if f.check == check]


def test_history_paired_with_layers_empty_marked(loaded, tmp_path):
    subject, _f, _ctx = scan_image(loaded["risky"], tmp_path)
    assert len(subject.history) == 6
    assert [h.empty for h in subject.history] == [False, True, False, False, False, True]
    assert [h.layer for h in subject.history] == [0, None, 1, 2, 3, None]
    assert subject.history[2].digest == subject.diff_ids[1]


def test_deleted_secret_file_attributed_to_adding_layer(loaded, tmp_path):
    _s, findings, _ctx = scan_image(loaded["risky"], tmp_path)
    files = [f for f in by_check(findings, "secrets.no-secrets-in-image") if "/app/.env" in f.message]
    assert len(files) == 1
    f = files[0]
    assert f.location.image_layer.index == 2  # history entry of the COPY
    assert "COPY" in f.location.image_layer.created_by
    assert "deleted by layer 3" in f.message and "still extractable" in f.message


def test_env_and_build_arg_secrets_masked(loaded, tmp_path):
    _s, findings, _ctx = scan_image(loaded["risky"], tmp_path)
    secrets = by_check(findings, "secrets.no-secrets-in-image")
    text = " ".join(f"{f.message} {f.evidence}" for f in secrets)
    assert "API_TOKEN" in text and "DB_PASSWORD" in text
    assert GH_TOKEN not in text and ENV_PASSWORD not in text
    env = [f for f in secrets if "ENV API_TOKEN" in f.message][0]
    assert env.location.image_layer.index == 1  # the ENV history entry


def test_risky_image_checks(loaded, tmp_path):
    _s, findings, _ctx = scan_image(loaded["risky"], tmp_path)
    checks = {f.check for f in findings}
    for cid in ("image.pinned-tag", "container.non-root", "runtime.healthcheck", "image.fresh-base",
                "image.package-cache", "image.minimal-base", "image.no-unneeded-tools",
                "build.multi-stage", "build.no-sudo", "build.tls-verification"):
        assert cid in checks, cid
    assert all(f.location.image_layer is not None for f in findings)
    cache = by_check(findings, "image.package-cache")[0]
    assert "apt lists" in cache.message and cache.location.image_layer.index == 4
    tools = by_check(findings, "image.no-unneeded-tools")
    assert any("curl" in f.message and f.location.image_layer.index == 4 for f in tools)
    setuid = [f for f in tools if "setuid" in f.message]
    assert setuid and "/usr/bin/passwd" in setuid[0].message and setuid[0].location.image_layer.index == 0
    base = by_check(findings, "image.minimal-base")[0]
    assert "Debian" in base.message and "apt-get" in base.message and base.location.image_layer.index == 0
    assert "gcc" in by_check(findings, "build.multi-stage")[0].message
    tls = by_check(findings, "build.tls-verification")[0]
    assert "curl -k" in tls.message and tls.location.image_layer.index == 4


def test_hardened_image_passes(loaded, tmp_path):
    _s, findings, ctx = scan_image(loaded["hardened"], tmp_path)
    # image.vulnerability-scan (another module) reports on every image without a CVE scanner.
    assert [f.check for f in findings if f.check != "image.vulnerability-scan"] == []
    assert [e for e in ctx.errors if e.kind == "error"] == []


def test_second_scan_reads_no_layer(loaded, tmp_path, monkeypatch, layer_source):
    subject, first, _ctx = scan_image(loaded["risky"], tmp_path)
    assert subject.from_cache is False
    kinds = {lf.compression for lf in subject.contents.layers}
    store = (subject.inspect.get("GraphDriver") or {}).get("Name") == "overlay2" and os.geteuid() == 0
    assert kinds == ({"directory"} if layer_source == "auto" and store else {"none"})

    def boom(*a, **k):
        raise AssertionError("layers read again")

    import docker

    monkeypatch.setattr(docker.APIClient, "get_image", boom)
    monkeypatch.setattr("lockdock.engine.images.save_stream", boom)
    monkeypatch.setattr("lockdock.engine.graphdriver.scan_dir", boom)
    subject2, second, _ctx2 = scan_image(loaded["risky"], tmp_path)
    assert subject2.from_cache is True
    assert sorted(f.message for f in first) == sorted(f.message for f in second)


def test_image_with_200_history_entries(loaded, tmp_path):
    subject, findings, ctx = scan_image(loaded["history"], tmp_path)
    assert len(subject.history) == 200
    assert sum(1 for h in subject.history if not h.empty) == 20
    assert [e for e in ctx.errors if e.kind == "error"] == []


def test_end_to_end_json_masks_secrets_and_names_layers(loaded, run_lockdock, tmp_path):
    proc = run_lockdock("scan", "--image", loaded["risky"], "--format", "json", str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    i = proc.stdout.find(GH_TOKEN)
    assert i < 0, proc.stdout[i - 800 : i + 50]
    assert ENV_PASSWORD not in proc.stdout
    assert "correct-horse" not in proc.stdout
    report = json.loads(proc.stdout)
    images = [f for f in report["findings"] if f["target"]["kind"] == "image"]
    assert images and all(f["location"]["image_layer"] is not None for f in images)
    deleted = [f for f in images if "/app/.env" in f["message"]]
    assert deleted[0]["location"]["image_layer"] == 2 and "still extractable" in deleted[0]["message"]
    assert {f["target"]["name"] for f in images} == {loaded["risky"]}
