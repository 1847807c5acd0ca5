"""Differential test: lockdock's parser against the `dockerfile` package (BuildKit's Go
parser compiled into a wheel), on generated Dockerfiles. Test-only; skipped where that
package is not installed (it ships Linux x86_64 wheels only)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lockdock.dockerfile import DockerfileError, parse_dockerfile
from lockdock.dockerfile.model import KNOWN_INSTRUCTIONS

dockerfile = pytest.importorskip("dockerfile")

WORDS = st.sampled_from(["a", "b c", "$X", "${Y:-z}", "'q r'", '"s t"', "x\\ y", "--f", "-k", "=", "é", "\\\\"])


@st.composite
def continued(draw: st.DrawFn, head: str, esc: str) -> str:
    parts = draw(st.lists(WORDS, min_size=1, max_size=4))
    out = head
    for p in parts:
        sep = draw(st.sampled_from([" ", f" {esc}\n  ", f" {esc}\n# comment\n  ", f"{esc} \n\n ", "\t"]))
        out += sep + p
    return out


@st.composite
def instruction(draw: st.DrawFn, esc: str) -> str:
    kind = draw(st.integers(0, 13))
    if kind == 0:
        return draw(st.sampled_from(["FROM alpine", "FROM --platform=$BUILDPLATFORM golang:1.22 AS build", "from scratch", "FROM build as final"]))
    if kind == 1:
        return draw(continued("RUN", esc))
    if kind == 2:
        return draw(st.sampled_from(['RUN ["echo", "hi"]', "CMD [ ]", 'ENTRYPOINT ["a",', "CMD ['x']", 'SHELL ["/bin/sh", "-c"]']))
    if kind == 3:
        return draw(continued("RUN --mount=type=cache,target=/root/.cache --network=none", esc))
    if kind == 4:
        return draw(st.sampled_from(["ENV A=1 B=\"x y\"", "ENV A 1 2", "ENV A=", "LABEL a=b c=\"d e\"", "ENV X=a\\ b", "env lower=case"]))
    if kind == 5:
        return draw(st.sampled_from(["ARG V", "ARG V=1 W", "ARG A=\"q r\"", "EXPOSE 80 443/tcp", "USER app:app", "WORKDIR /a b", "STOPSIGNAL SIGTERM", "VOLUME /a /b", 'VOLUME ["/c"]']))
    if kind == 6:
        return draw(st.sampled_from(["HEALTHCHECK NONE", "HEALTHCHECK --interval=5s CMD curl -f http://x/", 'HEALTHCHECK CMD ["a", "b"]', "HEALTHCHECK"]))
    if kind == 7:
        return draw(st.sampled_from(["ONBUILD RUN echo hi", "ONBUILD COPY . /x", 'ONBUILD CMD ["a"]']))
    if kind == 8:
        return draw(st.sampled_from(["COPY --from=build --chown=1:1 /a /b", "ADD --checksum=sha256:00 https://x/y /z", "COPY -- a b", "COPY --link . ."]))
    if kind == 9:
        name = draw(st.sampled_from(["EOF", "END", "X1"]))
        form = draw(st.sampled_from(["<<{n}", "<<-{n}", "<<'{n}'", '<<"{n}"', "3<<{n}"]))
        body = draw(st.lists(st.sampled_from(["echo hi", "\techo tab", "# inside", "", "set -e", f"{name}x"]), max_size=3))
        term = ("\t" if form.startswith("<<-") and draw(st.booleans()) else "") + name
        head = draw(st.sampled_from(["RUN ", "RUN python3 ", "COPY ", "RUN --mount=type=cache,target=/x "]))
        tail = " /dst" if head.startswith("COPY") else ""
        return head + form.format(n=name) + tail + "\n" + "".join(b + "\n" for b in body) + term
    if kind == 10:
        return "COPY <<A <<B /d\n1\nA\n2\nB"
    if kind == 11:
        return draw(st.sampled_from(["# just a comment", "", "   ", "  # indented comment"]))
    if kind == 12:
        return draw(st.sampled_from(["MAINTAINER me", "UNKNOWN thing", "RUN echo '<<EOF'", "RUN echo <<EOF>out\nx\nEOF"]))
    return draw(continued("CMD", esc))


@st.composite
def dockerfiles(draw: st.DrawFn) -> str:
    esc = draw(st.sampled_from(["\\", "`"]))
    head = []
    if draw(st.booleans()):
        head.append("# syntax=docker/dockerfile:1")
    if esc == "`":
        head.append("# escape=`")
    body = draw(st.lists(instruction(esc), min_size=1, max_size=8))
    text = "\n".join([*head, "FROM alpine", *body])
    text += draw(st.sampled_from(["\n", "", "\n\n"]))
    if draw(st.integers(0, 4)) == 0:
        text = text.replace("\n", "\r\n")
    return text


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
