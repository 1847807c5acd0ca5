"""Running the Dockerfile checks on real files, and applying fixes in memory."""

from __future__ import annotations

from pathlib import Path

from lockdock.context import ScanContext
from lockdock.model import FileEdit, Finding, NewFile, TargetKind
from lockdock.scan import ScanResult, scan


def scan_dir(path: Path, ctx: ScanContext | None = None) -> ScanResult:
    ctx = ctx or ScanContext(cwd=path, use_engine=False)
    return scan([path], ctx)


def dockerfile_findings(
    tmp_path: Path,
    text: str,
    files: dict[str, str] | None = None,
    *,
    name: str = "Dockerfile",
    ctx: ScanContext | None = None,
) -> list[Finding]:
    """Write `text` as a Dockerfile (plus `files`) and return the Dockerfile's findings."""
    (tmp_path / name).write_text(text, encoding="utf-8", newline="")
    for rel, content in (files or {}).items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content, encoding="utf-8")
    result = scan_dir(tmp_path, ctx)
    assert not [e for e in result.errors if e.kind == "error"], result.errors
    return [f for f in result.findings if f.target.kind == TargetKind.DOCKERFILE]


def checks(findings: list[Finding], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


def apply_edits(text: str, edits: list) -> str:
    """Apply TextEdits (offsets into `text`) back to front."""
    for e in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        assert 0 <= e.start <= e.end <= len(text)
        text = text[: e.start] + e.text + text[e.end :]
    return text


def apply_fix_in_memory(fix, root: Path) -> None:
    """Write the fix's changes (FileEdit / NewFile) to disk under `root`, checking hashes."""
    from lockdock.files import read_text

    for change in fix.changes:
        if isinstance(change, FileEdit):
            tf = read_text(Path(change.path))
            assert change.expected_sha256 == tf.sha256
            new = apply_edits(tf.text, change.edits)
            raw = new.encode("utf-8")
            if tf.bom:
                raw = b"\xef\xbb\xbf" + raw
            Path(change.path).write_bytes(raw)
        elif isinstance(change, NewFile):
            assert Path(change.path).is_relative_to(root)
            Path(change.path).write_text(change.content, encoding="utf-8", newline="")
        else:  # pragma: no cover - Dockerfile fixes only edit or create files
            raise AssertionError(f"unexpected change {change!r}")


def write_cases(root: Path, cases: list[tuple[str, str, int]], files: dict[str, str] | None = None) -> dict[str, tuple[str, int]]:
    """Write each (check, Dockerfile text, first line) case as `case-NN/Dockerfile` under `root`
    (with `files` beside each); -> {path relative to root: (check, line)}.

    The CLI end-to-end test and the engine world scan the cases of tests/dockerfile/test_checks.py
    this way, so a new Dockerfile check is covered end to end by its cases there.
    """
    written: dict[str, tuple[str, int]] = {}
    for i, (check, text, line) in enumerate(cases):
        folder = root / f"case-{i:03d}"
        folder.mkdir(parents=True)
        (folder / "Dockerfile").write_text(text, encoding="utf-8", newline="")
        for rel, content in (files or {}).items():
            (folder / rel).write_text(content, encoding="utf-8")
        written[f"{folder.name}/Dockerfile"] = (check, line)
    return written
