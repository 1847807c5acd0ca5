"""Parse one compose YAML text into a position-carrying tree.

ruamel.yaml (round-trip mode) composes the node graph, which keeps a start and end mark
(line, column, character offset) for every scalar and collection. We build our own tree
from those nodes instead of letting a constructor run: no tag is ever executed
(`!!python/object/apply:...` stays inert data), merge keys and aliases are expanded by us
(so every value remembers the anchor it came through), duplicate keys are reported with
their line, and alias expansion runs under a node budget so a billion-laughs file stops
with an error instead of eating the machine. Plain scalars follow YAML 1.1 like compose
does: `yes`, `on`, `True` are true.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

try:  # libyaml through PyYAML composes ~40x faster; used only when present and safe
    import yaml as _pyyaml

    # No implicit resolvers: we resolve plain scalars ourselves (YAML 1.1, as compose does).
    _CLOADER: Any = getattr(_pyyaml, "CBaseLoader", None)
    _PYYAML_ERROR: Any = _pyyaml.YAMLError
except ImportError:  # pragma: no cover - depends on the environment
    _CLOADER, _PYYAML_ERROR = None, None

if _CLOADER is not None:
    _DEFAULT_TAGS = {
        _pyyaml.ScalarNode: _CLOADER.DEFAULT_SCALAR_TAG,
        _pyyaml.SequenceNode: _CLOADER.DEFAULT_SEQUENCE_TAG,
        _pyyaml.MappingNode: _CLOADER.DEFAULT_MAPPING_TAG,
    }

    class _ComposeLoader(_CLOADER):  # type: ignore[misc, valid-type]
        """libyaml's composer with PyYAML's BaseResolver answers given directly.

        BaseResolver has no implicit and no path resolvers, so every node without an
        explicit tag gets its kind's default tag; the C composer still calls back into
        Python for that on every node (three calls each), which this skips."""

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            return _DEFAULT_TAGS[kind]

        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            return None

        def ascend_resolver(self) -> None:
            return None

    _COMPOSE_LOADER: Any = (
        _ComposeLoader if not (_CLOADER.yaml_implicit_resolvers or _CLOADER.yaml_path_resolvers) else _CLOADER
    )

MAX_DEPTH = 120  # nesting deeper than this is refused (compose files are shallow)
MAX_NODES = 200_000  # nodes after alias expansion; more is an alias bomb
# libyaml's composer recurses in C (it crashed past ~20,000 levels here): texts that could
# nest deeper than this are walked event by event first; too deep ones go to ruamel, whose
# composer stops at MAX_DEPTH.
_C_NESTING_BUDGET = 8000

_TRUE = frozenset({"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"})
_FALSE = frozenset({"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"})
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$")


class YamlProblem(Exception):
    """A reason the YAML text cannot be analysed, with a 1-based line and column."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(eq=False)
class Node:
    """One YAML value with where it is written.

    `value` is a dict[str, Node] (map), list[Node] (seq) or a Python scalar. Offsets are
    character offsets into the decoded text of `file`. For values of a mapping entry the
    key's position is kept too. `anchor` names the anchor the value was reached through
    (alias or `<<` merge), `merged` says it came from a merge key.
    """

    kind: str  # "map" | "seq" | "scalar"
    value: Any
    file: str
    start: int
    end: int
    line: int
    end_line: int
    column: int
    style: str | None = None  # scalar: None plain, '"', "'", '|', '>'; collections: "flow"/"block"
    tag: str | None = None  # explicit tag as written (`!reset`, `!override`, `!!str`, ...)
    raw: str | None = None  # scalar text as written (after YAML unquoting, before interpolation)
    anchor: str | None = None
    merged: bool = False
    key_start: int | None = None
    key_end: int | None = None
    key_line: int | None = None
    key_column: int | None = None
    interp: list[str] = field(default_factory=list)  # how interpolation decided the value
    own_keys: list[str] = field(default_factory=list)  # map keys written in this map itself
    entry_starts: list[int] = field(default_factory=list)  # offsets of every key (`<<` too), in order

    def get(self, key: str) -> Node | None:
        if self.kind == "map":
            return self.value.get(key)
        return None

    def plain(self) -> Any:
        """The value as plain Python data (dicts, lists, scalars)."""
        if self.kind == "map":
            return {k: v.plain() for k, v in self.value.items()}
        if self.kind == "seq":
            return [v.plain() for v in self.value]
        return self.value

    def copy_shallow(self) -> Node:
        n = Node(
            self.kind, self.value, self.file, self.start, self.end, self.line, self.end_line,
            self.column, self.style, self.tag, self.raw, self.anchor, self.merged, self.key_start,
            self.key_end, self.key_line, self.key_column, list(self.interp), list(self.own_keys),
            list(self.entry_starts),
        )
        if self.kind == "map":
            n.value = dict(self.value)
        elif self.kind == "seq":
            n.value = list(self.value)
        return n

    @property
    def entry_line(self) -> int:
        """The line a finding about this entry points at: the key when there is one."""
        return self.key_line or self.line


