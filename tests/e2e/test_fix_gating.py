"""`lockdock fix --apply` changes the project's files; live containers only when asked.

The engine is shared (a contributor's workstation, parallel runs): the project's config
limits the containers lockdock sees to the one this test made (`[scan] container-labels`),
so `fix --apply --containers` can only `docker update` that container.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

from tests.conftest import SESSION, SESSION_LABEL, TEST_LABEL

pytestmark = pytest.mark.engine


@pytest.fixture
def container(docker_api: Any, busybox_image: str):
    name = f"lockdock-gate-{uuid.uuid4().hex[:8]}"
    labels = {TEST_LABEL: "1", SESSION_LABEL: SESSION, "io.lockdock.test-gate": name}
    c = docker_api.create_container(busybox_image, command=["/bin/sleep", "600"], labels=labels, name=name)
    yield name, c["Id"]
    docker_api.remove_container(c["Id"], force=True)


def _restart(api: Any, cid: str) -> str:
    return api.inspect_container(cid)["HostConfig"]["RestartPolicy"]["Name"]


@pytest.fixture
def bystander(docker_api: Any, busybox_image: str):
    """Another container without a restart policy, as a user's would be: never touched."""
    c = docker_api.create_container(busybox_image, command=["/bin/sleep", "600"],
                                    labels={TEST_LABEL: "1", SESSION_LABEL: SESSION})
    yield c["Id"]
    docker_api.remove_container(c["Id"], force=True)


def test_containers_untouched_unless_asked(docker_api, container, bystander, run_lockdock, tmp_path):
    name, cid = container
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / ".lockdock.toml").write_text(f'[scan]\ncontainer-labels = ["io.lockdock.test-gate={name}"]\n')
    env = {"LOCKDOCK_STATE_DIR": str(tmp_path / "state")}
    plain = run_lockdock("fix", "--apply", ".", cwd=proj, env=env)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert _restart(docker_api, cid) in ("", "no")
    assert "container fix(es) not included" in plain.stdout and name in plain.stdout

    asked = run_lockdock("fix", "--apply", "--containers", "--check", "runtime.restart-policy", ".", cwd=proj, env=env)
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert _restart(docker_api, cid) == "unless-stopped"
    assert _restart(docker_api, bystander) in ("", "no")  # outside the project's label scope

    undo = run_lockdock("undo", cwd=proj, env=env)
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert _restart(docker_api, cid) in ("", "no")
    assert os.listdir(proj) == [".lockdock.toml"]
