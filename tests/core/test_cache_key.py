"""Each input of the result cache's key (and each dependency it re-validates) changed on its
own gives the fresh answer: the file is analysed again and the result is the one an
uncached scan gives. Also the stored form: compact rows that carry every field a report
reads, and files that no code can be smuggled into."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lockdock
from lockdock import cache as cache_mod
from lockdock import scan as scan_mod
from lockdock.cache import FORMAT, cache_dir
from lockdock.config import Config
from lockdock.context import ScanContext
from lockdock.model import Severity, TargetKind

DOCKERFILE = (
    "FROM debian:12\n"
    "RUN apt-get update && apt-get install -y curl\n"
    "# lockdock: ignore=build.copy-not-add vendored archive, checked by hand\n"
    "ADD https://example.com/tool.tgz /opt/\n"
    "COPY . /app\n"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "svc").mkdir(parents=True)
    (root / "svc" / "Dockerfile").write_text(DOCKERFILE)
    (root / "svc" / ".dockerignore").write_text(".git\n*.md\n")
    (root / "other").mkdir()
    (root / "other" / "Dockerfile").write_text("FROM alpine:3.19\nUSER app\n")
    return root


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the Dockerfiles that were analysed (not served from the cache)."""
    calls: list[str] = []
    real = scan_mod.analyze_subject

    def counting(subject: Any, ctx: ScanContext) -> Any:
        if subject.target.kind is TargetKind.DOCKERFILE:
            calls.append(subject.target.name)
        return real(subject, ctx)

    monkeypatch.setattr(scan_mod, "analyze_subject", counting)
    return calls


def report_fields(root: Path, *, use_cache: bool = True, cwd: Path | None = None,
                  config: Config | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every field a report reads, per Dockerfile target."""
    ctx = ScanContext(cwd=cwd or root, config=config or Config(), use_engine=False)
    result = scan_mod.scan([root], ctx, use_cache=use_cache)
    out: dict[str, list[tuple[Any, ...]]] = {}
    for t in result.targets.values():
        if t.target.kind is not TargetKind.DOCKERFILE:
            continue
        out[t.target.name] = [
            (f.check, f.target, f.message, f.location, f.evidence, f.severity,
             None if f.fix is None else (f.fix.title, f.fix.applicability, f.fix.check, f.fix.target, f.fix.note),
             None if f.suppressed is None else (f.suppressed.reason, f.suppressed.source))
            for f in t.findings
        ]
    return out


def test_cached_findings_carry_every_field_a_report_reads(project: Path, analysed: list[str]) -> None:
    cfg = Config(severity={"container.non-root": Severity.LOW})
    cold = report_fields(project, config=cfg)
    analysed.clear()
    warm = report_fields(project, config=cfg)
    assert analysed == []
    assert warm == cold
    svc = cold["svc/Dockerfile"]
    assert any(fix is not None for *_, fix, _ in svc)  # a fix summary
    assert any(sup is not None and "vendored" in sup[0] for *_, sup in svc)  # a pragma suppression
    assert ("container.non-root", Severity.LOW) in [(row[0], row[5]) for row in svc]  # a severity override
    assert warm == report_fields(project, use_cache=False, config=cfg)


def test_cache_files_are_marshal_rows_that_run_no_code(project: Path, analysed: list[str], tmp_path: Path) -> None:
    cold = report_fields(project)
    files = list((cache_dir() / FORMAT).rglob("*.bin"))
    assert len(files) == 2 and all(p.stat().st_mode & 0o077 == 0 for p in files)
    folders = [cache_dir() / FORMAT, *{p.parent for p in files}]
    assert all(d.stat().st_mode & 0o077 == 0 for d in folders)  # readable by the user only
    assert all(not p.read_bytes().startswith(b"\x80") for p in files)  # no pickle protocol header
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(marker), "w"))

    for p in files:
        p.write_bytes(pickle.dumps(Payload()))
    analysed.clear()
    assert report_fields(project) == cold
    assert not marker.exists()
    assert len(analysed) == 2  # not a cached result: analysed again, and rewritten
    analysed.clear()
    assert report_fields(project) == cold and analysed == []


def _edit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """lockdock's own code as a copy whose module then changes (an edited checkout)."""
    pkg = tmp_path / "code" / "lockdock"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "rules.py").write_text("RULE = 1\n")
    monkeypatch.setattr(lockdock, "__file__", str(pkg / "__init__.py"))
    return lambda: (pkg / "rules.py").write_text("RULE = 22\n")


