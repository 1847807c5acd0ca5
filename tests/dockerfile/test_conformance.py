"""BuildKit's own parser cases: lockdock's dump must equal BuildKit's line for line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockdock.dockerfile import DockerfileError, dump, parse_dockerfile

CASES = Path(__file__).parents[2].parent / "shared" / "conformance" / "buildkit-parser"
POSITIVE = sorted(p.parent for p in (CASES / "testfiles").glob("*/Dockerfile"))
NEGATIVE = sorted(p.parent for p in (CASES / "testfiles-negative").glob("*/Dockerfile"))

pytestmark = pytest.mark.skipif(not CASES.is_dir(), reason="BuildKit conformance cases not present")


def _text(path: Path) -> str:
    raw = path.read_bytes()
    return raw.decode("utf-8").removeprefix("\ufeff")


def test_cases_were_found() -> None:
    assert len(POSITIVE) >= 30
    assert len(NEGATIVE) >= 4


@pytest.mark.parametrize("case", POSITIVE, ids=lambda p: p.name)
def test_positive_case_matches_buildkit(case: Path) -> None:
    got = dump(parse_dockerfile(_text(case / "Dockerfile"))).splitlines()
    expected = (case / "result").read_text(encoding="utf-8").splitlines()
    for n, (g, e) in enumerate(zip(got, expected, strict=False), 1):
        assert g == e, f"instruction {n} differs"
    assert len(got) == len(expected)


@pytest.mark.parametrize("case", NEGATIVE, ids=lambda p: p.name)
def test_negative_case_is_rejected(case: Path) -> None:
    with pytest.raises(DockerfileError):
        parse_dockerfile(_text(case / "Dockerfile"))
