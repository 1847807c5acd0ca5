"""Every check id, for every target kind the checklist lists it under, through `lockdock scan`.

One deliberately insecure world (files, a daemon.json, a client config, an image loaded
into the real engine, a container created from it) scanned once by the real CLI; the
report must hold a finding for each (check id, target kind) pair of the checklist. The
world also holds the catching cases of tests/dockerfile/test_checks.py, so a new
Dockerfile check reaches this test through its cases there.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from typing import Any

import pytest

from lockdock.checks import CHECKS
from tests.conftest import TEST_LABEL, image_tarball
from tests.dockerfile.helpers import write_cases
from tests.dockerfile.test_checks import CATCHES

pytestmark = pytest.mark.engine

KIND_LETTER = {
    "dockerfile": "D",
    "compose-service": "C",
    "compose-file": "C",
    "image": "I",
    "container": "K",
    "swarm-service": "K",  # Swarm services: tests/fleet/test_engines.py (a Swarm manager engine)
    "host": "H",
    "repo": "R",
}

DOCKERFILE = """\
FROM someorg/builder:1.2 AS build
ARG GITHUB_TOKEN
RUN git clone https://${GITHUB_TOKEN}@github.com/org/repo.git /src && make -C /src

FROM insecure.registry.example:5000/team/assets:1.0 AS assets

FROM ubuntu:latest
COPY --from=build /src/out /opt/app
COPY --from=assets /assets /opt/assets
ARG NPM_TOKEN=npm_abcdefghijklmnopqrstuvwxyz0123456789
ENV API_SECRET=s3cr3t-value-for-tests
RUN apt-get update && apt-get install -y curl gcc sudo
RUN curl -k https://example.com/install.sh | sh
RUN sudo mkdir /data
ADD app.py /app/app.py
RUN npm install
RUN apt-get dist-upgrade -y
VOLUME /etc
EXPOSE 22
CMD python3 /app/app.py
"""

COMPOSE = """\
services:
  web:
    image: nginx:latest
    privileged: true
    pid: host
    cap_add: [SYS_ADMIN]
    security_opt: ["seccomp:unconfined"]
    devices: ["/dev/fuse:/dev/fuse"]
    ports: ["0.0.0.0:5432:5432", "80:8080"]
    cgroup_parent: lockdock-test.slice
    tmpfs: ["/scratch:exec"]
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
      - /etc:/host-etc
      - /srv/data:/data:rshared
    environment:
      DB_PASSWORD: hunter2-is-not-a-password
    healthcheck:
      disable: true
  cache:
    image: redis:7.2
  tools:
    image: ubuntu:22.04
  legacy:
    image: insecure.registry.example:5000/team/app:1.0
  builder:
    build:
      context: ./ctx2
      dockerfile: ../Dockerfile
