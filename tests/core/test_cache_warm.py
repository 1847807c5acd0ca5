"""The warm result cache skips the Dockerfile parse: a Dockerfile whose load record and
result are cached is read (for its digest) but not parsed, and the scan says exactly what
a cold scan says (JSON, text and SARIF reports, stderr and exit code, byte for byte), also
after each file changes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from lockdock import scan as scan_mod
from lockdock.config import Config
from lockdock.context import ScanContext
from lockdock.model import TargetKind
from lockdock.sources import dockerfiles as source_mod

BENCH = Path(__file__).resolve().parents[2] / "bench"

FILES = {
    "app/Dockerfile": "FROM debian:12\nRUN apt-get update && apt-get install -y curl\nCOPY . /app\n",
    "tmpl/Dockerfile": "FROM debian:{{ version }}\nRUN echo {{ name }}\nUSER app\n",
    "broken/Dockerfile": "FROM alpine:3.19\nFORM x\nRUN id\n",
    "invalid/Dockerfile": "# only a comment\n",
}
CHANGED = {
    "app/Dockerfile": "# only a comment, now\n",
    "tmpl/Dockerfile": "FROM debian:{{ version }}\nRUN echo {{ name }} {{ more }}\nCOPY . /{{ dir }}\n",
    "broken/Dockerfile": "FROM alpine:3.19\nRUN id\nCOPPY a b\n",
    "invalid/Dockerfile": "FROM alpine:3.19\nUSER nobody\n",
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    sys.path.insert(0, str(BENCH))
    try:
        import dockerfile_bench

        (root / "gen").mkdir()
        dockerfile_bench.generate(root / "gen", 80, 7)  # enough misses for the worker pool
    finally:
        sys.path.remove(str(BENCH))
    return root


def _outputs(run_lockdock: Any, root: Path, *extra: str) -> list[tuple[int, str, str]]:
    out = []
    for fmt in ("json", "text", "sarif"):
        proc = run_lockdock("scan", "--no-engine", "--format", fmt, *extra, ".", cwd=root)
        assert proc.returncode in (0, 1), proc.stderr
        assert "Traceback" not in proc.stderr
        out.append((proc.returncode, proc.stdout, proc.stderr))
    return out


def test_warm_scan_says_what_a_cold_scan_says_byte_for_byte(tree: Path, run_lockdock: Any) -> None:
    reference = _outputs(run_lockdock, tree, "--no-cache")
    said = reference[0][1] + reference[0][2]  # the JSON report lists the load warnings
    assert "looks like a Dockerfile template (template syntax on line 1, 2)" in said
    assert "unknown instruction: FORM" in said
    assert "not a valid Dockerfile" in said
    assert _outputs(run_lockdock, tree) == reference  # cold: the cache is written
    assert _outputs(run_lockdock, tree) == reference  # warm
    for rel, text in CHANGED.items():
        (tree / rel).write_text(text)
    (tree / "gen" / "svc0003.Dockerfile").write_text("FROM busybox:1\nUSER 1000\n")
    changed = _outputs(run_lockdock, tree, "--no-cache")
    assert changed != reference
    assert "unknown instruction: COPPY" in changed[0][1] and "on line 1, 2, 3)" in changed[0][1]
    assert _outputs(run_lockdock, tree) == changed  # the changed files are loaded again
    assert _outputs(run_lockdock, tree) == changed  # and then served warm


def _scan(root: Path) -> tuple[dict[str, list[str]], list[str], dict[str, Any]]:
    ctx = ScanContext(cwd=root, config=Config(), use_engine=False)
    result = scan_mod.scan([root], ctx, use_cache=True)
    findings = {t.target.name: sorted(f.check for f in t.findings)
                for t in result.targets.values() if t.target.kind is TargetKind.DOCKERFILE}
    subjects = {t.target.name: t.subject for t in result.targets.values() if t.target.kind is TargetKind.DOCKERFILE}
    return findings, [f"{e.path}: {e.message}" for e in result.errors], subjects


def test_warm_scan_parses_nothing_and_the_subject_parses_on_demand(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    real = source_mod.parse_dockerfile

    def counting(text: str, path: Path, tf: Any = None) -> Any:
        parsed.append(path.name)
        return real(text, path, tf)

    monkeypatch.setattr(source_mod, "parse_dockerfile", counting)
    cold_findings, cold_errors, _ = _scan(tree)
    assert len(parsed) == 84  # every file, the invalid one included
    parsed.clear()
    warm_findings, warm_errors, subjects = _scan(tree)
    assert parsed == []
    assert warm_findings == cold_findings and warm_errors == cold_errors
    assert any("not a valid Dockerfile" in e for e in warm_errors)
    # Fixers and the TUI still get the parsed form, with template FROMs marked unresolved.
    tmpl = subjects["tmpl/Dockerfile"].dockerfile
    assert parsed == ["Dockerfile"]
    assert tmpl.stages[0].resolved is False
    assert [i.keyword.upper() for i in subjects["app/Dockerfile"].dockerfile.instructions] == ["FROM", "RUN", "COPY"]


def test_a_stale_result_keeps_its_load_record(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A result invalidated by a new file beside the Dockerfile is analysed again (parsing
    it then) and stored with its load record, so the next scan parses nothing."""
    _scan(tree)
    (tree / "app" / ".dockerignore").write_text(".git\n")
    parsed: list[str] = []
    real = source_mod.parse_dockerfile
    monkeypatch.setattr(source_mod, "parse_dockerfile",
                        lambda text, path, tf=None: parsed.append(str(path)) or real(text, path, tf))
    _scan(tree)
    assert parsed == [str(tree / "app" / "Dockerfile")]
    parsed.clear()
    _scan(tree)
    assert parsed == []
