"""Issue 12's widened image (I) and container (K) definitions against the real engine:
build-context leftovers in layers, TLS checks turned off in history and config env,
build-time passwords and label secrets, and an SSH server in a container."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from typing import Any

import pytest

from lockdock import registry
from lockdock.context import ScanContext
from lockdock.engine.connect import connect
from lockdock.engine.containers import make_subject
from lockdock.engine.images import iter_images
from lockdock.scan import analyze_subject
from tests.conftest import TEST_LABEL, image_tarball

pytestmark = pytest.mark.engine

LABEL_TOKEN = "ghp_" + "Q" * 36
PASSWORD = "Sup3r-S3cret-pw"


@pytest.fixture(scope="module")
def widened_tag(docker_api: Any, load_image_tar) -> str:
    tag = f"lockdock-test-widened-{uuid.uuid4().hex[:8]}:1.0"
    layers = [
        {"bin/": None, "bin/busybox": (b"elf", 0o755), "usr/": None, "usr/bin/": None,
         "usr/bin/curl": (b"elf", 0o755), "usr/bin/wget": (b"elf", 0o755), "etc/": None,
         "etc/os-release": b'ID=alpine\nPRETTY_NAME="Alpine Linux v3.20"\n'},
        {  # COPY . /app from a context without .dockerignore
            "app/": None, "app/main.py": b"print(1)\n", "app/.git/": None, "app/.git/HEAD": b"ref: refs/heads/main\n",
            "app/.git/config": b"[core]\n", "app/Dockerfile": b"FROM alpine\n", "app/compose.prod.yaml": b"services: {}\n",
            "app/.aws/": None, "app/.aws/config": b"[default]\n",
        },
        {  # software that ships such names is not a build context
            "usr/": None, "usr/lib/": None, "usr/lib/node_modules/": None, "usr/lib/node_modules/pkg/": None,
            "usr/lib/node_modules/pkg/Dockerfile": b"FROM x\n", "root/": None, "root/.ssh/": None,
            "root/.ssh/known_hosts": b"github.com ssh-ed25519 AAAA\n",
        },
    ]
    history = [
        {"created": "2026-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:base in / "},
        {"created": "2026-01-01T00:00:00Z", "created_by": "COPY . /app # buildkit", "comment": "buildkit.dockerfile.v0"},
        {"created": "2026-01-01T00:00:00Z",
         "created_by": f"RUN /bin/sh -c dnf install -y --setopt=sslverify=false jq && echo 'root:{PASSWORD}' | chpasswd # buildkit"},
        {"created": "2026-01-01T00:00:00Z", "created_by": "ENV NPM_CONFIG_STRICT_SSL=false", "empty_layer": True},
        {"created": "2026-01-01T00:00:00Z", "created_by": "LABEL deploy.token=<masked>", "empty_layer": True},
    ]
    config = {
        "Env": ["PATH=/bin", "NPM_CONFIG_STRICT_SSL=false"],
        "Labels": {"deploy.token": LABEL_TOKEN, "maintainer": "ops@example.com"},
        "User": "1000",
    }
    load_image_tar(image_tarball(layers, tag=tag, config=config, history=history))
    yield tag
    with contextlib.suppress(Exception):
        docker_api.remove_image(tag, force=True)


def _image_findings(tag: str, tmp_path, monkeypatch) -> list[Any]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    registry.load_plugins()
    ctx = ScanContext(cwd=tmp_path, engine=connect(), images=[tag])
    (subject,) = iter_images(ctx)
    return analyze_subject(subject, ctx).findings


def test_context_leftovers_reported_on_the_layer_that_added_them(widened_tag, tmp_path, monkeypatch):
    found = [f for f in _image_findings(widened_tag, tmp_path, monkeypatch) if f.check == "build.dockerignore"]
    assert len(found) == 1, [f.message for f in found]
    (f,) = found
    assert f.location.image_layer.index == 1
    for path in ("/app/.git", "/app/.aws", "/app/Dockerfile", "/app/compose.prod.yaml"):
        assert path in f.message
    assert "/usr/lib/node_modules" not in f.message and "/root/.ssh" not in f.message


def test_tls_turned_off_in_history_and_config_env(widened_tag, tmp_path, monkeypatch):
    found = [f for f in _image_findings(widened_tag, tmp_path, monkeypatch) if f.check == "build.tls-verification"]
    messages = " | ".join(f.message for f in found)
    assert "sslverify" in messages and "NPM_CONFIG_STRICT_SSL" in messages
    history = [f for f in found if "--setopt" in f.message]
    assert history and history[0].location.image_layer.index == 2


def test_build_time_password_and_label_secret(widened_tag, tmp_path, monkeypatch):
    found = [f for f in _image_findings(widened_tag, tmp_path, monkeypatch) if f.check == "secrets.no-secrets-in-image"]
    kinds = " | ".join(f.message for f in found)
    assert "chpasswd" in kinds and "label deploy.token" in kinds
    assert "maintainer" not in kinds
    for f in found:
        assert PASSWORD not in f.message + (f.evidence or "")
        assert LABEL_TOKEN not in f.message + (f.evidence or "")


def _container_findings(docker_api: Any, name: str, tmp_path) -> list[Any]:
    registry.load_plugins()
    ctx = ScanContext(cwd=tmp_path, engine=connect())
    subject = make_subject(docker_api.inspect_container(name))
    return [f for f in analyze_subject(subject, ctx).findings if f.check == "image.no-unneeded-tools"]


@pytest.fixture
def container_name(docker_api: Any):
    names: list[str] = []

    def make() -> str:
        names.append(f"lockdock-test-sshd-{uuid.uuid4().hex[:8]}")
        return names[-1]

    yield make
    for n in names:
        subprocess.run(["docker", "rm", "-f", n], capture_output=True, timeout=120)


def test_container_command_starting_sshd(docker_api, busybox_image, container_name, tmp_path):
    name = container_name()
    proc = subprocess.run(
        ["docker", "create", "--name", name, "--label", f"{TEST_LABEL}=1", busybox_image, "/usr/sbin/sshd", "-D"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    (f,) = _container_findings(docker_api, name, tmp_path)
    assert "sshd" in f.message and f.payload.kind == "sshd-command"


def test_running_sshd_found_in_the_process_list(docker_api, build_image, busybox_image, container_name, tmp_path):
    tag = build_image(
        f"FROM {busybox_image}\n"
        "RUN mkdir -p /usr/sbin && printf '#!/bin/sh\\nsleep 300\\n' > /usr/sbin/sshd && chmod 755 /usr/sbin/sshd "
        "&& printf '#!/bin/sh\\n/usr/sbin/sshd\\n' > /start && chmod 755 /start\n"
        'CMD ["/start"]\n'
    )
    name = container_name()
    try:
        proc = subprocess.run(
            ["docker", "run", "-d", "--name", name, "--label", f"{TEST_LABEL}=1", tag],
            capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        found = _container_findings(docker_api, name, tmp_path)
        assert [f.payload.kind for f in found] == ["sshd-process"]
        assert "/usr/sbin/sshd" in (found[0].evidence or "")
        subprocess.run(["docker", "stop", "-t", "0", name], capture_output=True, timeout=120)
        assert _container_findings(docker_api, name, tmp_path) == []  # stopped: no process, config is clean
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=120)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=120)


def test_plain_container_has_no_ssh_finding(docker_api, busybox_image, container_name, tmp_path):
    name = container_name()
    proc = subprocess.run(
        ["docker", "create", "--name", name, "--label", f"{TEST_LABEL}=1", busybox_image, "sh", "-c", "echo sshd-free"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert _container_findings(docker_api, name, tmp_path) == []


def test_curl_beside_wget_in_an_image(widened_tag, tmp_path, monkeypatch):
    found = [f for f in _image_findings(widened_tag, tmp_path, monkeypatch) if f.check == "image.no-unneeded-tools"]
    both = [f for f in found if "both curl and wget" in f.message]
    assert len(both) == 1 and both[0].location.image_layer.index == 0
