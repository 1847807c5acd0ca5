"""Catches / does-not-catch for every compose check, including overrides, anchors, merge
keys, interpolation, long syntax and YAML 1.1 booleans."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockdock.context import ScanContext
from lockdock.model import Finding
from lockdock.scan import scan


def run_scan(tmp_path: Path, files: dict[str, str]) -> tuple[list[Finding], ScanContext]:
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    result = scan([tmp_path], ctx)
    return [f for f in result.findings if f.target.kind.value.startswith("compose")], ctx


def hits(tmp_path: Path, compose: str, check: str, **extra: str) -> list[Finding]:
    found, _ = run_scan(tmp_path, {"compose.yaml": compose, **extra})
    return [f for f in found if f.check == check]


def svc(body: str, image: str = "nginx:1.25.3") -> str:
    """A one-service compose file (`web`) with `body` lines indented under the service."""
    lines = "".join(f"    {line}\n" for line in body.strip("\n").splitlines()) if body.strip() else ""
    return f"services:\n  web:\n    image: {image}\n{lines}"


# (check, compose text, expected lines of findings); [] = does not catch
CASES: list[tuple[str, str, list[int]]] = [
    # image.pinned-tag
    ("image.pinned-tag", svc("", "nginx"), [3]),
    ("image.pinned-tag", svc("", "nginx:latest"), [3]),
    ("image.pinned-tag", svc("", "ghcr.io/acme/app:stable"), [3]),
    ("image.pinned-tag", svc("", "nginx:1.25.3"), []),
    ("image.pinned-tag", svc("", "nginx@sha256:" + "a" * 64), []),
    ("image.pinned-tag", "services:\n  web:\n    build: .\n    image: myapp:latest\n", []),
    ("image.pinned-tag", svc("", "localhost:5000/app"), [3]),
    # image.pinned-digest
    ("image.pinned-digest", svc("", "nginx:1.25.3"), [3]),
    ("image.pinned-digest", svc("", "nginx:1.25.3@sha256:" + "b" * 64), []),
    # image.minimal-base
    ("image.minimal-base", svc("", "python:3.12"), [3]),
    ("image.minimal-base", svc("", "ubuntu:22.04"), [3]),
    ("image.minimal-base", svc("", "python:3.12-slim"), []),
    ("image.minimal-base", svc("", "node:20-alpine"), []),
    ("image.minimal-base", svc("", "nginx:1.25.3"), []),
    # image.trusted-source
    ("image.trusted-source", svc("", "someuser/tool:1.0"), [3]),
    ("image.trusted-source", svc("", "quay.io/someone/tool:1.0"), [3]),
    ("image.trusted-source", svc("", "postgres:16"), []),
    ("image.trusted-source", svc("", "docker.io/library/redis:7"), []),
    ("image.trusted-source", svc("", "bitnami/redis:7.2"), []),
    # registry.https
    ("registry.https", "services:\n  web:\n    build:\n      context: http://example.com/ctx.tar\n", [4]),
    ("registry.https", "services:\n  web:\n    build:\n      context: .\n      cache_from:\n        - type=registry,ref=r:5000/x,registry.insecure=true\n", [6]),
    ("registry.https", svc(""), []),
    # container.non-root
    ("container.non-root", svc(""), [2]),
    ("container.non-root", svc("user: root"), [4]),
    ("container.non-root", svc("user: '0:0'"), [4]),
    ("container.non-root", svc("user: '1000:1000'"), []),
    ("container.non-root", svc("user: app"), []),
    ("container.non-root", "services:\n  web:\n    build: .\n", []),
    # container.not-privileged
    ("container.not-privileged", svc("privileged: true"), [4]),
    ("container.not-privileged", svc("privileged: yes"), [4]),
    ("container.not-privileged", svc("privileged: 'on'"), [4]),
    ("container.not-privileged", svc("privileged: no"), []),
    ("container.not-privileged", svc("privileged: false"), []),
    # container.docker-socket
    ("container.docker-socket", svc("volumes:\n  - /var/run/docker.sock:/var/run/docker.sock:ro"), [5]),
    ("container.docker-socket", svc("volumes:\n  - type: bind\n    source: /run/containerd/containerd.sock\n    target: /c.sock"), [5]),
    ("container.docker-socket", svc("volumes:\n  - /var/run:/host-run"), [5]),
    ("container.docker-socket", svc("volumes:\n  - ./data:/data\n  - dbdata:/var/lib/x"), []),
    # container.host-namespaces
    ("container.host-namespaces", svc("network_mode: host\npid: host\nipc: host\nuts: host\nuserns_mode: host"), [4, 5, 6, 7, 8]),
    ("container.host-namespaces", svc("network_mode: bridge\npid: 'service:db'"), []),
    # container.sensitive-mounts
    ("container.sensitive-mounts", svc("volumes:\n  - /etc:/host/etc\n  - /:/rootfs:rw\n  - ~/.ssh:/k"), [5, 6, 7]),
    ("container.sensitive-mounts", svc("volumes:\n  - type: bind\n    source: /root\n    target: /r"), [5]),
    # read-only sensitive mounts are findings too (checklist v2), one severity lower
    ("container.sensitive-mounts", svc("volumes:\n  - /etc:/host/etc:ro\n  - type: bind\n    source: /proc\n    target: /p\n    read_only: yes"), [5, 6]),
    ("container.sensitive-mounts", svc("volumes:\n  - /dev/dri:/dev/dri\n  - /lib/modules:/lib/modules:ro\n  - /home/bob/src:/src\n  - ~/notes:/n:ro"), [5, 6, 7, 8]),
    ("container.sensitive-mounts", svc("volumes:\n  - /etc/localtime:/etc/localtime:ro\n  - /usr/share/fonts:/f:ro\n  - /var/lib/app:/d"), []),
    ("container.sensitive-mounts", svc("volumes:\n  - ./etc:/etc\n  - /srv/app:/app"), []),
    # container.host-devices
    ("container.host-devices", svc("devices:\n  - /dev/sda:/dev/xvda:rwm"), [5]),
    ("container.host-devices", svc("device_cgroup_rules:\n  - 'c 1:3 mr'"), [5]),
    ("container.host-devices", svc("devices: []"), []),
    # container.read-only-rootfs
    ("container.read-only-rootfs", svc(""), [2]),
    ("container.read-only-rootfs", svc("read_only: false"), [4]),
    ("container.read-only-rootfs", svc("read_only: yes"), []),
    ("container.read-only-rootfs", svc("read_only: True"), []),
    # container.resource-limits
    ("container.resource-limits", svc(""), [2]),
    ("container.resource-limits", svc("mem_limit: 512m\ncpus: 0.5"), [2]),
    ("container.resource-limits", svc("mem_limit: 512m\ncpus: 0.5\npids_limit: 100\nmemswap_limit: -1"), [7]),
    ("container.resource-limits", svc("mem_limit: 512m\ncpus: 0.5\npids_limit: 100\nmemswap_limit: 1g"), [7]),
    ("container.resource-limits", svc("mem_limit: 512m\ncpus: 0.5\npids_limit: 100\nmemswap_limit: 512m"), []),
    ("container.resource-limits", svc("deploy:\n  resources:\n    limits:\n      memory: 256M\n      cpus: '0.5'\n      pids: 64"), []),
    # container.no-new-privileges
    ("container.no-new-privileges", svc(""), [2]),
    ("container.no-new-privileges", svc("security_opt:\n  - no-new-privileges:false"), [5]),
    ("container.no-new-privileges", svc("security_opt:\n  - no-new-privileges:true"), []),
    ("container.no-new-privileges", svc("security_opt: [no-new-privileges]"), []),
    # container.security-profiles
    ("container.security-profiles", svc("security_opt:\n  - seccomp:unconfined\n  - apparmor=unconfined\n  - label:disable"), [5, 6, 7]),
    ("container.security-profiles", svc("security_opt:\n  - seccomp:./profile.json\n  - label:type:svirt_t"), []),
    # container.capabilities
    ("container.capabilities", svc(""), [2]),
    ("container.capabilities", svc("cap_drop: [ALL]\ncap_add: [SYS_ADMIN, CAP_NET_ADMIN, CHOWN]"), [5, 5]),
    ("container.capabilities", svc("cap_drop:\n  - all\ncap_add:\n  - NET_BIND_SERVICE"), []),
    # secrets.no-secrets-in-env
    ("secrets.no-secrets-in-env", svc("environment:\n  DB_PASSWORD: hunter2hunter2"), [5]),
    ("secrets.no-secrets-in-env", svc("environment:\n  - API_TOKEN=abcd1234efgh5678"), [5]),
    ("secrets.no-secrets-in-env", svc("environment:\n  DATABASE_URL: postgres://app:s3cretpw@db:5432/app"), [5]),
    ("secrets.no-secrets-in-env", svc("environment:\n  DB_PASSWORD: ${DB_PASSWORD}\n  DB_PASSWORD_FILE: /run/secrets/db\n  SECRET: /run/secrets/x\n  LOG_LEVEL: debug"), []),
    # network.exposed-ports
    ("network.exposed-ports", svc("ports:\n  - '5432:5432'\n  - target: 6379\n    published: 6379"), [5, 6]),
    ("network.exposed-ports", svc("ports:\n  - '2222:22'"), [5]),
    ("network.exposed-ports", svc("ports:\n  - '127.0.0.1:5432:5432'\n  - '8080:80'"), []),
    # network.bind-localhost
    ("network.bind-localhost", svc("ports:\n  - '8080:80'\n  - '0.0.0.0:8443:443'\n  - 9000\n  - target: 81\n    published: 8081"), [5, 6, 7, 8]),
    ("network.bind-localhost", svc("network_mode: host\nports:\n  - '8080:80'"), [6]),
    ("network.bind-localhost", svc("ports:\n  - '127.0.0.1:8080:80'\n  - '[::1]:8081:81'\n  - target: 82\n    host_ip: 127.0.0.1"), []),
    # network.isolation
    ("network.isolation", svc("network_mode: bridge"), [4]),
    ("network.isolation", "services:\n  db:\n    image: postgres:16\n", [2]),
    ("network.isolation", "services:\n  db:\n    image: postgres:16\n    networks: [back]\nnetworks:\n  back:\n    internal: true\n", []),
    ("network.isolation", "services:\n  db:\n    image: postgres:16\n    ports: ['127.0.0.1:5432:5432']\n", []),
    ("network.isolation", svc(""), []),
    ("network.isolation", "services:\n  db:\n    image: redis:7\n    network_mode: host\n", [4]),
    ("network.isolation", "services:\n  db:\n    image: redis:7\n    network_mode: none\n", []),
    # runtime.healthcheck
    ("runtime.healthcheck", svc(""), [2]),
    ("runtime.healthcheck", svc("healthcheck:\n  disable: true"), [5]),
    ("runtime.healthcheck", svc("healthcheck:\n  test: [NONE]"), [5]),
    ("runtime.healthcheck", svc("healthcheck:\n  test: [CMD, wget, -q, localhost]"), []),
    # runtime.restart-policy
    ("runtime.restart-policy", svc(""), [2]),
    ("runtime.restart-policy", svc("restart: 'no'"), [4]),
    ("runtime.restart-policy", svc("restart: always"), [4]),
    ("runtime.restart-policy", svc("restart: on-failure"), [4]),
    ("runtime.restart-policy", svc("restart: unless-stopped"), []),
    ("runtime.restart-policy", svc("restart: on-failure:3"), []),
    ("runtime.restart-policy", svc("deploy:\n  restart_policy:\n    condition: on-failure\n    max_attempts: 3"), []),
    # runtime.log-rotation
    ("runtime.log-rotation", svc(""), [2]),
    ("runtime.log-rotation", svc("logging:\n  driver: none"), [5]),
    ("runtime.log-rotation", svc("logging:\n  driver: json-file\n  options:\n    max-size: 10m"), [4]),
    ("runtime.log-rotation", svc("logging:\n  options:\n    max-size: 10m\n    max-file: '3'"), []),
    ("runtime.log-rotation", svc("logging:\n  driver: local"), []),
    ("runtime.log-rotation", svc("logging:\n  driver: syslog"), []),
]


@pytest.mark.parametrize(("check", "compose", "lines"), CASES,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_catches_and_does_not_catch(tmp_path: Path, check: str, compose: str, lines: list[int]) -> None:
    found = hits(tmp_path, compose, check)
    assert sorted(f.location.line for f in found) == lines, [f.message for f in found]
    for f in found:
        assert f.location.path == "compose.yaml"
        assert f.scope_lines


def test_healthcheck_from_dockerfile_counts(tmp_path: Path) -> None:
    compose = "services:\n  web:\n    build: ./app\n"
    found = hits(tmp_path, compose, "runtime.healthcheck",
                 **{"app/Dockerfile": "FROM scratch\nHEALTHCHECK CMD [\"/bin/true\"]\n"})
    assert found == []


# ------------------------------------------------------------------ effective configuration


def test_override_value_is_reported_in_the_override_file(tmp_path: Path) -> None:
    found, _ = run_scan(tmp_path, {
        "compose.yaml": svc("read_only: true"),
        "compose.override.yaml": "services:\n  web:\n    privileged: true\n    read_only: false\n",
    })
    priv = [f for f in found if f.check == "container.not-privileged"]
    ro = [f for f in found if f.check == "container.read-only-rootfs"]
    assert [(f.location.path, f.location.line) for f in priv] == [("compose.override.yaml", 3)]
    assert [(f.location.path, f.location.line) for f in ro] == [("compose.override.yaml", 4)]
    assert priv[0].target.path == "compose.yaml"


def test_anchor_value_points_at_the_anchor_and_names_the_service(tmp_path: Path) -> None:
    compose = ("x-common: &common\n  privileged: true\n  read_only: yes\nservices:\n"
               "  web:\n    <<: *common\n    image: nginx:1.25.3\n"
               "  worker:\n    <<: *common\n    image: nginx:1.25.3\n    privileged: no\n")
    found, _ = run_scan(tmp_path, {"compose.yaml": compose})
    priv = [f for f in found if f.check == "container.not-privileged"]
    assert len(priv) == 1 and priv[0].target.name == "web"
    assert priv[0].location.line == 2
    assert "anchor &common" in priv[0].message and "service web" in priv[0].message
    assert not [f for f in found if f.check == "container.read-only-rootfs"]


def test_interpolated_tag_is_judged_on_default_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAG", raising=False)
    found = hits(tmp_path, svc("", "nginx:${TAG:-latest}"), "image.pinned-tag")
    assert len(found) == 1 and "judged on the default 'latest'" in found[0].message


def test_interpolated_tag_uses_dotenv_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAG", raising=False)
    assert hits(tmp_path, svc("", "nginx:${TAG:-latest}"), "image.pinned-tag", **{".env": "TAG=1.25.3\n"}) == []


def test_secret_values_never_appear(tmp_path: Path) -> None:
    found = hits(tmp_path, svc("environment:\n  DB_PASSWORD: hunter2hunter2\n  API_KEY: ${K:-hunter3hunter3}"),
                 "secrets.no-secrets-in-env")
    assert len(found) == 2
    for f in found:
        assert "hunter" not in f.message and "hunter" not in (f.evidence or "")


def test_pragma_above_service_suppresses_its_findings(tmp_path: Path) -> None:
    compose = ("services:\n  # lockdock: ignore=container.not-privileged needed for tests\n"
               "  web:\n    image: nginx:1.25.3\n    privileged: true\n")
    found = hits(tmp_path, compose, "container.not-privileged")
    assert len(found) == 1 and found[0].suppressed is not None


def test_missing_image_and_build_does_not_crash(tmp_path: Path) -> None:
    found, ctx = run_scan(tmp_path, {"compose.yaml": "services:\n  web:\n    user: '1000'\n    privileged: true\n"})
    assert not [e for e in ctx.errors if "internal error" in e.message]
    # an override fragment (tests/compose/test_fragments.py): what it writes is still checked
    assert any(f.check == "container.not-privileged" for f in found)


def test_value_inherited_through_extends_names_it(tmp_path: Path) -> None:
    found, _ = run_scan(tmp_path, {
        "compose.yaml": "services:\n  web:\n    extends:\n      file: base.yml\n      service: base\n",
        "base.yml": "services:\n  base:\n    image: nginx:1.25.3\n    privileged: true\n"})
    priv = [f for f in found if f.check == "container.not-privileged"]
    assert [(f.location.path, f.location.line) for f in priv] == [("base.yml", 4)]
    assert "through extends" in priv[0].message
