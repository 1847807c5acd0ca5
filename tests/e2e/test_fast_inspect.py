"""The SDK-free path to a local engine (rawapi.LocalAPI) answers exactly what the SDK answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lockdock.context import ScanContext
from lockdock.engine import containers
from lockdock.engine.connect import connect
from lockdock.engine.images import iter_images
from lockdock.engine.rawapi import EngineNotFound, LocalAPI
from tests.conftest import TEST_LABEL

pytestmark = pytest.mark.engine


def test_fast_path_equals_sdk_and_skips_vanished(docker_api, busybox_image):
    made = [docker_api.create_container(busybox_image, command=["sh"], labels={TEST_LABEL: "1"})["Id"] for _ in range(5)]
    try:
        ctx = ScanContext(cwd=Path("."), engine=connect())
        local = ctx.engine.api
        assert isinstance(local, LocalAPI), "the local engine is reached over its unix socket"
        gone = made[2]
        docker_api.remove_container(gone, force=True)
        ids = [*made, "f" * 64]
        fast = containers._inspect_all(local, ids, ctx)
        sdk = containers._inspect_all(local.sdk, ids, ctx)
        assert type(local.sdk).__name__ == "APIClient"
        assert [d["Id"] if d else None for d in fast] == [d["Id"] if d else None for d in sdk]
        assert fast[2] is None and fast[-1] is None  # vanished: skipped quietly
        assert fast[0] == sdk[0]
        assert ctx.errors == []
    finally:
        for cid in made:
            docker_api.remove_container(cid, force=True) if docker_api.containers(all=True, filters={"id": cid}) else None


def test_read_calls_answer_like_the_sdk(docker_api, busybox_image):
    cid = docker_api.create_container(busybox_image, command=["sh"], labels={TEST_LABEL: "1"})["Id"]
    try:
        local = connect().api
        sdk = local.sdk
        label = {"label": [f"{TEST_LABEL}=1"], "id": cid}
        assert local.containers(all=True, filters=label) == sdk.containers(all=True, filters=label)
        assert local.containers(all=True, quiet=True, filters=label) == [{"Id": cid}]
        assert local.inspect_container(cid) == sdk.inspect_container(cid)
        assert local.inspect_image(busybox_image) == sdk.inspect_image(busybox_image)
        assert local.history(busybox_image) == sdk.history(busybox_image)
        assert local.inspect_network("bridge")["Name"] == "bridge"
        images = {"label": TEST_LABEL}
        assert sorted(local.images(quiet=True, filters=images)) == sorted(sdk.images(quiet=True, filters=images))
        assert local.images("lockdock-no-such-repository") == sdk.images("lockdock-no-such-repository") == []
        assert local.info()["ID"] == sdk.info()["ID"]
        with pytest.raises(EngineNotFound) as err:
            local.inspect_container("f" * 64)
        assert err.value.status == 404 and "404" in str(err.value)
    finally:
        docker_api.remove_container(cid, force=True)


def test_scan_of_local_engine_never_imports_the_sdk(tmp_path, busybox_image):
    """Start-up cost: `lockdock scan` of the local engine does without docker/requests/paramiko."""
    # Said from an atexit function: `python -m lockdock scan` ends the process itself
    # (lockdock.cli.entry.run) once its atexit functions have run.
    probe = (
        "import atexit, sys, runpy\n"
        "atexit.register(lambda: print('SDK', sorted(m for m in ('docker', 'requests', 'paramiko', 'urllib3')"
        " if m in sys.modules), file=sys.stderr))\n"
        f"sys.argv = ['lockdock', 'scan', '--format', 'json', '--image', {busybox_image!r}, '.']\n"
        "try:\n    runpy.run_module('lockdock', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          check=False)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == "SDK []", proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["summary"]["engine_status"] == "scanned"
    assert any(t["kind"] == "image" for t in report["targets"])


def test_images_through_local_api_match_sdk(docker_api, busybox_image):
    ctx = ScanContext(cwd=Path("."), engine=connect(), images=[busybox_image])
    fast = iter_images(ctx)
    sdk_engine = connect()
    sdk_engine.api = sdk_engine.api.sdk
    slow = iter_images(ScanContext(cwd=Path("."), engine=sdk_engine, images=[busybox_image]))
    assert [(s.id, s.raw_history, s.inspect) for s in fast] == [(s.id, s.raw_history, s.inspect) for s in slow]


def test_event_stream_yields_engine_events_and_closes_from_another_thread(docker_api, busybox_image):
    import threading

    local = connect().api
    stream = local.events(decode=True, filters={"type": ["container"], "label": [f"{TEST_LABEL}=events"]})
    got: list[dict] = []

    def read() -> None:
        for event in stream:
            got.append(event)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    cid = docker_api.create_container(busybox_image, command=["sh"], labels={TEST_LABEL: "events"})["Id"]
    try:
        for _ in range(100):
            if got:
                break
            threading.Event().wait(0.05)
        assert got and got[0]["Actor"]["ID"] == cid and got[0]["Action"] == "create"
    finally:
        docker_api.remove_container(cid, force=True)
        stream.close()  # wakes the blocked read: the reader ends
    reader.join(5)
    assert not reader.is_alive()
