"""The keep-alive inspect path over the unix socket answers exactly what the SDK answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockdock.context import ScanContext
from lockdock.engine import containers
from lockdock.engine.connect import connect
from tests.conftest import TEST_LABEL

pytestmark = pytest.mark.engine


def test_fast_path_equals_sdk_and_skips_vanished(docker_api, busybox_image, monkeypatch):
    made = [docker_api.create_container(busybox_image, command=["sh"], labels={TEST_LABEL: "1"})["Id"] for _ in range(5)]
    try:
        ctx = ScanContext(cwd=Path("."), engine=connect())
        assert containers._socket_path(ctx.engine.api), "the local engine is reached over a unix socket"
        gone = made[2]
        docker_api.remove_container(gone, force=True)
        ids = [*made, "f" * 64]
        fast = containers._inspect_all(ctx.engine.api, ids, ctx)
        monkeypatch.setattr(containers, "_socket_path", lambda api: None)
        sdk = containers._inspect_all(ctx.engine.api, ids, ctx)
        assert [d["Id"] if d else None for d in fast] == [d["Id"] if d else None for d in sdk]
        assert fast[2] is None and fast[-1] is None  # vanished: skipped quietly
        assert fast[0] == sdk[0]
        assert ctx.errors == []
    finally:
        for cid in made:
            docker_api.remove_container(cid, force=True) if docker_api.containers(all=True, filters={"id": cid}) else None
