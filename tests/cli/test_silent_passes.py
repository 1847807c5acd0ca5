"""Issue 14.3: no silent pass. An asked-for target that cannot be scanned exits 2 with the
message first; an unreachable default-scope engine is said in the summary (an error with
--require-engine); an empty scan says nothing was found, not a level."""

from __future__ import annotations

import json
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.fakeengine import FakeEngine, Reply, silent_socket

from .helpers import FORMATS, make_project, run_merged

PASSING_COMPOSE = "services:\n  web:\n    image: busybox:1.36\n    user: \"1000\"\n"
# The machine's /etc/docker/daemon.json is not the test's: a hardened one stands in for it.
HARDENED_DAEMON = ('{"icc": false, "no-new-privileges": true, "live-restore": true, "userland-proxy": false, '
                   '"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}}')
DOWN = {"DOCKER_HOST": "unix:///nonexistent-lockdock.sock"}


@pytest.fixture
def sockdir() -> Iterator[Path]:
    d = Path(f"/tmp/ld-cli-{os.getpid()}-{time.monotonic_ns()}")
    d.mkdir()
    yield d
    for p in d.iterdir():
        p.unlink()
    d.rmdir()


def _errors(fmt: str, out: str) -> list[str]:
    """The error messages a report in `fmt` carries."""
    if fmt == "json":
        return [e["message"] for e in json.loads(out)["errors"] if e["kind"] == "error"]
    if fmt == "sarif":
        inv = json.loads(out)["runs"][0]["invocations"][0]
        return [n["message"]["text"] for n in inv["toolExecutionNotifications"] if n["level"] == "error"]
    if fmt == "checkstyle":
        return [e.get("message") for e in ET.fromstring(out).iter("error") if e.get("source") == "lockdock.scan-problem"]
    if fmt == "junit":
        return [e.get("message") for e in ET.fromstring(out).iter("error")]
    return [line for line in out.splitlines() if "error" in line]


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "gitlab"])
def test_missing_path_is_exit_2_with_the_message_first(tmp_path, run_lockdock, fmt):
    merged = run_merged("scan", "--format", fmt, "no-such-dir", cwd=tmp_path)
    assert merged.returncode == 2
    assert merged.stdout.startswith("lockdock: error: no-such-dir: no such file or directory"), merged.stdout[:300]
    proc = run_lockdock("scan", "--format", fmt, "no-such-dir", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert any("no-such-dir" in e for e in _errors(fmt, proc.stdout)), proc.stdout
    if fmt == "json":
        report = json.loads(proc.stdout)
        # Nothing asked for was left: the engine was not scanned instead.
        assert report["targets"] == [] and report["summary"]["engine_status"] == "not scanned"
    if fmt == "sarif":
        assert json.loads(proc.stdout)["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_missing_path_beside_a_real_one_scans_the_real_one_and_exits_2(tmp_path, run_lockdock):
    make_project(tmp_path / "app")
    proc = run_lockdock("scan", "--no-engine", "--format", "json", "app", "gone", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("lockdock: error: gone: no such file or directory")
    report = json.loads(proc.stdout)
    assert any(f["check"] == "secrets.no-secrets-in-image" for f in report["findings"])
    assert report["summary"]["problems"] == 1 and report["summary"]["failed"] is True
    text = run_lockdock("scan", "--no-engine", "app", "gone", cwd=tmp_path)
    assert text.returncode == 2
    assert text.stdout.splitlines()[-1].endswith("ERROR (not everything asked for was scanned)")


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_image_with_no_engine_is_a_usage_error(tmp_path, run_lockdock, fmt):
    proc = run_lockdock("scan", "--no-engine", "--image", "x:1", "--format", fmt, cwd=tmp_path)
    assert proc.returncode == 2
    assert "--image needs the Docker engine" in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "compact", "junit"])
def test_image_when_the_engine_is_down_is_an_error(tmp_path, run_lockdock, fmt):
    make_project(tmp_path)
    proc = run_lockdock("scan", "--image", "web:1", "--format", fmt, cwd=tmp_path, env=DOWN)
    assert proc.returncode == 2
    assert proc.stderr.startswith("lockdock: error: image web:1: not scanned: engine not reachable")
    assert any("web:1" in e for e in _errors(fmt, proc.stdout))
    assert "secrets.no-secrets-in-image" not in proc.stdout  # --image alone: not the directory's files


@pytest.mark.engine
@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_image_not_found_is_exit_2_and_scans_nothing_else(docker_api, tmp_path, run_lockdock, fmt):
    make_project(tmp_path)
    merged = run_merged("scan", "--image", "lockdock-no-such:tag", "--format", fmt, cwd=tmp_path)
    assert merged.returncode == 2
    assert merged.stdout.startswith("lockdock: error: image lockdock-no-such:tag: not found locally")
    proc = run_lockdock("scan", "--image", "lockdock-no-such:tag", "--format", fmt, cwd=tmp_path)
    assert any("lockdock-no-such:tag" in e for e in _errors(fmt, proc.stdout))
    if fmt == "json":
        assert json.loads(proc.stdout)["targets"] == []  # not the host, not the other images, not ./


@pytest.mark.engine
def test_image_scans_that_image_only_unless_paths_are_given(busybox_image, tmp_path, run_lockdock):
    make_project(tmp_path)
    proc = run_lockdock("scan", "--image", busybox_image, "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    kinds = {(t["kind"], t["name"]) for t in json.loads(proc.stdout)["targets"]}
    assert kinds == {("image", busybox_image)}
    both = json.loads(run_lockdock("scan", "--image", busybox_image, "--format", "json", ".", cwd=tmp_path).stdout)
    assert {t["kind"] for t in both["targets"]} == {"image", "dockerfile", "repo"}
    missing = run_lockdock("scan", "--image", busybox_image, "--image", "lockdock-no-such:tag", "--format", "json",
                           cwd=tmp_path)
    assert missing.returncode == 2  # the found image is scanned, the missing one is still an error
    assert [t["name"] for t in json.loads(missing.stdout)["targets"]] == [busybox_image]


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_unreachable_engine_is_stated_and_require_engine_makes_it_an_error(tmp_path, run_lockdock, fmt):
    (tmp_path / "compose.yaml").write_text(PASSING_COMPOSE)
    (tmp_path / "daemon.json").write_text(HARDENED_DAEMON)
    # LOCKDOCK_REQUIRE_ENGINE only tells the test suite that engine tests must not skip; the CLI
    # does not read it (only --require-engine and the config do).
    proc = run_lockdock("scan", "--daemon-json", "daemon.json", "--format", fmt, cwd=tmp_path,
                        env={**DOWN, "LOCKDOCK_REQUIRE_ENGINE": "1"})
    assert proc.returncode == 0, proc.stdout[-4000:]  # the files pass...
    if fmt == "text":  # ...and the summary line says the engine was not scanned
        assert "engine: not scanned (unreachable)" in proc.stdout.splitlines()[-1]
    elif fmt == "json":
        assert json.loads(proc.stdout)["summary"]["engine_status"] == "not reachable"
    else:
        notes = json.loads(proc.stdout)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        assert any("the engine was not scanned" in n["message"]["text"] for n in notes)
    strict = run_lockdock("scan", "--require-engine", "--format", fmt, cwd=tmp_path, env=DOWN)
    assert strict.returncode == 2
    assert strict.stderr.startswith("lockdock: error: the engine is required (--require-engine)")
    assert any("--require-engine" in e for e in _errors(fmt, strict.stdout))
    (tmp_path / ".lockdock.toml").write_text("[scan]\nrequire-engine = true\n")
    assert run_lockdock("scan", "--format", fmt, cwd=tmp_path, env=DOWN).returncode == 2
    assert run_lockdock("scan", "--no-engine", "--format", fmt, cwd=tmp_path, env=DOWN).returncode == 0
    # --daemon-json does not ask for the engine: the file is checked, the engine is still required.
    assert run_lockdock("scan", "--daemon-json", "daemon.json", "--format", fmt, cwd=tmp_path,
                        env=DOWN).returncode == 2


def test_empty_image_reference_is_a_usage_error_not_the_whole_engine(tmp_path, run_lockdock):
    proc = run_lockdock("scan", "--image", " ", "--format", "json", cwd=tmp_path, env=DOWN)
    assert proc.returncode == 2 and "--image needs an image reference" in proc.stderr and proc.stdout == ""


def test_require_engine_with_no_engine_is_a_usage_error(tmp_path, run_lockdock):
    proc = run_lockdock("scan", "--require-engine", "--no-engine", cwd=tmp_path)
    assert proc.returncode == 2 and "contradict" in proc.stderr


def test_hung_engine_is_bounded_by_timeout_and_stated(tmp_path, run_lockdock, sockdir):
    (tmp_path / "compose.yaml").write_text(PASSING_COMPOSE)
    (tmp_path / "daemon.json").write_text(HARDENED_DAEMON)
    sock = sockdir / "hang.sock"
    listener = silent_socket(sock)
    try:
        env = {"DOCKER_HOST": f"unix://{sock}"}
        proc = run_lockdock("scan", "--timeout", "2", "--daemon-json", "daemon.json", "--format", "json",
                            cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout)["summary"]
        assert summary["engine_status"] == "not reachable"
        strict = run_lockdock("scan", "--timeout", "2", "--require-engine", cwd=tmp_path, env=env)
        assert strict.returncode == 2 and "--require-engine" in strict.stderr
    finally:
        listener.close()


@pytest.mark.parametrize("routes", [
    {"/info": Reply(200, b"\x00not json\x1b[2J", content_type="application/json")},
    {"/images/json": Reply(500, b'{"message": "storage driver exploded"}')},
], ids=["garbage-info", "http-500-listing"])
def test_garbage_engine_is_an_error_with_require_engine(tmp_path, run_lockdock, sockdir, routes):
    (tmp_path / "compose.yaml").write_text(PASSING_COMPOSE)
    (tmp_path / "daemon.json").write_text(HARDENED_DAEMON)
    sock = sockdir / "fake.sock"
    with FakeEngine(sock, routes):
        env = {"DOCKER_HOST": f"unix://{sock}"}
        loose = run_lockdock("scan", "--daemon-json", "daemon.json", "--format", "json", cwd=tmp_path, env=env)
        strict = run_lockdock("scan", "--require-engine", "--format", "sarif", cwd=tmp_path, env=env)
    assert "Traceback" not in loose.stderr + strict.stderr
    assert loose.returncode == 0, loose.stderr  # default scope: said in the report, not fatal
    summary = json.loads(loose.stdout)["summary"]
    assert summary["engine_status"] == "not reachable" or summary["errors"] >= 1
    assert strict.returncode == 2, strict.stderr
    assert "--require-engine" in strict.stderr and "\x1b" not in strict.stderr + strict.stdout
    assert json.loads(strict.stdout)["runs"][0]["invocations"][0]["executionSuccessful"] is False


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "compact"])
def test_empty_directory_says_nothing_was_found_not_a_level(tmp_path, run_lockdock, fmt):
    proc = run_lockdock("scan", "--no-engine", "--format", fmt, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "level 4/4" not in proc.stdout and "4/4" not in proc.stdout
    if fmt in ("text", "compact"):
        assert proc.stdout.startswith("nothing found to scan")
    elif fmt == "json":
        summary = json.loads(proc.stdout)["summary"]
        assert summary["nothing_found"] is True and summary["level"] is None
        assert json.loads(proc.stdout)["targets"] == []
    else:
        notes = json.loads(proc.stdout)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        assert any(n["message"]["text"].startswith("nothing found to scan") for n in notes)
    (tmp_path / "Dockerfile").write_text("FROM scratch\nUSER 1000\n")
    assert "nothing found" not in run_lockdock("scan", "--no-engine", "--format", fmt, cwd=tmp_path).stdout


def test_fix_refuses_when_an_asked_for_target_is_missing(tmp_path, run_lockdock):
    make_project(tmp_path / "app")
    before = (tmp_path / "app" / "Dockerfile").read_bytes()
    proc = run_lockdock("fix", "--apply", "--no-engine", "app", "gone", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("lockdock fix: error: gone: no such file or directory")
    assert (tmp_path / "app" / "Dockerfile").read_bytes() == before
