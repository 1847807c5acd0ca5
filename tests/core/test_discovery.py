"""Discovery and reading: what is found, what is skipped, and bad input that must not stop a scan."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lockdock.context import ScanContext
from lockdock.discovery import discover, is_compose, is_dockerfile
from lockdock.files import FileProblem, read_text
from tests.conftest import scan_json


@pytest.mark.parametrize(
    "name", ["Dockerfile", "Dockerfile.prod", "dockerfile", "api.Dockerfile", "Containerfile", "Dockerfile-dev"]
)
def test_dockerfile_names(name):
    assert is_dockerfile(name)


@pytest.mark.parametrize("name", ["Dockerfile.md", "dockerfile.py", "README", "Dockerfile.bak", "notes.txt",
                                  "Dockerfile.template", "Dockerfile-debian.template", "Dockerfile.j2",
                                  "Dockerfile.tmpl", "Dockerfile.in", "api.dockerfile.jinja2"])
def test_not_dockerfile_names(name):
    assert not is_dockerfile(name)


@pytest.mark.parametrize(
    "name", ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.override.yaml", "compose.prod.yaml",
             "agent-compose.yml", "my-compose.yaml", "stack.compose.yaml", "docker-compose.dev.yml",
             "elk_docker-compose.yml", "Compose.YAML"]
)
def test_compose_names(name):
    assert is_compose(name)


@pytest.mark.parametrize("name", ["compose.json", "composer.yaml", "compose.yml.j2", "decompose.yml",
                                  "compose.txt", "recompose-notes.md"])
def test_not_compose_names(name):
    assert not is_compose(name)


def test_walk_finds_kinds_and_skips_vendored(tmp_path):
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "Dockerfile").write_text("FROM alpine:3.20\n")
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    (tmp_path / ".dockerignore").write_text(".git\n")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    for skipped in ("node_modules/pkg", ".git/x", "vendor/lib"):
        (tmp_path / skipped).mkdir(parents=True)
        (tmp_path / skipped / "Dockerfile").write_text("FROM x\n")
    ctx = ScanContext(cwd=tmp_path)
    found = discover([tmp_path], ctx)
    assert [p.relative_to(tmp_path).as_posix() for p in found.dockerfiles] == ["svc/Dockerfile"]
    assert [p.name for p in found.compose_files] == ["compose.yaml"]
    assert [p.name for p in found.dockerignores] == [".dockerignore"]
    assert [p.name for p in found.ci_configs] == ["ci.yml"]
    assert ctx.errors == []


def test_symlinks_out_of_root_and_loops(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Dockerfile").write_text("FROM alpine\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "Dockerfile").symlink_to(outside / "Dockerfile")
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "dangling.Dockerfile").symlink_to(tmp_path / "nowhere")
    ctx = ScanContext(cwd=tmp_path)
    found = discover([root], ctx)
    assert found.dockerfiles == []
    messages = " ".join(e.message for e in ctx.errors)
    assert "outside the scanned root" in messages
    assert "broken symlink" in messages


def test_read_text_records_shape(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"\xef\xbb\xbfFROM a\r\nRUN b")
    tf = read_text(p)
    assert tf.bom and tf.newline == "\r\n" and not tf.final_newline
    assert tf.text == "FROM a\r\nRUN b"
    assert tf.lines == ["FROM a", "RUN b"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"FROM a\x00\x01\x02", "binary"),
        (b"FROM a\nRUN \xff\xfe\n", "invalid UTF-8 at line 2"),
    ],
)
def test_read_text_rejects_bad_content(tmp_path, content, needle):
    p = tmp_path / "f"
    p.write_bytes(content)
    with pytest.raises(FileProblem, match=needle):
        read_text(p)


def test_read_text_size_cap(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"#" * 5000)
    with pytest.raises(FileProblem, match="size cap"):
        read_text(p, max_bytes=1000)


def test_read_text_refuses_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(FileProblem, match="not a regular file"):
        read_text(fifo)


def test_unreadable_directory_is_an_error_and_scan_goes_on(tmp_path):
    """Run as an unprivileged user (tests run as root, which can read anything)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop privileges")
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="lockdock-nobody-", dir="/tmp"))  # pytest's tmp is 0700
    request_cleanup = lambda: shutil.rmtree(base, ignore_errors=True)  # noqa: E731
    root = base / "proj"
    (root / "locked").mkdir(parents=True)
    (root / "locked" / "Dockerfile").write_text("FROM a\n")
    (root / ".gitignore").write_text("x\n")
    os.chmod(root / "locked", 0o000)
    for p in (base, root):
        os.chmod(p, 0o755)
    code = (
        # Import everything first: the interpreter's own files are not readable by nobody.
        "import os, sys, json, ruamel.yaml, lockdock.cli, lockdock.scan, lockdock.reports.json_report;"
        "from lockdock import registry; registry.load_plugins();"
        "os.setgid(65534); os.setuid(65534);"
        "sys.exit(lockdock.cli.main(['scan', '--no-engine', '--format', 'json', sys.argv[1]]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, cwd="/", timeout=120,
        env={**os.environ, "HOME": "/nonexistent", "XDG_CACHE_HOME": "/tmp/nobody-cache"},
    )
    request_cleanup()
    assert "Traceback" not in proc.stderr, proc.stderr
    import json

    report = json.loads(proc.stdout)
    assert any("cannot read directory" in e["message"] for e in report["errors"])
    assert any(f["check"] == "secrets.gitignore" for f in report["findings"])  # the rest went on


def test_engine_down_is_one_plain_line_and_files_still_scan(tmp_path, run_lockdock):
    (tmp_path / ".gitignore").write_text("x\n")
    env = {"DOCKER_HOST": f"unix://{tmp_path}/nonexistent.sock"}
    report = scan_json(run_lockdock, ".", cwd=tmp_path, env=env)
    assert report["summary"]["engine_error"].startswith(f"engine not reachable at unix://{tmp_path}/nonexistent.sock")
    assert any(f["check"] == "secrets.gitignore" for f in report["findings"])
    text = run_lockdock("scan", ".", cwd=tmp_path, env=env)
    assert text.stdout.count("engine not reachable") == 1
    assert "Traceback" not in text.stderr


def test_no_engine_flag_does_not_contact_engine(tmp_path, run_lockdock):
    env = {"DOCKER_HOST": "tcp://127.0.0.1:9"}
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path, env=env)
    assert report["summary"]["engine_error"] is None and report["summary"]["engine"] is None


def test_paths_inside_and_outside_cwd(tmp_path, run_lockdock):
    proj = tmp_path / "p"
    proj.mkdir()
    (proj / ".gitignore").write_text("x\n")
    inside = scan_json(run_lockdock, "--no-engine", "p", cwd=tmp_path)
    assert {f["location"]["path"] for f in inside["findings"]} == {"p/.gitignore"}
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    outside = scan_json(run_lockdock, "--no-engine", str(proj), cwd=elsewhere)
    assert {f["location"]["path"] for f in outside["findings"]} == {str(Path(proj) / ".gitignore")}


def test_symlinked_certificates_are_skipped_quietly(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    root = tmp_path / "etc"
    (root / "ssl" / "certs").mkdir(parents=True)
    (root / "ssl" / "certs" / "Some_Root_CA.pem").symlink_to(store / "ca.crt")
    (root / "ssl" / "certs" / "local-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    ctx = ScanContext(cwd=tmp_path)
    found = discover([root], ctx)
    assert ctx.errors == []  # no warning for a file lockdock would not analyse
    assert found.secret_files == []  # public certificate stores are not secrets
