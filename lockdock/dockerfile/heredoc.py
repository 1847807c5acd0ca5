"""Finding here-documents on an instruction line the way BuildKit does.

BuildKit splits the line with its shell lexer (quotes kept raw, so `'<<EOF'` is not a
heredoc), then treats every word matching `[fd]<<[-]WORD` as a heredoc. A quoted
WORD (`<<'EOF'`, `<<"EOF"`) turns variable expansion of the body off.
"""

from __future__ import annotations

import re

from lockdock.dockerfile.gosyntax import is_go_space
from lockdock.dockerfile.model import DockerfileError, Heredoc

_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)([^<]*)$")


class _LexError(Exception):
    pass


def shell_words(src: str, *, raw_quotes: bool, raw_escapes: bool) -> list[str]:
    """Whitespace-separated shell words; raises `_LexError` on an unterminated quote."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "'":
            j = src.find("'", i + 1)
            if j < 0:
                raise _LexError("unexpected end of statement while looking for matching single-quote")
            word.append(src[i : j + 1] if raw_quotes else src[i + 1 : j])
            in_word = True
            i = j + 1
            continue
        if ch == '"':
            j = i + 1
            buf: list[str] = []
            while True:
                if j >= n:
                    raise _LexError("unexpected end of statement while looking for matching double-quote")
                c = src[j]
                if c == '"':
                    j += 1
                    break
                if c == "\\" and j + 1 < n and src[j + 1] in '"$\\':
                    if raw_escapes:
                        buf.append(c)
                    buf.append(src[j + 1])
                    j += 2
                    continue
                buf.append(c)
                j += 1
            inner = "".join(buf)
            word.append(f'"{inner}"' if raw_quotes else inner)
            in_word = True
            i = j
            continue
        if ch == "$" and i + 1 < n and src[i + 1] == "{":
            j = src.find("}", i + 2)
            if j < 0:
                raise _LexError("missing '}'")
            word.append(src[i : j + 1])
            in_word = True
            i = j + 1
            continue
        if ch == "\\":
            if raw_escapes:
                word.append(ch)
                in_word = True
            i += 1
            if i >= n:
                break
            word.append(src[i])
            in_word = True
            i += 1
            continue
        if is_go_space(ch):
            if in_word and word:
                words.append("".join(word))
                word = []
                in_word = False
        else:
            word.append(ch)
            in_word = True
        i += 1
    if word:
        words.append("".join(word))
    return words


def parse_heredoc_word(word: str) -> Heredoc | None:
    """`<<EOF` -> Heredoc(name="EOF"); None when the word is no heredoc."""
    m = _HEREDOC_WORD.match(word)
    if not m:
        return None
    fd_text, dash, rest = m.groups()
    if not rest:
        return None
    try:
        words = shell_words(rest, raw_quotes=False, raw_escapes=False)
        raw = shell_words(rest, raw_quotes=True, raw_escapes=False)
    except _LexError as exc:
        raise DockerfileError(str(exc)) from None
    if len(words) != 1:
        return None
    if len(raw) != 1:
        raise DockerfileError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(
        name=words[0],
        fd=int(fd_text) if fd_text else 0,
        expand=quotes == raw_quotes,
        chomp=dash == "-",
    )


def heredocs_from_line(line: str) -> list[Heredoc]:
    """Every heredoc started on a logical instruction line, in order."""
    if "<<" not in line:
        return []
    try:
        words = shell_words(line, raw_quotes=True, raw_escapes=True)
    except _LexError:
        return []  # BuildKit ignores lexing errors here: no heredocs
    docs = []
    for w in words:
        if "<<" in w:
            doc = parse_heredoc_word(w)
            if doc is not None:
                docs.append(doc)
    return docs
