"""Test helpers: scan a directory, apply one compose fix in memory, rescan, validate."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdock.compose.yamlread import parse
from lockdock.context import ScanContext
from lockdock.files import read_text
from lockdock.fixing.edits import apply_edits
from lockdock.model import FileEdit, Finding, Fix, NewFile
from lockdock.scan import ScanResult, scan

SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "compose-spec" / "compose-spec.json"


class FakeImages(ScanContext):
    """A context whose local images come from a dict (no engine needed)."""

    def __init__(self, cwd: Path, images: dict[str, dict[str, Any]]) -> None:
        super().__init__(cwd=cwd, use_engine=False)
        self.fake_images = images

    def local_image(self, ref: str) -> dict[str, Any] | None:
        return self.fake_images.get(ref)


def write_files(d: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8", newline="")


def run(d: Path, images: dict[str, dict[str, Any]] | None = None) -> tuple[ScanResult, ScanContext]:
    ctx = FakeImages(d, images or {})
    return scan([d], ctx), ctx


def compose_findings(result: ScanResult) -> list[Finding]:
    return [f for f in result.findings if f.target.kind.value.startswith("compose")]


def keys(findings: list[Finding]) -> set[tuple[str, str, str]]:
    return {(f.check, f.target.name, f.message) for f in findings if f.suppressed is None}


def counts(findings: list[Finding]) -> Counter[tuple[str, str]]:
    return Counter((f.check, f.target.name) for f in findings if f.suppressed is None)


@dataclass
class Applied:
    fix: Fix
    texts: dict[str, str] = field(default_factory=dict)  # path -> new text
    new_files: dict[str, NewFile] = field(default_factory=dict)


def apply_fix(fix: Fix) -> Applied:
    """Apply every change of `fix` to disk (the test's temporary copy), like the writer would."""
    out = Applied(fix)
    for change in fix.changes:
        if isinstance(change, FileEdit):
            tf = read_text(Path(change.path))
            assert tf.sha256 == change.expected_sha256, "fix was computed on other bytes"
            new, deferred = apply_edits(tf.text, change.edits)
            assert deferred == [], f"overlapping edits: {deferred}"
            raw = ("\ufeff" if tf.bom else "") + new
            Path(change.path).write_bytes(raw.encode("utf-8"))
            out.texts[change.path] = new
        elif isinstance(change, NewFile):
            p = Path(change.path)
            assert not p.exists(), "NewFile must not overwrite"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(change.content, encoding="utf-8")
            p.chmod(change.mode)
            out.new_files[change.path] = change
        else:
            raise AssertionError(f"unexpected change {change!r}")
    return out


def schema_errors(text: str) -> list[str]:
    """compose-spec validation of one file's data ([] when the schema is absent: skip upstream)."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    result = parse(text, "/check.yaml")
    assert result.root is not None, [p.message for p in result.problems]
    assert not result.problems, [p.message for p in result.problems]
    validator = jsonschema.Draft7Validator(schema)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(result.root.plain())]


def fix_and_verify(
    d: Path,
    check: str,
    service: str,
    images: dict[str, dict[str, Any]] | None = None,
    index: int = 0,
) -> Applied:
    """Scan, apply the fix of one finding, rescan: the finding is gone, nothing new appears,
    every touched compose file still parses and validates; the fix is idempotent."""
    before, _ = run(d, images)
    found = [f for f in compose_findings(before) if f.check == check and f.target.name == service]
    assert len(found) > index, f"no {check} finding on {service}: {[f.message for f in compose_findings(before)]}"
    finding = found[index]
    assert finding.fix is not None and finding.fix.changes, f"no fix for {finding.message}"
    applied = apply_fix(finding.fix)
    after, ctx = run(d, images)
    assert not [e for e in ctx.errors if e.kind == "error"], [e.message for e in ctx.errors]
    old, new = keys(compose_findings(before)), keys(compose_findings(after))
    assert (check, service, finding.message) not in new, "finding still there after the fix"
    old_n, new_n = counts(compose_findings(before)), counts(compose_findings(after))
    assert new_n[(check, service)] < old_n[(check, service)], "finding still there after the fix"
    grown = {k: v for k, v in new_n.items() if v > old_n.get(k, 0)}
    assert grown == {}, f"new findings: {grown} {new - old}"
    if SCHEMA.is_file():
        for path, text in applied.texts.items():
            if path.endswith((".yaml", ".yml")):
                assert schema_errors(text) == [], path
    again = [f for f in compose_findings(after) if f.check == check and f.target.name == service
             and f.message == finding.message]
    assert again == []
    return applied
