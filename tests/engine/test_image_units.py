"""Image checks on subjects built in memory (history and config only, no engine)."""

from __future__ import annotations

from pathlib import Path

from lockdock import registry
from lockdock.context import ScanContext
from lockdock.engine.images import ImageSubject, pair_history
from lockdock.engine.refs import parse_ref, trusted
from lockdock.model import Target, TargetKind
from lockdock.scan import analyze_subject


def _meta(command: str) -> bool:
    """Legacy-builder entries that made no layer (#(nop) except ADD/COPY)."""
    return "#(nop)" in command and " ADD " not in command and " COPY " not in command


def subject(history: list[str], tags: list[str] | None = None, config: dict | None = None) -> ImageSubject:
    raw = [{"CreatedBy": c, "Size": 0 if _meta(c) else 100, "Created": 0} for c in reversed(history)]
    layers = [f"sha256:{i:064x}" for i, c in enumerate(h for h in history if not _meta(h))]
    inspect = {
        "Id": "sha256:" + "1" * 64, "RepoTags": tags if tags is not None else ["app:1.0"],
        "Created": "2099-01-01T00:00:00Z", "RootFS": {"Layers": layers},
        "Config": config if config is not None else {"User": "app", "Healthcheck": {"Test": ["CMD", "true"]}},
    }
    s = ImageSubject(Target(TargetKind.IMAGE, "x", None, key="image:x"), inspect["Id"], inspect, raw,
                     repo_tags=inspect["RepoTags"])
    s.history = pair_history(raw, layers, None, inspect)
    return s


def run(s: ImageSubject, tmp_path: Path, **ctx_kw):
    registry.load_plugins()
    ctx = ScanContext(cwd=tmp_path, use_engine=False, **ctx_kw)
    return [f for f in analyze_subject(s, ctx).findings if f.check != "image.vulnerability-scan"]


BASE = "/bin/sh -c #(nop) ADD file:abc in / "


def test_add_remote_and_local_are_caught_base_rootfs_is_not(tmp_path):
    found = run(subject([BASE, "/bin/sh -c #(nop) ADD https://example.com/app.tgz /opt/", "/bin/sh -c #(nop) ADD file:def in /app/"]), tmp_path)
    adds = [f for f in found if f.check == "build.copy-not-add"]
    assert [f.location.image_layer.index for f in adds] == [1, 2]
    assert "downloads https://example.com/app.tgz" in adds[0].message
    assert run(subject([BASE, "COPY app /app # buildkit"]), tmp_path) == []


def test_sudo_and_tls_in_history(tmp_path):
    found = run(subject([BASE, "RUN /bin/sh -c sudo apt-get install -y x=1.0 # buildkit", "/bin/sh -c wget --no-check-certificate https://x"]), tmp_path)
    assert {(f.check, f.location.image_layer.index) for f in found} == {("build.no-sudo", 1), ("build.tls-verification", 2)}
    assert run(subject([BASE, "/bin/sh -c apt-get install -y pseudo=1.9 && curl -fsSL https://x"]), tmp_path) == []


def test_build_arg_secret_masked_and_located(tmp_path):
    found = run(subject([BASE, "|1 NPM_TOKEN=npm_abcdefghijklmnopqrstuvwxyz0123456789 /bin/sh -c npm ci"]), tmp_path)
    (f,) = found
    assert f.check == "secrets.no-secrets-in-image" and f.location.image_layer.index == 1
    assert "abcdefghijkl" not in f.message + (f.evidence or "") + f.location.image_layer.created_by
    assert run(subject([BASE, "|1 VERSION=1.2.3 /bin/sh -c make"]), tmp_path) == []


def test_pinned_tag(tmp_path):
    assert {f.check for f in run(subject([BASE], tags=[]), tmp_path)} == {"image.pinned-tag"}
    assert {f.check for f in run(subject([BASE], tags=["app:latest", "app:stable"]), tmp_path)} == {"image.pinned-tag"}
    assert run(subject([BASE], tags=["app:latest", "app:2.3.1"]), tmp_path) == []


def test_trusted_source(tmp_path):
    found = run(subject([BASE], tags=["someuser/tool:1.0"]), tmp_path)
    assert [f.check for f in found] == ["image.trusted-source"] and found[0].location.image_layer.index == 0
    assert run(subject([BASE], tags=["ghcr.io/acme/api:1.0"]), tmp_path, ) != []
    from lockdock.config import Config

    assert run(subject([BASE], tags=["ghcr.io/acme/api:1.0"]), tmp_path, config=Config(trusted_registries=["ghcr.io/acme"])) == []
    assert parse_ref("nginx:1.25").official and parse_ref("docker.io/library/nginx").official
    assert not parse_ref("localhost:5000/nginx:1").official
    assert trusted(parse_ref("registry.example.com:5000/x/y:1"), ["registry.example.com:5000"])


def test_root_user_and_healthcheck_from_config(tmp_path):
    found = run(subject([BASE, "/bin/sh -c #(nop)  USER root"], config={"User": "root"}), tmp_path)
    by = {f.check: f for f in found}
    assert by["container.non-root"].location.image_layer.index == 1
    assert "no HEALTHCHECK" in by["runtime.healthcheck"].message
    found = run(subject([BASE], config={"User": "0:0", "Healthcheck": {"Test": ["NONE"]}}), tmp_path)
    assert "HEALTHCHECK NONE" in [f for f in found if f.check == "runtime.healthcheck"][0].message
    assert "container.non-root" in {f.check for f in found}
