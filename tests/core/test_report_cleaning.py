"""The quick "anything to escape?" check of JSON reports agrees with the sanitiser itself."""

from __future__ import annotations

import json

from lockdock.reports.clean import clean, needs_clean
from lockdock.text import sanitize


def _changes(ch: str) -> bool:
    return sanitize(ch, keep_newlines=True) != ch


def test_needs_clean_agrees_with_sanitize_for_every_bmp_character() -> None:
    wrong = []
    for code in range(0x10000):
        ch = chr(code)
        for kw in ({"separators": (",", ":")}, {"indent": 2}):
            encoded = json.dumps({"k": ["text " + ch + " more"]}, ensure_ascii=False, **kw)
            if needs_clean(encoded) is not _changes(ch) and not (ch == "\\" and needs_clean(encoded)):
                wrong.append(hex(code))
    assert wrong == []


def test_needs_clean_beyond_the_bmp_and_in_keys() -> None:
    for ch in ("\U0001f600", "\U000e0041", "\U0010ffff"):
        assert needs_clean(json.dumps([ch], ensure_ascii=False)) is _changes(ch)
    assert needs_clean(json.dumps({"a\x1bb": 1}, ensure_ascii=False))
    assert needs_clean(json.dumps({"x": "\x7f"}, ensure_ascii=False))  # DEL is ASCII
    assert not needs_clean(json.dumps({"x": 'quote " and \\ backslash\ttab\nnewline'}, ensure_ascii=False))


def test_clean_leaves_a_clean_report_as_it_is_and_escapes_the_rest() -> None:
    data = {"findings": [{"message": "plain", "n": 1}], "errors": []}
    assert clean(data) is data
    dirty = {"findings": [{"message": "a\x1b[31mred\u202e", "n": 1}], "k\x07": ["\udcff"]}
    out = clean(dirty)
    assert out == {"findings": [{"message": "a\\e[31mred\\u202e", "n": 1}], "k\\x07": ["\\xff"]}
