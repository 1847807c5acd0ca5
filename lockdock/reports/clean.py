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

from collections.abc import Callable
from typing import Any, TypeVar

from lockdock.text import sanitize

T = TypeVar("T")


def clean(value: Any) -> Any:
    """A copy of a JSON-able value with every string (keys too) sanitised."""
    if isinstance(value, str):
        return sanitize(value, keep_newlines=True)
    if isinstance(value, dict):
        return {clean(k) if isinstance(k, str) else k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
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
