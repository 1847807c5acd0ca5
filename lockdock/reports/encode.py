"""One JSON encoder for the machine-readable reports: orjson when it can, else the standard library.

`dumps(value, indent=True)` is the text of `json.dumps(value, ensure_ascii=False, indent=2)`;
`indent=False` that of `separators=(",", ":")`. orjson (a declared dependency) writes the
same text about 20x faster for the plain data reports hold: dicts with string keys, lists,
strings, integers, booleans, None and the rounded seconds of fleet reports (its shortest
float form is Python's `repr` there). What it cannot write the same way falls back to the
standard library: integers beyond 64 bits, lone surrogates, non-string keys, and subclasses
of the built-in types (str/int enums), passed through to the fallback. Tested against
`json.dumps` over every BMP character and the report shapes (tests/core/test_encode.py).

Errors: TypeError or ValueError, as `json.dumps` raises them, for data neither can encode.
"""

from __future__ import annotations

import json
from typing import Any

try:  # pragma: no branch - a dependency; the fallback keeps an odd install working
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None  # type: ignore[assignment]

if _orjson is not None:
    _PASS = _orjson.OPT_PASSTHROUGH_SUBCLASS | _orjson.OPT_PASSTHROUGH_DATACLASS | _orjson.OPT_PASSTHROUGH_DATETIME
    _OPTIONS = {True: _orjson.OPT_INDENT_2 | _PASS, False: _PASS}


# orjson's Fragment (already encoded JSON, written as it is), or None without it.
FRAGMENT: Any = getattr(_orjson, "Fragment", None) if _orjson is not None else None


def encoded_json(value: Any) -> bytes | None:
    """`value` as the UTF-8 bytes of `dumps(value, indent=False)`, for a FRAGMENT; None where
    orjson is missing, has no Fragment, or does not write `value` as `json.dumps` would."""
    if FRAGMENT is None:
        return None
    try:
        return _orjson.dumps(value, default=_refuse, option=_OPTIONS[False])
    except TypeError:
        return None


def _refuse(value: Any) -> Any:
    raise TypeError(f"not plain JSON data: {type(value).__name__}")


def dumps(value: Any, *, indent: bool) -> str:
    """`value` as JSON text (not ASCII-escaped), indented by 2 or compact; see the module."""
    if _orjson is not None:
        try:
            return _orjson.dumps(value, default=_refuse, option=_OPTIONS[indent]).decode("utf-8")
        except TypeError:  # orjson.JSONEncodeError is a TypeError: let the library decide
            pass
    if indent:
        return json.dumps(value, ensure_ascii=False, indent=2)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
