"""Checklist v2 container checks against containers made with `docker create` (never started)."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import pytest

from lockdock.analyzers.container_options import propagation_mounts, tmpfs_flags
from lockdock.engine.containers import make_subject
from tests.engine.test_containers import HARDENED, _create, _without, net, scan_containers  # noqa: F401

pytestmark = pytest.mark.engine
LABEL_SECRET = "label-Pa55w0rd-for-tests-only"
RISKY = {
    "rshared": (["-v", "/tmp:/data:ro,rshared"], "container.mount-options"),
    "mountslave": (["--mount", "type=bind,source=/tmp,target=/m,bind-propagation=rslave"], "container.mount-options"),
    "tmpexec": (["--tmpfs", "/scratch:rw,exec"], "container.mount-options"),
    "cgroup": (["--cgroup-parent", "lockdock-test.slice"], "container.cgroup-parent"),
    "lowport": (["-p", "127.0.0.1:80:8080"], "network.privileged-ports"),
    "nice": (["--cap-add", "SYS_NICE", "--cap-add", "IPC_LOCK"], "container.capabilities"),
    "labelsecret": (["--label", f"com.example.db-password={LABEL_SECRET}"], "secrets.no-secrets-in-env"),
}
SAFE = {
    "private": ["-v", "/tmp:/data:ro"],
    "highport": ["-p", "127.0.0.1:8080:8080"],
    "nettools": ["--cap-add", "NET_BIND_SERVICE"],
    "plainlabel": ["--label", "com.example.team=web"],
}


@pytest.fixture(scope="module")
def created(docker_api: Any, busybox_image: str, net: str) -> dict[str, str]:  # noqa: F811
    suffix = uuid.uuid4().hex[:6]
    names: dict[str, str] = {}
    base = [*HARDENED, "--network", net]
    for key, args in [*((k, a) for k, (a, _c) in RISKY.items()), *SAFE.items()]:
        names[key] = f"lockdock-test-v2-{key}-{suffix}"
        _create(_without(base, args), busybox_image, names[key])
    yield names
    for n in names.values():
        with contextlib.suppress(Exception):
            docker_api.remove_container(n, force=True)


@pytest.mark.parametrize("key", sorted(RISKY))
def test_each_v2_setting_is_caught(created, tmp_path, key):
    results, _ctx = scan_containers(tmp_path)
    _args, check = RISKY[key]
    assert {f.check for f in results[created[key]]} == {check}, [f.message for f in results[created[key]]]


@pytest.mark.parametrize("key", sorted(SAFE))
def test_safe_settings_pass(created, tmp_path, key):
    results, _ctx = scan_containers(tmp_path)
    assert [f.message for f in results[created[key]]] == []


def test_messages(created, tmp_path):
    results, _ctx = scan_containers(tmp_path)
    (low,) = results[created["lowport"]]
    assert "host port 80" in low.message and "reverse proxy" in low.message
    (caps,) = results[created["nice"]]
    assert "IPC_LOCK, SYS_NICE" in caps.message
    (label,) = results[created["labelsecret"]]
    assert "com.example.db-password" in label.message
    assert LABEL_SECRET not in label.message + (label.evidence or "")
    (tmp,) = results[created["tmpexec"]]
    assert "/scratch" in tmp.message and "exec" in tmp.message


def test_inspect_shapes_without_engine():
    """Binds-only data (old engines) and API 1.46 tmpfs options are read too."""
    subject = make_subject({
        "Id": "x" * 64, "Name": "/x", "Config": {},
        "HostConfig": {"Binds": ["/srv:/srv:slave"],
                       "Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"Options": [["exec"], ["size", "1m"]]}}]},
    })
    assert propagation_mounts(subject) == {"/srv": "slave"}
    assert tmpfs_flags(subject) == {"/t": ["exec"]}
