"""Suppressions, applied after the analyzers ran (analyzers never know about them).

Sources: inline pragmas (`# lockdock: ignore=<id>[,<id>] <reason>` on the line of the
finding or in the comment block above it, `# lockdock: ignore-file=<id>` anywhere in the
file), the `io.lockdock.ignore` label on images and containers, and the config file
(`ignore`, `per-image-ignores` by image name for images and the containers made from them,
`per-path-ignores`).
Suppressed findings stay in reports, marked with their reason.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lockdock.checks import CATALOGUE, resolve_selector
from lockdock.context import ScanContext
from lockdock.files import FileProblem, read_text
from lockdock.model import Finding, Suppression
from lockdock.text import safe

PRAGMA = re.compile(
    r"#\s*lockdock:\s*(?P<scope>ignore-file|ignore)\s*=\s*(?P<ids>[A-Za-z0-9_.,\-\s]*?[A-Za-z0-9_.\-]+)(?:\s+(?P<reason>.*?))?\s*$"
)
IGNORE_LABEL = "io.lockdock.ignore"


def parse_ids(text: str) -> set[str]:
    """`a.b, c` -> ids; layer names and `all` expand; unknown words are ignored."""
    ids: set[str] = set()
    for word in re.split(r"[,\s]+", text.strip()):
        if not word:
            continue
        if word == "all":
            ids |= set(CATALOGUE)
            continue
        try:
            ids |= resolve_selector(word)
        except KeyError:
            continue
    return ids


def _split_pragma(text: str) -> tuple[str, set[str], str] | None:
    m = PRAGMA.search(text)
    if not m:
        return None
    ids_part = m.group("ids")
    reason = (m.group("reason") or "").strip()
    # "ignore=a.b,c.d reason words": ids are the comma-joined first word.
    words = ids_part.split()
    ids_word = words[0] if words else ""
    if len(words) > 1:
        reason = (" ".join(words[1:]) + (" " + reason if reason else "")).strip()
    return m.group("scope"), parse_ids(ids_word), reason


def _file_lines(path: str, ctx: ScanContext) -> list[str] | None:
    key = f"suppress-lines:{path}"
    if key in ctx.cache:
        return ctx.cache[key]
    full = Path(path) if Path(path).is_absolute() else ctx.cwd / path
    try:
        lines: list[str] | None = read_text(full).lines
    except FileProblem:
        lines = None
    ctx.cache[key] = lines
    return lines


def _file_pragmas(path: str, lines: list[str], ctx: ScanContext) -> tuple[dict[str, str], dict[str, str]]:
    """(ignore-file pragmas, every ignore pragma) of a file: check id -> reason."""
    key = f"suppress-file:{path}"
    if key in ctx.cache:
        return ctx.cache[key]
    whole: dict[str, str] = {}
    anywhere: dict[str, str] = {}
    for n, line in enumerate(lines, 1):
        if "lockdock:" not in line:
            continue
        parsed = _split_pragma(line)
        if not parsed:
            continue
        target = whole if parsed[0] == "ignore-file" else anywhere
        for cid in parsed[1]:
            target.setdefault(cid, parsed[2] or f"{parsed[0]} pragma at line {n}")
    ctx.cache[key] = (whole, anywhere)
    return whole, anywhere


def _line_pragma(lines: list[str], line: int, check: str) -> str | None:
    """A pragma for `check` on `line` itself or in the comment block just above it."""
    candidates = []
    if 1 <= line <= len(lines):
        candidates.append((line, lines[line - 1]))
    n = line - 1
    while 1 <= n <= len(lines) and lines[n - 1].lstrip().startswith("#"):
        candidates.append((n, lines[n - 1]))
        n -= 1
    for num, text in candidates:
        if "lockdock:" not in text:
            continue
        parsed = _split_pragma(text)
        if parsed and parsed[0] == "ignore" and check in parsed[1]:
            return parsed[2] or f"ignore pragma at line {num}"
    return None


def _label_ignores(subject: Any) -> tuple[set[str], str]:
    labels = getattr(subject, "labels", None) or {}
    if not isinstance(labels, dict):
        return set(), ""
    value = labels.get(IGNORE_LABEL)
    if not isinstance(value, str) or not value.strip():
        return set(), ""
    head, _, reason = value.strip().partition(" ")
    return parse_ids(head), reason.strip()


def image_names(subject: Any) -> list[str]:
    """The image names `[per-image-ignores]` is matched against: an image's repo tags, or
    the reference a container was created from (its `Config.Image`); [] for other subjects."""
    from lockdock.model import TargetKind

    target = getattr(subject, "target", None)
    kind = getattr(target, "kind", None)
    if kind is TargetKind.IMAGE:
        tags = getattr(subject, "repo_tags", None) or []
        return [t for t in tags if isinstance(t, str) and t and t != "<none>:<none>"]
    if kind is TargetKind.CONTAINER:
        ref = getattr(subject, "image_ref", "")
        return [ref] if isinstance(ref, str) and ref else []
    return []


def apply_suppressions(findings: list[Finding], subject: Any, ctx: ScanContext) -> None:
    """Mark findings suppressed by pragma, label or config (in that order of precedence)."""
    label_ids, label_reason = _label_ignores(subject)
    names = image_names(subject) if ctx.config.image_ignores else []
    image_ids = ctx.config.ignored_for_image(names) if names else {}
    for f in findings:
        if f.suppressed is not None:
            continue
        path = f.location.path or f.target.path
        if path:
            lines = _file_lines(path, ctx)
            if lines is not None:
                file_ids, any_ids = _file_pragmas(path, lines, ctx)
                if f.check in file_ids:
                    f.suppressed = Suppression(safe(file_ids[f.check]), "pragma")
                    continue
                if not f.location.line and f.check in any_ids:
                    # A finding about the file as a whole: an ignore pragma anywhere in it counts.
                    f.suppressed = Suppression(safe(any_ids[f.check]), "pragma")
                    continue
                if not file_ids and not any_ids:
                    lines = None  # no pragma anywhere in the file: no line of it can hold one
            if lines is not None:
                scope_lines = [f.location.line] if f.location.line else []
                scope_lines += [n for n in f.scope_lines if n]
                for line in scope_lines:
                    reason = _line_pragma(lines, line, f.check)
                    if reason is not None:
                        f.suppressed = Suppression(safe(reason), "pragma")
                        break
                if f.suppressed is not None:
                    continue
        if f.check in label_ids:
            f.suppressed = Suppression(
                safe(label_reason or f"label {IGNORE_LABEL}"), "label"
            )
            continue
        if f.check in ctx.config.ignore:
            f.suppressed = Suppression("ignored in config", "config")
            continue
        if f.check in image_ids:
            f.suppressed = Suppression(
                f"ignored in config for image {safe(image_ids[f.check], 200)}", "config"
            )
            continue
        if path and f.check in ctx.config.ignored_for_path(path):
            f.suppressed = Suppression(f"ignored in config for {safe(path)}", "config")
