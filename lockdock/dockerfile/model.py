"""What a parsed Dockerfile looks like to analyzers and fixers.

Every instruction remembers where it came from (lines and character offsets into the
decoded text) so findings point at it and fixes can edit it in place.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdock.dockerfile.gosyntax import go_quote, go_quote_list
from lockdock.files import TextFile

# Instructions BuildKit's parser knows; others are kept with an empty argument node.
KNOWN_INSTRUCTIONS = frozenset(
    ["add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label", "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir"]
)


class DockerfileError(Exception):
    """The file is not a Dockerfile BuildKit would accept; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line
        self.reason = message


@dataclass
class Heredoc:
    """A here-document attached to RUN/COPY/ADD (`<<EOF`, `<<-EOF`, `<<'EOF'`)."""

    name: str
    fd: int = 0
    expand: bool = True
    chomp: bool = False
    content: str = ""
    start: int = 0  # offset of the body's first character
    end: int = 0  # offset just past the terminator line's text
    start_line: int = 0  # first body line (1-based); the terminator is on end_line
    end_line: int = 0


@dataclass
class Instruction:
    """One instruction, as BuildKit's parser sees it, plus where it sits in the file."""

    cmd: str  # lower-case keyword ("run", "from", ...)
    keyword: str  # the keyword as written
    original: str  # the logical line: continuations joined, comment lines dropped
    flags: list[str] = field(default_factory=list)  # "--mount=type=cache,target=/x"
    args: list[str] = field(default_factory=list)  # BuildKit's argument nodes
    json: bool = False
    heredocs: list[Heredoc] = field(default_factory=list)
    sub: Instruction | None = None  # ONBUILD's instruction
    start_line: int = 0
    end_line: int = 0
    start: int = 0  # offset of the keyword
    end: int = 0  # offset after the last character (heredoc terminator included)
    rest: str = ""  # the text after the flags
    rest_pos: int = 0  # index of `rest` in `original`
    # (index in `original`, offset in the file, length): where each piece came from.
    segments: list[tuple[int, int, int]] = field(default_factory=list, repr=False)
    comments: list[str] = field(default_factory=list, repr=False)
    # Derived data computed on demand (shell scripts of a RUN); never part of equality.
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def dump(self) -> str:
        """BuildKit's S-expression form (without the outer parentheses)."""
        out = self.cmd
        if self.flags:
            out += " " + go_quote_list(self.flags)
        if self.sub is not None:
            out += " (" + self.sub.dump() + ")"
        for a in self.args:
            out += " " + go_quote(a)
        if self.cmd not in KNOWN_INSTRUCTIONS:
            out += ' ""'  # BuildKit's parseIgnore leaves one empty node
        return out.strip()

    def offset(self, index: int) -> int:
        """File offset of the character at `index` of `original` (end maps past the last)."""
        if not self.segments:
            return self.start + index
        starts = self.cache.get("segment_starts")
        if starts is None:
            starts = self.cache["segment_starts"] = [s[0] for s in self.segments]
        i = bisect.bisect_right(starts, index) - 1
        i = max(i, 0)
        lstart, off, length = self.segments[i]
        if index - lstart > length:
            return off + length
        return off + (index - lstart)

    def flag_values(self, name: str) -> list[str]:
        """Values of every `--name=value` flag (a bare `--name` gives "")."""
        prefix = f"--{name}"
        out = []
        for f in self.flags:
            if f == prefix:
                out.append("")
            elif f.startswith(prefix + "="):
                out.append(f[len(prefix) + 1 :])
        return out

    def flag(self, name: str) -> str | None:
        vals = self.flag_values(name)
        return vals[-1] if vals else None

    def env_pairs(self) -> list[tuple[str, str]]:
        """ENV/LABEL: (name, value as written) pairs; other instructions have none."""
        if self.cmd in ("env", "label"):
            return [(self.args[i], self.args[i + 1]) for i in range(0, len(self.args) - 2, 3)]
        return []


@dataclass
class Stage:
    """One FROM and the instructions up to the next FROM."""

    index: int
    base: str  # image reference after ARG substitution (raw text when unresolved)
    base_raw: str
    resolved: bool  # every variable in the reference had a value
    alias: str | None
    platform: str | None
    from_instruction: Instruction
    instructions: list[Instruction] = field(default_factory=list)  # FROM excluded
    base_stage: int | None = None  # index of the stage this one builds on

    @property
    def is_scratch(self) -> bool:
        return self.base.lower() == "scratch"

    @property
    def base_is_image(self) -> bool:
        """False for scratch and for another stage of the same file."""
        return not self.is_scratch and self.base_stage is None


@dataclass
class Dockerfile:
    path: Path | None
    text: str
    textfile: TextFile | None
    directives: dict[str, str]
    escape: str
    instructions: list[Instruction]
    stages: list[Stage] = field(default_factory=list)
    global_args: dict[str, str | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    _line_starts: list[int] = field(default_factory=list, repr=False)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)  # derived facts, computed once
    _stage_index: dict[int, Stage] | None = field(default=None, repr=False)
    _line_index: dict[int, Instruction] | None = field(default=None, repr=False)
    _aliases: dict[str, Stage] | None = field(default=None, repr=False)

    @property
    def final_stage(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    @property
    def newline(self) -> str:
        if self.textfile is not None:
            return self.textfile.newline
        return "\r\n" if "\r\n" in self.text else "\n"

    def line_of(self, offset: int) -> int:
        """1-based line number of a character offset."""
        if not self._line_starts:
            starts = [0]
            pos = self.text.find("\n")
            while pos >= 0:
                starts.append(pos + 1)
                pos = self.text.find("\n", pos + 1)
            self._line_starts = starts
        return bisect.bisect_right(self._line_starts, offset)

    def stage_of(self, inst: Instruction) -> Stage | None:
        if self._stage_index is None:
            index: dict[int, Stage] = {}
            for st in self.stages:
                index[id(st.from_instruction)] = st
                for i in st.instructions:
                    index[id(i)] = st
            self._stage_index = index
        return self._stage_index.get(id(inst))

    def instruction_at_line(self, line: int | None) -> Instruction | None:
        """The instruction starting on `line` (1-based), else the one whose lines hold it
        (findings on a long RUN point at the line of the sub-command)."""
        if line is None:
            return None
        if self._line_index is None:
            self._line_index = {i.start_line: i for i in reversed(self.instructions)}
        found = self._line_index.get(line)
        if found is None:
            starts = self.cache.get("instruction_starts")
            if starts is None:
                starts = self.cache["instruction_starts"] = [i.start_line for i in self.instructions]
            idx = bisect.bisect_right(starts, line) - 1
            if idx >= 0 and self.instructions[idx].start_line <= line <= self.instructions[idx].end_line:
                found = self.instructions[idx]
        return found

    def stage_by_name(self, name: str) -> Stage | None:
        """A stage named by alias (case-insensitive) or by index, as `--from=` and FROM use."""
        low = name.lower()
        if self._aliases is None:
            aliases: dict[str, Stage] = {}
            for st in self.stages:
                if st.alias is not None:
                    aliases.setdefault(st.alias.lower(), st)
            self._aliases = aliases
        if low in self._aliases:
            return self._aliases[low]
        if low.isdigit():
            idx = int(low)
            if 0 <= idx < len(self.stages):
                return self.stages[idx]
        return None
