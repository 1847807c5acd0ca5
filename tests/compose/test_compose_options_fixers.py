"""Fixes of the checklist v2 compose options: propagation, tmpfs flags, cgroup_parent."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockdock.fixers.compose_options import without_propagation, without_tmpfs_flags
from lockdock.model import Applicability
from tests.compose.fixkit import fix_and_verify, write_files


def one(d: Path, text: str) -> Path:
    write_files(d, {"compose.yaml": text})
    return d / "compose.yaml"


@pytest.mark.parametrize(("spec", "out"), [
    ("/a:/b:rshared", "/a:/b"),
    ("/a:/b:ro,rslave,z", "/a:/b:ro,z"),
    ("C:\\data:/data:slave", "C:\\data:/data"),
    ("${SRC:-/srv}:/srv:shared", "${SRC:-/srv}:/srv"),
    ("/a:/b:ro", "/a:/b:ro"),
])
def test_without_propagation(spec, out):
    assert without_propagation(spec) == out


@pytest.mark.parametrize(("spec", "out"), [
    ("/tmp:exec", "/tmp"),
    ("/tmp:rw,exec,size=64m", "/tmp:rw,size=64m"),
    ("/run:suid,exec", "/run"),
    ("/tmp", "/tmp"),
])
def test_without_tmpfs_flags(spec, out):
    assert without_tmpfs_flags(spec) == out


def test_short_propagation_removed_keeping_quotes(tmp_path):
    p = one(tmp_path, 'services:\n  web:\n    image: nginx:1.25.3\n    volumes:\n      - "/srv/data:/data:ro,rshared"  # data\n')
    applied = fix_and_verify(tmp_path, "container.mount-options", "web")
    assert applied.fix.applicability is Applicability.UNSAFE
    assert p.read_text() == 'services:\n  web:\n    image: nginx:1.25.3\n    volumes:\n      - "/srv/data:/data:ro"  # data\n'


def test_long_propagation_entry_removed(tmp_path):
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    volumes:\n      - type: bind\n"
                      "        source: /srv\n        target: /srv\n        bind:\n          create_host_path: true\n"
                      "          propagation: rslave\n")
    fix_and_verify(tmp_path, "container.mount-options", "web")
    assert "propagation" not in p.read_text() and "create_host_path: true" in p.read_text()


def test_tmpfs_exec_removed_in_list_and_scalar(tmp_path):
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    tmpfs:\n      - /tmp:rw,exec,size=64m\n"
                      "  job:\n    image: nginx:1.25.3\n    tmpfs: /run:suid\n")
    fix_and_verify(tmp_path, "container.mount-options", "web")
    fix_and_verify(tmp_path, "container.mount-options", "job")
    assert p.read_text() == ("services:\n  web:\n    image: nginx:1.25.3\n    tmpfs:\n      - /tmp:rw,size=64m\n"
                             "  job:\n    image: nginx:1.25.3\n    tmpfs: /run\n")


def test_cgroup_parent_removed(tmp_path):
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    cgroup_parent: custom  # ops\n    read_only: true\n")
    applied = fix_and_verify(tmp_path, "container.cgroup-parent", "web")
    assert applied.fix.applicability is Applicability.UNSAFE
    assert p.read_text() == "services:\n  web:\n    image: nginx:1.25.3\n    read_only: true\n"
