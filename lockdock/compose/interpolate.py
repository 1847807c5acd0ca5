"""`${VAR}` interpolation the way compose does it, remembering how each value was decided.

Values are judged on the resolved value when the variable is known (environment first,
then the project's `.env`), else on the default written in the file; `Node.interp`
records which, so messages can say "TAG is not set; judged on the default".
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from lockdock.compose.yamlread import Node, resolve_plain
from lockdock.secrets import check_assignment

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_VALUE = 64 * 1024


@dataclass
class Env:
    """Variables for interpolation: the process environment wins over `.env`."""

    dotenv: dict[str, str] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def lookup(self, name: str) -> tuple[str | None, str]:
        if name in self.environ:
            return self.environ[name], "environment"
        if name in self.dotenv:
            return self.dotenv[name], ".env"
        return None, "unset"


def parse_dotenv(text: str) -> dict[str, str]:
    """KEY=VALUE lines (optional `export`, quotes, comments), as compose reads `.env`."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("export "):
            s = s[7:].lstrip()
        name, sep, value = s.partition("=")
        name = name.strip()
        if not sep or not _NAME.fullmatch(name):
            continue
        value = value.strip()
        if value[:1] in ("'", '"'):
            q = value[0]
            close = value.find(q, 1)
            value = value[1:close] if close > 0 else value[1:]
            if q == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        else:
            hash_at = value.find(" #")
            if hash_at >= 0:
                value = value[:hash_at].rstrip()
        result[name] = value
    return result


class InterpolationError(Exception):
    """`${VAR?message}` with VAR unset, or a malformed `${...}`."""


def substitute(text: str, env: Env, notes: list[str]) -> str:
    """Interpolate one string; `notes` collects what was decided for each variable."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$":
            j = text.find("$", i)
            j = n if j < 0 else j
            out.append(text[i:j])
            i = j
            continue
        if i + 1 < n and text[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        if i + 1 < n and text[i + 1] == "{":
            end = _closing_brace(text, i + 2)
            if end < 0:
                raise InterpolationError("unclosed ${ in value")
            out.append(_braced(text[i + 2:end], env, notes))
            i = end + 1
            continue
        m = _NAME.match(text, i + 1)
        if m:
            out.append(_resolve(m.group(0), None, "", env, notes))
            i = m.end()
            continue
        out.append("$")
        i += 1
    return "".join(out)


def _closing_brace(text: str, i: int) -> int:
    depth = 1
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _braced(body: str, env: Env, notes: list[str]) -> str:
    m = _NAME.match(body)
    if not m:
        raise InterpolationError(f"invalid interpolation ${{{body[:40]}}}")
    name = m.group(0)
    rest = body[m.end():]
    if not rest:
        return _resolve(name, None, "", env, notes)
    for op in (":-", ":?", ":+", "-", "?", "+"):
        if rest.startswith(op):
            return _resolve(name, op, rest[len(op):], env, notes)
    raise InterpolationError(f"invalid interpolation ${{{body[:40]}}}")


def _resolve(name: str, op: str | None, arg: str, env: Env, notes: list[str]) -> str:
    value, where = env.lookup(name)
    empty_is_unset = op is not None and op.startswith(":")
    is_set = value is not None and not (empty_is_unset and value == "")
    if op in (":-", "-"):
        if is_set:
            notes.append(f"{name} from {where}")
            return value or ""
        default = substitute(arg, env, notes)
        shown = f" {default!r}" if len(default) <= 40 and check_assignment(name, default) is None else ""
        notes.append(f"{name} is not set; judged on the default{shown}")
        return default
    if op in (":?", "?"):
        if is_set:
            notes.append(f"{name} from {where}")
            return value or ""
        raise InterpolationError(f"required variable {name} is not set: {arg[:80]}")
    if op in (":+", "+"):
        if is_set:
            notes.append(f"{name} is set; using the alternative value")
            return substitute(arg, env, notes)
        notes.append(f"{name} is not set; empty")
        return ""
    if value is None:
        notes.append(f"{name} is not set; read as empty")
        return ""
    notes.append(f"{name} from {where}")
    return value


def interpolate_tree(node: Node, env: Env, on_error: Callable[[Node, str], None]) -> None:
    """Interpolate every string scalar under `node` in place (keys stay as written)."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur.kind == "map":
            stack.extend(cur.value.values())
        elif cur.kind == "seq":
            stack.extend(cur.value)
        elif isinstance(cur.value, str) and "$" in cur.value and len(cur.value) <= MAX_VALUE:
            notes: list[str] = []
            try:
                new = substitute(cur.value, env, notes)
            except InterpolationError as exc:
                on_error(cur, str(exc))
                continue
            if new != cur.value:
                cur.value = resolve_plain(new) if cur.style is None and "${" in (cur.raw or "") and _whole(cur.raw or "") else new
            cur.interp = notes


def _whole(raw: str) -> bool:
    """True when the whole scalar is one `${...}` (so `${RO:-yes}` can read as a boolean)."""
    return raw.startswith("${") and raw.endswith("}") and _closing_brace(raw, 2) == len(raw) - 1
