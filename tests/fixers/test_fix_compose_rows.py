"""RELIABILITY rows for compose files written by fixes: port quoting, values via aliases."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

COMPOSE = (
    "services:\n  web:\n    image: nginx:1.25.3\n    ports:\n"
    "      - 8080:80\n      - 22:22\n      - '3000:3000'\n"
)
ANCHORED = (
    "x-base: &base\n  image: nginx:1.25.3\n  read_only: false\n"
    "services:\n  web:\n    <<: *base\n  worker:\n    <<: *base\n"
)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lockdock", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_port_mappings_written_by_a_fix_are_quoted(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    r = _cli("fix", "--no-engine", "--unsafe", "--apply", "--check", "network.bind-localhost", ".", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    text = (tmp_path / "compose.yaml").read_text()
    assert '"127.0.0.1:8080:80"' in text and '"127.0.0.1:22:22"' in text
    # A YAML 1.1 reader (docker-compose v1, PyYAML) must see strings, never 1342 (22*60+22).
    loader = YAML(typ="safe", pure=True)
    loader.version = (1, 1)
    ports = loader.load(text)["services"]["web"]["ports"]
    assert all(isinstance(p, str) and p.startswith("127.0.0.1:") for p in ports), ports


def test_fix_through_an_alias_names_every_service_that_changes(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(ANCHORED)
    r = _cli("fix", "--no-engine", "--unsafe", "--check", "container.read-only-rootfs", ".", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    notes = [ln for ln in r.stdout.splitlines() if ln.startswith("# ")]
    # Either the anchor is edited (and the preview names both services) or each service
    # gets its own override; never a silent change to another service.
    if any("-  read_only: false" in ln for ln in r.stdout.splitlines()):
        assert any("anchor" in n and "web" in n and "worker" in n for n in notes), r.stdout
    else:
        assert r.stdout.count("+    read_only: true") == 2, r.stdout
    assert (tmp_path / "compose.yaml").read_text() == ANCHORED  # --diff wrote nothing
