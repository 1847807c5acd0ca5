"""daemon.json read with positions, and minimal text edits that keep its formatting.

`json.loads` loses duplicate keys and positions; dockerd would take the last duplicate.
This walker records every top-level member with its key and value offsets, so findings
can name a line and fixes can replace one value or add one member without re-dumping
the file (comments are not JSON, indentation and key order stay as the user wrote them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdock.files import FileProblem, TextFile, detect_newline, read_text
from lockdock.model import TextEdit

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Member:
    key: str
    key_start: int
    value_start: int
    value_end: int
    line: int  # 1-based line of the key


@dataclass
class DaemonJson:
    path: Path
    exists: bool = False
    file: TextFile | None = None
    data: dict[str, Any] = field(default_factory=dict)
    members: list[Member] = field(default_factory=list)
    duplicates: list[Member] = field(default_factory=list)
    error: str | None = None  # unreadable or invalid JSON: no findings from it, no fixes
    open_brace: int = -1
    close_brace: int = -1
    text: str = ""  # decoded, BOM removed: edit offsets refer to this

    @property
    def newline(self) -> str:
        return detect_newline(self.text)

    @property
    def usable(self) -> bool:
        return self.error is None

    def member(self, key: str) -> Member | None:
        """The member dockerd uses for `key` (the last one when duplicated)."""
        found = None
        for m in self.members:
            if m.key == key:
                found = m
        return found

    def line_of(self, key: str) -> int | None:
        m = self.member(key)
        return m.line if m else None


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def parse_text(text: str, path: Path) -> DaemonJson:
    """Parse the decoded text (BOM already removed); errors become `error`."""
    dj = DaemonJson(path=path, exists=True, text=text)
    if not text.strip():
        return dj  # an empty file: dockerd treats it as no settings
    try:
        pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
        if pos >= len(text) or text[pos] != "{":
            raise ValueError(f"expected an object at line {_line(text, pos)}")
        dj.open_brace = pos
        pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
        if text[pos : pos + 1] == "}":
            dj.close_brace = pos
        else:
            while True:
                if text[pos : pos + 1] != '"':
                    raise ValueError(f"expected a key at line {_line(text, pos)}")
                key, after = json.decoder.scanstring(text, pos + 1)
                colon = _WS.match(text, after).end()  # type: ignore[union-attr]
                if text[colon : colon + 1] != ":":
                    raise ValueError(f"expected ':' at line {_line(text, colon)}")
                vstart = _WS.match(text, colon + 1).end()  # type: ignore[union-attr]
                value, vend = _DECODER.raw_decode(text, vstart)
                member = Member(key, pos, vstart, vend, _line(text, pos))
                if any(m.key == key for m in dj.members):
                    dj.duplicates.append(member)
                dj.members.append(member)
                dj.data[key] = value
                pos = _WS.match(text, vend).end()  # type: ignore[union-attr]
                if text[pos : pos + 1] == ",":
                    pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
                    continue
                if text[pos : pos + 1] == "}":
                    dj.close_brace = pos
                    break
                raise ValueError(f"expected ',' or '}}' at line {_line(text, pos)}")
        rest = text[dj.close_brace + 1 :]
        if rest.strip():
            raise ValueError(f"extra data after the object at line {_line(text, dj.close_brace + 1)}")
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        dj.error = f"invalid JSON: {exc}"
        dj.data = {}
        dj.members = []
    return dj


def load(path: Path) -> DaemonJson:
    """Read daemon.json; a missing file is not an error (all defaults)."""
    if not path.exists():
        return DaemonJson(path=path, exists=False)
    try:
        tf = read_text(path)
    except FileProblem as exc:
        return DaemonJson(path=path, exists=True, error=str(exc))
    dj = parse_text(tf.text, path)
    dj.file = tf
    return dj


# --------------------------------------------------------------------------- edits


def _indent(dj: DaemonJson) -> str:
    """The indentation of the first member, or two spaces."""
    text = dj.text
    if dj.members:
        start = text.rfind("\n", 0, dj.members[0].key_start) + 1
        lead = text[start : dj.members[0].key_start]
        if lead.strip() == "":
            return lead
    return "  "


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def set_keys(dj: DaemonJson, settings: dict[str, Any]) -> list[TextEdit]:
    """Edits that make each key hold its value: present values are replaced in place,
    missing keys are added together after the last member (one insertion, no overlap)."""
    assert dj.usable
    text = dj.text
    nl = dj.newline
    edits: list[TextEdit] = []
    missing: list[tuple[str, Any]] = []
    for key, value in settings.items():
        member = dj.member(key)
        if member is not None:
            edits.append(TextEdit(member.value_start, member.value_end, _dump(value)))
        else:
            missing.append((key, value))
    if not missing:
        return edits
    indent = _indent(dj)
    pairs = [f"{_dump(k)}: {_dump(v)}" for k, v in missing]
    if dj.members:
        last = dj.members[-1]
        multiline = "\n" in text[dj.open_brace : dj.close_brace]
        sep = f",{nl}{indent}" if multiline else ", "
        edits.append(TextEdit(last.value_end, last.value_end, "".join(sep + p for p in pairs)))
    elif dj.open_brace < 0:  # empty file
        edits = [TextEdit(0, len(text), new_content(dict(missing)).replace("\n", nl))]
    else:
        body = f",{nl}".join(indent + p for p in pairs)
        edits.append(TextEdit(dj.open_brace, dj.close_brace + 1, "{" + nl + body + nl + "}"))
    return edits


def set_key(dj: DaemonJson, key: str, value: Any) -> list[TextEdit]:
    """Edits that make `key` hold `value`."""
    return set_keys(dj, {key: value})


def remove_key(dj: DaemonJson, key: str) -> list[TextEdit]:
    """Edits that delete every member named `key`, with its comma, keeping the rest."""
    assert dj.usable
    text = dj.text
    edits: list[TextEdit] = []
    members = dj.members
    keep = [m for m in members if m.key != key]
    if not keep:
        return [TextEdit(dj.open_brace + 1, dj.close_brace, dj.newline if "\n" in text else "")]
    for i, m in enumerate(members):
        if m.key != key:
            continue
        if any(p.key != key for p in members[:i]):
            # A kept member comes before: delete from the previous value's end (its comma).
            edits.append(TextEdit(members[i - 1].value_end, m.value_end, ""))
        else:
            # A leading run: delete up to the next member's key.
            edits.append(TextEdit(m.key_start, members[i + 1].key_start, ""))
    return _merge(edits)


def _merge(edits: list[TextEdit]) -> list[TextEdit]:
    """Adjacent deletions (two removed members in a row) become one edit."""
    edits.sort(key=lambda e: e.start)
    out: list[TextEdit] = []
    for e in edits:
        if out and e.start <= out[-1].end:
            out[-1] = TextEdit(out[-1].start, max(out[-1].end, e.end), "")
        else:
            out.append(e)
    return out


def new_content(settings: dict[str, Any]) -> str:
    """A whole daemon.json for a file that does not exist yet."""
    return json.dumps(settings, indent=2) + "\n"


def apply_edits(text: str, edits: list[TextEdit]) -> str:
    """Apply non-overlapping edits (used by tests and previews of this module)."""
    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: e.start] + e.text + text[e.end :]
    return text
