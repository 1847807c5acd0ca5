"""Small pieces of Go semantics the BuildKit grammar relies on.

BuildKit is written in Go; whitespace classes, string trimming and `%q` quoting differ
slightly from Python's, and the conformance dumps depend on the exact behaviour.
"""

from __future__ import annotations

# unicode.IsSpace: the Latin-1 spaces plus the Unicode White_Space property.
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_strip(s: str) -> str:
    """strings.TrimSpace."""
    return s.strip(GO_SPACE)


def go_lstrip(s: str) -> str:
    """strings.TrimLeftFunc(s, unicode.IsSpace)."""
    return s.lstrip(GO_SPACE)


def is_go_space(ch: str) -> bool:
    return ch in GO_SPACE


def go_quote(s: str) -> str:
    """strconv.Quote: printable runes kept, everything else escaped the Go way."""
    out = ['"']
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch == " " or (ch.isprintable() and not ch.isspace()):
            out.append(ch)
        else:
            code = ord(ch)
            if code < 0x80:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def go_quote_list(items: list[str]) -> str:
    """fmt's %q of a []string: `["a" "b"]`."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"
