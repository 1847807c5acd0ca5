"""Just enough shell to read RUN instructions: simple commands, pipes, word positions.

Analyzers ask "which commands does this RUN execute, with which arguments" and fixers
need each word's position to insert or remove a flag, so words keep their offsets in
the script. Quotes are removed from word values; `$(...)` and backticks stay inside
their word. This is a linear scan: a 1 MB script costs one pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lockdock.dockerfile.model import Instruction

_OPERATORS = ("&&", "||", ";;", "|&", ";", "|", "&", "\n", "(", ")")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PLAIN = re.compile(r"[^ \t\r\n\\'\"$`&|;()#]+")
_HEREDOC_REDIRECT = re.compile(r"^\d*<<-?")
SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "busybox"})


@dataclass
class Word:
    value: str  # quotes removed
    start: int  # offset in the script
    end: int
    quoted: bool = False


@dataclass
class Command:
    words: list[Word]
    op_before: str = ""  # the operator that led here ("&&", "|", ";", ...)
    op_after: str = ""
    _program: tuple[str, list[str], int] | None = field(default=None, repr=False, compare=False)

    @property
    def argv(self) -> list[str]:
        """Words after leading VAR=value assignments."""
        vals = [w.value for w in self.words]
        i = 0
        while i < len(vals) and _ASSIGNMENT.match(vals[i]):
            i += 1
        return vals[i:]

    @property
    def assignments(self) -> list[tuple[str, str, Word]]:
        out = []
        for w in self.words:
            if not _ASSIGNMENT.match(w.value):
                break
            name, _, value = w.value.partition("=")
            out.append((name, value, w))
        return out

    def program(self) -> tuple[str, list[str], int]:
        """(program basename, its arguments, index of the program word) past sudo/env wrappers."""
        if self._program is None:
            self._program = self._find_program()
        return self._program

    def _find_program(self) -> tuple[str, list[str], int]:
        words = self.words
        i = 0
        while i < len(words) and _ASSIGNMENT.match(words[i].value):
            i += 1
        while i < len(words):
            name = words[i].value.rsplit("/", 1)[-1]
            if name in ("sudo", "env", "exec", "nohup", "time", "command"):
                i += 1
                while i < len(words) and (words[i].value.startswith("-") or _ASSIGNMENT.match(words[i].value)):
                    if name == "sudo" and words[i].value in ("-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"):
                        i += 1
                    i += 1
                continue
            if name in ("then", "do", "else", "if", "!", "{", "elif", "while", "until"):
                i += 1
                continue
            return name, [w.value for w in words[i + 1 :]], i
        return "", [], len(words)


@dataclass
class Script:
    """A shell script and how to map its offsets back into the Dockerfile text."""

    text: str
    to_file: Callable[[int], int] | None  # None: positions unknown (JSON form)
    commands: list[Command] = field(default_factory=list)
    from_heredoc: bool = False


def split_commands(text: str) -> list[Command]:
    """Split a script into simple commands with their words and separating operators."""
    commands: list[Command] = []
    words: list[Word] = []
    buf: list[str] = []
    start = -1
    quoted = False
    op_before = ""
    i, n = 0, len(text)
    # `case WORD in` ... `esac`: between `in` (or `;;`) and `)` come patterns, where `|`
    # separates alternatives (`amd64 | arm64)`) and is no pipe.
    case_depth = 0
    in_pattern = False

    def end_word(pos: int) -> None:
        nonlocal buf, start, quoted, case_depth, in_pattern
        if start >= 0:
            value = buf[0] if len(buf) == 1 else "".join(buf)
            if quoted or "<<" not in value or not _HEREDOC_REDIRECT.match(value):
                words.append(Word(value, start, pos, quoted))
                if not quoted and len(value) in (2, 4):  # `case`, `in`, `esac`
                    if len(words) == 1 and value == "case":
                        case_depth += 1
                    elif len(words) == 3 and value == "in" and words[0].value == "case":
                        in_pattern = True
                    elif in_pattern and len(words) == 1 and value == "esac":
                        case_depth = max(0, case_depth - 1)
                        in_pattern = False
            buf = []
            start = -1
        quoted = False

    def end_command(op: str) -> None:
        nonlocal words, op_before
        if words:
            commands.append(Command(words, op_before, op))
            op_before = op
        elif op in ("|", "&&", "||"):
            op_before = op
        words = []

    plain = _PLAIN.match
    while i < n:
        m = plain(text, i)
        if m is not None:
            if start < 0:
                start = i
            buf.append(m.group())
            i = m.end()
            continue
        ch = text[i]
        if ch in " \t\r":
            end_word(i)
            i += 1
            continue
        if ch == "\\" and i + 1 < n:
            if text[i + 1] == "\n":
                end_word(i)
                i += 2
                continue
            if start < 0:
                start = i
            buf.append(text[i + 1])
            i += 2
            continue
        if ch == "#" and start < 0:
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        if ch in "'\"":
            if start < 0:
                start = i
            quoted = True
            j = i + 1
            while j < n and text[j] != ch:
                if ch == '"' and text[j] == "\\" and j + 1 < n:
                    buf.append(text[j + 1])
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            i = min(j + 1, n)
            continue
        if ch == "$" and i + 1 < n and text[i + 1] == "(":
            if start < 0:
                start = i
            j = _matching_paren(text, i + 1)
            buf.append(text[i:j])
            i = j
            continue
        if ch == "`":
            if start < 0:
                start = i
            j = text.find("`", i + 1)
            j = n if j < 0 else j + 1
            buf.append(text[i:j])
            i = j
            continue
        op = _operator_at(text, i)
        if in_pattern and op in ("|", "(", ")"):
            end_word(i)
            if op == ")":  # the pattern list ends; the branch's commands follow
                in_pattern = False
                end_command(")")
            i += 1
            continue
        if op == ";;" and case_depth:
            in_pattern = True
        if op and not (op in "()" and start >= 0):
            end_word(i)
            end_command(op.strip() or ";")
            i += len(op)
            continue
        if start < 0:
            start = i
        buf.append(ch)
        i += 1
    end_word(n)
    end_command("")
    return commands


def _operator_at(text: str, i: int) -> str:
    ch = text[i]
    if ch not in "&|;\n()":
        return ""
    if ch == "&" and i > 0 and text[i - 1] in "<>":
        return ""  # 2>&1
    if ch == "&" and i + 1 < len(text) and text[i + 1] == ">":
        return ""  # &>
    for op in _OPERATORS:
        if text.startswith(op, i):
            return op
    return ""


def _matching_paren(text: str, i: int) -> int:
    depth = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        elif ch in "'\"":
            j = text.find(ch, i + 1)
            i = n - 1 if j < 0 else j
        i += 1
    return n


def run_scripts(inst: Instruction) -> list[Script]:
    """The shell scripts a RUN executes: its command line, and heredoc bodies run by a shell.

    Computed once per instruction: every analyzer and fixer asks for them.
    """
    cached = inst.cache.get("scripts")
    if cached is None:
        cached = inst.cache["scripts"] = _run_scripts(inst)
    return cached


def _run_scripts(inst: Instruction) -> list[Script]:
    if inst.cmd != "run":
        return []
    if inst.json:
        args = inst.args
        if len(args) >= 3 and args[0].rsplit("/", 1)[-1] in SHELLS and args[1] in ("-c", "-ec", "-xc", "-exc", "-lc"):
            script = Script(args[2], None)
        else:
            script = Script(" ".join(args), None)
            script.commands = [Command([Word(a, 0, 0, True) for a in args])] if args else []
            return [script]
        script.commands = split_commands(script.text)
        return [script]
    base = inst.rest_pos
    line = Script(inst.rest, lambda idx: inst.offset(base + idx))
    line.commands = split_commands(inst.rest)
    scripts = [line]
    if inst.heredocs:
        progs = [c.program()[0] for c in line.commands]
        shell_fed = not progs or all(p in SHELLS for p in progs)
        for doc in inst.heredocs:
            if shell_fed:
                start = doc.start
                s = Script(doc.content, lambda idx, start=start: start + idx, from_heredoc=True)
                s.commands = split_commands(doc.content)
                scripts.append(s)
    return scripts
