"""Fix decisions from the facts of real local images (busybox FROM scratch), proved by
starting the fixed stack with Debian's docker-compose: a chown-then-drop entrypoint, a
service that writes a log, a non-root secret reader, and a base image other Dockerfiles
build FROM."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.conftest import scan_json

pytestmark = pytest.mark.engine

BASE = (
    "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
    "RUN mkdir -p /etc /tmp /data /var/log /www /usr/local/bin && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && "
    "echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >> /etc/passwd && "
    "printf 'root:x:0:\\nnogroup:x:65534:\\n' > /etc/group && echo hello > /www/index.html\n"
)
ENTRY = """#!/bin/sh
set -e
chown -R nobody /data
exec su -s /bin/sh nobody -c "echo dropped; touch /data/ok; exec sleep 3600"
"""
DROPPER = BASE + "COPY entry.sh /usr/local/bin/entry.sh\nRUN chmod 755 /usr/local/bin/entry.sh\nVOLUME /data\n" \
    "ENTRYPOINT [\"entry.sh\"]\n"
WRITER = BASE + "EXPOSE 8080\nCMD [\"sh\", \"-c\", \"echo started >> /var/log/web.log && exec httpd -f -p 8080 -h /www\"]\n"
READER = BASE + "CMD [\"sh\"]\n"


def _compose(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker-compose", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _running(api: Any, project: str, timeout: float = 20.0) -> dict[str, dict[str, Any]]:
    """Service -> container state after the stack had time to crash (restart loops show)."""
    time.sleep(4)
    deadline = time.monotonic() + timeout
    states: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        states = {}
        for c in api.containers(all=True, filters={"label": f"com.docker.compose.project={project}"}):
            info = api.inspect_container(c["Id"])
            states[c["Labels"]["com.docker.compose.service"]] = {
                "running": info["State"]["Running"], "restarts": info["RestartCount"],
                "logs": api.logs(c["Id"]).decode("utf-8", "replace")}
        if states and all(s["running"] for s in states.values()):
            return states
        time.sleep(1)
    return states


@pytest.fixture
def stack_dir(tmp_path: Path, build_image: Any, docker_api: Any) -> Any:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed")
    tags = {name: build_image(text, files={"entry.sh": ENTRY}) for name, text in
            (("dropper", DROPPER), ("writer", WRITER), ("reader", READER))}
    d = tmp_path / "stack"
    d.mkdir()
    (d / "compose.yaml").write_text(
        "services:\n"
        f"  db:\n    image: {tags['dropper']}\n    restart: on-failure\n"
        f"  web:\n    image: {tags['writer']}\n    restart: on-failure\n    ports:\n      - '127.0.0.1::8080'\n"
        f"  reader:\n    image: {tags['reader']}\n    user: '65534:65534'\n    restart: on-failure\n"
        "    environment:\n      DB_PASSWORD: hunter2hunter2\n"
        "    command: sh -c 'if [ -n \"$$DB_PASSWORD_FILE\" ]; then cat \"$$DB_PASSWORD_FILE\" > /dev/null || exit 1; fi; "
        "echo ok; exec sleep 3600'\n")
    project = f"lockdockfacts{uuid.uuid4().hex[:10]}"
    try:
        yield d, tags, project
    finally:
        _compose("-p", project, "down", "-v", "--remove-orphans", cwd=d)


def test_fixed_stack_still_starts(stack_dir: Any, run_lockdock: Any, docker_api: Any) -> None:
    d, tags, project = stack_dir
    checks = ("--check", "container.capabilities", "--check", "container.read-only-rootfs",
              "--check", "secrets.no-secrets-in-env")
    proc = run_lockdock("fix", "--apply", "--unsafe", *checks, ".", cwd=d)
    out = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1) and "rolled back" not in out and "hunter2" not in out, out
    data = YAML(typ="safe", pure=True).load((d / "compose.yaml").read_text())
    db, web, reader = (data["services"][n] for n in ("db", "web", "reader"))
    # chown-then-drop entrypoint read from the image: keeps what it needs
    assert db["cap_drop"] == ["ALL"] and db["cap_add"] == ["CHOWN", "SETUID", "SETGID", "FOWNER"]
    assert db["read_only"] is True and "/data" not in db.get("tmpfs", [])  # the VOLUME stays writable
    # the log its command writes gets a tmpfs; /www (content) does not
    assert web["read_only"] is True and "/var/log" in web["tmpfs"] and "/www" not in web["tmpfs"]
    # a known non-root user: nothing comes back
    assert reader["cap_drop"] == ["ALL"] and "cap_add" not in reader
    assert reader["environment"] == {"DB_PASSWORD_FILE": "/run/secrets/db_password"}
    secret = d / "secrets" / "db_password.txt"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o644 and stat.S_IMODE(secret.parent.stat().st_mode) == 0o700

    up = _compose("-p", project, "up", "-d", cwd=d)
    assert up.returncode == 0, up.stderr
    states = _running(docker_api, project)
    assert set(states) == {"db", "web", "reader"}, states
    for name, st in states.items():
        assert st["running"] and st["restarts"] == 0, (name, st)
    assert "dropped" in states["db"]["logs"] and "ok" in states["reader"]["logs"]
    # web still answers on its published port
    port = json.loads(subprocess.run(["docker", "inspect", f"{project}_web_1"], capture_output=True, text=True)
                      .stdout)[0]["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
    got = subprocess.run(["/bin/busybox", "wget", "-qO-", f"http://127.0.0.1:{port}/"], capture_output=True,
                         text=True, timeout=20)
    assert got.stdout.strip() == "hello", got.stderr
    # a second run changes nothing
    again = run_lockdock("fix", "--apply", "--unsafe", *checks, ".", cwd=d)
    assert "0 applied" in again.stdout + again.stderr, again.stdout + again.stderr


def test_base_image_built_from_by_a_child_gets_no_user(tmp_path: Path, build_image: Any, run_lockdock: Any) -> None:
    base_df = BASE + "CMD [\"httpd\", \"-f\", \"-p\", \"8080\"]\n"  # not shell-only: the history decides
    tag = build_image(base_df)
    (tmp_path / "base").mkdir()
    (tmp_path / "child").mkdir()
    (tmp_path / "base" / "Dockerfile").write_text(base_df)
    (tmp_path / "child" / "Dockerfile").write_text(
        f"FROM {tag}\nRUN mkdir -p /srv && echo hi > /srv/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/srv\"]\n")
    proc = run_lockdock("fix", "--unsafe", "--apply", "--check", "container.non-root", ".", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    assert (tmp_path / "base" / "Dockerfile").read_text() == base_df
    report = scan_json(run_lockdock, ".", cwd=tmp_path)
    msgs = [f["message"] for f in report["findings"]
            if f["check"] == "container.non-root" and "base" in (f["location"].get("path") or "")]
    assert msgs and "child/Dockerfile" in msgs[0] and "no automatic fix" in msgs[0], msgs


def test_no_user_over_an_inherited_dropping_entrypoint(tmp_path: Path, build_image: Any, run_lockdock: Any) -> None:
    # an -alpine tag: without the facts lockdock would add `adduser` + USER app
    tag = build_image(DROPPER, tag=f"lockdock-test-{uuid.uuid4().hex[:10]}:1-alpine", files={"entry.sh": ENTRY})
    df = f"FROM {tag}\nRUN echo built > /built\nCMD [\"sleep\", \"3600\"]\n"
    (tmp_path / "Dockerfile").write_text(df)
    run_lockdock("fix", "--unsafe", "--apply", "--check", "container.non-root", ".", cwd=tmp_path)
    assert (tmp_path / "Dockerfile").read_text() == df
    report = scan_json(run_lockdock, ".", cwd=tmp_path)
    [msg] = [f["message"] for f in report["findings"] if f["check"] == "container.non-root"
             and f["target"]["kind"] == "dockerfile"]
    assert "drops privileges itself" in msg, msg
