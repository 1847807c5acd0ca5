"""A pure-Python Dockerfile parser that follows BuildKit's grammar line for line.

lockdock installs from pure wheels everywhere, so it cannot wrap BuildKit's Go parser;
instead this module reproduces its rules (directives, escape character, continuations
with blank and comment lines inside, heredocs, JSON vs shell forms, builder flags) and
is checked against BuildKit's own reference cases. On top of BuildKit's AST it records
offsets so fixes can edit the file in place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lockdock.dockerfile.gosyntax import GO_SPACE, go_lstrip, go_strip, is_go_space
from lockdock.dockerfile.heredoc import heredocs_from_line
from lockdock.dockerfile.model import DockerfileError, Instruction

MAX_LINE_BYTES = 64 * 1024 - 1  # bufio.MaxScanTokenSize - 1: BuildKit refuses longer lines
_MAX_TOKEN = 64 * 1024  # a line with its ending must fit BuildKit's scanner buffer

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*\Z")
_TOKEN_WS = re.compile(r"[\t\v\f\r ]+")
_VALID_DIRECTIVES = frozenset({"escape", "syntax", "check"})
_HEREDOC_CMDS = frozenset({"run", "copy", "add"})
_CONTINUATION = {
    "\\": re.compile(r"([^\\])\\[ \t]*\Z|^\\[ \t]*\Z"),
    "`": re.compile(r"([^`])`[ \t]*\Z|^`[ \t]*\Z"),
}


class _NotStringArray(Exception):
    pass


@dataclass
class _Directives:
    escape: str = "\\"
    done: bool = False
    seen: dict[str, str] = field(default_factory=dict)

    def check(self, line: str, lineno: int) -> None:
        if self.done:
            return
        m = _DIRECTIVE.match(line)
        if not m:
            self.done = True
            return
        key = m.group(1).lower()
        if key not in _VALID_DIRECTIVES:
            self.done = True
            return
        if key in self.seen:
            raise DockerfileError(f"only one {key} parser directive can be used", lineno)
        self.seen[key] = m.group(2)
        if key == "escape":
            if m.group(2) not in ("`", "\\"):
                raise DockerfileError(
                    f"invalid escape token '{m.group(2)}' does not match ` or \\", lineno
                )
            self.escape = m.group(2)


@dataclass
class ParseResult:
    instructions: list[Instruction]
    directives: dict[str, str]
    escape: str
    warnings: list[str]


def _trim_newline(s: str) -> str:
    return s.rstrip("\r\n")


def _is_comment(raw: str) -> bool:
    return go_lstrip(_trim_newline(raw)).startswith("#")


def split_lines(text: str) -> list[tuple[str, int]]:
    """Lines with their endings (BuildKit splits on \\n only) and their start offsets."""
    out = []
    pos = 0
    n = len(text)
    while pos < n:
        nl = text.find("\n", pos)
        end = n if nl < 0 else nl + 1
        out.append((text[pos:end], pos))
        pos = end
    return out


# --------------------------------------------------------------------------- words


def parse_words(rest: str, escape: str) -> list[str]:
    """BuildKit's parseWords: whitespace-split words, quotes and escapes kept."""
    words: list[str] = []
    word: list[str] = []
    blank_ok = False
    in_quote: str | None = None
    in_word = False
    i, n = 0, len(rest)
    while i < n:
        ch = rest[i]
        if in_quote is None:
            if not in_word:
                if is_go_space(ch):
                    i += 1
                    continue
                in_word = True
            if is_go_space(ch):
                if blank_ok or word:
                    words.append("".join(word))
                word = []
                blank_ok = False
                in_word = False
                i += 1
                continue
            if ch in "'\"":
                in_quote = ch
                blank_ok = True
            if ch == escape:
                if i + 1 == n:
                    i += 1
                    continue
                word.append(ch)
                i += 1
                ch = rest[i]
            word.append(ch)
            i += 1
            continue
        # inside quotes
        if ch == in_quote:
            in_quote = None
            word.append(ch)
            i += 1
            continue
        if ch == escape and in_quote != "'":
            if i + 1 == n:
                in_quote = None
                i += 1
                continue
            word.append(ch)
            i += 1
            ch = rest[i]
        word.append(ch)
        i += 1
    if in_word and (blank_ok or word):
        words.append("".join(word))
    return words


