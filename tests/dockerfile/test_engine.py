"""Engine-dependent Dockerfile behaviour against the real local engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lockdock.context import ScanContext
from lockdock.model import Finding
from lockdock.registry import load_plugins
from lockdock.scan import analyze_subject, connect_engine
from lockdock.sources.dockerfiles import load_subject
from tests.dockerfile.helpers import checks

pytestmark = pytest.mark.engine
IGNORE = {".dockerignore": ".git\n.env\nsecrets/\n**/*.key\n**/*.pem\n"}


def dockerfile_findings(tmp_path: Path, text: str, files: dict[str, str], *, ctx: ScanContext) -> list[Finding]:
    """Only the Dockerfile subject is analysed (the engine's own images are not scanned)."""
    load_plugins()
    (tmp_path / "Dockerfile").write_text(text)
    for rel, content in files.items():
        (tmp_path / rel).write_text(content)
    subject = load_subject(tmp_path / "Dockerfile", ctx)
    assert subject is not None, ctx.errors
    return analyze_subject(subject, ctx).findings


def _ctx(path: Path) -> ScanContext:
    ctx = ScanContext(cwd=path, use_engine=True)
    connect_engine(ctx)
    assert ctx.engine is not None, ctx.engine_error
    return ctx


def test_local_non_root_base_makes_missing_user_pass(
    tmp_path: Path, build_image: Callable[..., str], docker_api: object
) -> None:
    tag = build_image(
        "FROM scratch\nCOPY busybox /bin/busybox\nUSER 1000\n"
        'HEALTHCHECK CMD ["/bin/busybox", "true"]\nCMD ["/bin/busybox", "sh"]\n'
    )
    text = f"FROM {tag}\nCOPY app /app\n"
    found = dockerfile_findings(tmp_path, text, {**IGNORE, "app": "x"}, ctx=_ctx(tmp_path))
    assert not checks(found, "container.non-root")
    assert not checks(found, "runtime.healthcheck")


def test_local_root_base_is_reported_as_inspected(
    tmp_path: Path, build_image: Callable[..., str], docker_api: object
) -> None:
    tag = build_image("FROM scratch\nCOPY busybox /bin/busybox\nCMD [\"/bin/busybox\", \"sh\"]\n")
    found = dockerfile_findings(tmp_path, f"FROM {tag}\n", IGNORE, ctx=_ctx(tmp_path))
    (f,) = checks(found, "container.non-root")
    assert "inspected locally" in f.message and "runs as root" in f.message
    (h,) = checks(found, "runtime.healthcheck")
    assert "inspected locally" in h.message


def test_absent_base_says_not_present_locally(tmp_path: Path, docker_api: object) -> None:
    found = dockerfile_findings(
        tmp_path, "FROM lockdock-test-absent/never-built:1.0\n", IGNORE, ctx=_ctx(tmp_path)
    )
    (f,) = checks(found, "container.non-root")
    assert "not present locally" in f.message


def test_pinned_tag_fix_uses_the_local_images_tags(
    tmp_path: Path, build_image: Callable[..., str], docker_api: object
) -> None:
    from tests.dockerfile.helpers import apply_fix_in_memory

    tag = build_image("FROM scratch\nCOPY busybox /bin/busybox\nUSER 1000\n")
    repo = tag.rsplit(":", 1)[0]
    docker_api.tag(tag, repo, "2.7.1")  # type: ignore[attr-defined]
    docker_api.tag(tag, repo, "latest")  # type: ignore[attr-defined]
    found = dockerfile_findings(tmp_path, f"FROM {repo}:latest\n", IGNORE, ctx=_ctx(tmp_path))
    (f,) = checks(found, "image.pinned-tag")
    assert f.fix is not None and f.fix.title.endswith(f"{repo}:2.7.1")
    apply_fix_in_memory(f.fix, tmp_path)
    assert (tmp_path / "Dockerfile").read_text() == f"FROM {repo}:2.7.1\n"
    assert not checks(dockerfile_findings(tmp_path, f"FROM {repo}:2.7.1\n", IGNORE, ctx=_ctx(tmp_path)), "image.pinned-tag")