"""

DAEMON_JSON = {
    "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"],
    "icc": True,
    "insecure-registries": ["insecure.registry.example:5000"],
    "iptables": False,
    "log-level": "debug",
    "cgroup-parent": "lockdock-test.slice",
    "seccomp-profile": "unconfined",
    "registry-mirrors": ["https://bob:mirror-pass-for-tests@mirror.example"],
}


@pytest.fixture(scope="module")
def world(docker_api: Any, load_image_tar, tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("world")
    proj = root / "proj"
    proj.mkdir()
    (proj / "Dockerfile").write_text(DOCKERFILE)
    write_cases(proj / "cases", CATCHES)
    (proj / "app.py").write_text("print('hi')\n")
    (proj / "compose.yaml").write_text(COMPOSE)
    (proj / "ctx2").mkdir()
    (proj / "ctx2" / "main.go").write_text("package main\n")
    (proj / ".gitignore").write_text("node_modules/\n")
    key = proj / "deploy.key"
    key.write_text("not really a key\n")
    os.chmod(key, 0o644)
    old = time.time() - 400 * 86400
    os.utime(key, (old, old))
    daemon = root / "daemon.json"
    daemon.write_text(json.dumps(DAEMON_JSON, indent=2))
    home = root / "home"
    (home / ".docker").mkdir(parents=True)
    (home / ".docker" / "config.json").write_text(
        json.dumps({"auths": {"registry.example.com": {"auth": "dXNlcjpwYXNzd29yZA=="}}})
    )

    tag = f"registry.example.com/team/lockdock-world-{uuid.uuid4().hex[:8]}:latest"
    secret = b"PASSWORD=planted-in-a-layer-1234\n"
    layers = [
        {
            "etc/": None,
            "etc/os-release": b'ID=ubuntu\nVERSION_ID="22.04"\nPRETTY_NAME="Ubuntu 22.04"\n',
            "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\n",
            "usr/": None,
            "usr/bin/": None,
            "usr/bin/apt-get": (b"#!", 0o755),
            "usr/bin/curl": (b"#!", 0o755),
            "usr/bin/gcc": (b"#!", 0o755),
            "usr/bin/sudo": (b"#!", 0o4755),
            "var/": None,
            "var/lib/": None,
            "var/lib/apt/": None,
            "var/lib/apt/lists/": None,
            "var/lib/apt/lists/archive.ubuntu.com_ubuntu_dists_jammy_InRelease": b"x" * 64,
        },
        {"app/": None, "app/.env": secret, "app/.git/": None, "app/.git/HEAD": b"ref: refs/heads/main\n"},
        {"app/": None, "app/.wh..env": b""},
    ]
    history = [
        {"created": "2020-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:rootfs in / "},
        {"created": "2020-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD app /app"},
        {"created": "2020-01-01T00:00:00Z", "created_by": "/bin/sh -c sudo rm /app/.env && curl -k https://example.com/x"},
        {"created": "2020-01-01T00:00:00Z", "created_by": "/bin/sh -c apt-get update", "empty_layer": True},
        {"created": "2020-01-01T00:00:00Z", "created_by": "/bin/sh -c apt-get install -y curl || true", "empty_layer": True},
        {"created": "2020-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop)  VOLUME [/etc]", "empty_layer": True},
    ]
    load_image_tar(
        image_tarball(
            layers,
            tag=tag,
            config={"Env": ["PATH=/usr/bin", "API_TOKEN=ghp_" + "b" * 36], "Cmd": ["/usr/bin/curl"], "Volumes": {"/etc": {}}},
            history=history,
        )
    )
    name = f"lockdock-world-{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(
        [
            "docker", "create", "--name", name, "--label", f"{TEST_LABEL}=1",
            "--privileged", "--pid", "host", "--cap-add", "SYS_ADMIN",
            "--security-opt", "seccomp=unconfined",
            "--device", "/dev/null:/dev/xnull",
            "-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", "/etc:/host-etc",
            "-p", "0.0.0.0:5432:5432", "-e", "DB_PASSWORD=hunter2-is-not-a-password",
            "-p", "127.0.0.1:81:8081", "--cgroup-parent", "lockdock-test.slice",
            "--tmpfs", "/scratch:exec", "-v", "/tmp:/data:rshared",
            tag, "/usr/sbin/sshd", "-D",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    yield {"proj": proj, "daemon": daemon, "home": home, "tag": tag, "container": name, "secret": secret}
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=120)
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def report(world: dict[str, Any], tmp_path_factory) -> dict[str, Any]:
    state = tmp_path_factory.mktemp("state")
    env = {
        **os.environ,
        "HOME": str(world["home"]),
        "XDG_CACHE_HOME": str(state / "cache"),
        "XDG_CONFIG_HOME": str(state / "config"),
        "XDG_STATE_HOME": str(state / "state"),
        "PATH": os.path.dirname(os.sys.executable) + ":/usr/sbin:/usr/bin:/sbin:/bin",
    }
    env.pop("DOCKER_CONTENT_TRUST", None)
    proc = subprocess.run(
        [os.sys.executable, "-m", "lockdock", "scan", "--format", "json", "--daemon-json", str(world["daemon"]),
         "--image", world["tag"], "."],
        capture_output=True,
        text=True,
        cwd=world["proj"],
        env=env,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    data = json.loads(proc.stdout)
    data["_raw"] = proc.stdout
    return data


def _pairs() -> list[tuple[str, str]]:
    return [(c.id, letter) for c in CHECKS for letter in c.where]


@pytest.mark.parametrize(("check", "letter"), _pairs(), ids=[f"{c}-{k}" for c, k in _pairs()])
def test_check_fires_for_target_kind(report, world, check, letter):
    kinds = {f["target"]["kind"] for f in report["findings"] if f["check"] == check}
    if letter == "K":
        kinds = {
            f["target"]["kind"]
            for f in report["findings"]
            if f["check"] == check and f["target"]["kind"] == "container" and world["container"] in f["target"]["name"]
        }
    letters = {KIND_LETTER[k] for k in kinds}
    assert letter in letters, f"{check} did not fire for kind {letter}; fired for {sorted(letters)}"


def test_every_check_id_fired(report):
    assert {f["check"] for f in report["findings"]} == {c.id for c in CHECKS}


def test_no_secret_value_in_report(report, world):
    raw = report["_raw"]
    for value in ("hunter2-is-not-a-password", "planted-in-a-layer-1234", "s3cr3t-value-for-tests",
                  "npm_abcdefghijklmnopqrstuvwxyz0123456789", "b" * 36, "dXNlcjpwYXNzd29yZA==",
                  "mirror-pass-for-tests"):
        assert value not in raw


def test_report_has_no_errors(report):
    assert [e for e in report["errors"] if e["kind"] == "error"] == []
