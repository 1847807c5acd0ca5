"""The local layer-store fast path: overlay2 directories read as the tar walk would read them."""

from __future__ import annotations

import os
import stat

import pytest

from lockdock.engine.graphdriver import layer_dirs, scan_dir
from lockdock.engine.savestream import Budgets


def _inspect(dirs, driver="overlay2"):
    return {
        "GraphDriver": {"Name": driver, "Data": {"UpperDir": str(dirs[-1]), "LowerDir": ":".join(str(d) for d in reversed(dirs[:-1]))}},
        "RootFS": {"Layers": [f"sha256:{i}" for i in range(len(dirs))]},
    }


def test_layer_dirs_bottom_first_and_refusals(tmp_path, monkeypatch):
    dirs = [tmp_path / f"l{i}" for i in range(3)]
    for d in dirs:
        d.mkdir()
    assert layer_dirs(_inspect(dirs), "unix:///var/run/docker.sock") == dirs
    assert layer_dirs(_inspect(dirs), "tcp://10.0.0.1:2376") is None
    assert layer_dirs(_inspect(dirs, "btrfs"), "unix:///var/run/docker.sock") is None
    assert layer_dirs({**_inspect(dirs), "RootFS": {"Layers": ["a"]}}, "unix:///x") is None
    monkeypatch.setenv("LOCKDOCK_LAYER_SOURCE", "save")
    assert layer_dirs(_inspect(dirs), "unix:///var/run/docker.sock") is None


@pytest.mark.skipif(os.geteuid() != 0, reason="whiteout device nodes and trusted xattrs need root")
def test_scan_dir_whiteouts_opaque_setuid_and_no_symlink_following(tmp_path):
    root = tmp_path / "diff"
    (root / "app").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "var/lib/apt/lists").mkdir(parents=True)
    os.mknod(root / "app" / ".env", stat.S_IFCHR | 0o600, 0)  # overlay whiteout of /app/.env
    os.setxattr(root / "var/lib/apt/lists", "trusted.overlay.opaque", b"y")
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/sudo").write_bytes(b"elf")
    os.chmod(root / "usr/bin/sudo", 0o4755)
    (root / "root").mkdir()
    (root / "root/id_rsa").write_text("k")
    os.symlink("/etc/shadow", root / "etc/os-release")
    facts = scan_dir(root, "layer 0", Budgets())
    assert facts.whiteouts == ["app/.env"]
    assert facts.opaque == ["var/lib/apt/lists"]
    assert {(f.kind, f.path) for f in facts.files} >= {("setuid", "usr/bin/sudo"), ("tool", "usr/bin/sudo"), ("secret", "root/id_rsa")}
    assert facts.os_release == {}  # a symlinked os-release is never opened
    assert scan_dir(root, "x", Budgets(max_entries=2)).stopped.startswith("more than 2 entries")
