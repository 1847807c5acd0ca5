"""The bundled demo project and the copy `lockdock demo` works on."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from lockdock.demo import (
    DIR_MODE,
    FILE_MODE,
    SECRET_AGE_DAYS,
    SPECIAL_MODES,
    copy_demo,
    demo_source,
)
from lockdock.secrets import find_in_text, secret_file

EXPECTED_FILES = {
    "Dockerfile",
    "compose.yaml",
    "compose.override.yaml",
    ".env",
    ".gitignore",
    "README.md",
    "certs/server.key",
    "app/server.py",
    "app/worker.py",
    "app/start.sh",
}


def _files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_source_holds_the_project() -> None:
    source = demo_source()
    assert source.is_dir()
    assert _files(source) == EXPECTED_FILES
    assert not (source / ".dockerignore").exists()


def test_copy_has_every_file_with_the_intended_mode(tmp_path: Path) -> None:
    copy = copy_demo(tmp_path / "demo")
    assert copy == tmp_path / "demo"
    assert _files(copy) == EXPECTED_FILES
    for rel in EXPECTED_FILES:
        want = SPECIAL_MODES.get(rel, FILE_MODE)
        assert _mode(copy / rel) == want, rel
        assert (copy / rel).read_bytes() == (demo_source() / rel).read_bytes()
    # The secret files are readable by group and others: the permission check must fire.
    for rel in (".env", "certs/server.key"):
        assert _mode(copy / rel) & (stat.S_IRGRP | stat.S_IROTH)
        assert secret_file(rel)
    assert _mode(copy / "app/start.sh") & stat.S_IXUSR
    for d in (copy / "app", copy / "certs"):
        assert _mode(d) == DIR_MODE


def test_modes_are_set_under_a_strict_umask(tmp_path: Path) -> None:
    """A wheel or a strict umask may lose modes; the copy sets them regardless."""
    old = os.umask(0o077)
    try:
        copy = copy_demo(tmp_path / "d")
    finally:
        os.umask(old)
    assert _mode(copy / ".env") == 0o644
    assert _mode(copy / "Dockerfile") == 0o644


def test_secret_files_are_backdated(tmp_path: Path) -> None:
    copy = copy_demo(tmp_path / "d")
    age_days = (time.time() - (copy / ".env").stat().st_mtime) / 86400
    assert age_days >= SECRET_AGE_DAYS - 1
    assert (time.time() - (copy / "Dockerfile").stat().st_mtime) < 3600


def test_default_destination_is_a_fresh_temp_dir() -> None:
    first = copy_demo()
    second = copy_demo()
    try:
        assert first != second
        assert first.name.startswith("lockdock-demo-")
        assert _files(first) == EXPECTED_FILES
    finally:
        shutil.rmtree(first)
        shutil.rmtree(second)


def test_copy_is_independent_of_the_package(tmp_path: Path) -> None:
    source_before = (demo_source() / "Dockerfile").read_bytes()
    copy = copy_demo(tmp_path / "d")
    (copy / "Dockerfile").write_text("FROM scratch\n")
    (copy / ".env").unlink()
    (copy / "extra.txt").write_text("x")
    assert (demo_source() / "Dockerfile").read_bytes() == source_before
    assert (demo_source() / ".env").is_file()
    assert not (demo_source() / "extra.txt").exists()


def test_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        copy_demo(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    assert not (tmp_path / "Dockerfile").exists()


def test_empty_existing_destination_is_fine(tmp_path: Path) -> None:
    dest = tmp_path / "empty"
    dest.mkdir()
    assert _files(copy_demo(dest)) == EXPECTED_FILES


def test_demo_content_has_the_intended_problems() -> None:
    """Guards the demo's purpose: the insecure constructs the scan is meant to show."""
    src = demo_source()
    dockerfile = (src / "Dockerfile").read_text()
    for needle in (
        "FROM ubuntu:latest",
        "| sh",
        "ADD app/",
        "EXPOSE 22",
        "sudo ",
        "CMD python3",
    ):
        assert needle in dockerfile, needle
    assert "USER" not in dockerfile.replace("# No USER", "")
    assert "HEALTHCHECK" not in dockerfile.replace("no HEALTHCHECK", "")
    kinds = {m.kind for m in find_in_text(dockerfile)}
    assert "AWS access key id" in kinds
    assert "BEGIN PRIVATE KEY" in (src / "certs/server.key").read_text()

    yaml = YAML(typ="safe")
    compose = yaml.load((src / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "db", "worker"}
    assert services["web"]["privileged"] is True
    assert "/var/run/docker.sock:/var/run/docker.sock" in services["web"]["volumes"]
    assert services["web"]["environment"]["APP_ENV"] == "production"  # merged from x-common
    assert services["worker"]["network_mode"] == "host"
    assert "5432:5432" in services["db"]["ports"]
    assert "8080:80" in services["web"]["ports"]
    for svc in services.values():
        assert not {"restart", "logging", "deploy", "mem_limit", "pids_limit"} & set(svc)
    override = yaml.load((src / "compose.override.yaml").read_text())
    assert "SYS_ADMIN" in override["services"]["worker"]["cap_add"]

    rules = [
        line
        for line in (src / ".gitignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules
    for pattern in (".env", ".key", "certs", "secrets"):
        assert not any(pattern in rule for rule in rules), pattern


# The checklist layers the demo must show findings in. The registry layer is about the
# daemon and client configuration, which the demo project does not carry.
DEMO_LAYERS = {"image", "container", "secrets", "network", "runtime", "build"}
# Problems the demo was written to contain, at least one per layer.
EXPECTED_CHECKS = {
    "image.pinned-tag",
    "image.minimal-base",
    "image.package-cache",
    "image.no-unneeded-tools",
    "container.not-privileged",
    "container.docker-socket",
    "container.host-namespaces",
    "container.non-root",
    "container.capabilities",
    "container.security-profiles",
    "secrets.no-secrets-in-image",
    "secrets.no-secrets-in-env",
    "secrets.gitignore",
    "secrets.file-permissions",
    "secrets.rotation",
    "network.exposed-ports",
    "network.bind-localhost",
    "runtime.healthcheck",
    "runtime.restart-policy",
    "runtime.log-rotation",
    "build.dockerignore",
    "build.copy-not-add",
    "build.exec-form",
    "build.no-sudo",
    "build.no-curl-pipe-shell",
}
FAKE_SECRETS = ("Tr0ub4dor-demo-fake", "AKIAFAKEDEMOKEYABCDE", "demo-7f3c9a21e4b8d605-fake")


def test_scan_of_the_demo_finds_problems_in_every_layer(tmp_path: Path) -> None:
    copy = copy_demo(tmp_path / "demo")
    proc = subprocess.run(
        [sys.executable, "-m", "lockdock", "scan", "--no-engine", "--format", "json", str(copy)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr  # findings at or above the default fail-on
    report = json.loads(proc.stdout)
    assert report["errors"] == []
    findings = report["findings"]
    layers = {f["layer"] for f in findings}
    assert layers >= DEMO_LAYERS, f"no findings in {sorted(DEMO_LAYERS - layers)}"
    checks = {f["check"] for f in findings}
    assert checks >= EXPECTED_CHECKS, sorted(EXPECTED_CHECKS - checks)
    leaky = {
        Path(f["location"]["path"]).relative_to(copy).as_posix()
        for f in findings
        if f["check"] == "secrets.file-permissions"
    }
    assert leaky == {".env", "certs/server.key"}
    privileged = {f["target"]["name"] for f in findings if f["check"] == "container.not-privileged"}
    assert privileged == {"web"}
    for secret in FAKE_SECRETS:
        assert secret not in proc.stdout and secret not in proc.stderr


def test_scan_of_a_private_copy_has_no_permission_findings(tmp_path: Path) -> None:
    """The permission finding comes from the mode copy_demo sets, not from the file names."""
    copy = copy_demo(tmp_path / "demo")
    for rel in (".env", "certs/server.key"):
        (copy / rel).chmod(0o600)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lockdock",
            "scan",
            "--no-engine",
            "--format",
            "json",
            "--select",
            "secrets.file-permissions",
            str(copy),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["findings"] == []
