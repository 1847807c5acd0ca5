"""RELIABILITY.md rows for Dockerfiles: a finding or an error entry, never a crash, and the
other files of the scan are still analysed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from lockdock.model import TargetKind
from tests.dockerfile.helpers import scan_dir

GOOD = "FROM ubuntu\nRUN echo ok\n"


def _scan_with_bad(tmp_path: Path, name: str, data: bytes):
    (tmp_path / "Dockerfile").write_text(GOOD)
    (tmp_path / name).write_bytes(data)
    result = scan_dir(tmp_path)
    errors = {e.path: e.message for e in result.errors}
    analysed = {t.target.path for t in result.targets.values() if t.target.kind == TargetKind.DOCKERFILE}
    assert "Dockerfile" in analysed, "the good file must still be analysed"
    assert any(f.check == "image.pinned-tag" for f in result.findings)
    return errors, analysed


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"FROM alpine:3.19\nRUN echo \xff\xfe\n", "invalid UTF-8"),
        (b"FROM alpine\x00\x00\x01", "NUL"),
        (os.urandom(4096).replace(b"\x00", b"\x01") + b"\x00", "NUL"),
        (b"FROM alpine\nRUN <<EOF\necho never ends\n", "unterminated heredoc"),
        (b"# escape=x\nFROM alpine\n", "invalid escape token"),
        (b"FROM alpine\nCMD [\"a\", 1]\n", "JSON array"),
        (b"", "no instructions"),
        (b"# only a comment\n\n", "no instructions"),
    ],
    ids=["invalid-utf8", "nul", "binary-junk", "unterminated-heredoc", "bad-escape", "json-number", "empty", "comments-only"],
)
def test_bad_file_is_an_error_entry(tmp_path: Path, data: bytes, fragment: str) -> None:
    errors, analysed = _scan_with_bad(tmp_path, "bad.Dockerfile", data)
    assert "bad.Dockerfile" not in analysed
    assert fragment in errors["bad.Dockerfile"]


def test_file_over_the_size_cap_is_skipped_with_a_message(tmp_path: Path) -> None:
    data = b"FROM alpine\n" + b"RUN echo x\n" * 300_000
    errors, _ = _scan_with_bad(tmp_path, "huge.Dockerfile", data)
    assert "size cap" in errors["huge.Dockerfile"]


def test_one_megabyte_single_line_finishes_quickly(tmp_path: Path) -> None:
    data = b"FROM alpine\nRUN echo " + b"a" * 1_000_000 + b"\n"
    start = time.monotonic()
    errors, _ = _scan_with_bad(tmp_path, "long.Dockerfile", data)
    assert time.monotonic() - start < 10
    assert "max allowed size" in errors["long.Dockerfile"]


@pytest.mark.parametrize(
    "line",
    [
        "ENV PASSWORD=" + "a:" * 30_000,
        "RUN curl https://" + "u:" * 20_000 + "@" + "x" * 10_000,
        "RUN echo " + "eyJ" + "a." * 30_000,
        "ENV " + " ".join(f"K{i}=ghp_{'a' * 36}" for i in range(1200)),
    ],
    ids=["colons", "userinfo", "jwt-dots", "many-tokens"],
)
def test_adversarial_secret_lines_are_bounded(tmp_path: Path, line: str) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.19\n" + line + "\n")
    start = time.monotonic()
    result = scan_dir(tmp_path)
    assert time.monotonic() - start < 10
    assert not [e for e in result.errors if e.kind == "error"]
    for f in result.findings:
        assert "a" * 36 not in (f.evidence or "") + f.message


@pytest.mark.parametrize(
    "text",
    [
        "\ufeffFROM alpine:3.19\r\nRUN apk add --no-cache git\r\nUSER app",
        "# syntax=docker/dockerfile:1\n# escape=`\nFROM alpine:3.19\nRUN echo `\n  hi\n",
        "FROM alpine:3.19\nRUN echo a \\\n\n  b\nRUN echo end \\",
        "FROM alpine:3.19\nRUN <<EOF\nset -e\nEOF\n# comment right after the terminator\nUSER app\n",
    ],
    ids=["crlf-bom-no-final-newline", "directives", "blank-in-continuation-and-eof-backslash", "heredoc-comment"],
)
def test_unusual_but_valid_files_are_analysed(tmp_path: Path, text: str) -> None:
    (tmp_path / "Dockerfile").write_bytes(text.encode("utf-8"))
    result = scan_dir(tmp_path)
    assert not [e for e in result.errors if e.kind == "error"]
    assert any(t.target.kind == TargetKind.DOCKERFILE for t in result.targets.values())
    assert any(f.check == "runtime.healthcheck" for f in result.findings)


def test_many_instructions_scale_linearly_and_findings_are_capped(tmp_path: Path) -> None:
    from collections import Counter

    from lockdock.dockerfile.facts import MAX_FINDINGS_PER_CHECK

    text = "FROM ubuntu\n" + "RUN sudo apt-get install -y curl\nEXPOSE 22\nFROM ubuntu AS s\n" * 5000
    (tmp_path / "Dockerfile").write_text(text)
    start = time.monotonic()
    result = scan_dir(tmp_path)
    assert time.monotonic() - start < 60
    counts = Counter(f.check for f in result.findings if f.target.kind == TargetKind.DOCKERFILE)
    assert counts["build.no-sudo"] == MAX_FINDINGS_PER_CHECK
    assert max(counts.values()) <= MAX_FINDINGS_PER_CHECK
    assert any("more than" in e.message and e.kind == "warning" and e.path == "Dockerfile" for e in result.errors)