@dataclass
class ParseResult:
    root: Node | None
    problems: list[YamlProblem] = field(default_factory=list)  # errors; analysis may go on
    warnings: list[YamlProblem] = field(default_factory=list)
    documents: int = 1


_NUMERIC_START = frozenset("0123456789+-.")


def resolve_plain(text: str) -> Any:
    """YAML 1.1 resolution of a plain scalar, as compose reads it."""
    if text and text[0] not in _NUMERIC_START and len(text) > 5:
        return text  # the common case: a word no boolean, null or number can be
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT.match(text):
        return int(text.replace("_", ""))
    if _HEX.match(text):
        return int(text, 16)
    if _OCT.match(text):
        return int(text[2:], 8)
    if _FLOAT.match(text) and any(c.isdigit() for c in text):
        try:
            return float(text.replace("_", ""))
        except ValueError:
            return text
    return text


def _tag_of(node: Any) -> str:
    tag = node.tag
    return str(getattr(tag, "value", tag) or "")


_KINDS: dict[type, str] = {}


def _kind(node: Any) -> str:
    """'scalar' | 'seq' | 'map' for ruamel and PyYAML nodes alike."""
    cls = type(node)
    kind = _KINDS.get(cls)
    if kind is None:
        kind = {"ScalarNode": "scalar", "SequenceNode": "seq", "MappingNode": "map"}.get(cls.__name__, "other")
        _KINDS[cls] = kind
    return kind


def _properties(text: str, start: int, end: int) -> tuple[int, str | None, bool]:
    """Skip `&anchor` and `!tag` written before a value: (content start, anchor, has tag)."""
    i, anchor, tagged = start, None, False
    n = min(end, len(text))
    while i < n and text[i] in "&!":
        j = i
        while j < n and text[j] not in " \t\r\n,[]{}":
            j += 1
        if text[i] == "&":
            anchor = text[i + 1:j]
        else:
            tagged = True
        i = j
        while i < n:  # whitespace and comments between properties and content
            if text[i] in " \t\r\n":
                i += 1
            elif text[i] == "#":
                while i < n and text[i] not in "\r\n":
                    i += 1
            else:
                break
    return min(i, n) if i <= n else n, anchor, tagged


def _tag_name(node: Any) -> str:
    tag = _tag_of(node)
    if tag.startswith("tag:yaml.org,2002:"):
        return "!!" + tag[len("tag:yaml.org,2002:"):]
    return tag


