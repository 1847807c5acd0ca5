"""`[per-image-ignores]`: parsing, matching, suppression of images and their containers
(real engine), and the `.lockdock.toml` edit the TUI's "this image name" scope writes."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from lockdock.config import ConfigError, image_name_key, load_config
from lockdock.context import ScanContext
from lockdock.fixing.apply import apply_fixes
from lockdock.fixing.ignore import config_fix
from lockdock.model import FileEdit, Finding, Location, NewFile, Target, TargetKind
from tests.conftest import SESSION, SESSION_LABEL, TEST_LABEL


def _config(tmp_path: Path, text: str):
    (tmp_path / ".git").mkdir(exist_ok=True)
    (tmp_path / ".lockdock.toml").write_text(text)
    return load_config(tmp_path)


def test_names_match_every_tag_or_one_tag_as_the_docker_cli_reads_them(tmp_path: Path) -> None:
    config = _config(tmp_path, (
        '[per-image-ignores]\n'
        '"nginx" = ["image.pinned-digest"]\n'
        '"ghcr.io/team/api:1.2" = ["runtime"]\n'
        '"localhost:5000/tool:latest" = "image.pinned-tag"\n'
    ))
    assert config.ignored_for_image(["docker.io/library/nginx:1.25"]) == {"image.pinned-digest": "nginx"}
    assert config.ignored_for_image(["nginx@sha256:" + "a" * 64]) == {"image.pinned-digest": "nginx"}
    assert config.ignored_for_image(["someone/nginx:1"]) == {}
    one_tag = config.ignored_for_image(["ghcr.io/team/api:1.2"])
    assert "runtime.healthcheck" in one_tag and one_tag["runtime.healthcheck"] == "ghcr.io/team/api:1.2"
    assert config.ignored_for_image(["ghcr.io/team/api:1.3"]) == {}
    assert config.ignored_for_image(["localhost:5000/tool"]) == {"image.pinned-tag": "localhost:5000/tool:latest"}
    assert config.ignored_for_image([]) == {}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('per-image-ignores = ["nginx"]\n', "key 'per-image-ignores' must be a table"),
        ('[per-image-ignores]\n"nginx" = 3\n', "key 'per-image-ignores.nginx' must be a list"),
        ('[per-image-ignores]\n"nginx" = ["no.such"]\n', "key 'per-image-ignores.nginx': unknown check id"),
        ('[per-image-ignores]\n"two words" = ["image"]\n', "key 'per-image-ignores.two words': not an image name"),
        (f'[per-image-ignores]\n"nginx@sha256:{"a" * 64}" = ["image"]\n', "not a digest"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        _config(tmp_path, text)
    assert ".lockdock.toml" in str(err.value) and needle in str(err.value)


def test_bad_value_is_a_clear_cli_error(tmp_path: Path, run_lockdock) -> None:
    (tmp_path / ".lockdock.toml").write_text('[per-image-ignores]\n"a b" = ["image"]\n')
    proc = run_lockdock("scan", "--no-engine", ".", cwd=tmp_path)
    assert proc.returncode == 2
    assert "per-image-ignores.a b" in proc.stderr and "Traceback" not in proc.stderr


def test_image_name_key_is_the_short_name_or_none_for_an_id() -> None:
    assert image_name_key("docker.io/library/nginx:1.25") == "nginx"
    assert image_name_key("user/app:1") == "user/app"
    assert image_name_key("localhost:5000/x@sha256:" + "b" * 64) == "localhost:5000/x"
    assert image_name_key("sha256:" + "c" * 64) is None
    assert image_name_key("c" * 12) is None


# ---------------------------------------------------------------------- the config edit

def _finding(kind: TargetKind = TargetKind.IMAGE, check: str = "image.pinned-digest") -> Finding:
    return Finding(check, Target(kind, "shop/api:2.0", None, f"{kind.value}:x"), "m", Location())


def test_config_edit_adds_an_entry_and_keeps_the_rest_byte_identical(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    before = ('# team settings\r\nignore = ["runtime.healthcheck"]  # noisy\r\n\r\n'
              '[per-path-ignores]\r\n"legacy/*" = ["build.exec-form"]\r\n')
    (tmp_path / ".lockdock.toml").write_bytes(before.encode())
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    fix = config_fix(_finding(), ctx, "pinned by the platform team", image_name="shop/api")
    assert fix is not None and "for image shop/api" in fix.title
    assert isinstance(fix.changes[0], FileEdit)
    assert apply_fixes([fix], ctx, root=tmp_path).errors == []
    after = (tmp_path / ".lockdock.toml").read_bytes().decode()
    assert after.startswith(before)  # every earlier byte kept, CRLF included
    added = after[len(before):]
    assert added == ('\r\n[per-image-ignores]\r\n'
                     '"shop/api" = ["image.pinned-digest"]  # pinned by the platform team\r\n')
    config = load_config(tmp_path)
    assert config.ignored_for_image(["shop/api:9"]) == {"image.pinned-digest": "shop/api"}
    assert config.ignore == {"runtime.healthcheck"}

    # A second check for the same name goes into the same entry; nothing else moves.
    ctx2 = ScanContext(cwd=tmp_path, use_engine=False)
    fix2 = config_fix(_finding(TargetKind.CONTAINER, "container.read-only-rootfs"), ctx2, "r", image_name="shop/api")
    assert fix2 is not None and apply_fixes([fix2], ctx2, root=tmp_path).errors == []
    again = (tmp_path / ".lockdock.toml").read_bytes().decode()
    assert again.replace('"container.read-only-rootfs", ', "", 1) == after
    assert set(load_config(tmp_path).ignored_for_image(["shop/api"])) == {
        "image.pinned-digest", "container.read-only-rootfs"}


def test_config_edit_creates_the_file_and_refuses_pyproject(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    fix = config_fix(_finding(), ctx, "ok", image_name="ghcr.io/team/api")
    assert fix is not None and isinstance(fix.changes[0], NewFile)
    data = tomllib.loads(fix.changes[0].content)
    assert data == {"per-image-ignores": {"ghcr.io/team/api": ["image.pinned-digest"]}}
    (tmp_path / "pyproject.toml").write_text('[tool.lockdock]\nfail-on = "high"\n')
    assert config_fix(_finding(), ctx, "ok", image_name="ghcr.io/team/api") is None


# ---------------------------------------------------------------------- real engine

@pytest.mark.engine
def test_image_and_its_container_suppressed_by_image_name(
    tmp_path: Path, docker_api: Any, busybox_image: str, run_lockdock
) -> None:
    """A `docker create`d container of a labelled test image: both are suppressed by the
    image's name (every tag); an entry for another tag suppresses nothing."""
    mark = f"w3ignore-{SESSION}"
    cid = docker_api.create_container(busybox_image, command=["/bin/sh"],
                                      labels={TEST_LABEL: "1", SESSION_LABEL: SESSION, "lockdock-test-w3": mark})["Id"]
    try:
        name = image_name_key(busybox_image)
        assert name is not None and ":" not in name
        proj = tmp_path / "proj"
        proj.mkdir()
        scope = f'[scan]\ncontainer-labels = ["lockdock-test-w3={mark}"]\n'
        checks = '["runtime.healthcheck", "container.read-only-rootfs"]'

        def scan(extra: str) -> dict[str, Any]:
            (proj / ".lockdock.toml").write_text(scope + extra)
            proc = run_lockdock("scan", "--format", "json", "--image", busybox_image, ".", cwd=proj)
            assert proc.returncode in (0, 1), proc.stderr
            return json.loads(proc.stdout)

        def marks(report: dict[str, Any]) -> dict[tuple[str, str], Any]:
            return {(f["target"]["kind"], f["check"]): f["suppressed"] for f in report["findings"]
                    if f["target"]["kind"] in ("image", "container")}

        other_tag = marks(scan(f'\n[per-image-ignores]\n"{name}:no-such-tag" = {checks}\n'))
        assert ("image", "runtime.healthcheck") in other_tag
        assert ("container", "container.read-only-rootfs") in other_tag
        assert all(v is None for v in other_tag.values())

        got = marks(scan(f'\n[per-image-ignores]\n"{name}" = {checks}\n'))
        reason = {"reason": f"ignored in config for image {name}", "source": "config"}
        assert got[("image", "runtime.healthcheck")] == reason
        assert got[("container", "runtime.healthcheck")] == reason
        assert got[("container", "container.read-only-rootfs")] == reason
        assert got[("container", "container.capabilities")] is None  # not named: still reported

        text = run_lockdock("scan", "--show-suppressed", "--image", busybox_image, ".", cwd=proj)
        assert f"ignored in config for image {name}" in text.stdout, text.stdout
    finally:
        docker_api.remove_container(cid, force=True)


def test_config_edit_offers_nothing_when_the_name_already_ignores_the_check(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".lockdock.toml").write_text('[per-image-ignores]\n"shop/api" = ["image.pinned-digest"]\n')
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    assert config_fix(_finding(), ctx, "again", image_name="shop/api") is None
    other = config_fix(_finding(), ctx, "another name", image_name="shop/web")
    assert other is not None and "for image shop/web" in other.title
