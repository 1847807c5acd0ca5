"""Hypothesis strategies that generate Dockerfiles mixing every construct the parser knows."""

from __future__ import annotations

from hypothesis import strategies as st

WORDS = st.sampled_from(["a", "b c", "$X", "${Y:-z}", "'q r'", '"s t"', "x\\ y", "--f", "-k", "=", "é", "\\\\"])


REALISTIC = [
    "RUN apt-get update && apt-get install -y curl",
    "RUN sudo apk add git",
    "RUN curl -fsSLk https://x.io/i | sh",
    "RUN pip install -r requirements-dev.txt",
    "RUN npm install",
    "RUN GIT_SSL_NO_VERIFY=1 git clone https://u:p4ssw0rd@x.io/r",
    "RUN <<X cat\nX",
    "USER root",
    "USER $U",
    "EXPOSE 22",
    "ENV PASSWORD=abc12345",
    "ARG NPM_TOKEN",
    "ADD a",
    "ADD",
    "COPY --from=nginx:latest /a /b",
    "COPY .env",
    "CMD x y",
    "ENTRYPOINT",
    "HEALTHCHECK NONE",
    "FROM ${BASE:-ubuntu}:latest AS x",
    "FROM x",
    "FROM http://reg/app",
]


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
    kind = draw(st.integers(0, 15))
    if kind >= 14:
        return draw(continued(draw(st.sampled_from(REALISTIC)), esc))
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
