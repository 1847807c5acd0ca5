"""`lockdock fix --containers` on several real engines: each `docker update` goes to the
engine that owns the container, the journal names that engine, `undo` goes back there."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.conftest import LABELS

pytestmark = pytest.mark.engine
MAIN = "unix:///var/run/docker.sock"
CHECK = ("--containers", "--check", "runtime.restart-policy")


def lockdock(*args: str, cwd: Path, docker_config: Path | None = None,
             path_first: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if docker_config is not None:
        env["DOCKER_CONFIG"] = str(docker_config)
    if path_first is not None:
        env["PATH"] = f"{path_first}:{env['PATH']}"
    done = subprocess.run([sys.executable, "-m", "lockdock", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def docker_context(*args: str, docker_config: Path) -> None:
    subprocess.run(["docker", "context", *args], check=True, capture_output=True, timeout=30,
                   env={**os.environ, "DOCKER_CONFIG": str(docker_config)})


def policy(host: str, name: str) -> str:
    out = subprocess.run(["docker", "-H", host, "inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", name],
                         capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


class Twins:
    """One image tag and one container name present on both engines."""

    def __init__(self, tag: str, name: str, ids: dict[str, str]) -> None:
        self.tag, self.name, self.ids = tag, name, ids
        self.before = {host: policy(host, name) for host in ids}  # "" (API) or "no" (CLI): none


@pytest.fixture(scope="module")
def twins(second_engine: Any, build_image: Callable[..., str], docker_api: Any) -> Iterator[Twins]:
    """The same-named container, without a restart policy, on the main and the second engine."""
    suffix = uuid.uuid4().hex[:8]
    tag = f"lockdock-fleetfix-{suffix}:1.0"
    name = f"lockdock-fleetfix-{suffix}"
    build_image('FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "sleep", "3600"]\n', tag=tag)
    # The same image (and id) on the second engine; its other images have other ids.
    saved = subprocess.run(["docker", "save", tag], capture_output=True, check=True, timeout=120)
    subprocess.run(["docker", "-H", second_engine.host, "load"], input=saved.stdout, capture_output=True,
                   check=True, timeout=120)
    main_id = docker_api.create_container(tag, name=name, labels=LABELS)["Id"]
    label_args = [a for k, v in LABELS.items() for a in ("--label", f"{k}={v}")]
    second_id = second_engine.docker("create", "--name", name, *label_args, tag).stdout.strip()
    try:
        yield Twins(tag, name, {MAIN: main_id, second_engine.host: second_id})
    finally:
        docker_api.remove_container(main_id, force=True)
        second_engine.docker("rm", "-f", name, check=False)
        second_engine.docker("rmi", "-f", tag, check=False)


def test_preview_names_the_engine_of_each_change_and_a_down_engine_is_reported(
        twins: Twins, second_engine: Any, tmp_path: Path) -> None:
    dead = "unix:///nonexistent/lockdock-fix.sock"
    done = lockdock("fix", *CHECK, "--image", twins.tag, "--host", MAIN, "--host", dead,
                    "--host", second_engine.host, "--context", "no-such-context", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for host, cid in twins.ids.items():
        assert f"container {twins.name} ({cid[:12]}) on engine {host}: docker update" in done.stdout
    assert done.stdout.count("docker update") == 2, done.stdout
    assert any(dead in line and "socket does not exist" in line for line in done.stderr.splitlines())
    assert any("no-such-context" in line and "not found" in line for line in done.stderr.splitlines())
    assert "2 fix(es) shown; nothing written" in done.stderr
    assert {h: policy(h, twins.name) for h in twins.ids} == twins.before


def test_apply_goes_to_the_owning_engine_and_undo_follows_it(twins: Twins, second_engine: Any,
                                                             tmp_path: Path) -> None:
    cfg = tmp_path / "docker-config"
    docker_context("create", "e2", "--docker", f"host={second_engine.host}", docker_config=cfg)
    work = tmp_path / "work"
    work.mkdir()
    try:
        done = lockdock("fix", "--apply", *CHECK, "--image", twins.tag, "--context", "e2", str(work),
                        cwd=work, docker_config=cfg)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "1 applied" in done.stdout
        # The same name on the main engine is another container: untouched.
        assert policy(second_engine.host, twins.name) == "unless-stopped"
        assert policy(MAIN, twins.name) == twins.before[MAIN]
        listed = lockdock("undo", "--list", str(work), cwd=work, docker_config=cfg)
        assert f"container: {twins.name} on e2" in listed.stdout

        # The context now leads nowhere: undo refuses, says which engine, changes nothing.
        docker_context("update", "e2", "--docker", "host=unix:///nonexistent/lockdock-e2.sock", docker_config=cfg)
        refused = lockdock("undo", str(work), cwd=work, docker_config=cfg)
        assert refused.returncode == 1
        assert "engine e2" in refused.stderr and "nothing undone" in refused.stderr
        assert policy(second_engine.host, twins.name) == "unless-stopped"

        docker_context("update", "e2", "--docker", f"host={second_engine.host}", docker_config=cfg)
        undone = lockdock("undo", str(work), cwd=work, docker_config=cfg)
        assert undone.returncode == 0, undone.stderr
        assert f"container {twins.name} on e2: restored RestartPolicy" in undone.stdout
        assert policy(second_engine.host, twins.name) == twins.before[second_engine.host]
        assert policy(MAIN, twins.name) == twins.before[MAIN]
    finally:
        second_engine.docker("update", "--restart", "no", twins.name, check=False)


def test_apply_with_one_engine_down_fixes_the_others(twins: Twins, second_engine: Any, tmp_path: Path) -> None:
    dead = "unix:///nonexistent/lockdock-fix.sock"
    try:
        done = lockdock("fix", "--apply", *CHECK, "--image", twins.tag, "--host", dead, "--host",
                        second_engine.host, str(tmp_path), cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert dead in done.stderr and "1 applied" in done.stdout
        assert policy(second_engine.host, twins.name) == "unless-stopped"
        undone = lockdock("undo", str(tmp_path), cwd=tmp_path)
        assert undone.returncode == 0, undone.stderr
        assert f"on {second_engine.host}: restored" in undone.stdout
        assert policy(second_engine.host, twins.name) == twins.before[second_engine.host]
    finally:
        second_engine.docker("update", "--restart", "no", twins.name, check=False)


def test_verify_is_refused_with_several_engines(tmp_path: Path) -> None:
    done = lockdock("fix", "--apply", "--verify", "--host", MAIN, str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert "--verify" in done.stderr and "--host" in done.stderr


class SocketForward:
    """A unix socket forwarded to an engine's socket, as `ssh -L` would: the engine is
    real, but no dockerd on this machine serves this path, so its host files are not
    this machine's (lockdock judges it from `docker info` only)."""

    def __init__(self, path: Path, target: Path) -> None:
        self.path, self.target = path, target
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(str(path))
        self.srv.listen(16)
        self.srv.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                client = self.srv.accept()[0]
            except OSError:
                continue
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(str(self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.srv.close()


def test_daemon_fixes_of_an_engine_whose_files_are_elsewhere_are_not_offered_and_said(
        second_engine: Any, tmp_path: Path) -> None:
    fwd = SocketForward(tmp_path / "forwarded.sock", second_engine.socket)
    url = f"unix://{fwd.path}"
    try:
        done = lockdock("fix", "--select", "container.no-new-privileges,runtime.live-restore,runtime.log-rotation",
                        "--host", url, str(tmp_path), cwd=tmp_path)
    finally:
        fwd.close()
    assert done.returncode == 0, done.stderr
    assert "daemon.json" not in done.stdout  # no diff for another host's file
    said = [line for line in done.stderr.splitlines() if f"engine {url}:" in line]
    assert len(said) == 1, done.stderr
    assert "Docker daemon fix(es) not offered" in said[0] and "docker info only" in said[0]
