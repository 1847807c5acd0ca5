"""Catches / does-not-catch for the checklist v2 compose options: mount propagation and
tmpfs flags, cgroup parent, privileged host ports, host-availability capabilities,
secrets in labels / build args / env files, and the implicit default network."""

from __future__ import annotations

import pytest

from tests.compose.test_compose_checks import hits, run_scan, svc

CASES: list[tuple[str, str, list[int]]] = [
    # container.mount-options: propagation, short and long syntax
    ("container.mount-options", svc("volumes:\n  - /srv/data:/data:rshared"), [5]),
    ("container.mount-options", svc("volumes:\n  - ./data:/data:ro,rslave"), [5]),
    ("container.mount-options", svc("volumes:\n  - type: bind\n    source: /srv\n    target: /srv\n"
                                    "    bind:\n      propagation: shared"), [9]),
    ("container.mount-options", svc("volumes:\n  - /srv/data:/data:ro,rprivate"), []),
    ("container.mount-options", svc("volumes:\n  - type: bind\n    source: /srv\n    target: /srv\n"
                                    "    bind:\n      propagation: rprivate"), []),
    ("container.mount-options", svc("volumes:\n  - named:/data"), []),
    # container.mount-options: tmpfs flags
    ("container.mount-options", svc("tmpfs:\n  - /tmp:exec"), [5]),
    ("container.mount-options", svc("tmpfs: /run:rw,suid,size=64m"), [4]),
    ("container.mount-options", svc("tmpfs:\n  - /tmp:rw,noexec,nosuid\n  - /run"), []),
    # container.cgroup-parent
    ("container.cgroup-parent", svc("cgroup_parent: m-executor-abcd"), [4]),
    ("container.cgroup-parent", svc(""), []),
    # network.privileged-ports: short, ranges, ip, long form
    ("network.privileged-ports", svc("ports:\n  - \"80:8080\""), [5]),
    ("network.privileged-ports", svc("ports:\n  - 127.0.0.1:443:8443/tcp"), [5]),
    ("network.privileged-ports", svc("ports:\n  - \"1000-1030:1000-1030\""), [5]),
    ("network.privileged-ports", svc("ports:\n  - target: 80\n    published: \"25\""), [5]),
    ("network.privileged-ports", svc("ports:\n  - \"8080:80\"\n  - \"80\""), []),
    ("network.privileged-ports", svc("ports:\n  - target: 80\n    published: 8080"), []),
    # container.capabilities: host-availability additions
    ("container.capabilities", svc("cap_drop: [ALL]\ncap_add: [SYS_NICE, IPC_LOCK]"), [5, 5]),
    ("container.capabilities", svc("cap_drop: [ALL]\ncap_add:\n  - CAP_WAKE_ALARM"), [6]),
    ("container.capabilities", svc("cap_drop: [ALL]\ncap_add: [NET_BIND_SERVICE, CHOWN]"), []),
]


@pytest.mark.parametrize(("check", "compose", "lines"), CASES)
def test_catches_and_does_not_catch(tmp_path, check, compose, lines):
    found = hits(tmp_path, compose, check)
    assert sorted(f.location.line for f in found) == lines, [f.message for f in found]


def test_privileged_port_message_mentions_reverse_proxy(tmp_path):
    (f,) = hits(tmp_path, svc("ports: [\"443:443\"]"), "network.privileged-ports")
    assert "443" in f.message and "reverse proxy" in f.message and "suppress" in f.message


SECRET = "hunter2-long-literal-password"


def test_secrets_in_labels_and_build_args(tmp_path):
    compose = (
        "services:\n  web:\n    build:\n      context: .\n      args:\n"
        f"        DB_PASSWORD: {SECRET}\n        VERSION: \"1.2\"\n"
        f"    labels:\n      - com.example.api-token={SECRET}\n      - com.example.team=web\n"
    )
    found = hits(tmp_path, compose, "secrets.no-secrets-in-env", Dockerfile="FROM scratch\n")
    found.sort(key=lambda f: f.location.line)
    assert [f.location.line for f in found] == [6, 9]
    assert "build argument DB_PASSWORD" in found[0].message and "label com.example.api-token" in found[1].message
    assert all(SECRET not in f.message and SECRET not in (f.evidence or "") for f in found)


def test_secrets_in_env_file_point_at_the_env_file_line(tmp_path):
    compose = svc("env_file:\n  - app.env\n  - path: other.env\n    required: false")
    env = f"# settings\nLOG_LEVEL=info\nexport API_KEY={SECRET}\nDB_PASSWORD=${{FROM_HOST}}\n"
    found = hits(tmp_path, compose, "secrets.no-secrets-in-env", **{"app.env": env})
    assert [(f.location.path, f.location.line) for f in found] == [("app.env", 3)]
    assert "API_KEY" in found[0].message and SECRET not in found[0].message


def test_env_file_shared_by_two_services_is_reported_once(tmp_path):
    compose = ("services:\n  a:\n    image: x:1\n    env_file: s.env\n"
               "  b:\n    image: x:1\n    env_file: s.env\n")
    found = hits(tmp_path, compose, "secrets.no-secrets-in-env", **{"s.env": f"TOKEN={SECRET}\n"})
    assert len(found) == 1


DEFAULT_ONLY = """\
services:
  web:
    image: nginx:1.25.3
    ports: ["8080:80"]
  worker:
    image: acme/worker:1.0
  db:
    image: postgres:16
"""


def test_backend_on_the_implicit_default_network(tmp_path):
    found = hits(tmp_path, DEFAULT_ONLY, "network.isolation")
    kinds = sorted((f.target.name, f.payload.kind) for f in found)
    assert kinds == [("db", "backend"), ("worker", "default-network")]  # db: the data-store rule


@pytest.mark.parametrize("compose", [
    DEFAULT_ONLY + "networks:\n  back:\n    internal: true\n",  # networks declared: other rules judge
    "services:\n  worker:\n    image: acme/worker:1.0\n",  # a lone service
])
def test_default_network_rule_does_not_catch(tmp_path, compose):
    found = hits(tmp_path, compose, "network.isolation")
    assert [f for f in found if f.payload.kind == "default-network"] == []


def test_no_errors_from_options(tmp_path):
    _found, ctx = run_scan(tmp_path, {"compose.yaml": svc("tmpfs: /tmp:exec\ncgroup_parent: x")})
    assert [e for e in ctx.errors if e.kind == "error"] == []
