"""Text surgery on Dockerfiles for fixers: find the instruction a finding points at, and
build edits that keep the file's newline style, its last-line state and its directives.

Offsets are into the decoded text (BOM removed), as `TextEdit` expects.
"""

from __future__ import annotations

import re
from typing import Any

from lockdock.dockerfile.model import Dockerfile, Instruction
from lockdock.dockerfile.shell import Script, Word
from lockdock.model import Applicability, FileEdit, Finding, Fix, TextEdit


def instruction_at(df: Dockerfile, finding: Finding) -> Instruction | None:
    return df.instruction_at_line(finding.location.line)


def make_fix(subject: Any, title: str, applicability: Applicability, edits: list[TextEdit], note: str | None = None) -> Fix | None:
    if not edits:
        return None
    df: Dockerfile = subject.dockerfile
    sha = df.textfile.sha256 if df.textfile is not None else None
    return Fix(title, applicability, [FileEdit(str(subject.path), edits, sha)], note=note)


def line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def line_end_with_newline(text: str, offset: int) -> int:
    """Offset just past the newline of the line holding `offset` (or the end of the text)."""
    nl = text.find("\n", offset)
    return len(text) if nl < 0 else nl + 1


def insert_lines_before(df: Dockerfile, inst: Instruction, lines: list[str]) -> TextEdit:
    """New lines placed right above `inst` (so never above the parser directives)."""
    start = line_start(df.text, inst.start)
    indent = df.text[start : inst.start]
    nl = df.newline
    return TextEdit(start, start, "".join(f"{indent}{line}{nl}" for line in lines))


def insert_lines_after(df: Dockerfile, inst: Instruction, lines: list[str]) -> TextEdit:
    """New lines right below `inst`; a file without a final newline keeps lacking one."""
    nl = df.newline
    return TextEdit(inst.end, inst.end, "".join(f"{nl}{line}" for line in lines))


def delete_instruction(df: Dockerfile, inst: Instruction) -> TextEdit:
    """Remove the instruction's lines entirely (heredoc bodies included)."""
    start = line_start(df.text, inst.start)
    end = line_end_with_newline(df.text, inst.end)
    if end == len(df.text) and not df.text.endswith("\n") and start > 0:
        # last line without final newline: take the newline before it instead
        prev = start - 1
        if prev > 0 and df.text[prev - 1] == "\r":
            prev -= 1
        return TextEdit(prev, end, "")
    return TextEdit(start, end, "")


def word_span(script: Script, word: Word) -> tuple[int, int] | None:
    """File offsets of a word of a script (None for JSON-form scripts)."""
    if script.to_file is None:
        return None
    return script.to_file(word.start), _end_offset(script, word)


def _end_offset(script: Script, word: Word) -> int:
    assert script.to_file is not None
    if word.end == 0:
        return script.to_file(0)
    return script.to_file(word.end - 1) + 1


def insert_after_word(script: Script, word: Word, text: str) -> TextEdit | None:
    if script.to_file is None:
        return None
    pos = _end_offset(script, word)
    return TextEdit(pos, pos, text)


def remove_word(df: Dockerfile, script: Script, word: Word) -> TextEdit | None:
    """Remove a word and the blanks before it (words never start a script we edit)."""
    span = word_span(script, word)
    if span is None:
        return None
    start, end = span
    text = df.text
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    if start == line_start(text, start):
        # the word began a line: eat the blanks after it instead
        start = span[0]
        while end < len(text) and text[end] in " \t":
            end += 1
    return TextEdit(start, end, "")


def script_end(script: Script) -> int | None:
    """File offset just after the last word of a script's last command."""
    if script.to_file is None or not script.commands:
        return None
    last = script.commands[-1].words[-1]
    return _end_offset(script, last)


def remove_env_pair(df: Dockerfile, inst: Instruction, name: str) -> TextEdit | None:
    """Remove `name=value` from a multi-pair ENV/LABEL/ARG (None when it cannot be located
    on one physical line, or the instruction uses the old `ENV name value` form)."""
    text = inst.original
    esc = df.escape
    for m in re.finditer(r"(?<!\S)" + re.escape(name) + "=", text):
        if m.start() < inst.rest_pos:
            continue
        i, quote = m.end(), ""
        while i < len(text):
            ch = text[i]
            if quote:
                if ch == esc and quote == '"' and i + 1 < len(text):
                    i += 2
                    continue
                if ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch == esc and i + 1 < len(text):
                i += 2
                continue
            elif ch.isspace():
                break
            i += 1
        start = m.start()
        while start > inst.rest_pos and text[start - 1] in " \t":
            start -= 1
        if start == inst.rest_pos:  # the first pair: take the blanks after it instead
            start = m.start()
            while i < len(text) and text[i] in " \t":
                i += 1
        fstart, fend = inst.offset(start), inst.offset(i - 1) + 1
        if fend - fstart != i - start:
            return None  # the pair spans a line continuation
        return TextEdit(fstart, fend, "")
    return None
