"""Applying text edits: many fixes to one file in one pass, without letting them collide.

Edits are character offsets into the decoded text (BOM stripped). Edits that overlap an
edit already taken cannot be applied in the same pass (their offsets would be wrong after
the first one); they are handed back so the caller can rescan and recompute them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from lockdock.files import TextFile
from lockdock.model import FileEdit, Fix, TextEdit


class EditError(ValueError):
    """Edits that cannot be applied to this text (out of range, inconsistent hashes)."""


# One line of a YAML block mapping entry: indentation, a plain key, a colon (YAML 1.2
# spec, 8.2.2 block mappings; compose keys are plain scalars).
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][A-Za-z0-9_.-]*):(?:[ \t].*)?$")


def mapping_entries(text: str) -> tuple[int, frozenset[str]] | None:
    """(indentation, keys) when `text` is whole lines of YAML block mapping entries that
    all start at one indentation and never leave it; else None.

    Such insertions are entries of the mapping they are inserted into, whatever comes
    before or after them at the same offset.
    """
    if not text.endswith("\n"):
        return None
    indent: int | None = None
    keys: set[str] = set()
    for raw in text.split("\n")[:-1]:
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            continue
        here = len(line) - len(line.lstrip(" "))
        if indent is None or here <= indent:
            m = _KEY_LINE.match(line)
            if m is None or (indent is not None and here < indent):
                return None
            indent = here
            if m.group("key") in keys:
                return None
            keys.add(m.group("key"))
    return None if indent is None else (indent, frozenset(keys))


def _stackable(a: TextEdit, b: TextEdit) -> bool:
    """Two insertions at one offset that can go there one after the other, in either
    order: both new entries of the same YAML mapping (same indentation), no key twice."""
    ma, mb = mapping_entries(a.text), mapping_entries(b.text)
    return ma is not None and mb is not None and ma[0] == mb[0] and not ma[1] & mb[1]


def overlaps(a: TextEdit, b: TextEdit) -> bool:
    """True when two edits touch the same characters.

    Two insertions at the same offset overlap (their order would be a guess), unless both
    only add entries to one YAML mapping at the same indentation with different keys
    (`mapping_entries`): those are stacked in fix order. An insertion at the boundary of a
    replacement does not overlap it.
    """
    if a.start == a.end and b.start == b.end:
        return a.start == b.start and not _stackable(a, b)
    if a.start == a.end:
        return b.start < a.start < b.end
    if b.start == b.end:
        return a.start < b.start < a.end
    return a.start < b.end and b.start < a.end


def check_range(text: str, edits: Iterable[TextEdit]) -> None:
    n = len(text)
    for e in edits:
        if not (0 <= e.start <= e.end <= n):
            raise EditError(f"edit {e.start}..{e.end} is outside the file (length {n})")


def apply_edits(text: str, edits: Sequence[TextEdit]) -> tuple[str, list[TextEdit]]:
    """Apply the non-overlapping edits in one pass; return (new text, deferred edits).

    Identical duplicate edits (two fixes making the same change) are applied once.
    """
    check_range(text, edits)
    taken: list[TextEdit] = []
    deferred: list[TextEdit] = []
    seen: set[TextEdit] = set()
    for e in sorted(edits, key=lambda e: (e.start, e.end)):
        if e in seen:
            continue
        seen.add(e)
        if any(overlaps(e, t) for t in taken):
            deferred.append(e)
        else:
            taken.append(e)
    out: list[str] = []
    pos = 0
    for e in taken:  # sorted by start, pairwise disjoint
        out.append(text[pos : e.start])
        out.append(e.text)
        pos = e.end
    out.append(text[pos:])
    return "".join(out), deferred


@dataclass
class Batch:
    """Fixes that can be applied together, and those that must wait for a rescan."""

    fixes: list[Fix] = field(default_factory=list)
    deferred: list[Fix] = field(default_factory=list)
    # Merged edits per file, keyed by `plan`'s `canon` of the path (the real file when the
    # caller resolves symlinks); each FileEdit keeps the path the first fix named.
    files: dict[str, FileEdit] = field(default_factory=dict)


def _edits_of(fix: Fix) -> list[FileEdit]:
    return [c for c in fix.changes if isinstance(c, FileEdit)]


def plan(fixes: Sequence[Fix], canon: Callable[[str], str] | None = None) -> Batch:
    """Merge the file edits of several fixes; a fix colliding with an earlier one is deferred.

    A fix is taken or deferred as a whole, so no fix is ever half applied. Two fixes that
    analysed different versions of the same file (different expected hashes) collide too.
    `canon(path)` names the file behind a path (its real path): one file reached through a
    symlink, or named relative and absolute, is then planned and written once.
    """
    if canon is None:
        def key(path: str) -> str:
            return path
    else:
        named: dict[str, str] = {}  # canon is a realpath (syscalls): once per path

        def key(path: str) -> str:
            k = named.get(path)
            if k is None:
                k = named[path] = canon(path)
            return k
    batch = Batch()
    for fix in fixes:
        collide = False
        for fe in _edits_of(fix):
            have = batch.files.get(key(fe.path))
            if have is None:
                continue
            if (
                fe.expected_sha256
                and have.expected_sha256
                and fe.expected_sha256 != have.expected_sha256
            ):
                collide = True
                break
            if any(overlaps(a, b) and a != b for a in fe.edits for b in have.edits):
                collide = True
                break
        if collide:
            batch.deferred.append(fix)
            continue
        batch.fixes.append(fix)
        for fe in _edits_of(fix):
            have = batch.files.get(key(fe.path))
            if have is None:
                batch.files[key(fe.path)] = FileEdit(fe.path, list(fe.edits), fe.expected_sha256)
            else:
                have.edits.extend(e for e in fe.edits if e not in have.edits)
                have.expected_sha256 = have.expected_sha256 or fe.expected_sha256
    return batch


def keep_final_newline(original: str, new: str, newline: str) -> str:
    """Give `new` the final-newline state of `original` (a fix must not flip it)."""
    if not new:
        return new
    had = original.endswith(("\n", "\r"))
    has = new.endswith(("\n", "\r"))
    if had and not has:
        return new + newline
    if not had and has and original:
        if new.endswith("\r\n"):
            return new[:-2]
        return new[:-1]
    return new


def render(tf: TextFile, edits: Sequence[TextEdit]) -> tuple[str, bytes, list[TextEdit]]:
    """New text and bytes of a file after `edits`: BOM, encoding and final newline kept.

    Line endings are never translated: the edits carry the file's own newline style and
    everything outside them is copied as it was.
    """
    text, deferred = apply_edits(tf.text, edits)
    text = keep_final_newline(tf.text, text, tf.newline)
    data = (b"\xef\xbb\xbf" if tf.bom else b"") + text.encode("utf-8")
    return text, data, deferred
