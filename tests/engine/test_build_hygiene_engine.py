"""The build ids on real images: history RUN commands (classic builder and BuildKit forms),
config Volumes/WorkingDir, and the bash check behind the pipefail fix."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from lockdock import registry
from lockdock.context import ScanContext
from lockdock.dockerfile import load
from lockdock.dockerfile.shellsafety import pipefail_shell
from lockdock.engine.connect import connect
from lockdock.engine.images import iter_images
from lockdock.scan import analyze_subject
from tests.conftest import image_tarball, unique_tag

pytestmark = pytest.mark.engine

BUILT = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN apt-get update || true
RUN apk add curl || true
RUN apt-get dist-upgrade -y || true
RUN pip install flask==3.0.3 || true
VOLUME /etc
WORKDIR /boot/app
"""


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _scan(tag: str, tmp_path: Path) -> tuple[Any, list[Any]]:
    registry.load_plugins()
    ctx = ScanContext(cwd=tmp_path, engine=connect(), images=[tag])
    (subject,) = iter_images(ctx)
    return subject, analyze_subject(subject, ctx).findings


def _by(findings: list[Any], check: str) -> list[Any]:
    return [f for f in findings if f.check == check]


def test_built_image_history_and_config(build_image, tmp_path: Path) -> None:
    tag = build_image(BUILT)
    subject, findings = _scan(tag, tmp_path)
    commands = {h.index: h.created_by for h in subject.history}

    pinned = _by(findings, "build.pinned-packages")
    assert len(pinned) == 1 and "curl" in pinned[0].message
    assert "apk add curl" in commands[pinned[0].location.image_layer.index]

    update = _by(findings, "build.package-update")
    issues = sorted((f.payload.issue, commands[f.location.image_layer.index]) for f in update)
    assert [i for i, _ in issues] == ["dist-upgrade", "lone-update"]
    assert "apt-get update" in issues[1][1] and "dist-upgrade" in issues[0][1]

    paths = _by(findings, "build.system-paths")
    assert {(f.payload.kind, f.payload.path) for f in paths} == {("volume", "/etc"), ("workdir", "/boot/app")}
    vol = next(f for f in paths if f.payload.kind == "volume")
    assert "VOLUME" in commands[vol.location.image_layer.index]


def test_buildkit_history_forms(docker_api: Any, load_image_tar, tmp_path: Path) -> None:
    tag = f"lockdock-test-bk-{uuid.uuid4().hex[:8]}:1.0"
    history = [
        {"created": "2024-01-01T00:00:00Z", "created_by": "ADD rootfs.tar / # buildkit"},
        {"created": "2024-01-01T00:00:00Z", "created_by": "RUN |1 MIRROR=x /bin/sh -c yum makecache # buildkit", "empty_layer": True},
        {"created": "2024-01-01T00:00:00Z", "created_by": "RUN /bin/sh -c npm install -g pm2 && gem install rails -v 7.1.3 # buildkit", "empty_layer": True},
        {"created": "2024-01-01T00:00:00Z", "created_by": "VOLUME [/var/lib/app /sys]", "empty_layer": True},
        {"created": "2024-01-01T00:00:00Z", "created_by": "RUN /bin/sh -c apk update && apk add --no-cache git=2.45.2-r0 # buildkit", "empty_layer": True},
    ]
    load_image_tar(
        image_tarball(
            [{"etc/": None, "etc/hostname": b"x\n"}],
            tag=tag,
            config={"Volumes": {"/var/lib/app": {}, "/sys": {}}, "WorkingDir": "/app"},
            history=history,
        )
    )
    try:
        _subject, findings = _scan(tag, tmp_path)
        pinned = _by(findings, "build.pinned-packages")
        assert [f.location.image_layer.index for f in pinned] == [2] and "pm2" in pinned[0].message
        assert "rails" not in pinned[0].message
        update = _by(findings, "build.package-update")
        assert [(f.location.image_layer.index, f.payload.issue) for f in update] == [(1, "lone-update")]
        paths = _by(findings, "build.system-paths")
        assert [(f.payload.path, f.location.image_layer.index) for f in paths] == [("/sys", 3)]
    finally:
        docker_api.remove_image(tag, force=True)


def _dockerfile(tmp_path: Path, text: str) -> Any:
    p = tmp_path / "Dockerfile"
    p.write_text(text)
    return load(p)


def test_pipefail_fix_needs_bash_in_the_local_base(build_image, busybox_image: str, tmp_path: Path) -> None:
    with_bash = build_image(
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY busybox /bin/bash\nCMD [\"/bin/bash\"]\n",
        tag=unique_tag("lockdock-bash"),
    )
    ctx = ScanContext(cwd=tmp_path, engine=connect())
    df = _dockerfile(tmp_path, f"FROM {with_bash}\nRUN echo a | tr a b\n")
    first, bash, why = pipefail_shell(df, df.stages[0].instructions[0], ctx)
    assert first is df.stages[0].instructions[0] and bash == "/bin/bash" and why == ""

    ctx = ScanContext(cwd=tmp_path, engine=connect())
    df = _dockerfile(tmp_path, f"FROM {busybox_image}\nRUN echo a | tr a b\n")
    _first, bash, why = pipefail_shell(df, df.stages[0].instructions[0], ctx)
    assert bash is None and why == f"{busybox_image} has no bash"


def test_pipefail_fix_offered_through_scan(build_image, tmp_path: Path) -> None:
    from tests.dockerfile.helpers import checks, dockerfile_findings

    with_bash = build_image(
        "FROM scratch\nCOPY busybox /usr/bin/bash\n", tag=unique_tag("lockdock-bash")
    )
    ctx = ScanContext(cwd=tmp_path, engine=connect(), images=[with_bash])
    text = f"FROM {with_bash}\nRUN echo a | tr a b\n"
    found = checks(dockerfile_findings(tmp_path, text, {".dockerignore": ".git\n"}, ctx=ctx), "build.shell-safety")
    (f,) = [x for x in found if x.payload.issue == "pipe"]
    assert f.fix is not None
    (change,) = f.fix.changes
    assert [e.text for e in change.edits] == ['SHELL ["/usr/bin/bash", "-o", "pipefail", "-c"]\n']
