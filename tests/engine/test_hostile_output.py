"""Issue 14.5: hostile bytes never reach machine output raw, and one target's odd data never
fails the report of the others (cases ../shared/cases/engine/01 and 03, with siblings)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from lockdock.model import Finding, Location, Severity, Target, TargetKind
from lockdock.reports import json_report, sarif_report, text_report
from lockdock.scan import ScanResult, TargetResult
from lockdock.text import escape_surrogates, sanitize

from ..conftest import SESSION, SESSION_LABEL, TEST_LABEL
from .tarkit import file, layer, legacy_save

RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")
BAD_NAME = "app/bad\udcff\udcfe.key"  # bytes ff fe: not UTF-8; overlay2 keeps them raw


def _raw_controls(data: Any, path: str = "") -> dict[str, str]:
    """Every JSON string (keys too) that still holds a raw control character."""
    bad: dict[str, str] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            bad.update(_raw_controls(k, path + ".<key>"))
            bad.update(_raw_controls(v, f"{path}.{k}"))
    elif isinstance(data, list):
        for v in data:
            bad.update(_raw_controls(v, path + "[]"))
    elif isinstance(data, str) and any(c in data for c in RAW_CONTROLS):
        bad[path] = repr(data[:80])
    return bad


def _now() -> str:
    """Image creation time: now, so parallel sessions' stale-object cleanup leaves it alone."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _bad_utf8_image(tag: str, extra: list[Any] | None = None) -> bytes:
    blob = layer([file("app/ok.txt", b"fine\n"), file(BAD_NAME, b"abc"), *(extra or [])],
                 fmt=tarfile.GNU_FORMAT)
    labels = {TEST_LABEL: "1", SESSION_LABEL: SESSION}
    return legacy_save([blob], tag=tag, config={"User": "1000", "Labels": labels},
                       history=[{"created": _now(), "created_by": "ADD app /app"}], created=_now())


@pytest.fixture
def bad_images(load_image_tar: Any, docker_api: Any) -> Any:
    """Two images: one with a non-UTF-8 file name, a sibling with an ordinary secret file."""
    suffix = uuid.uuid4().hex[:8]
    bad, good = f"lockdock-test-badutf8-{suffix}:1.0", f"lockdock-test-goodsib-{suffix}:1.0"
    load_image_tar(_bad_utf8_image(bad))
    good_blob = layer([file("app/ok.txt", b"fine\n"), file("app/id_rsa", b"k")], fmt=tarfile.GNU_FORMAT)
    load_image_tar(legacy_save([good_blob], tag=good, config={"User": "1000", "Labels": {
        TEST_LABEL: "1", SESSION_LABEL: SESSION}}, created=_now()))
    yield bad, good
    for ref in (bad, good):
        with contextlib.suppress(Exception):  # the session cleanup removes labelled leftovers
            docker_api.remove_image(ref, force=True)


def _utf8(path: Path) -> str:
    return path.read_bytes().decode("utf-8")  # raises on invalid UTF-8


@pytest.mark.engine
def test_non_utf8_layer_file_name_every_format_and_destination(run_lockdock: Any, tmp_path: Path,
                                                               bad_images: tuple[str, str]) -> None:
    bad, good = bad_images
    work = tmp_path / "empty"
    work.mkdir()
    args = ("scan", "--image", bad, "--image", good)
    for fmt in ("json", "sarif", "text"):
        out = tmp_path / f"out.{fmt}"
        proc = run_lockdock(*args, "--format", fmt, "--output", str(out), cwd=work)
        assert proc.returncode == 1, (fmt, proc.stderr)
        assert "internal error" not in proc.stderr
        body = _utf8(out)
        if fmt != "text":
            body = json.dumps(json.loads(body), ensure_ascii=False).replace("\\\\", "\\")
        assert "bad\\xff\\xfe.key" in body, fmt
        assert "id_rsa" in body, fmt  # the sibling image is reported too
    proc = run_lockdock(*args, "--format", "json", cwd=work)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    messages = [f["message"] for f in report["findings"] if f["check"] == "secrets.no-secrets-in-image"]
    assert any("/app/bad\\xff\\xfe.key" in m for m in messages), messages
    assert any("/app/id_rsa" in m for m in messages), messages
    # The layer facts cache (this run's XDG_CACHE_HOME) holds no surrogate escapes...
    cached = [p for p in (tmp_path / "cache").rglob("*.json")]
    assert cached
    for p in cached:
        assert "\\udc" not in p.read_text(encoding="utf-8").lower(), p
    # ...so the docker-save path with a warm cache writes its report as well.
    out = tmp_path / "warm.json"
    proc = run_lockdock(*args, "--format", "json", "--output", str(out), cwd=work,
                        env={"LOCKDOCK_LAYER_SOURCE": "save"})
    assert proc.returncode == 1, proc.stderr
    assert "bad\\xff\\xfe.key" in json.dumps(json.loads(_utf8(out))).replace("\\\\", "\\")


@pytest.mark.engine
def test_non_utf8_name_on_the_save_path_with_a_cold_cache(run_lockdock: Any, tmp_path: Path,
                                                          bad_images: tuple[str, str]) -> None:
    bad, _good = bad_images
    out = tmp_path / "save.sarif"
    proc = run_lockdock("scan", "--image", bad, "--format", "sarif", "--output", str(out),
                        env={"LOCKDOCK_LAYER_SOURCE": "save"})
    assert proc.returncode == 1, proc.stderr
    sarif = json.loads(_utf8(out))
    assert sarif["runs"][0]["results"]


