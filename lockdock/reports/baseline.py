"""Baselines: adopt lockdock on an existing project by recording today's findings and then
reporting only new ones (`lockdock scan --write-baseline FILE`, `--baseline FILE`).

A finding's fingerprint is the SHA-256 of: the check id, the target's kind and name, the
finding's path, and the normalised content of its line (whitespace runs collapsed, ends
stripped; for an image, the `created_by` of its layer) -- never its line number, so lines
inserted above a finding keep its fingerprint. The content is masked first
(`lockdock.secrets.mask_in_text`), and for the checks of the secrets layer only the finding's
evidence (already masked by its analyzer) is used, so no secret value goes into the hash.
Identical fingerprints (two equal lines) are counted: a baseline holding one lets one through.

File format (JSON): `{"version": 1, "tool": "lockdock", "fingerprints": {hex: count}}`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from lockdock.model import Finding
from lockdock.secrets import mask_in_text
from lockdock.text import escape_surrogates

VERSION = 1
MAX_READ = 8 * 1024 * 1024  # bytes: larger files are fingerprinted without line content
_SPACE = re.compile(r"\s+")


class BaselineError(Exception):
    """A baseline file that cannot be read or written; the message names the file."""


class LineSource:
    """Lines of the files findings point at, read once each (paths relative to `cwd`)."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self._files: dict[str, list[str] | None] = {}

    def line(self, path: str, number: int) -> str | None:
        """Line `number` (1-based) of `path`, or None when it cannot be read."""
        if path not in self._files:
            self._files[path] = self._read(path)
        lines = self._files[path]
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]

    def _read(self, path: str) -> list[str] | None:
        full = Path(path) if os.path.isabs(path) else self.cwd / path
        try:
            if not full.is_file() or full.stat().st_size > MAX_READ:
                return None
            return full.read_bytes().decode("utf-8", "replace").splitlines()
        except OSError:
            return None


def _normalise(text: str) -> str:
    return _SPACE.sub(" ", mask_in_text(text)).strip()


def content_of(f: Finding, lines: LineSource) -> str:
    """The normalised, masked content a finding is anchored to ("" when there is none)."""
    if f.check.startswith("secrets."):
        return _normalise(f.evidence or "")
    if f.location.image_layer is not None:
        return _normalise(f.location.image_layer.created_by or "")
    path = f.location.path
    if path and f.location.line:
        text = lines.line(path, f.location.line)
        if text is not None:
            return _normalise(text)
    return ""


def fingerprint(f: Finding, lines: LineSource) -> str:
    """The stable fingerprint of `f` (hex SHA-256; see the module doc for what goes in)."""
    parts = [f.check, f.target.kind.value, f.target.name, f.location.path or "", content_of(f, lines)]
    data = "\x00".join(escape_surrogates(p) for p in parts)
    return hashlib.sha256(data.encode("utf-8", "replace")).hexdigest()


def fingerprints(findings: list[Finding], cwd: Path) -> list[str]:
    """One fingerprint per finding, in order."""
    lines = LineSource(cwd)
    return [fingerprint(f, lines) for f in findings]


def write(path: Path, findings: list[Finding], cwd: Path) -> int:
    """Write the baseline of `findings` (the unsuppressed ones) to `path` atomically; returns
    how many findings it holds. Raises `BaselineError`."""
    active = [f for f in findings if f.suppressed is None]
    counts = Counter(fingerprints(active, cwd))
    data = {"version": VERSION, "tool": "lockdock", "fingerprints": dict(sorted(counts.items()))}
    text = json.dumps(data, indent=1) + "\n"
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".lockdock-baseline-", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise BaselineError(f"cannot write baseline {path}: {exc.strerror or exc}") from None
    return len(active)


def load(path: Path) -> Counter[str]:
    """The fingerprint counts of a baseline file. Raises `BaselineError`."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError):
        raise BaselineError(f"baseline {path}: not JSON") from None
    prints = data.get("fingerprints") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(prints, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and v > 0 for k, v in prints.items()
    ):
        raise BaselineError(f"baseline {path}: not a lockdock baseline (version {VERSION})")
    return Counter(prints)


def split(findings: list[Finding], left: Counter[str], lines: LineSource) -> tuple[list[Finding], int]:
    """(`findings` minus those the baseline counts `left` still hold, how many it held);
    `left` is decremented, so one Counter serves every target of a scan. Suppressed findings
    pass through unchanged."""
    kept: list[Finding] = []
    held = 0
    for f in findings:
        if f.suppressed is None:
            fp = fingerprint(f, lines)
            if left[fp] > 0:
                left[fp] -= 1
                held += 1
                continue
        kept.append(f)
    return kept, held