def extract_flags(line: str) -> tuple[str, list[str]]:
    """BuildKit's extractBuilderFlags: leading `--flag[=value]` words, then the rest."""
    words: list[str] = []
    word: list[str] = []
    blank_ok = False
    quote: str | None = None
    in_word = False
    pos, n = 0, len(line)
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if not in_word and quote is None:
            if pos == n:
                break
            if is_go_space(ch):
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            in_word = True
        if pos == n:
            text = "".join(word)
            if text != "--" and (blank_ok or word):
                words.append(text)
            break
        if quote is None:
            if is_go_space(ch):
                text = "".join(word)
                in_word = False
                if text == "--":
                    return line[pos:], words
                if blank_ok or word:
                    words.append(text)
                word = []
                blank_ok = False
                pos += 1
                continue
            if ch in "'\"":
                quote = ch
                blank_ok = True
                pos += 1
                continue
            if ch == "\\":
                if pos + 1 == n:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            word.append(ch)
            pos += 1
            continue
        if ch == quote:
            quote = None
            pos += 1
            continue
        if ch == "\\":
            if pos + 1 == n:
                quote = None
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        word.append(ch)
        pos += 1
    return "", words


# --------------------------------------------------------------------------- line parsers


def _parse_json(rest: str) -> list[str]:
    rest = go_lstrip(rest)
    if not rest.startswith("["):
        raise ValueError("not a JSON array")

    def no_constants(name: str) -> object:
        raise ValueError(name)

    decoder = json.JSONDecoder(parse_constant=no_constants)
    value, _ = decoder.raw_decode(rest)
    if not isinstance(value, list):
        raise ValueError("not a JSON array")
    if not all(isinstance(v, str) for v in value):
        raise _NotStringArray
    return value


def _maybe_json(rest: str) -> tuple[list[str], bool]:
    if rest == "":
        return [], False
    try:
        return _parse_json(rest), True
    except _NotStringArray:
        raise DockerfileError(
            "when using JSON array syntax, arrays must be comprised of strings only"
        ) from None
    except ValueError:
        return [rest], False


def _whitespace_list(rest: str) -> list[str]:
    if rest == "":
        return []
    return _TOKEN_WS.split(rest)


def _maybe_json_to_list(rest: str) -> tuple[list[str], bool]:
    try:
        return _parse_json(rest), True
    except _NotStringArray:
        raise DockerfileError(
            "when using JSON array syntax, arrays must be comprised of strings only"
        ) from None
    except ValueError:
        return _whitespace_list(rest), False


def _name_val(rest: str, key: str, escape: str) -> list[str]:
    words = parse_words(rest, escape)
    if not words:
        return []
    if "=" not in words[0]:
        parts = _TOKEN_WS.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise DockerfileError(f"{key} must have two arguments")
        return [parts[0], parts[1], ""]
    out: list[str] = []
    for w in words:
        if "=" not in w:
            raise DockerfileError(
                f"Syntax error - can't find = in {w!r}. Must be of the form: name=value"
            )
        k, v = w.split("=", 1)
        out += [k, v, "="]
    return out


def _health(rest: str) -> tuple[list[str], bool]:
    sep = 0
    while sep < len(rest) and not is_go_space(rest[sep]):
        sep += 1
    if sep == 0:
        return [], False
    nxt = sep
    while nxt < len(rest) and is_go_space(rest[nxt]):
        nxt += 1
    cmd, is_json = _maybe_json(rest[nxt:])
    return [rest[:sep], *cmd], is_json


_Dispatch = Callable[[str, str], tuple[list[str], bool]]

_DISPATCH: dict[str, _Dispatch] = {
    "add": lambda r, e: _maybe_json_to_list(r),
    "arg": lambda r, e: (parse_words(r, e), False),
    "cmd": lambda r, e: _maybe_json(r),
    "copy": lambda r, e: _maybe_json_to_list(r),
    "entrypoint": lambda r, e: _maybe_json(r),
    "env": lambda r, e: (_name_val(r, "ENV", e), False),
    "expose": lambda r, e: (_whitespace_list(r), False),
    "from": lambda r, e: (_whitespace_list(r), False),
    "healthcheck": lambda r, e: _health(r),
    "label": lambda r, e: (_name_val(r, "LABEL", e), False),
    "maintainer": lambda r, e: ([r] if r else [], False),
    "run": lambda r, e: _maybe_json(r),
    "shell": lambda r, e: _maybe_json(r),
    "stopsignal": lambda r, e: ([r] if r else [], False),
    "user": lambda r, e: ([r] if r else [], False),
    "volume": lambda r, e: _maybe_json_to_list(r),
    "workdir": lambda r, e: ([r] if r else [], False),
}


