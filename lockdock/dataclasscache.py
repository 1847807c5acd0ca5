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
code objects and compiles only what is not there, exactly as the builtin would
(`compile(text, "<string>", "exec", dont_inherit=True)`: the `dataclasses` module has no
`__future__` imports to inherit). The code object run is the one the builtin would have
compiled from the same text on the same interpreter, so classes behave the same with or
without the table.

One table per top-level package of the class's module (`lockdock`, `textual`, ...), each a
file read the first time a class of that package is made (a command loads only the tables
of what it imports); classes of `__main__` or of a module not in `sys.modules` are compiled
as usual. New texts are written back at exit (`atexit`), atomically (a temporary file
renamed over the old one), where Python would write bytecode: not under
`sys.dont_write_bytecode` (PYTHONDONTWRITEBYTECODE).

A table is code that runs in this process, so it is trusted as a `.pyc` is and no more:
read only when owned by this user (or root) and not writable by group or others, not
through a symbolic link, only when it carries this interpreter's exact version, and only
entries of `str` to `CodeType`; anything else is ignored (compiled afresh). Where: under
`sys.pycache_prefix` when set (PYTHONPYCACHEPREFIX), else in lockdock's own `__pycache__`
when writable, else `$XDG_CACHE_HOME/lockdock` (default `~/.cache/lockdock`).
`LOCKDOCK_NO_DATACLASS_CACHE=1` turns it off. A table holds at most `MAX_ENTRIES` texts
(past that it starts over: old versions of a class do not pile up forever).
"""

from __future__ import annotations

import builtins
import contextlib
import os
import sys
from types import CodeType
from typing import Any

MAX_ENTRIES = 1000
_FORMAT = 2  # bump when the file's layout changes
_HEADER = ("lockdock-dataclass-cache", _FORMAT, sys.version, sys.implementation.cache_tag)

_tables: dict[str, dict[str, CodeType]] = {}  # top-level package -> text -> code
_dirty: set[str] = set()
_state: dict[str, Any] = {"installed": False, "dir": None}


def cache_dir() -> str | None:
    """The folder of the tables (see the module docstring), or None when nowhere fits."""
    if sys.implementation.cache_tag is None:
        return None
    if sys.pycache_prefix:
        return sys.pycache_prefix
    own = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")
    if os.path.isdir(own) and os.access(own, os.W_OK):
        return own
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lockdock") if os.path.isabs(base) else None


def table_path(package: str) -> str | None:
    """The file of `package`'s table, or None without a folder."""
    folder = _state["dir"] if _state["installed"] else cache_dir()
    if not folder:
        return None
    return os.path.join(folder, f"lockdock-dataclasses.{package}.{sys.implementation.cache_tag}.marshal")


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


def _package(globals: Any) -> str | None:
    """The top-level package whose table serves a class made in module `globals`."""
    name = globals.get("__name__") if isinstance(globals, dict) else None
    if not isinstance(name, str) or name not in sys.modules or name == "__main__":
        return None
    top = name.partition(".")[0]
    return top if top.isidentifier() and top.isascii() else None


def _exec(source: Any, globals: dict[str, Any] | None = None, locals: Any = None) -> None:
    """`exec` for the `dataclasses` module: a text runs as its cached code object."""
    package = _package(globals) if type(source) is str else None
    if package is not None:
        table = _tables.get(package)
        if table is None:
            path = table_path(package)
            table = _tables[package] = _load(path) if path else {}
        code = table.get(source)
        if code is None:
            code = builtins.compile(source, "<string>", "exec", dont_inherit=True)
            if len(table) >= MAX_ENTRIES:
                table.clear()
            table[source] = code
            _dirty.add(package)
        source = code
    builtins.exec(source, globals, locals)


def save() -> None:
    """Write back the tables that gained texts (atomic; errors ignored: it is a cache)."""
    if sys.dont_write_bytecode:
        return
    import marshal

    for package in sorted(_dirty):
        path = table_path(package)
        if not path:
            continue
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            data = marshal.dumps((_HEADER, dict(_tables[package])))
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    _dirty.clear()


def install() -> None:
    """Route `dataclasses`' compiles through the tables (idempotent; see the module docstring)."""
    if _state["installed"] or os.environ.get("LOCKDOCK_NO_DATACLASS_CACHE") == "1":
        return
    import dataclasses

    if getattr(dataclasses, "exec", builtins.exec) is not builtins.exec:
        return  # someone else's hook: leave it alone
    _state["dir"] = cache_dir()
    _state["installed"] = True
    dataclasses.exec = _exec  # type: ignore[attr-defined]
    import atexit

    atexit.register(save)
