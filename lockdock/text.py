"""Making untrusted text safe to show.

Names, labels, env, paths and file contents come from files and the engine. Before any
of it reaches a terminal (TUI or CLI, tty or not) control characters become visible
escapes, so an ANSI/OSC sequence, a backspace or a right-to-left override cannot
rewrite the screen or hide text. Rich markup is a separate concern: the TUI and CLI
render these strings as `rich.text.Text`, never as markup.
"""

from __future__ import annotations

import re

from lockdock.secrets import mask_in_text

# C0 controls except tab/newline, DEL, C1 controls, and the bidi/zero-width formatting
# characters that can reorder or hide what a user reads.
# Lone surrogates (U+D800-DFFF) cannot be encoded as UTF-8: a file name that was not
# valid UTF-8 reaches Python as surrogate escapes (PEP 383) and would make a report
# unwritable, so they are escaped as well (`\xff` for the byte 0xff).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_UNSAFE_WITH_NEWLINES = re.compile(
    "[\x00-\x1f\x7f\x80-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_SURROGATES = re.compile("[\ud800-\udfff]")


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group(0)
    code = ord(ch)
    if code == 0x1B:
        return "\\e"
    if code == 0x0D:
        return "\\r"
    if code == 0x0A:
        return "\\n"
    if code == 0x09:
        return "\\t"
    if code < 0x100:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape of the undecodable byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def escape_surrogates(name: str) -> str:
    """A file name from `os.scandir`/`os.readlink` (surrogate-escaped where its bytes were
    not UTF-8) with each undecodable byte written as `\\xNN`: always encodable, safe to
    cache and report, and the same spelling `sanitize` uses. Other characters unchanged."""
    return _SURROGATES.sub(_escape_char, name)


def sanitize(text: object, *, keep_newlines: bool = False) -> str:
    """Return `text` with every control/format character shown as a visible escape."""
    s = text if isinstance(text, str) else str(text)
    pattern = _UNSAFE if keep_newlines else _UNSAFE_WITH_NEWLINES
    return pattern.sub(_escape_char, s)


def display(text: object, *, keep_newlines: bool = False) -> str:
    """The one path for showing text that came from an image, container, file or finding.

    Secrets are masked first (`lockdock.secrets.mask_in_text`: credential formats and
    `NAME=value` pairs with a secret-sounding name), then every control/format character
    becomes a visible escape (`sanitize`). Masking runs on the raw text so a secret split
    by an escape sequence is still recognised; sanitising runs last so nothing the mask
    keeps can reach a terminal raw. Returns a `str`; the TUI wraps it in `rich.text.Text`.
    """
    s = text if isinstance(text, str) else str(text)
    return sanitize(mask_in_text(s), keep_newlines=keep_newlines)


def shorten(text: str, limit: int = 200) -> str:
    """Cut long untrusted strings (a 1 MB line must not flood a report)."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def safe(text: object, limit: int = 200) -> str:
    """Sanitize then shorten: the usual treatment for a value quoted in a message."""
    return shorten(sanitize(text), limit)
