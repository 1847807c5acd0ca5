"""Compose analysis end to end through `python -m lockdock scan`, and against the engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import scan_json

COMPOSE_CHECKS = {
    "image.pinned-tag", "image.pinned-digest", "image.minimal-base", "image.trusted-source",
    "container.non-root", "container.not-privileged", "container.docker-socket",
    "container.host-namespaces", "container.sensitive-mounts", "container.host-devices",
    "container.read-only-rootfs", "container.resource-limits", "container.no-new-privileges",
    "container.security-profiles", "container.capabilities", "secrets.no-secrets-in-env",
    "network.exposed-ports", "network.bind-localhost", "network.isolation", "runtime.healthcheck",
    "runtime.restart-policy", "runtime.log-rotation", "registry.https",
}

BAD = """\
x-base: &base
  privileged: yes
  security_opt: [seccomp:unconfined]
services:
  web:
    <<: *base
    image: someuser/python:latest
    user: root
    network_mode: bridge
    ports:
      - "2222:22"
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
      - /etc:/host/etc
    devices: [/dev/sda]
    cap_add: [SYS_ADMIN]
    environment:
      DB_PASSWORD: hunter2hunter2
    healthcheck:
      disable: true
    restart: always
    logging:
      driver: none
  db:
    image: python:3.12
    pid: host
  builder:
    build:
      context: http://insecure.example/ctx.tar
"""

GOOD = f"""\
services:
  api:
    image: nginx:1.25.3@sha256:{"c" * 64}
    user: "101:101"
    read_only: true
    tmpfs: [/tmp]
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    ports: ["127.0.0.1:8080:8080"]
    environment:
      DB_PASSWORD_FILE: /run/secrets/db
      TOKEN: ${{TOKEN}}
    deploy:
      resources:
        limits: {{memory: 256M, cpus: "0.5", pids: 100}}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://localhost:8080/"]
    restart: unless-stopped
    logging:
      driver: json-file
      options: {{max-size: 10m, max-file: "3"}}
"""


def compose_findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["target"]["kind"].startswith("compose")]


def test_every_compose_check_fires_through_the_cli(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "compose.yaml").write_text(BAD)
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    found = compose_findings(report)
    assert {f["check"] for f in found} == COMPOSE_CHECKS
    priv = [f for f in found if f["check"] == "container.not-privileged"]
    assert priv[0]["location"]["line"] == 2 and priv[0]["location"]["path"] == "compose.yaml"
    assert "hunter2" not in str(report)
    assert report["errors"] == [] or all("compose.yaml" not in e["path"] for e in report["errors"])


def test_hardened_service_has_no_compose_findings(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "compose.yaml").write_text(GOOD)
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    assert compose_findings(report) == []
    assert not [e for e in report["errors"] if (e["path"] or "").endswith("compose.yaml")]


def test_bad_files_are_errors_and_the_good_one_is_scanned(tmp_path: Path, run_lockdock: Any) -> None:
    files = {
        "tabs/compose.yaml": "services:\n\tweb:\n",
        "dup/compose.yaml": "services:\n  a:\n    image: x:1\n    image: y:1\n",
        "list/compose.yaml": "- a\n",
        "empty/compose.yaml": "# nothing\n",
        "types/compose.yaml": "services:\n  a:\n    image: x:1\n    ports: 80\n",
        "bomb/compose.yaml": "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"a{i}: &a{i} [{', '.join(['*a' if i == 1 else f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)),
        "deep/compose.yaml": "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "python/compose.yaml": "services:\n  a:\n    image: !!python/object/apply:os.system ['true']\n",
        "good/compose.yaml": "services:\n  web:\n    image: nginx:1.25.3\n    privileged: true\n",
    }
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True)
        p.write_text(text)
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    by_path = {e["path"]: e["message"] for e in report["errors"]}
    for bad in ("tabs", "dup", "list", "empty", "types", "bomb", "deep", "python"):
        assert f"{bad}/compose.yaml" in by_path, (bad, by_path)
    assert by_path["dup/compose.yaml"].startswith("line 4:")
    assert "line 4" in by_path["types/compose.yaml"]
    assert any(f["check"] == "container.not-privileged" and f["location"]["path"] == "good/compose.yaml"
               for f in report["findings"])


@pytest.mark.engine
def test_local_image_user_makes_service_pass_non_root(tmp_path: Path, run_lockdock: Any, build_image: Any) -> None:
    nonroot = build_image("FROM scratch\nCOPY busybox /bin/busybox\nUSER 1000\n")
    root = build_image("FROM scratch\nCOPY busybox /bin/busybox\n")
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  app:\n    image: {nonroot}\n  rootapp:\n    image: {root}\n")
    report = scan_json(run_lockdock, ".", cwd=tmp_path)
    nr = [f for f in report["findings"] if f["check"] == "container.non-root"
          and f["target"]["kind"] == "compose-service"]
    assert [f["target"]["name"] for f in nr] == ["rootapp"]
    assert "image runs as root" in nr[0]["message"]


MESSY = """\
x-common: &common
  privileged: true
services:
  web:  # front
    <<: *common
    image: nginx:1.25.3
    ports:
      - "8080:80"
    environment:
      DB_PASSWORD: hunter2hunter2
  db:
    image: postgres:16
    security_opt: [seccomp:unconfined]
    pid: host
    volumes:
      - /etc:/host/etc
"""


def test_fix_all_through_the_cli_converges_and_validates(tmp_path: Path, run_lockdock: Any) -> None:
    from tests.compose.fixkit import SCHEMA, schema_errors

    compose = tmp_path / "compose.yaml"
    compose.write_text(MESSY)
    outputs = []
    for _ in range(6):
        proc = run_lockdock("fix", "--no-engine", "--unsafe", "--apply", ".", cwd=tmp_path)
        assert proc.returncode in (0, 1), proc.stderr
        outputs.append(proc.stdout + proc.stderr)
        if "0 applied" in proc.stdout + proc.stderr:
            break
    assert "0 applied" in outputs[-1], outputs
    assert all("hunter2" not in out for out in outputs)
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    left = {f["check"] for f in compose_findings(report)}
    # Only checks without a fix that applies here remain (read_only needs the image's facts,
    # which --no-engine does not have); /etc, now read-only, is still reported (checklist
    # v2), one severity lower and with no fix left to offer.
    assert left <= {"image.pinned-digest", "container.non-root", "runtime.healthcheck",
                    "container.read-only-rootfs", "container.sensitive-mounts"}, left
    mounts = [f for f in compose_findings(report) if f["check"] == "container.sensitive-mounts"]
    assert [(f["severity"], "read-only" in f["message"]) for f in mounts] == [("medium", True)]
    assert report["errors"] == []
    text = compose.read_text()
    assert "hunter2" not in text and "# front" in text
    if SCHEMA.is_file():
        assert schema_errors(text) == []