def _same_size_same_mtime(path: Path, text: str) -> None:
    """New bytes of the same size under the old mtime: only the content digest tells."""
    st = path.stat()
    assert len(text.encode()) == st.st_size
    path.write_text(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _no_shellcheck_on_path(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


KEY_INPUTS: dict[str, Callable[[Path, Path, pytest.MonkeyPatch], Callable[[], Any]]] = {
    # Each prepares what it needs and returns the change, made after the cache is warm.
    "file bytes": lambda root, tmp, mp: lambda: (root / "svc" / "Dockerfile").write_text(
        DOCKERFILE + "USER nobody\n"),
    "lockdock version": lambda root, tmp, mp: lambda: mp.setattr(lockdock, "__version__", lockdock.__version__ + "+x"),
    "lockdock code": lambda root, tmp, mp: _edit_code(tmp, mp),
    "LOCKDOCK_ variable": lambda root, tmp, mp: lambda: mp.setenv("LOCKDOCK_JOBS", "1"),
    "python and marshal format": lambda root, tmp, mp: lambda: mp.setattr(cache_mod.marshal, "version", 999),
    "shellcheck binary": lambda root, tmp, mp: lambda: _no_shellcheck_on_path(tmp, mp),
    "other file read (same size and mtime)": lambda root, tmp, mp: lambda: _same_size_same_mtime(
        root / "svc" / ".dockerignore", "*.md\n.git\n"),
    "folder listing (a file beside)": lambda root, tmp, mp: lambda: (root / "svc" / ".env").write_text("TOKEN=x\n"),
    "secrets/ folder listing": lambda root, tmp, mp: (root / "svc" / "secrets").mkdir,
}


@pytest.mark.parametrize("what", list(KEY_INPUTS))
def test_each_key_input_gives_the_fresh_answer(
    what: str, project: Path, analysed: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    change = KEY_INPUTS[what](project, tmp_path, monkeypatch)
    before = report_fields(project)
    analysed.clear()
    assert report_fields(project) == before and analysed == []  # warm, unchanged
    change()
    after = report_fields(project)
    assert "svc/Dockerfile" in analysed, what
    assert after == report_fields(project, use_cache=False)
    analysed.clear()
    assert report_fields(project) == after and analysed == []  # the fresh answer is cached in turn


def test_working_directory_is_part_of_the_key(project: Path, analysed: list[str]) -> None:
    inside = report_fields(project)
    analysed.clear()
    above = report_fields(project, cwd=project.parent)  # report paths differ: proj/svc/...
    assert sorted(analysed) == ["proj/other/Dockerfile", "proj/svc/Dockerfile"]
    assert set(above) == {"proj/other/Dockerfile", "proj/svc/Dockerfile"} != set(inside)
    assert above == report_fields(project, use_cache=False, cwd=project.parent)


def test_an_all_hit_scan_asks_the_registry_nothing_for_dockerfiles(
    project: Path, analysed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With lazy plugin loading, asking for a kind's hooks imports its plugin modules: a
    warm scan whose Dockerfiles are all hits must not ask (the repository target still does)."""
    from lockdock import registry

    report_fields(project)
    asked: list[TargetKind] = []
    for name in ("batch_hooks_for", "analyzers_for", "fixers_for"):
        real = getattr(registry, name)
        monkeypatch.setattr(registry, name, lambda *a, _real=real: asked.append(a[-1]) or _real(*a))
    analysed.clear()
    report_fields(project)
    assert analysed == []
    assert TargetKind.DOCKERFILE not in asked and TargetKind.REPO in asked
    (project / "svc" / "Dockerfile").write_text(DOCKERFILE + "USER app\n")  # one miss: its kind is asked
    report_fields(project)
    assert analysed == ["svc/Dockerfile"] and TargetKind.DOCKERFILE in asked


def test_editing_one_dockerfile_leaves_its_neighbours_cached(project: Path, analysed: list[str]) -> None:
    """A folder's listing is a dependency by names and kinds, not sizes or mtimes: the other
    Dockerfiles of the folder stay valid when one of them is edited (a result reads a
    neighbour's content only through read_text, a dependency by content)."""
    for n in range(5):
        (project / "svc" / f"api{n}.Dockerfile").write_text(f"FROM alpine:3.19\nRUN echo {n}\n")
    report_fields(project)
    (project / "svc" / "api2.Dockerfile").write_text("FROM alpine:3.19\nRUN echo changed\nUSER app\n")
    analysed.clear()
    after = report_fields(project)
    assert analysed == ["svc/api2.Dockerfile"]
    assert after == report_fields(project, use_cache=False)
    (project / "svc" / "link.Dockerfile").symlink_to("api1.Dockerfile")
    report_fields(project)
    (project / "svc" / "link.Dockerfile").unlink()
    (project / "svc" / "link.Dockerfile").symlink_to("api3.Dockerfile")  # same name, another target
    analysed.clear()
    assert report_fields(project) == report_fields(project, use_cache=False)
    assert "svc/link.Dockerfile" in analysed
