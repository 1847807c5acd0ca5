"""Compiled `dataclasses` methods, cached on disk like bytecode (a start-up cost of every command).

`@dataclass` writes the source text of each class's `__init__`, `__repr__`, `__eq__`,
`__hash__` (and, frozen, `__setattr__`/`__delattr__`) and compiles it with `exec` when the
class is created, every time a process imports it: `lockdock scan` creates ~90 dataclasses
before it reads anything, ~0.3 ms of CPU each, a quarter of its import time (26 ms of 68 ms
measured here on Python 3.11). Python caches the bytecode of modules (`__pycache__`), not of
these texts.

`install` makes the `dataclasses` module compile each distinct text once per machine: it
sets a module-level `exec` in `dataclasses` (which its own calls `exec(text, globals, ns)`
resolve before the builtin, in CPython 3.11 to 3.13) that looks the text up in a table of
code objects loaded from `cache_path()` and compiles only what is not there, exactly as the
builtin would (`compile(text, "<string>", "exec", dont_inherit=True)`: the `dataclasses`
module has no `__future__` imports to inherit). The code object run is the one the builtin
would have compiled from the same text on the same interpreter, so classes behave the same
with or without the table. New texts are written back at exit (`atexit`), atomically
(a temporary file renamed over the old one), where Python would write bytecode: not under
`sys.dont_write_bytecode` (PYTHONDONTWRITEBYTECODE).

The table is code that runs in this process, so it is trusted as a `.pyc` is and no more:
read only when owned by this user (or root) and not writable by group or others, only when
it carries this interpreter's exact version, and only entries of `str` to `CodeType`;
anything else is ignored (compiled afresh). Where: under `sys.pycache_prefix` when set
(PYTHONPYCACHEPREFIX), else in lockdock's own `__pycache__` when writable, else
`$XDG_CACHE_HOME/lockdock` (default `~/.cache/lockdock`). `LOCKDOCK_NO_DATACLASS_CACHE=1`
turns it off. At most `MAX_ENTRIES` texts are kept (a process that creates more starts
the table over).
"""

from __future__ import annotations

import builtins
import contextlib
import os
import sys
from types import CodeType
from typing import Any

MAX_ENTRIES = 4000
_FORMAT = 1  # bump when the file's layout changes
_HEADER = ("lockdock-dataclass-cache", _FORMAT, sys.version, sys.implementation.cache_tag)

_table: dict[str, CodeType] = {}
_state = {"installed": False, "dirty": False, "path": None}


def cache_path() -> str | None:
    """Where the table lives (see the module docstring), or None when nowhere fits."""
    tag = sys.implementation.cache_tag
    if tag is None:
        return None
    name = f"lockdock-dataclasses.{tag}.marshal"
    prefix = sys.pycache_prefix
    if prefix:
        return os.path.join(prefix, name)
    own = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")
    if os.path.isdir(own) and os.access(own, os.W_OK):
        return os.path.join(own, name)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    return os.path.join(base, "lockdock", name)


def _load(path: str) -> dict[str, CodeType]:
    """The table at `path`, or {} when it is missing, foreign, unsafe or damaged."""
    import marshal

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return {}
    try:
        st = os.fstat(fd)
        if st.st_uid not in (os.getuid(), 0) or st.st_mode & 0o022 or st.st_size > 64 << 20:
            return {}
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read()
    except OSError:
        return {}
    finally:
        os.close(fd)
    try:
        header, entries = marshal.loads(data)
    except Exception:  # noqa: BLE001 - any damage (EOFError, ValueError, TypeError, ...): start over
        return {}
    if header != _HEADER or not isinstance(entries, dict):
        return {}
    return {k: v for k, v in entries.items() if type(k) is str and type(v) is CodeType}


def _exec(source: Any, globals: dict[str, Any] | None = None, locals: Any = None) -> None:
    """`exec` for the `dataclasses` module: a text runs as its cached code object."""
    if type(source) is str:
        code = _table.get(source)
        if code is None:
            code = builtins.compile(source, "<string>", "exec", dont_inherit=True)
            if len(_table) >= MAX_ENTRIES:
                _table.clear()
            _table[source] = code
            _state["dirty"] = True
        source = code
    builtins.exec(source, globals, locals)


def save() -> None:
    """Write the table back when it gained texts (atomic; errors ignored: it is a cache)."""
    path = _state["path"]
    if not _state["dirty"] or not path or sys.dont_write_bytecode:
        return
    import marshal

    _state["dirty"] = False
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        data = marshal.dumps((_HEADER, dict(_table)))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def install() -> None:
    """Route `dataclasses`' compiles through the table (idempotent; see the module docstring)."""
    if _state["installed"] or os.environ.get("LOCKDOCK_NO_DATACLASS_CACHE") == "1":
        return
    _state["installed"] = True
    import dataclasses

    if getattr(dataclasses, "exec", builtins.exec) is not builtins.exec:
        return  # someone else's hook: leave it alone
    path = cache_path()
    _state["path"] = path
    if path:
        _table.update(_load(path))
    dataclasses.exec = _exec  # type: ignore[attr-defined]
    import atexit

    atexit.register(save)