def node_from_line(line: str, escape: str) -> Instruction:
    """BuildKit's newNodeFromLine on one logical line (no positions filled in)."""
    stripped = go_strip(line)
    lead = len(line) - len(line.lstrip(GO_SPACE))
    parts = _TOKEN_WS.split(stripped, maxsplit=1)
    keyword = parts[0]
    cmd = keyword.lower()
    args_text = ""
    flags: list[str] = []
    if len(parts) == 2:
        args_text, flags = extract_flags(parts[1])
    rest = go_strip(args_text)
    if args_text:
        args_start = lead + len(stripped) - len(args_text)
        rest_pos = args_start + (len(args_text) - len(go_lstrip(args_text)))
    else:
        rest_pos = lead + len(stripped)
    inst = Instruction(cmd=cmd, keyword=keyword, original=line, flags=flags, rest=rest, rest_pos=rest_pos)
    if cmd == "onbuild":
        if rest:
            inst.sub = node_from_line(rest, escape)
        return inst
    fn = _DISPATCH.get(cmd)
    if fn is not None:
        inst.args, inst.json = fn(rest, escape)
    return inst


def _can_contain_heredoc(inst: Instruction) -> bool:
    target = inst.sub if inst.cmd == "onbuild" and inst.sub is not None else inst
    return target.cmd in _HEREDOC_CMDS and not target.json


def _too_long(raw: str) -> bool:
    """True when BuildKit's line scanner would fail (bufio.ErrTooLong) on this line."""
    return len(raw) > _MAX_TOKEN // 4 and len(raw.encode("utf-8", "surrogatepass")) > _MAX_TOKEN


def parse(text: str) -> ParseResult:
    """Parse Dockerfile text (BOM already removed or not) into instructions with positions."""
    bom = text.startswith("\ufeff")  # offsets stay relative to the text as given
    lines = split_lines(text)
    d = _Directives()
    out: list[Instruction] = []
    warnings: list[str] = []
    comments: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        raw, off = lines[i]
        if _too_long(raw):
            raise DockerfileError(
                f"dockerfile line greater than max allowed size of {MAX_LINE_BYTES}", i + 1
            )
        if i == 0 and bom:
            raw, off = raw[1:], off + 1
        if _is_comment(raw):
            comments.append(go_strip(go_lstrip(raw)[1:]))
        tok = go_lstrip(_trim_newline(raw))
        d.check(tok, i + 1)
        if tok.startswith("#"):
            tok = ""
        i += 1
        start_line = i
        cont = _CONTINUATION[d.escape]
        first_off = off + len(_trim_newline(raw)) - len(tok) if tok else off
        piece, eol = _trim_cont(tok, cont)
        if eol and piece == "":
            continue
        line = piece
        segments = [(0, first_off, len(piece))]
        empty_cont = False
        while not eol and i < n:
            raw2, off2 = lines[i]
            if _too_long(raw2):
                raise DockerfileError(
                    f"dockerfile line greater than max allowed size of {MAX_LINE_BYTES}", i + 1
                )
            tok2 = _trim_newline(raw2)
            d.check(tok2, i + 1)
            i += 1
            if _is_comment(raw2):
                continue
            if tok2.startswith("#"):
                tok2 = ""
            if go_lstrip(tok2) == "":
                empty_cont = True
                continue
            piece2, eol = _trim_cont(tok2, cont)
            segments.append((len(line), off2, len(piece2)))
            line += piece2
        if empty_cont:
            warnings.append(f"empty continuation line in the instruction starting at line {start_line}")
        try:
            inst = node_from_line(line, d.escape)
        except DockerfileError as exc:
            raise DockerfileError(exc.reason, start_line) from None
        inst.segments = segments
        inst.comments = comments
        inst.start_line = start_line
        lead = len(line) - len(line.lstrip(GO_SPACE))
        inst.start = inst.offset(lead)
        inst.end = lines[i - 1][1] + len(_trim_newline(lines[i - 1][0]))
        if _can_contain_heredoc(inst):
            try:
                docs = heredocs_from_line(line)
            except DockerfileError as exc:
                raise DockerfileError(exc.reason, start_line) from None
            for doc in docs:
                body: list[str] = []
                doc.start = lines[i][1] if i < n else len(text)
                doc.start_line = i + 1
                terminated = False
                while i < n:
                    raw3, off3 = lines[i]
                    if _too_long(raw3):
                        raise DockerfileError(
                            f"dockerfile line greater than max allowed size of {MAX_LINE_BYTES}", i + 1
                        )
                    i += 1
                    candidate = _trim_newline(raw3)
                    if doc.chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == doc.name:
                        terminated = True
                        doc.end = off3 + len(_trim_newline(raw3))
                        doc.end_line = i
                        break
                    body.append(raw3)
                if not terminated:
                    raise DockerfileError("unterminated heredoc", start_line)
                doc.content = "".join(body)
                inst.heredocs.append(doc)
            if inst.heredocs:
                inst.end = inst.heredocs[-1].end
        inst.end_line = i
        out.append(inst)
        comments = []
    return ParseResult(out, dict(d.seen), d.escape, warnings)


def _trim_cont(tok: str, cont: re.Pattern[str]) -> tuple[str, bool]:
    if cont.search(tok):
        return cont.sub(r"\1", tok, count=1), False
    return tok, True
