"""The wheel installs one import package, `lockdock`, with every subpackage in it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    src = tmp_path_factory.mktemp("src") / "lockdock"
    # Build from a copy: setuptools writes build/ and egg-info next to the sources.
    shutil.copytree(
        REPO_ROOT, src, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", ".pytest_cache", "dist")
    )
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (whl,) = out.glob("lockdock-*.whl")
    return whl


def test_everything_lives_under_lockdock(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    outside = [n for n in names if not n.startswith(("lockdock/", "lockdock-"))]
    assert outside == []
    for top in ("tui/", "analyzers/", "fixers/"):
        assert not any(n.startswith(top) for n in names)


def test_every_subpackage_folder_is_in_the_wheel(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    folders = {
        "lockdock/tui": REPO_ROOT / "tui",
        "lockdock/analyzers": REPO_ROOT / "analyzers",
        "lockdock/fixers": REPO_ROOT / "fixers",
    }
    for pkg in (REPO_ROOT / "lockdock").rglob("__init__.py"):
        rel = pkg.parent.relative_to(REPO_ROOT).as_posix()
        if "demo/project" in rel:
            continue
        folders[rel] = pkg.parent
    for installed, source in folders.items():
        for py in source.glob("*.py"):
            assert f"{installed}/{py.name}" in names, f"{installed}/{py.name} missing from the wheel"
    assert "lockdock/tui/lockdock.tcss" in names or not (REPO_ROOT / "tui" / "lockdock.tcss").exists()


def test_demo_project_is_packaged(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    source = REPO_ROOT / "lockdock" / "demo" / "project"
    if not source.is_dir():
        pytest.skip("no demo project yet")
    for f in source.rglob("*"):
        if f.is_file():
            rel = f.relative_to(REPO_ROOT).as_posix()
            assert rel in names, f"{rel} missing from the wheel"


def test_import_contracts_hold_in_the_installed_package(wheel, tmp_path):
    """The import-linter contracts of pyproject.toml, checked on the wheel's layout.

    The editable install maps tui/, analyzers/ and fixers/ into `lockdock` through an import
    hook that import-linter cannot follow, so the wheel is unpacked and put first on the path.
    """
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; "
         "sys.exit(c())", "--no-cache", str(REPO_ROOT / "pyproject.toml")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )
    report = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Analyzed" in proc.stdout, report  # it read the package, not an empty one
    assert proc.returncode == 0, report
    assert " BROKEN" not in proc.stdout and "0 broken" in proc.stdout, report
