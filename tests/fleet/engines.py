"""Real engines for the fleet and TUI tests: a second dockerd (a Swarm manager), sshd, Podman.

A pytest plugin of the whole suite (`pytest_plugins` in tests/conftest.py), so tests/fleet
and tests/tui share one second dockerd per session instead of starting one each.

All session-scoped and bounded; each skips with its reason when a tool is missing (and
fails under LOCKDOCK_REQUIRE_ENGINE=1 for the second dockerd, which CI must run).
Objects on the main engine carry the test labels of tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SESSION, SESSION_LABEL, TEST_LABEL, image_tarball, require_engine
from tests.fleet.dockerd import DockerdUnavailable, ExtraDockerd, load_busybox, start_dockerd

BB_TAG = "lockdock-fleet-bb:1.0"
OLD_TAG = "someorg/tool:latest"
SERVICE_SECRET = "fleet-service-secret-4711"  # must never appear in a report
LABELS = {TEST_LABEL: "1", SESSION_LABEL: SESSION}


def _start(base: Path) -> ExtraDockerd:
    try:
        return start_dockerd(base)
    except DockerdUnavailable as exc:
        if require_engine():
            pytest.fail(f"LOCKDOCK_REQUIRE_ENGINE=1 but a second dockerd cannot start: {exc}")
        pytest.skip(f"no second dockerd: {exc}")


@pytest.fixture(scope="session")
def second_engine(tmp_path_factory: pytest.TempPathFactory, docker_api: object) -> Iterator[ExtraDockerd]:
    """A second dockerd: Swarm manager with one insecure service and one privileged container (created: this sandbox cannot start one)."""
    engine = _start(tmp_path_factory.mktemp("dockerd2"))
    try:
        load_busybox(engine, BB_TAG, LABELS)
        # An old image from an untrusted namespace under a moving tag (image.* checks).
        old = image_tarball([{"bin/tool": b"#!/bin/sh\n"}], tag=OLD_TAG,
                            config={"Cmd": ["/bin/tool"]}, history=[{"created": "2020-01-01T00:00:00Z",
                                                                     "created_by": "COPY tool /bin/tool"}])
        subprocess.run(["docker", "-H", engine.host, "load"], input=old, capture_output=True, check=True, timeout=120)
        engine.docker("create", "--name", "fleet-priv", "--privileged", "--label", f"{TEST_LABEL}=1", BB_TAG)
        # Own ports for the swarm API and its data path: another test session's swarm may hold
        # the defaults (2377, 4789) on this machine.
        engine.docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", f"127.0.0.1:{free_port()}",
                      "--data-path-port", str(free_udp_port()), timeout=60)
        engine.docker("service", "create", "-d", "--name", "shop_web", "--cap-add", "SYS_ADMIN",
                      "--publish", "18080:80", "--label", "com.docker.stack.namespace=shop",
                      "--mount", "type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock",
                      "--mount", "type=bind,source=/etc,target=/host-etc,bind-propagation=rshared",
                      "--env", f"DB_PASSWORD={SERVICE_SECRET}", "--publish", "80:8080",
                      "--log-driver", "json-file", "--restart-condition", "none",
                      "--user", "root", OLD_TAG, "/usr/sbin/sshd", "-D", timeout=60)
        yield engine
    finally:
        engine.docker("swarm", "leave", "--force", check=False, timeout=60)
        engine.stop()


def free_udp_port() -> int:
    """A free UDP port in the range docker accepts for a swarm data path (1024-49151)."""
    import random

    for _ in range(50):
        port = random.randint(20000, 45000)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    return 4789


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SshEndpoint:
    url: str  # ssh://root@127.0.0.1:PORT
    bin_dir: Path  # put first on PATH: an `ssh` that uses the throwaway config


@pytest.fixture(scope="session")
def ssh_local(tmp_path_factory: pytest.TempPathFactory, docker_api: object) -> Iterator[SshEndpoint]:
    """Debian's sshd on 127.0.0.1 (a high port), a throwaway key, reaching the local engine."""
    sshd = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
    if sshd is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("openssh-server / openssh-client not installed (apt-get install openssh-server)")
    if os.geteuid() != 0:
        pytest.skip("sshd for the test needs root")
    base = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / name)], check=True)
    auth = base / "authorized_keys"
    auth.write_text((base / "client_key.pub").read_text())
    auth.chmod(0o600)
    port = free_port()
    cfg = base / "sshd_config"
    cfg.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {base / 'host_key'}\nPidFile {base / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {auth}\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n"
        "StrictModes no\nUsePAM no\nAcceptEnv no\n"
        f"SetEnv PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=open(base / "sshd.log", "wb"), start_new_session=True)  # noqa: SIM115
    client_cfg = base / "ssh_config"
    client_cfg.write_text(
        f"Host 127.0.0.1\n  IdentityFile {base / 'client_key'}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {base / 'known_hosts'}\n  StrictHostKeyChecking no\n  LogLevel ERROR\n"
    )
    bin_dir = base / "bin"
    bin_dir.mkdir()
    real_ssh = shutil.which("ssh")
    wrapper = bin_dir / "ssh"
    wrapper.write_text(f"#!/bin/sh\nexec {real_ssh} -F {client_cfg} \"$@\"\n")
    wrapper.chmod(0o755)
    try:
        for _ in range(50):
            if proc.poll() is not None:
                pytest.skip(f"sshd exited: {(base / 'sshd.log').read_text(errors='replace')[-300:]}")
            probe = subprocess.run([str(wrapper), "-p", str(port), "-o", "BatchMode=yes", "root@127.0.0.1", "true"],
                                   capture_output=True, timeout=10, check=False)
            if probe.returncode == 0:
                break
            time.sleep(0.2)
        else:
            pytest.skip("sshd did not accept the throwaway key")
        yield SshEndpoint(f"ssh://root@127.0.0.1:{port}", bin_dir)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def podman_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's podman serving its Docker-compatible API (own storage root, vfs)."""
    if shutil.which("podman") is None:
        pytest.skip("podman not installed (apt-get install podman)")
    base = tmp_path_factory.mktemp("podman")
    sock = base / "podman.sock"
    proc = subprocess.Popen(
        ["podman", "--root", str(base / "root"), "--runroot", str(base / "run"), "--storage-driver", "vfs",
         "system", "service", "--time=0", f"unix://{sock}"],
        stdout=subprocess.DEVNULL, stderr=open(base / "podman.log", "wb"), start_new_session=True)  # noqa: SIM115
    try:
        for _ in range(100):
            if sock.exists():
                break
            if proc.poll() is not None:
                pytest.skip(f"podman system service exited: {(base / 'podman.log').read_text(errors='replace')[-300:]}")
            time.sleep(0.1)
        else:
            pytest.skip("podman system service did not create its socket")
        yield f"unix://{sock}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
        subprocess.run(["umount", "-R", "-l", str(base / "run")], capture_output=True, check=False)
