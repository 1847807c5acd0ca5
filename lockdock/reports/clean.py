"""One output policy for every machine-readable report (JSON, SARIF).

Every string a report carries (names, paths, messages, evidence, fix titles, error text,
even dictionary keys) may quote a file or the engine. Before a report is encoded, each
one goes through `lockdock.text.sanitize` like the text report's: terminal control
characters (ESC, BEL, C1, bidi overrides) become visible escapes such as `\\e`, so `jq -r`
or a CI log cannot replay them, and lone surrogates from non-UTF-8 file names become
`\\xNN`, so the report is always valid UTF-8. Newlines and tabs are kept (JSON escapes
them anyway). Evidence is already masked by the analyzers; nothing is unmasked here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from lockdock.text import sanitize

T = TypeVar("T")
# What `sanitize(keep_newlines=True)` would change, as it appears in `json.dumps(...,
# ensure_ascii=False)` output: C0 controls other than tab and newline (JSON writes them
# as \uXXXX, \r, \b, \f), DEL, C1, bidi/zero-width formatting, lone surrogates. A
# literal backslash before r/b/f/u00 also matches: that only costs the slow path.
# Searched in parts, each quick: the escapes start with a literal backslash (found like a
# substring), DEL is one character, and the rest are all outside ASCII (not searched for
# when the text is ASCII, the usual case).
_ESCAPES_IN_JSON = re.compile(r"\\(?:u00[01][0-9a-fA-F]|[rbf])")
_UNSAFE_NON_ASCII = re.compile("[\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


def clean(value: Any) -> Any:
    """A copy of a JSON-able value with every string (keys too) sanitised.

    A large report with nothing to escape (the usual case) is checked in one pass over
    its JSON encoding and returned as it is."""
    if isinstance(value, (dict, list)):
        try:
            encoded = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            encoded = None
        if encoded is not None and not needs_clean(encoded):
            return value
    return _clean(value)


def needs_clean(encoded: str) -> bool:
    """True when JSON text (`json.dumps(..., ensure_ascii=False)`, compact or indented)
    holds a string `clean` would change."""
    if _ESCAPES_IN_JSON.search(encoded) is not None:
        return True
    if encoded.isascii():
        return "\x7f" in encoded
    return _UNSAFE_NON_ASCII.search(encoded) is not None


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return sanitize(value, keep_newlines=True)
    if isinstance(value, dict):
        return {_clean(k) if isinstance(k, str) else k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def each_or_error(items: Any, convert: Callable[[Any], T], errors: list[dict[str, Any]],
                  what: Callable[[Any], str]) -> list[T]:
    """`convert` each item; an item whose data cannot be converted becomes one entry in
    `errors` (`{"kind": "error", "message": ...}`) and the rest of the report goes on."""
    out: list[T] = []
    for item in items:
        try:
            out.append(convert(item))
        except Exception as exc:  # noqa: BLE001 - one target's odd data must not fail the report
            try:
                name = what(item)
            except Exception:  # noqa: BLE001
                name = "?"
            errors.append({"path": None, "message": f"{name}: left out of the report: {type(exc).__name__}: "
                           f"{sanitize(str(exc))[:200]}", "kind": "error"})
    return out
