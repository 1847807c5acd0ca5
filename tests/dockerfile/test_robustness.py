"""Every analyzer and fixer on generated Dockerfiles: no internal error, findings point
inside the file, and every offered fix applies cleanly and leaves a parseable file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from lockdock.context import ScanContext
from lockdock.dockerfile import DockerfileError, parse_dockerfile
from lockdock.model import FileEdit
from lockdock.registry import load_plugins
from lockdock.scan import analyze_subject
from lockdock.sources.dockerfiles import load_subject
from tests.dockerfile.helpers import apply_edits
from tests.dockerfile.strategies import dockerfiles


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dockerfiles())
def test_analyzers_and_fixers_never_crash(text: str) -> None:
    load_plugins()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "Dockerfile"
        path.write_bytes(text.encode("utf-8"))
        ctx = ScanContext(cwd=root, use_engine=False)
        subject = load_subject(path, ctx)
        if subject is None:
            assert all("not a valid Dockerfile" in e.message for e in ctx.errors)
            return
        result = analyze_subject(subject, ctx)
        internal = [e.message for e in ctx.errors if "internal error" in e.message or "failed" in e.message]
        assert not internal, internal
        lines = text.count("\n") + 1
        for f in result.findings:
            assert 1 <= (f.location.line or 0) <= (f.location.end_line or 0) <= lines, f
            for change in (f.fix.changes if f.fix else []):
                if isinstance(change, FileEdit):
                    new = apply_edits(subject.dockerfile.text, change.edits)
                    try:
                        parse_dockerfile(new)
                    except DockerfileError as exc:
                        raise AssertionError(f"{f.check} fix broke the file: {exc}\n{new!r}") from None
