"""Differential test: lockdock's parser against the `dockerfile` package (BuildKit's Go
parser compiled into a wheel), on generated Dockerfiles. Test-only; skipped where that
package is not installed (it ships Linux x86_64 wheels only)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from lockdock.dockerfile import DockerfileError, parse_dockerfile
from lockdock.dockerfile.model import KNOWN_INSTRUCTIONS
from tests.dockerfile.strategies import dockerfiles

dockerfile = pytest.importorskip("dockerfile")

def _theirs(text: str) -> list[tuple] | None:
    try:
        cmds = dockerfile.parse_string(text)
    except dockerfile.GoParseError:
        return None
    out = []
    for c in cmds:
        value = tuple(c.value)
        docs = tuple((h.name, h.content) for h in c.heredocs)
        out.append((c.cmd.lower(), (c.sub_cmd or "").lower(), tuple(c.flags), value, c.json, c.start_line, c.end_line, docs))
    return out


def _ours(text: str) -> list[tuple] | None:
    try:
        df = parse_dockerfile(text)
    except DockerfileError:
        return None
    out = []
    for i in df.instructions:
        target = i.sub if i.sub is not None else i
        args = list(target.args)
        if target.cmd in ("env", "label"):
            args = [a for n, a in enumerate(args) if n % 3 != 2]  # the package predates "=" nodes
        if target.cmd not in KNOWN_INSTRUCTIONS:
            args = [""]  # BuildKit keeps one empty node for instructions it does not know
        docs = tuple((h.name, h.content) for h in i.heredocs)
        out.append((i.cmd, target.cmd if i.sub is not None else "", tuple(i.flags if i.sub is None else target.flags), tuple(args), target.json, i.start_line, i.end_line, docs))
    return out


@settings(max_examples=300, deadline=None)
@given(dockerfiles())
def test_same_instructions_as_buildkit(text: str) -> None:
    theirs = _theirs(text)
    ours = _ours(text)
    if theirs is None:
        assert ours is None, f"BuildKit rejects, lockdock accepts:\n{text!r}"
        return
    assert ours is not None, f"BuildKit accepts, lockdock rejects:\n{text!r}"
    assert ours == theirs, text
