"""One host mount gets one verdict, whether a compose service or a container declares it.

The compose side goes through `lockdock scan`; the container side is a real container
created on the engine with the same binds and judged from its `docker inspect`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from lockdock.context import ScanContext
from lockdock.engine.containers import make_subject
from lockdock.scan import severity_of
from tests.conftest import SESSION, SESSION_LABEL, TEST_LABEL, scan_json

pytestmark = pytest.mark.engine

# (host source, read-only) -> expected verdict: None, or the check and its severity.
MOUNTS: dict[tuple[str, bool], tuple[str, str] | None] = {
    ("/etc", False): ("container.sensitive-mounts", "high"),
    ("/etc/ssl", True): ("container.sensitive-mounts", "medium"),  # a subtree, read-only
    ("/dev/shm", False): ("container.sensitive-mounts", "high"),  # beneath /dev
    ("/home", True): ("container.sensitive-mounts", "medium"),
    ("/proc/sys", True): ("container.sensitive-mounts", "medium"),
    ("/var/lib/docker", True): ("container.sensitive-mounts", "medium"),
    ("/etc/localtime", True): None,  # public and read-only
    ("/usr/share", True): None,  # /usr counts only when mounted whole
    ("/srv", False): None,
    ("/var/run/docker.sock", True): ("container.docker-socket", "critical"),
}


def _key(source: str, ro: bool) -> str:
    return f"{source}:{'ro' if ro else 'rw'}"


@pytest.fixture
def container_verdicts(docker_api: Any, busybox_image: str, tmp_path: Path) -> dict[str, tuple[str, str] | None]:
    binds = [f"{src}:/m/{i}:{'ro' if ro else 'rw'}" for i, (src, ro) in enumerate(MOUNTS)]
    cid = docker_api.create_container(
        busybox_image, command=["true"],
        labels={TEST_LABEL: "1", SESSION_LABEL: SESSION},
        host_config=docker_api.create_host_config(binds=binds),
    )["Id"]
    try:
        subject = make_subject(docker_api.inspect_container(cid))
        from lockdock.analyzers import container_security

        ctx = ScanContext(cwd=tmp_path, use_engine=False)
        findings = [*container_security.sensitive_mounts(subject, ctx),
                    *container_security.docker_socket(subject, ctx)]
    finally:
        docker_api.remove_container(cid, force=True)
    out: dict[str, tuple[str, str] | None] = {_key(s, ro): None for s, ro in MOUNTS}
    for f in findings:
        m = re.search(r"\bat /m/(\d+)", f.message)
        assert m is not None, f.message
        src, ro = list(MOUNTS)[int(m.group(1))]
        out[_key(src, ro)] = (f.check, severity_of(f).label)
    return out


def test_compose_and_container_agree(tmp_path, run_lockdock, container_verdicts) -> None:
    lines = [f"      - {src}:/m/{i}{':ro' if ro else ''}" for i, (src, ro) in enumerate(MOUNTS)]
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    image: example/app:1.0\n    volumes:\n"
                                           + "\n".join(lines) + "\n")
    report = scan_json(run_lockdock, "--no-engine", "--select", "container", ".", cwd=tmp_path)
    compose: dict[str, tuple[str, str] | None] = {_key(s, ro): None for s, ro in MOUNTS}
    for f in report["findings"]:
        if f["check"] in ("container.sensitive-mounts", "container.docker-socket"):
            i = f["location"]["line"] - 5
            src, ro = list(MOUNTS)[i]
            compose[_key(src, ro)] = (f["check"], f["severity"])
    expected = {_key(s, ro): v for (s, ro), v in MOUNTS.items()}
    assert compose == expected
    assert container_verdicts == expected


# Host addresses of published ports: the same verdict for network.bind-localhost both ways.
BINDS = {"::": True, "0:0:0:0:0:0:0:0": True, "0.0.0.0": True, "::1": False, "127.0.0.1": False}


def test_compose_and_container_agree_on_unspecified_addresses(tmp_path, run_lockdock, docker_api,
                                                              busybox_image) -> None:
    from lockdock.analyzers import container_network

    ports = {f"{8300 + i}/tcp": (ip, 18300 + i) for i, ip in enumerate(BINDS)}
    cid = docker_api.create_container(
        busybox_image, command=["true"], ports=[int(p.split("/")[0]) for p in ports],
        labels={TEST_LABEL: "1", SESSION_LABEL: SESSION},
        host_config=docker_api.create_host_config(port_bindings={k.split("/")[0]: v for k, v in ports.items()}),
    )["Id"]
    try:
        subject = make_subject(docker_api.inspect_container(cid))
        found = list(container_network.bind_localhost(subject, ScanContext(cwd=tmp_path, use_engine=False)))
    finally:
        docker_api.remove_container(cid, force=True)
    container = {ip: any(f"port {8300 + i}/" in f.message for f in found) for i, ip in enumerate(BINDS)}

    spec = "\n".join(f'      - "{ip if "." in ip else "[" + ip + "]"}:{18300 + i}:{8300 + i}"'
                     for i, ip in enumerate(BINDS))
    (tmp_path / "compose.yaml").write_text(f"services:\n  app:\n    image: example/app:1.0\n    ports:\n{spec}\n")
    report = scan_json(run_lockdock, "--no-engine", "--select", "network.bind-localhost", ".", cwd=tmp_path)
    lines = {f["location"]["line"] for f in report["findings"]}
    compose = {ip: (5 + i) in lines for i, ip in enumerate(BINDS)}
    assert container == compose == BINDS