class _Builder:
    """Turns ruamel nodes into `Node`s, expanding aliases and merge keys under a budget."""

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.count = 0
        self.problems: list[YamlProblem] = []
        self.warnings: list[YamlProblem] = []
        self.active: set[int] = set()
        self.seen: set[int] = set()  # nodes already built once (later visits are aliases)
        self.depth = 0

    def _pos(self, rnode: Any) -> tuple[int, int, int, int, int, str | None, str | None]:
        """Offsets, lines and column of the value itself (after `&anchor !tag`), its anchor
        name and its explicit tag."""
        sm, em = rnode.start_mark, rnode.end_mark
        if self.text[sm.index:sm.index + 1] in ("&", "!"):
            start, anchor, tagged = _properties(self.text, sm.index, em.index)
        else:  # no properties before the value (the usual case)
            start, anchor, tagged = sm.index, None, False
        line, col = sm.line + 1, sm.column + 1
        if start != sm.index:
            skipped = self.text[sm.index:start]
            breaks = skipped.count("\n") + skipped.count("\r") - skipped.count("\r\n")
            if breaks:
                line += breaks
                col = start - line_start_of(self.text, start) + 1
            else:
                col += start - sm.index
        end_line = em.line + 1
        if em.column == 0 and em.index > start and em.line + 1 > line:
            end_line = em.line  # ends at a line break (block scalar, block collection)
        return start, em.index, line, max(end_line, line), col, anchor, _tag_name(rnode) if tagged else None

    def build(self, rnode: Any, anchor: str | None = None, merged: bool = False) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlProblem(
                f"more than {MAX_NODES} values after expanding aliases (alias bomb?); not analysed",
                rnode.start_mark.line + 1,
                rnode.start_mark.column + 1,
            )
        rid = id(rnode)
        if rid in self.active:
            raise YamlProblem("recursive alias (an anchor contains itself)", rnode.start_mark.line + 1)
        start, end, line, end_line, col, own_anchor, tag = self._pos(rnode)
        # A node seen before is reached again through an alias: remember its anchor.
        if rid in self.seen and own_anchor and anchor is None:
            anchor = own_anchor
        self.seen.add(rid)
        kind = _KINDS.get(type(rnode)) or _kind(rnode)  # the lookup inline: once per node
        if kind == "scalar":
            raw = str(rnode.value)
            style = rnode.style if rnode.style in ('"', "'", "|", ">") else None
            if tag == "!!str" or style is not None:
                value: Any = raw
            elif tag in ("!!int", "!!float", "!!bool", "!!null"):
                value = resolve_plain(raw)
            else:
                value = resolve_plain(raw)
            if tag and tag not in ("!!str", "!!int", "!!float", "!!bool", "!!null", "!reset", "!override"):
                self.warnings.append(
                    YamlProblem(f"unknown tag {tag[:60]} ignored (read as plain data)", line, col)
                )
            return Node("scalar", value, self.path, start, end, line, end_line, col, style, tag, raw,
                        anchor, merged)
        if self.depth >= MAX_DEPTH:
            raise YamlProblem(f"nesting deeper than {MAX_DEPTH} levels; not analysed", line, col)
        self.active.add(rid)
        self.depth += 1
        try:
            flow = "flow" if getattr(rnode, "flow_style", False) else "block"
            if tag and tag not in ("!!seq", "!!map", "!reset", "!override", "!!omap", "!!set"):
                self.warnings.append(
                    YamlProblem(f"unknown tag {tag[:60]} ignored (read as plain data)", line, col)
                )
            if kind == "seq":
                items = [self.build(item, anchor, merged) for item in rnode.value]
                return Node("seq", items, self.path, start, end, line, end_line, col, flow, tag, None,
                            anchor, merged)
            if kind == "map":
                return self._build_map(rnode, anchor, merged, (start, end, line, end_line, col), flow, tag)
            raise YamlProblem("unsupported YAML node", line, col)
        finally:
            self.active.discard(rid)
            self.depth -= 1

    def _build_map(self, rnode: Any, anchor: str | None, merged: bool,
                   pos: tuple[int, int, int, int, int], flow: str, tag: str | None) -> Node:
        start, end, line, end_line, col = pos
        own: dict[str, Node] = {}
        merges: list[Node] = []
        seen_merge = False
        starts: list[int] = []
        for knode, vnode in rnode.value:
            starts.append(knode.start_mark.index)
            if (_KINDS.get(type(knode)) or _kind(knode)) != "scalar":
                self.problems.append(YamlProblem("a mapping key that is not a string; entry ignored",
                                                 knode.start_mark.line + 1, knode.start_mark.column + 1))
                continue
            key = str(knode.value)
            kline, kcol = knode.start_mark.line + 1, knode.start_mark.column + 1
            if key == "<<" and knode.style not in ('"', "'"):
                if seen_merge:
                    self.problems.append(YamlProblem("duplicate merge key `<<`", kline, kcol))
                seen_merge = True
                merges.extend(self._merge_sources(vnode))
                continue
            if key in own:
                self.problems.append(
                    YamlProblem(f"duplicate key {key[:60]!r} (first at line {own[key].key_line}); "
                                "the last value is used", kline, kcol)
                )
            child = self.build(vnode, anchor, merged)
            child.key_start, child.key_end = knode.start_mark.index, knode.end_mark.index
            child.key_line, child.key_column = kline, kcol
            own[key] = child
        value: dict[str, Node] = dict(own)
        for src in merges:  # earlier merge sources win; own keys win over all of them
            for k, v in src.value.items():
                if k not in value:
                    value[k] = v
        node = Node("map", value, self.path, start, end, line, end_line, col, flow, tag, None,
                    anchor, merged)
        node.own_keys = list(own)
        node.entry_starts = starts
        return node

    def _merge_sources(self, vnode: Any) -> list[Node]:
        sources = vnode.value if _kind(vnode) == "seq" else [vnode]
        result: list[Node] = []
        for src in sources:
            if _kind(src) != "map":
                self.problems.append(YamlProblem("merge key `<<` needs a mapping or a list of mappings",
                                                 src.start_mark.line + 1, src.start_mark.column + 1))
                continue
            name = _properties(self.text, src.start_mark.index, src.end_mark.index)[1]
            result.append(self.build(src, name, True))
        return result


