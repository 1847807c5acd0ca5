"""Heredocs, directives, continuations and positions (cases BuildKit's suite lacks)."""

from __future__ import annotations

import pytest

from lockdock.dockerfile import DockerfileError, dump, parse_dockerfile


def _dump(text: str) -> list[str]:
    return dump(parse_dockerfile(text)).splitlines()


def test_heredoc_run_body_and_positions() -> None:
    text = "FROM alpine:3.19\nRUN <<EOF\napk add curl\necho done\nEOF\nUSER app\n"
    df = parse_dockerfile(text)
    run = df.instructions[1]
    assert run.dump() == 'run "<<EOF"'
    (doc,) = run.heredocs
    assert (doc.name, doc.expand, doc.chomp) == ("EOF", True, False)
    assert doc.content == "apk add curl\necho done\n"
    assert (run.start_line, run.end_line) == (2, 5)
    assert text[run.start : run.end] == "RUN <<EOF\napk add curl\necho done\nEOF"
    assert text[doc.start : doc.start + len(doc.content)] == doc.content
    assert df.instructions[2].cmd == "user" and df.instructions[2].start_line == 6


def test_comment_line_right_after_heredoc_terminator() -> None:
    text = "FROM alpine\nRUN <<EOF\nset -e\nEOF\n# a comment\nRUN echo hi\n"
    assert _dump(text) == ['(from "alpine")', '(run "<<EOF")', '(run "echo hi")']


def test_several_heredocs_on_one_line_and_quoted_delimiter() -> None:
    text = "FROM scratch\nCOPY <<FILE1 <<'FILE2' /dest/\none $HOME\nFILE1\ntwo $HOME\nFILE2\n"
    copy = parse_dockerfile(text).instructions[1]
    assert [(h.name, h.expand, h.content) for h in copy.heredocs] == [
        ("FILE1", True, "one $HOME\n"),
        ("FILE2", False, "two $HOME\n"),
    ]
    assert copy.args == ["<<FILE1", "<<'FILE2'", "/dest/"]


def test_chomped_heredoc_terminator_may_be_indented_with_tabs() -> None:
    text = "FROM alpine\nRUN <<-EOT sh\n\techo hi\n\tEOT\nCMD [\"sh\"]\n"
    df = parse_dockerfile(text)
    doc = df.instructions[1].heredocs[0]
    assert doc.chomp and doc.content == "\techo hi\n"
    assert df.instructions[2].json


def test_heredoc_words_in_quotes_or_json_are_not_heredocs() -> None:
    text = 'FROM alpine\nRUN echo "<<EOF"\nRUN ["<<EOF"]\nRUN 3<<X cat\nx\nX\n'
    df = parse_dockerfile(text)
    assert df.instructions[1].heredocs == [] and df.instructions[2].heredocs == []
    assert df.instructions[3].heredocs[0].fd == 3


def test_heredoc_not_allowed_on_other_instructions() -> None:
    assert _dump("FROM alpine\nUSER <<INVALID\nINVALID\n") == [
        '(from "alpine")',
        '(user "<<INVALID")',
        '(invalid "")',
    ]


def test_heredoc_with_flags_and_crlf() -> None:
    text = "FROM alpine\r\nRUN --mount=type=cache,target=/var/cache/apk <<EOF\r\napk add git\r\nEOF\r\n"
    run = parse_dockerfile(text).instructions[1]
    assert run.flags == ["--mount=type=cache,target=/var/cache/apk"]
    assert run.heredocs[0].content == "apk add git\r\n"
    assert text[run.start : run.end].endswith("EOF")


def test_unterminated_heredoc_is_rejected() -> None:
    with pytest.raises(DockerfileError, match="unterminated heredoc"):
        parse_dockerfile("FROM alpine\nRUN <<EOF\necho\n")


def test_onbuild_heredoc() -> None:
    df = parse_dockerfile("FROM alpine\nONBUILD RUN <<EOF\necho hi\nEOF\n")
    inst = df.instructions[1]
    assert inst.dump() == 'onbuild (run "<<EOF")'
    assert inst.heredocs[0].content == "echo hi\n"


def test_escape_directive_backtick_continuation() -> None:
    text = "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN dir `\n    c:\\\n"
    df = parse_dockerfile(text)
    assert df.escape == "`" and df.directives == {"escape": "`"}
    assert df.instructions[1].args == ["dir     c:\\"]


def test_duplicate_directive_and_bad_escape_rejected() -> None:
    with pytest.raises(DockerfileError):
        parse_dockerfile("# escape=`\n# escape=`\nFROM a\n")
    with pytest.raises(DockerfileError):
        parse_dockerfile("# escape=x\nFROM a\n")


def test_continuation_offsets_map_back_to_the_file() -> None:
    text = "FROM debian:12\nRUN apt-get update && \\\n    # comment\n\n    apt-get install -y curl\n"
    run = parse_dockerfile(text).instructions[1]
    idx = run.original.index("install")
    off = run.offset(idx)
    assert text[off : off + len("install")] == "install"
    assert (run.start_line, run.end_line) == (2, 5)


def test_stage_model_with_arg_substitution_and_aliases() -> None:
    text = (
        "ARG BASE=golang\nARG VER=1.22\n"
        "FROM --platform=$BUILDPLATFORM ${BASE}:${VER}-alpine AS Build\nRUN go build\n"
        "FROM build AS test\nFROM scratch\nCOPY --from=Build /app /app\n"
    )
    df = parse_dockerfile(text)
    s0, s1, s2 = df.stages
    assert (s0.base, s0.alias, s0.platform) == ("golang:1.22-alpine", "Build", "$BUILDPLATFORM")
    assert s0.base_is_image and [i.cmd for i in s0.instructions] == ["run"]
    assert s1.base_stage == 0 and not s1.base_is_image
    assert s2.is_scratch and not s2.base_is_image
    assert df.stage_by_name("build") is s0


def test_unresolved_arg_in_from_is_marked() -> None:
    df = parse_dockerfile("ARG IMAGE\nFROM $IMAGE\n")
    assert not df.stages[0].resolved and df.stages[0].base == "$IMAGE"


def test_trailing_escape_at_eof_and_no_final_newline() -> None:
    df = parse_dockerfile("FROM alpine\nRUN echo hi \\")
    assert df.instructions[1].args == ["echo hi"]


def test_long_line_is_rejected_like_buildkit() -> None:
    with pytest.raises(DockerfileError, match="max allowed size"):
        parse_dockerfile("FROM alpine\nRUN echo " + "a" * 70000 + "\n")
