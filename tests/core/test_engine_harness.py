"""The test harness itself works against the real engine: build, run, inspect, remove."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_LABEL, image_tarball, unique_tag

pytestmark = pytest.mark.engine


def test_build_run_inspect_remove(docker_api, busybox_image):
    info = docker_api.inspect_image(busybox_image)
    assert info["Config"]["Labels"][TEST_LABEL] == "1"
    container = docker_api.create_container(busybox_image, command=["echo", "hello-lockdock"], labels={TEST_LABEL: "1"})
    docker_api.start(container["Id"])
    assert docker_api.wait(container["Id"], timeout=60)["StatusCode"] == 0
    assert b"hello-lockdock" in docker_api.logs(container["Id"])
    docker_api.remove_container(container["Id"], force=True)
    assert not docker_api.containers(all=True, filters={"id": container["Id"]})


def test_load_generated_tarball(docker_api, load_image_tar):
    tag = unique_tag("lockdock-test-loaded")  # unique: parallel runs share the engine
    load_image_tar(image_tarball([{"etc/": None, "etc/hello": b"hi\n"}], tag=tag, config={"User": "1000"}))
    info = docker_api.inspect_image(tag)
    assert info["Config"]["User"] == "1000"
    assert len(info["RootFS"]["Layers"]) == 1
    docker_api.remove_image(tag, force=True)