def _problem_from(exc: Exception) -> YamlProblem:
    """A YAML error as a message without the quoted source line (it may hold a secret)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None)
    if not problem:
        return YamlProblem(f"invalid YAML: {type(exc).__name__}")
    problem = str(problem).split(", if necessary")[0]
    if mark is not None:
        return YamlProblem(f"invalid YAML: {problem}", mark.line + 1, mark.column + 1)
    return YamlProblem(f"invalid YAML: {problem}")


def line_start_of(text: str, pos: int) -> int:
    return max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1


def _quick_bound(text: str) -> int:
    """A cheap upper bound of the nesting depth: every level needs a `-`, `?`, `[`, `{` or
    one more column of indentation (and block mappings cannot nest past ~2000 levels
    within the size cap)."""
    return text.count("-") + text.count("?") + text.count("[") + text.count("{") + 2000


def _depth_within(text: str, limit: int) -> bool:
    """Walk libyaml's event stream (iterative, no recursion) and stop once past `limit`."""
    depth = 0
    try:
        for event in _pyyaml.parse(text, Loader=_CLOADER):
            name = type(event).__name__
            if name in ("SequenceStartEvent", "MappingStartEvent"):
                depth += 1
                if depth > limit:
                    return False
            elif name in ("SequenceEndEvent", "MappingEndEvent"):
                depth -= 1
    except _PYYAML_ERROR:
        return True  # composing stops at the same error, before any deeper nesting
    return True


def use_libyaml(text: str) -> bool:
    """libyaml composes when installed and the text cannot nest deep enough to hurt it
    (checked cheaply, or by walking its event stream when the cheap bound is too high)."""
    if _CLOADER is None:
        return False
    return _quick_bound(text) <= _C_NESTING_BUDGET or _depth_within(text, MAX_DEPTH)


def compose_documents(text: str, backend: str | None = None) -> list[Any]:
    """The YAML node graphs of every document (raises the library's YAML error)."""
    if (backend or ("libyaml" if use_libyaml(text) else "ruamel")) == "libyaml":
        return list(_pyyaml.compose_all(text, Loader=_COMPOSE_LOADER))
    from ruamel.yaml import YAML  # imported when needed: most scans never use it

    yaml = YAML(typ="rt")
    yaml.max_depth = MAX_DEPTH
    return list(yaml.compose_all(text))


def _yaml_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a YAML library raised for bad input (ruamel's only once imported:
    it cannot have raised before)."""
    errors: tuple[type[BaseException], ...] = (_PYYAML_ERROR,) if _PYYAML_ERROR else ()
    if "ruamel.yaml.error" in sys.modules:
        errors += (sys.modules["ruamel.yaml.error"].YAMLError,)
    return errors


def parse(text: str, path: str, backend: str | None = None) -> ParseResult:
    """Parse compose YAML text; never raises for bad input (problems are returned).

    `backend` forces "ruamel" or "libyaml" (tests compare them); by default libyaml is
    used when it is installed and safe for this text, ruamel (round-trip) otherwise.
    """
    try:
        docs = compose_documents(text, backend)
    except _yaml_errors() as exc:
        return ParseResult(None, [_problem_from(exc)])
    except RecursionError:
        return ParseResult(None, [YamlProblem("nesting too deep; not analysed")])
    docs = [d for d in docs if d is not None]
    result = ParseResult(None, documents=len(docs))
    if not docs:
        result.problems.append(YamlProblem("empty compose file (nothing but comments or blank lines)", 1))
        return result
    if len(docs) > 1:
        result.warnings.append(
            YamlProblem(f"{len(docs)} YAML documents in one file; only the first is analysed",
                        docs[1].start_mark.line + 1)
        )
    builder = _Builder(text, path)
    try:
        root = builder.build(docs[0])
    except YamlProblem as problem:
        result.problems.append(problem)
        return result
    except RecursionError:
        result.problems.append(YamlProblem("nesting too deep; not analysed"))
        return result
    result.problems.extend(builder.problems)
    result.warnings.extend(builder.warnings)
    if root.kind != "map":
        what = "a list" if root.kind == "seq" else "a single value"
        result.problems.append(YamlProblem(f"a compose file must be a mapping, this one is {what}",
                                           root.line, root.column))
        return result
    result.root = root
    return result