CASE03 = "engine/03-json-raw-control-chars"


def test_control_characters_never_raw_in_json_or_sarif(shared_dir: Path, run_lockdock: Any, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    shutil.copytree(shared_dir / "cases" / CASE03, root)
    # Siblings: an ESC in a directory name (a path), a BEL and an RLO in a Dockerfile ENV name.
    evil = root / "dir\x1b[31m"
    evil.mkdir()
    (evil / "Dockerfile").write_text("FROM alpine:3.19\nENV API\u202eKEY=\x07x-rest-of-value-long-enough\nADD a /a\n")
    reports: dict[str, Any] = {}
    for fmt in ("json", "sarif"):
        proc = run_lockdock("scan", str(root), "--no-engine", "--format", fmt, cwd=root)
        assert proc.returncode == 1, proc.stderr
        reports[fmt] = json.loads(proc.stdout)
        assert _raw_controls(reports[fmt]) == {}, fmt
    text = run_lockdock("scan", str(root), "--no-engine", "--format", "text", cwd=root).stdout
    assert not any(c in text for c in RAW_CONTROLS)
    findings = reports["json"]["findings"]
    names = {f["target"]["name"] for f in findings}
    assert any("evil\\e]0;PWNED\\x07svc" in n for n in names), names
    assert any("dir\\e[31m" in (f["location"].get("path") or "") for f in findings)
    secret = [f for f in findings if f["check"] == "secrets.no-secrets-in-env" and "PASSWORD" in f["message"]]
    assert secret, [f["check"] for f in findings]
    for f in secret:
        assert f["evidence"] and "\\e" not in f["evidence"][:12] and "SGVsbG8" not in f["evidence"]
        assert "\x1b" not in f["message"]  # one spelling for the same name


def _finding(name: str, message: str, path: str | None = None) -> Finding:
    target = Target(TargetKind.IMAGE, name, key=f"image:{name}")
    return Finding("secrets.no-secrets-in-image", target, message, Location(path=path), evidence="ab****** (9 chars)")


def test_every_report_format_escapes_and_encodes_surrogates() -> None:
    """Unit level: the same hostile strings through the three formats give valid UTF-8."""
    odd = _finding("img\x1b]0;x\x07", "secret file bad\udcff.key\x9b2J", path="/bad\udcff\udcfe.key")
    result = ScanResult()
    result.targets[odd.target.key] = TargetResult(odd.target, None, [odd])
    for text in (json_report.render(result, Severity.HIGH), sarif_report.render(result),
                 text_report.render(result, Severity.HIGH)):
        text.encode("utf-8")  # no surrogate left
        assert not any(c in text for c in RAW_CONTROLS)
        assert "xff\\xfe.key" in text.replace("\\\\", "\\")


def test_one_broken_finding_does_not_fail_the_report(monkeypatch: pytest.MonkeyPatch) -> None:
    good, broken = _finding("good", "fine"), _finding("broken", "boom", path="explode")
    result = ScanResult()
    for f in (good, broken):
        result.targets[f.target.key] = TargetResult(f.target, None, [f])
    real = Location.to_json

    def to_json(self: Location) -> dict[str, Any]:
        if self.path == "explode":
            raise ValueError("odd data \x1b[2J")
        return real(self)

    monkeypatch.setattr(Location, "to_json", to_json)
    data = json.loads(json_report.render(result, Severity.HIGH))
    assert [f["target"]["name"] for f in data["findings"]] == ["good"]
    assert any("left out of the report" in e["message"] and "\\e[2J" in e["message"] for e in data["errors"])
    real_loc = sarif_report._location

    def location(f: Finding) -> list[dict[str, Any]]:
        if f.location.path == "explode":
            raise ValueError("odd data \x1b[2J")
        return real_loc(f)

    monkeypatch.setattr(sarif_report, "_location", location)
    sarif = json.loads(sarif_report.render(result))
    assert len(sarif["runs"][0]["results"]) == 1
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any("left out of the report" in n["message"]["text"] for n in notes)


def test_escape_surrogates_matches_sanitize() -> None:
    name = "bad\udcff\udcfe.key"
    assert escape_surrogates(name) == sanitize(name) == "bad\\xff\\xfe.key"
    assert escape_surrogates("ok\x1b") == "ok\x1b"  # only surrogates: ESC is the sanitizer's job


def test_non_utf8_project_path_every_format(run_lockdock: Any, tmp_path: Path) -> None:
    """Sibling of case 01 without an engine: a project directory whose name is not UTF-8."""
    root = tmp_path / "proj"
    bad_dir = os.fsdecode(bytes(root) + b"/svc\xff\xfe")
    os.makedirs(bad_dir)
    with open(os.path.join(bad_dir, "Dockerfile"), "w") as fh:
        fh.write("FROM alpine:3.19\nADD a /a\n")
    (root / "Dockerfile").write_text("FROM alpine:3.19\nADD b /b\n")  # a sibling that is fine
    for fmt in ("json", "sarif", "text"):
        out = tmp_path / f"r.{fmt}"
        proc = run_lockdock("scan", str(root), "--no-engine", "--format", fmt, "--output", str(out), cwd=root)
        assert proc.returncode == 1, (fmt, proc.stderr)
        body = _utf8(out)
        assert "svc\\xff\\xfe" in body.replace("\\\\", "\\"), fmt
        assert body.count("build.copy-not-add") >= 2, fmt  # both Dockerfiles reported
