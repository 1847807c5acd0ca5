"""reports.encode.dumps writes exactly what json.dumps writes, faster where it can."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest

from lockdock.reports import encode


def _std(value: Any, indent: bool) -> str:
    if indent:
        return json.dumps(value, ensure_ascii=False, indent=2)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Level(enum.IntEnum):
    HIGH = 1


class Word(enum.StrEnum):
    A = "a"


SHAPES: list[Any] = [
    {}, [], "", 0, None, True,
    {"a": {}, "b": [], "c": [{}], "d": [[]], "e": None, "f": False, "g": 0.123, "h": -5},
    {"seconds": [round(x / 997, 3) for x in range(0, 200_000, 37)]},
    {"text": "é\u2028\u2029\t\n\r\b\f\"\\/\x00\x1f\x7f\x85 \ufeff\U0001f600"},
    {"nested": [1, [2, {"k": "v", "l": [None, {"m": []}]}]]},
    {"big": 2**63 - 1, "small": -(2**63)},
    {"beyond": 2**70},  # fallback: orjson stops at 64 bits
    {"surrogate": "a\ud800b"},  # fallback: orjson refuses lone surrogates
    {1: "non-string key"},  # fallback
    {"enums": [Level.HIGH, Word.A]},  # subclasses of int/str: fallback, json's text
]


@pytest.mark.parametrize("indent", [True, False])
@pytest.mark.parametrize("value", SHAPES, ids=range(len(SHAPES)))
def test_the_text_is_that_of_json_dumps(value: Any, indent: bool) -> None:
    assert encode.dumps(value, indent=indent) == _std(value, indent)


def test_every_bmp_character_and_beyond_is_written_as_json_writes_it() -> None:
    text = "".join(chr(i) for i in range(0xD800)) + "".join(chr(i) for i in range(0xE000, 0x10000))
    value = {"all": text + "\U0001f600\U0010ffff"}
    for indent in (True, False):
        assert encode.dumps(value, indent=indent) == _std(value, indent)


def test_a_report_goes_through_orjson_not_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path is taken for report data (the fallback would make this test pass
    silently slower: it is made to fail here)."""
    assert encode._orjson is not None, "orjson is a dependency of lockdock"
    monkeypatch.setattr(encode.json, "dumps", lambda *a, **k: pytest.fail("fell back to json.dumps"))
    report = {"version": 1, "findings": [{"check": "image.pinned-tag", "level": 1, "fix": None,
                                          "location": {"line": 3}, "message": "ünïcode"}] * 3}
    encode.dumps(report, indent=True)
    encode.dumps(report, indent=False)


def test_what_neither_can_encode_raises_as_json_does() -> None:
    with pytest.raises(TypeError):
        encode.dumps({"x": object()}, indent=False)
    with pytest.raises(TypeError):
        encode.dumps({"x": {1, 2}}, indent=True)
