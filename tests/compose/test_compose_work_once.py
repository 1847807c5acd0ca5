"""Work a directory scan of many compose projects does once, counted rather than timed.

A scan of N projects loads each project once, however many findings ask about them: the
repository fixer of secrets.file-permissions used to load every project of the repository
again for each secret-looking file (N x files loads, 68 s for 300 projects).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from lockdock.compose import project as project_mod
from lockdock.context import ScanContext
from lockdock.scan import scan

N_PROJECTS = 12


def _tree(root: Path) -> None:
    for i in range(N_PROJECTS):
        d = root / f"p{i:02d}"
        d.mkdir()
        (d / "compose.yaml").write_text(f"services:\n  app{i}:\n    image: nginx:1.25\n    user: '1000'\n")
        env = d / ".env"
        env.write_text("API_TOKEN=abc123abc123abc123\n")
        os.chmod(env, 0o644)
    # One project mounts its secret into a service that runs as uid 1000: no chmod 600 for it.
    d = root / "withsecret"
    d.mkdir()
    (d / "compose.yaml").write_text(
        "services:\n  reader:\n    image: nginx:1.25\n    user: '1000'\n    secrets: [db]\n"
        "secrets:\n  db:\n    file: ./secrets/db_password.txt\n")
    (d / "secrets").mkdir()
    pw = d / "secrets" / "db_password.txt"
    pw.write_text("s3cret-s3cret\n")
    os.chmod(pw, 0o644)


@pytest.fixture
def load_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[Path]]:
    calls: list[list[Path]] = []
    real = project_mod.load_project

    def counting(files, ctx, env):  # type: ignore[no-untyped-def]
        calls.append(list(files))
        return real(files, ctx, env)

    monkeypatch.setattr(project_mod, "load_project", counting)
    return calls


def test_directory_scan_loads_each_project_once(tmp_path: Path, load_calls: list[list[Path]]) -> None:
    _tree(tmp_path)
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    result = scan([tmp_path], ctx)
    findings = [f for tr in result.targets.values() for f in tr.findings]
    perms = [f for f in findings if f.check == "secrets.file-permissions"]
    # Every .env and the mounted secret file are reported, each with its fix decided...
    assert len(perms) >= N_PROJECTS + 1
    by_name = {os.path.basename(str(f.payload.path)): f for f in perms}
    mounted = by_name["db_password.txt"]
    assert mounted.fix is None and "reader" in mounted.message and "chmod 700" in mounted.message
    plain = [f for f in perms if f is not mounted]
    assert plain and all(f.fix is not None and "chmod 600" in f.fix.title for f in plain)
    # ...from one load of each project.
    assert len(load_calls) == N_PROJECTS + 1
    assert len({tuple(c) for c in load_calls}) == N_PROJECTS + 1


def test_fixer_alone_loads_quietly_and_once(tmp_path: Path, load_calls: list[list[Path]]) -> None:
    """Without a scan that loaded the projects first, the fixer loads them itself, once for
    all the files it is asked about, and reports no loading problem a second time."""
    from lockdock.fixers.repo_permissions import non_root_readers

    _tree(tmp_path)
    (tmp_path / "p00" / "compose.yaml").write_text("services: [not, a, map\n")
    repo = SimpleNamespace(compose_files=sorted(tmp_path.rglob("compose.yaml")))  # what the fixer reads
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    secret = str(tmp_path / "withsecret" / "secrets" / "db_password.txt")
    for _ in range(5):
        assert non_root_readers(secret, repo, ctx) == ["reader"]  # type: ignore[arg-type]
        assert non_root_readers(str(tmp_path / "p01" / ".env"), repo, ctx) == []  # type: ignore[arg-type]
    assert len(load_calls) == N_PROJECTS + 1
    assert ctx.errors == []
