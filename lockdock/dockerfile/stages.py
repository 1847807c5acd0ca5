"""Stages of a Dockerfile: FROM lines with `ARG`s before the first FROM substituted.

BuildKit expands global ARGs (and their defaults) in FROM, names stages
case-insensitively and lets a FROM build on an earlier stage; analyzers must know
which FROMs are real images and which are stage aliases or `scratch`.
"""

from __future__ import annotations

import re

from lockdock.dockerfile.model import KNOWN_INSTRUCTIONS, Instruction, Stage

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = (":-", ":+", ":?", "-", "+", "?")


def expand(word: str, env: dict[str, str | None], escape: str = "\\") -> tuple[str, bool]:
    """Shell-like word processing: quotes removed, `$VAR`/`${VAR...}` substituted.

    Returns the value and whether every variable used had a known value.
    """
    out: list[str] = []
    resolved = True
    i, n = 0, len(word)
    in_double = False
    while i < n:
        ch = word[i]
        if ch == "'" and not in_double:
            j = word.find("'", i + 1)
            if j < 0:
                out.append(word[i + 1 :])
                break
            out.append(word[i + 1 : j])
            i = j + 1
            continue
        if ch == '"':
            in_double = not in_double
            i += 1
            continue
        if ch == escape and i + 1 < n:
            out.append(word[i + 1])
            i += 2
            continue
        if ch == "$" and i + 1 < n:
            value, ok, i = _dollar(word, i, env, escape)
            resolved = resolved and ok
            out.append(value)
            continue
        out.append(ch)
        i += 1
    return "".join(out), resolved


def _dollar(word: str, i: int, env: dict[str, str | None], escape: str) -> tuple[str, bool, int]:
    nxt = word[i + 1]
    if nxt == "{":
        j = word.find("}", i + 2)
        if j < 0:
            return word[i:], False, len(word)
        inner = word[i + 2 : j]
        m = _NAME.match(inner)
        if not m:
            return word[i : j + 1], False, j + 1
        name = m.group(0)
        tail = inner[m.end() :]
        value = env.get(name)
        for op in _OPS:
            if tail.startswith(op):
                arg, ok = expand(tail[len(op) :], env, escape)
                is_set = value is not None and (value != "" or ":" not in op)
                if op.endswith("-"):
                    return (value, True, j + 1) if is_set else (arg, ok, j + 1)
                if op.endswith("+"):
                    return (arg, ok, j + 1) if is_set else ("", value is not None or name in env, j + 1)
                return (value or "", is_set, j + 1)
        return (value or "", value is not None, j + 1)
    m = _NAME.match(word, i + 1)
    if not m:
        return "$", True, i + 1
    value = env.get(m.group(0))
    return (value or "", value is not None, m.end())


def _arg_defaults(inst: Instruction, env: dict[str, str | None], escape: str) -> None:
    for word in inst.args:
        name, eq, value = word.partition("=")
        if not eq:
            env.setdefault(name, None)
            continue
        val, ok = expand(value, env, escape)
        env[name] = val if ok else None


def problems(instructions: list[Instruction]) -> list[tuple[int, str]]:
    """(line, message) for what BuildKit's instruction parser refuses although its line
    parser accepts it; `docker build` would stop there."""
    out: list[tuple[int, str]] = []
    seen_from = False
    for inst in instructions:
        if inst.cmd not in KNOWN_INSTRUCTIONS:
            out.append((inst.start_line, f"unknown instruction: {inst.keyword[:40]}"))
        elif inst.cmd == "from":
            seen_from = True
            n = len(inst.args)
            if n not in (1, 3) or (n == 3 and inst.args[1].lower() != "as"):
                out.append((inst.start_line, "FROM requires either one or three arguments"))
        elif not seen_from and inst.cmd != "arg":
            out.append((inst.start_line, f"{inst.keyword[:40]} before the first FROM"))
    return out


def build_stages(instructions: list[Instruction], escape: str) -> tuple[list[Stage], dict[str, str | None]]:
    """Group instructions by FROM; returns the stages and the global ARG defaults."""
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    aliases: dict[str, int] = {}
    for inst in instructions:
        if inst.cmd == "from":
            stage = _stage(inst, len(stages), aliases, global_args, escape)
            stages.append(stage)
            if stage.alias is not None:
                aliases.setdefault(stage.alias.lower(), stage.index)
        elif not stages:
            if inst.cmd == "arg":
                _arg_defaults(inst, global_args, escape)
        else:
            stages[-1].instructions.append(inst)
    return stages, global_args


def _stage(
    inst: Instruction,
    index: int,
    aliases: dict[str, int],
    env: dict[str, str | None],
    escape: str,
) -> Stage:
    raw = inst.args[0] if inst.args else ""
    alias = None
    if len(inst.args) >= 3 and inst.args[1].lower() == "as":
        alias = inst.args[2]
    base, resolved = expand(raw, env, escape)
    resolved = resolved and bool(base)
    platform = inst.flag("platform")
    stage = Stage(
        index=index,
        base=base if resolved else raw,
        base_raw=raw,
        resolved=resolved,
        alias=alias,
        platform=platform,
        from_instruction=inst,
    )
    stage.base_stage = aliases.get(stage.base.lower())
    return stage
