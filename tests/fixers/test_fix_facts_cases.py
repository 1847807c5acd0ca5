"""The cases of ../shared/cases/fixes (fixes that keep the app working) and siblings with
our own inputs, through the real CLI without an engine: a fix is offered only when it is
decided from facts, it applies in one run, and a second run changes nothing."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.conftest import scan_json


def _case(shared_dir: Path, name: str, dest: Path) -> Path:
    src = next((shared_dir / "cases" / "fixes").glob(f"{name}*"))
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("expect.txt"))
    for p in [dest, *dest.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)
    return dest


def _fix(run: Any, cwd: Path, *args: str) -> str:
    proc = run("fix", "--no-engine", *args, ".", cwd=cwd)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout + proc.stderr


def _yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text())


def _findings(run: Any, cwd: Path, check: str) -> list[dict[str, Any]]:
    return [f for f in scan_json(run, "--no-engine", ".", cwd=cwd)["findings"] if f["check"] == check]


def test_case01_indentless_sequence_gets_keys_after_its_items(shared_dir: Path, tmp_path: Path, run_lockdock: Any) -> None:
    d = _case(shared_dir, "01", tmp_path / "p")
    preview = _fix(run_lockdock, d, "--unsafe", "--check", "container.capabilities")
    assert "+    cap_drop:" in preview
    out = _fix(run_lockdock, d, "--unsafe", "--apply", "--check", "container.capabilities")
    assert "2 applied" in out and "rolled back" not in out, out
    data = _yaml(d / "compose.yaml")
    assert data["services"]["nginx"]["depends_on"] == ["web"]
    # both run nginx (root start, serves port 80): they keep what its master needs
    assert data["services"]["nginx"]["cap_add"] == ["CHOWN", "SETUID", "SETGID", "FOWNER", "NET_BIND_SERVICE"]
    assert data["services"]["web"]["cap_add"] == data["services"]["nginx"]["cap_add"]
    assert "0 applied" in _fix(run_lockdock, d, "--unsafe", "--apply", "--check", "container.capabilities")


def test_indentless_sequence_at_end_of_file_sibling(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    image: redis:7.2\n    user: '999'\n"
                                           "    command:\n    - redis-server\n    - --save\n    - ''")
    out = _fix(run_lockdock, tmp_path, "--unsafe", "--apply", "--check", "container.capabilities")
    assert "1 applied" in out, out
    svc = _yaml(tmp_path / "compose.yaml")["services"]["app"]
    assert svc["command"] == ["redis-server", "--save", ""]
    assert svc["cap_drop"] == ["ALL"] and "cap_add" not in svc  # a known non-root user needs nothing back


def test_case03_exposed_port_of_a_networked_store_is_not_offered(shared_dir: Path, tmp_path: Path, run_lockdock: Any) -> None:
    d = _case(shared_dir, "03", tmp_path / "p")
    before = (d / "compose.yaml").read_text()
    out = _fix(run_lockdock, d, "--unsafe", "--apply", "--check", "network.exposed-ports")
    assert "rolled back" not in out and (d / "compose.yaml").read_text() == before
    [f] = _findings(run_lockdock, d, "network.exposed-ports")
    assert "no automatic fix" in f["message"] and "internal network" in f["message"]


def test_case04_both_pip_installs_get_no_cache_dir(shared_dir: Path, tmp_path: Path, run_lockdock: Any) -> None:
    d = _case(shared_dir, "04", tmp_path / "p")
    out = _fix(run_lockdock, d, "--apply", "--check", "image.package-cache")
    assert "1 applied" in out and "rolled back" not in out, out
    text = (d / "Dockerfile").read_text()
    assert text.count("pip install --no-cache-dir") == 2
    assert _findings(run_lockdock, d, "image.package-cache") == []


def test_case05_one_secret_for_two_services_in_one_run(shared_dir: Path, tmp_path: Path, run_lockdock: Any) -> None:
    d = _case(shared_dir, "05", tmp_path / "p")
    out = _fix(run_lockdock, d, "--unsafe", "--apply", "--check", "secrets.no-secrets-in-env")
    assert "1 applied" in out and "nextcloud" not in out, out
    data = _yaml(d / "compose.yaml")
    assert list(data["secrets"]) == ["postgres_password"]
    for name in ("app", "db"):  # both official images read POSTGRES_PASSWORD_FILE
        assert data["services"][name]["environment"] == ["POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password"]
        assert data["services"][name]["secrets"] == ["postgres_password"]
    secret = d / "secrets" / "postgres_password.txt"
    assert secret.read_text() == "nextcloud"
    # both entrypoints drop to their own user before reading: 0644 in a 0700 directory
    assert stat.S_IMODE(secret.stat().st_mode) == 0o644
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    assert _findings(run_lockdock, d, "secrets.file-permissions") == []
    assert "0 applied" in _fix(run_lockdock, d, "--unsafe", "--apply", "--check", "secrets.no-secrets-in-env")


def test_secret_reused_when_its_file_already_holds_the_value(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "secrets").mkdir(mode=0o700)
    (tmp_path / "secrets" / "pw.txt").write_text("s3cret-value-123\n")
    (tmp_path / "secrets" / "pw.txt").chmod(0o600)
    (tmp_path / "compose.yaml").write_text(
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: s3cret-value-123\n"
        "secrets:\n  pw:\n    file: ./secrets/pw.txt\n")
    out = _fix(run_lockdock, tmp_path, "--unsafe", "--apply", "--check", "secrets.no-secrets-in-env")
    assert "1 applied" in out and "s3cret" not in out, out
    data = _yaml(tmp_path / "compose.yaml")
    assert list(data["secrets"]) == ["pw"] and data["services"]["db"]["secrets"] == ["pw"]
    assert data["services"]["db"]["environment"] == {"POSTGRES_PASSWORD_FILE": "/run/secrets/pw"}
    assert sorted(p.name for p in (tmp_path / "secrets").iterdir()) == ["pw.txt"]


def test_secret_for_an_app_not_known_to_read_file_vars(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  api:\n    image: example/api:1\n    user: '1000'\n    environment:\n"
        "      API_TOKEN: abcd1234efgh5678ijkl\n      LOG: info\n")
    preview = _fix(run_lockdock, tmp_path, "--unsafe", "--check", "secrets.no-secrets-in-env")
    assert "must read /run/secrets/api_token" in preview and "API_TOKEN_FILE" not in preview
    assert "abcd1234" not in preview


def test_case07_no_user_on_a_base_image(shared_dir: Path, tmp_path: Path, run_lockdock: Any) -> None:
    d = _case(shared_dir, "07", tmp_path / "p")
    before = (d / "base" / "Dockerfile").read_text()
    _fix(run_lockdock, d, "--unsafe", "--apply", "--check", "container.non-root")
    assert (d / "base" / "Dockerfile").read_text() == before
    msgs = [f["message"] for f in _findings(run_lockdock, d, "container.non-root") if "base" in f["location"]["path"]]
    assert msgs and "no automatic fix" in msgs[0] and "base image" in msgs[0]


def test_user_not_added_over_a_dropping_entrypoint(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM debian:12-slim\nCOPY entry.sh /entry.sh\n"
        "ENTRYPOINT [\"/bin/sh\", \"-c\", \"chown app /data && exec setpriv --reuid=app --regid=app --init-groups \\\"$@\\\"\", \"--\"]\n"
        "CMD [\"server\"]\n")
    before = (tmp_path / "Dockerfile").read_text()
    _fix(run_lockdock, tmp_path, "--unsafe", "--apply", "--check", "container.non-root")
    assert (tmp_path / "Dockerfile").read_text() == before
    [f] = _findings(run_lockdock, tmp_path, "container.non-root")
    assert "drops privileges itself" in f["message"]


def test_case08_root_start_keeps_what_it_needs_to_drop(shared_dir: Path, tmp_path: Path, run_lockdock: Any) -> None:
    d = _case(shared_dir, "08", tmp_path / "p")
    out = _fix(run_lockdock, d, "--unsafe", "--apply", "--check", "container.capabilities")
    assert "1 applied" in out and "switches user" in out, out
    svc = _yaml(d / "compose.yaml")["services"]["gosu"]
    assert svc["cap_drop"] == ["ALL"]
    assert svc["cap_add"] == ["CHOWN", "SETUID", "SETGID", "FOWNER"]
    assert _findings(run_lockdock, d, "container.capabilities") == []


def test_case09_secret_readable_by_the_non_root_reader(shared_dir: Path, tmp_path: Path, run_lockdock: Any) -> None:
    d = _case(shared_dir, "09", tmp_path / "p")
    out = _fix(run_lockdock, d, "--unsafe", "--apply", "--check", "secrets.no-secrets-in-env")
    assert "1 applied" in out and "hunter2" not in out, out
    svc = _yaml(d / "compose.yaml")["services"]["reader"]
    # its command reads $DB_PASSWORD_FILE, so the variable is renamed
    assert svc["environment"] == {"DB_PASSWORD_FILE": "/run/secrets/db_password"}
    secret = d / "secrets" / "db_password.txt"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o644  # uid 65534 reads it through the bind mount
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700


def test_secret_for_a_root_only_reader_stays_owner_only(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  job:\n    image: example/job:1\n    user: root\n    command: sh -c 'cat $$TOKEN_FILE'\n"
        "    environment:\n      TOKEN: abcd1234efgh5678ijkl\n")
    out = _fix(run_lockdock, tmp_path, "--unsafe", "--apply", "--check", "secrets.no-secrets-in-env")
    assert "1 applied" in out, out
    assert stat.S_IMODE((tmp_path / "secrets" / "token.txt").stat().st_mode) == 0o600


def test_case11_read_only_needs_the_written_paths(shared_dir: Path, tmp_path: Path, run_lockdock: Any) -> None:
    d = _case(shared_dir, "11", tmp_path / "p")
    before = (d / "compose.yaml").read_text()
    out = _fix(run_lockdock, d, "--unsafe", "--apply", "--check", "container.read-only-rootfs")
    assert (d / "compose.yaml").read_text() == before, out
    [f] = _findings(run_lockdock, d, "container.read-only-rootfs")
    assert "no automatic fix" in f["message"] and "not known" in f["message"]


def test_read_only_for_a_known_official_image_names_its_paths(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx:1.25.3\n")
    out = _fix(run_lockdock, tmp_path, "--unsafe", "--apply", "--check", "container.read-only-rootfs")
    assert "official nginx image's known paths" in out, out
    svc = _yaml(tmp_path / "compose.yaml")["services"]["web"]
    assert svc["read_only"] is True and set(svc["tmpfs"]) == {"/tmp", "/run", "/var/cache/nginx"}


def test_case15_anchor_keys_written_once(shared_dir: Path, tmp_path: Path, run_lockdock: Any) -> None:
    d = _case(shared_dir, "15", tmp_path / "p")
    out = _fix(run_lockdock, d, "--unsafe", "--apply")
    assert "rolled back" not in out, out
    text = (d / "compose.yaml").read_text()
    for key in ("security_opt:", "pids_limit:", "logging:", "deploy:", "read_only:", "cap_drop:", "cap_add:"):
        assert text.count(key) == 1, (key, text)
    data = _yaml(d / "compose.yaml")
    # every service runs nginx (serves port 80): one value for all, in the anchor
    assert data["x-common"]["cap_add"] == ["CHOWN", "SETUID", "SETGID", "FOWNER", "NET_BIND_SERVICE"]
    assert data["services"]["a"]["ports"] == ["127.0.0.1:8080:80"]
    assert "0 applied" in _fix(run_lockdock, d, "--unsafe", "--apply")


def test_network_mode_host_removed_only_with_served_ports(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: nginx:1.25.3\n    network_mode: host\n"
        "  agent:\n    image: example/agent:1\n    network_mode: host\n")
    out = _fix(run_lockdock, tmp_path, "--unsafe", "--apply", "--check", "container.host-namespaces")
    assert "1 applied" in out, out
    data = _yaml(tmp_path / "compose.yaml")
    assert data["services"]["web"]["ports"] == ["127.0.0.1:80:80"] and "network_mode" not in data["services"]["web"]
    assert data["services"]["agent"]["network_mode"] == "host"
    [f] = [f for f in _findings(run_lockdock, tmp_path, "container.host-namespaces") if f["target"]["name"] == "agent"]
    assert "ports it serves" in f["message"]


@pytest.mark.parametrize("later, offered", [
    ("RUN npm run build\nCMD [\"node\", \"dist/main.js\"]\n", False),
    ("CMD [\"nodemon\", \"index.js\"]\n", False),
    ("CMD [\"node\", \"index.js\"]\n", True),
])
def test_production_deps_only_when_the_stage_runs_no_dev_tool(tmp_path: Path, run_lockdock: Any, later: str, offered: bool) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM node:20-slim\nWORKDIR /app\nCOPY package*.json ./\nRUN npm install\nCOPY . .\nUSER node\n" + later)
    out = _fix(run_lockdock, tmp_path, "--unsafe", "--check", "build.production-deps")
    assert ("--omit=dev" in out) is offered, out


def test_anchor_sharers_needing_other_values_override_it(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "compose.yaml").write_text(
        "x-common: &common\n  image: example/app:1\n  restart: always\n\nservices:\n"
        "  a:\n    <<: *common\n    user: '1000'\n  b:\n    <<: *common\n  c: *common\n")
    out = _fix(run_lockdock, tmp_path, "--unsafe", "--apply", "--check", "container.capabilities")
    assert "rolled back" not in out, out
    data = _yaml(tmp_path / "compose.yaml")
    assert data["x-common"]["cap_add"] == ["CHOWN", "SETUID", "SETGID", "FOWNER"]  # c is the anchor itself
    text = (tmp_path / "compose.yaml").read_text()
    # a (a known non-root user) needs only cap_drop ALL: it writes its own, b and c share the anchor
    assert "  a:\n    <<: *common\n    user: '1000'\n    cap_drop:\n      - ALL\n  b:\n    <<: *common\n  c:" in text
    assert text.count("cap_drop:") == 2 and text.count("cap_add:") == 1
    assert "0 applied" in _fix(run_lockdock, tmp_path, "--unsafe", "--apply", "--check", "container.capabilities")


@pytest.mark.parametrize("dockerfile, expect", [
    ("FROM python:3.12\nRUN pip install --no-cache-dir flask\nUSER nobody\nCMD [\"python\", \"app.py\"]\n",
     "python:3.12-slim instead of python:3.12 (a known variant"),
    ("FROM python:3.12\nRUN gcc -o /x x.c\nUSER nobody\nCMD [\"/x\"]\n", None),
    ("FROM python:3.12\nRUN apt-get update && apt-get install -y --no-install-recommends gcc && gcc -o /x x.c\n"
     "USER nobody\nCMD [\"/x\"]\n", "python:3.12-slim"),
    ("FROM golang:1.22\nRUN apt-get update && apt-get install -y --no-install-recommends libpcap-dev\n"
     "USER nobody\nCMD [\"go\", \"run\", \".\"]\n", None),
])
def test_slim_base_only_when_the_stage_builds_there(tmp_path: Path, run_lockdock: Any, dockerfile: str,
                                                    expect: str | None) -> None:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    out = _fix(run_lockdock, tmp_path, "--unsafe", "--check", "image.minimal-base")
    if expect is None:
        assert "Use " not in out, out
        [f] = _findings(run_lockdock, tmp_path, "image.minimal-base")
        assert "no automatic fix" in f["message"]
    else:
        assert expect in out, out


def test_secret_file_permissions_protect_the_directory_for_non_root_readers(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "secrets").mkdir()
    for name in ("db.txt", "job.txt"):
        (tmp_path / "secrets" / name).write_text("s3cret-value-123\n")
        (tmp_path / "secrets" / name).chmod(0o644)
    (tmp_path / "compose.yaml").write_text(
        "services:\n  db:\n    image: postgres:16\n    secrets: [db]\n"
        "  job:\n    image: example/job:1\n    user: root\n    secrets: [job]\n"
        "secrets:\n  db:\n    file: ./secrets/db.txt\n  job:\n    file: ./secrets/job.txt\n")
    out = _fix(run_lockdock, tmp_path, "--apply", "--check", "secrets.file-permissions")
    assert "1 applied" in out, out
    # postgres reads its secret after dropping to its own user: left readable, directory advice
    assert stat.S_IMODE((tmp_path / "secrets" / "db.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "secrets" / "job.txt").stat().st_mode) == 0o600
    [f] = _findings(run_lockdock, tmp_path, "secrets.file-permissions")
    assert "chmod 700" in f["message"] and "db" in f["message"]
    (tmp_path / "secrets").chmod(0o700)  # what the message asks: the finding goes
    assert _findings(run_lockdock, tmp_path, "secrets.file-permissions") == []
