"""The "ignore" fix every finding has: a pragma above the line, or a config entry.

Dockerfiles and compose files get `# lockdock: ignore=<id> <reason>` on the line before
the finding's line, indented like it, in the file's newline style, never above parser
directives (a comment there would end the directive block). Images, containers, the host
and repository files get an entry in the project's `.lockdock.toml`. The format is the
one `lockdock.suppress` reads.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from lockdock.config import project_config_path
from lockdock.context import ScanContext
from lockdock.files import FileProblem, TextFile, read_text
from lockdock.model import Applicability, FileEdit, Finding, Fix, NewFile, TargetKind, TextEdit
from lockdock.text import sanitize

_DIRECTIVE = re.compile(r"^#\s*(syntax|escape|check)\s*=", re.I)
_LINE_END = re.compile(r"\r\n|\n|\r")
_TABLE = re.compile(r"^\s*\[")
PRAGMA_KINDS = (TargetKind.DOCKERFILE, TargetKind.COMPOSE_FILE, TargetKind.COMPOSE_SERVICE)


def clean_reason(reason: str) -> str:
    """One line of plain text (a reason with a newline would end the comment early)."""
    text = sanitize(reason).replace("\\n", " ").replace("\\r", " ").strip()
    return text[:200] or "accepted risk"


def line_starts(text: str) -> list[int]:
    """Offset of the start of every line (1-based line n starts at result[n-1])."""
    starts = [0]
    for m in _LINE_END.finditer(text):
        starts.append(m.end())
    if starts[-1] == len(text) and len(starts) > 1:
        starts.pop()  # the text ends with a newline: no empty last line
    return starts


def _directive_block(lines: list[str]) -> int:
    """How many leading lines are Dockerfile parser directives."""
    n = 0
    for line in lines:
        if _DIRECTIVE.match(line.strip()):
            n += 1
        else:
            break
    return n


def _heredoc_lines(text: str) -> set[int]:
    """Dockerfile lines inside heredoc bodies (and their terminators)."""
    from lockdock.dockerfile import DockerfileError, parse_dockerfile

    try:
        df = parse_dockerfile(text)
    except (DockerfileError, ValueError, RecursionError):
        return set()
    out: set[int] = set()
    for inst in df.instructions:
        for inner in (inst, inst.sub):
            for h in inner.heredocs if inner is not None else []:
                out.update(range(h.start_line, h.end_line + 1))
    return out


def _line_text(text: str, starts: list[int], n: int) -> str:
    end = starts[n] if n < len(starts) else len(text)
    return text[starts[n - 1] : end].rstrip("\r\n")


def _pragma_edit(findings: list[Finding], tf: TextFile, reason: str) -> list[TextEdit]:
    """One pragma line per insertion point, naming every check ignored there."""
    text, nl = tf.text, tf.newline
    starts = line_starts(text)
    lines = [_line_text(text, starts, i + 1) for i in range(len(starts))] if text else []
    groups: dict[tuple[int, str, str], list[str]] = {}
    heredoc_lines = _heredoc_lines(text) if any(f.target.kind == TargetKind.DOCKERFILE for f in findings) else set()
    for finding in findings:
        line = finding.location.line
        directives = _directive_block(lines) if finding.target.kind == TargetKind.DOCKERFILE else 0
        if (
            line is None
            or line < 1
            or line > len(lines)
            or line <= directives
            or line in heredoc_lines  # a comment there would become part of the heredoc's file
        ):
            # File-level, or on a directive line: ignore for the file, after the directives.
            key = (directives + 1, "ignore-file", "")
        else:
            current = lines[line - 1]
            key = (line, "ignore", current[: len(current) - len(current.lstrip(" \t"))])
        ids = groups.setdefault(key, [])
        if finding.check not in ids:
            ids.append(finding.check)
    edits = []
    for (insert_line, scope, indent), ids in sorted(groups.items()):
        comment = f"{indent}# lockdock: {scope}={','.join(ids)} {clean_reason(reason)}"
        if insert_line <= len(lines):
            offset = starts[insert_line - 1]
            new = comment + nl
        else:  # after the last line, keeping the final-newline state
            offset = len(text)
            new = (nl if text and not tf.final_newline else "") + comment + (nl if tf.final_newline or not text else "")
        edits.append(TextEdit(offset, offset, new))
    return edits


def pragma_fix(findings: list[Finding], path: Path, reason: str) -> Fix | None:
    """Insert pragmas above the findings' lines (ignore-file ones for file-level findings)."""
    try:
        tf = read_text(path)
    except FileProblem:
        return None
    edits = _pragma_edit(findings, tf, reason)
    if any(f.target.kind != TargetKind.DOCKERFILE for f in findings):
        edits = _yaml_safe(tf, edits, reason)
        if edits is None:
            return None
    checks = sorted({f.check for f in findings})
    if len(findings) == 1:
        line = findings[0].location.line
        title = f"Ignore {checks[0]} at " + (f"line {line}" if line else "this file") + " (pragma)"
    else:
        title = f"Ignore {', '.join(checks)} in {path.name} (pragmas)"
    return Fix(title, Applicability.SAFE, [FileEdit(str(path), edits, tf.sha256)], check=checks[0] if len(checks) == 1 else None)


_ALIAS = re.compile(r"(?<![\w*])\*[A-Za-z0-9_.-]+")


def _yaml_data(text: str) -> list[object] | None:
    from ruamel.yaml import YAML

    if len(_ALIAS.findall(text)) > 200:
        return None  # comparing alias-heavy documents could take exponential time

    try:
        return list(YAML(typ="rt", pure=True).load_all(text))  # rt: tolerates !reset and co.
    except Exception:  # noqa: BLE001 - ruamel raises many kinds; any means "not comparable"
        return None


_IDS = re.compile(r"# lockdock: ignore=(\S+) ")


def _yaml_safe(tf: TextFile, edits: list[TextEdit], reason: str) -> list[TextEdit] | None:
    """Keep pragma edits that leave the YAML data identical; a comment line that would land
    in a block scalar (and become content) turns into an ignore-file pragma at the top."""
    from lockdock.fixing.edits import apply_edits

    original = _yaml_data(tf.text)
    if original is None:
        return None
    kept: list[TextEdit] = []
    moved: list[str] = []
    for e in edits:
        new, _ = apply_edits(tf.text, [e])
        if _yaml_data(new) == original:
            kept.append(e)
        else:
            m = _IDS.search(e.text)
            moved += m.group(1).split(",") if m else []
    if moved:
        top = TextEdit(0, 0, f"# lockdock: ignore-file={','.join(dict.fromkeys(moved))} {clean_reason(reason)}{tf.newline}")
        kept = [k for k in kept if k.start != 0] + [top]
        new, _ = apply_edits(tf.text, kept)
        if _yaml_data(new) != original:
            return None
    return kept


def _top_level_end(text: str) -> int:
    """Offset of the first table header (top-level keys must go before it)."""
    pos = 0
    for line in text.splitlines(keepends=True):
        if _TABLE.match(line):
            return pos
        pos += len(line)
    return len(text)


def _config_edit(text: str, check: str, reason: str, path_key: str | None,
                 table_name: str = "per-path-ignores") -> str | None:
    """New text of a .lockdock.toml that ignores `check` (everywhere, or for `path_key` in
    the `table_name` table: per-path-ignores or per-image-ignores); None when it cannot or
    when that list already names `check`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    table = data.get(table_name) if path_key is not None else None
    have = data.get("ignore") if path_key is None else table.get(path_key) if isinstance(table, dict) else None
    if isinstance(have, list) and check in have:
        return None  # already ignored there: a second copy would change nothing
    nl = "\r\n" if "\r\n" in text else "\n"
    comment = f"  # {clean_reason(reason)}"
    if path_key is None:
        value = data.get("ignore")
        if value is None:
            head = _top_level_end(text)
            new = text[:head] + f'ignore = ["{check}"]{comment}{nl}' + text[head:]
        elif isinstance(value, list):
            m = re.search(r"(?m)^ignore\s*=\s*\[", text[: _top_level_end(text)])
            if m is None:
                return None
            sep = ", " if value else ""
            new = text[: m.end()] + f'"{check}"{sep}' + text[m.end() :]
        else:
            return None
    else:
        key = '"' + path_key.replace("\\", "\\\\").replace('"', '\\"') + '"'
        table = data.get(table_name)
        if table is not None and not isinstance(table, dict):
            return None
        if isinstance(table, dict) and path_key in table:
            have = table[path_key]
            if not isinstance(have, list):
                return None
            bare = re.escape(path_key) if re.fullmatch(r"[A-Za-z0-9_-]+", path_key) else None
            pat = r"(?m)^\s*(?:" + re.escape(key) + (f"|{bare}" if bare else "") + r")\s*=\s*\["
            found = re.search(pat, text)
            if found is None:
                return None
            sep = ", " if have else ""
            new = text[: found.end()] + f'"{check}"{sep}' + text[found.end() :]
            return _checked(new, check, path_key, table_name)
        m = re.search(r"(?m)^\s*\[" + re.escape(table_name) + r"\]\s*(#.*)?$", text)
        entry = f"{key} = [\"{check}\"]{comment}"
        if m is not None:
            end = m.end()
            lead = text[end : end + 2] if text[end : end + 2] == "\r\n" else text[end : end + 1]
            new = text[: end + len(lead)] + entry + nl + text[end + len(lead) :] if lead else text + nl + entry + nl
        elif table is None:
            sep = "" if not text or text.endswith(("\n", "\r")) else nl
            new = text + sep + (nl if text else "") + f"[{table_name}]{nl}{entry}{nl}"
        else:
            return None
    return _checked(new, check, path_key, table_name)


def _checked(new: str, check: str, path_key: str | None,
             table_name: str = "per-path-ignores") -> str | None:
    """`new` if it parses and ignores `check` as intended, else None."""
    try:
        got = tomllib.loads(new)
    except tomllib.TOMLDecodeError:
        return None
    ok = check in got.get("ignore", []) if path_key is None else check in got.get(table_name, {}).get(path_key, [])
    return new if ok else None


def config_fix(finding: Finding, ctx: ScanContext, reason: str, *,
               image_name: str | None = None) -> Fix | None:
    """An entry in the project's .lockdock.toml (images, containers, host, repository files);
    with `image_name` ("repo/name" or "repo/name:tag"), a `[per-image-ignores]` entry for
    that image name instead of a project-wide one."""
    return config_fixes([finding], ctx, reason, image_name=image_name)


def config_fixes(findings: list[Finding], ctx: ScanContext, reason: str, *,
                 image_name: str | None = None) -> Fix | None:
    """Entries for several findings in one edit of .lockdock.toml (`image_name`: all of
    them under that name in `[per-image-ignores]`)."""
    found = project_config_path(ctx.cwd)
    if found is not None and found[1]:
        return None  # settings live in pyproject.toml [tool.lockdock]: not edited automatically
    path = found[0] if found is not None else ctx.cwd / ".lockdock.toml"
    text = ""
    sha = None
    if found is not None:
        try:
            tf = read_text(path)
        except FileProblem:
            return None
        text, sha = tf.text, tf.sha256
    original = text
    done: list[str] = []
    for finding in findings:
        path_key = None
        table_name = "per-path-ignores"
        if image_name is not None:
            path_key, table_name = image_name, "per-image-ignores"
        elif finding.target.kind == TargetKind.REPO:
            path_key = finding.location.path or finding.target.path
        new = _config_edit(text, finding.check, reason, path_key, table_name)
        if new is None:
            continue
        text = new
        if image_name is not None:
            done.append(f"{finding.check} for image {image_name}")
        else:
            done.append(f"{finding.check} for {path_key}" if path_key else f"{finding.check} everywhere")
    if not done:
        return None
    title = f"Ignore {', '.join(done)} in .lockdock.toml"
    check = findings[0].check if len({f.check for f in findings}) == 1 else None
    if sha is None:
        return Fix(title, Applicability.SAFE, [NewFile(str(path), text, 0o644)], check=check)
    edit = TextEdit(0, len(original), text)
    return Fix(title, Applicability.SAFE, [FileEdit(str(path), [edit], sha)], check=check)


def ignore_fix(finding: Finding, ctx: ScanContext, reason: str = "accepted risk") -> Fix | None:
    """The ignore fix of any finding (None when it cannot be written safely)."""
    fixes = ignore_fixes([finding], ctx, reason)
    return fixes[0] if fixes else None


def ignore_fixes(findings: list[Finding], ctx: ScanContext, reason: str = "accepted risk") -> list[Fix]:
    """Ignore fixes for many findings: one per file, pragmas on the same line merged."""
    per_file: dict[Path, list[Finding]] = {}
    config: list[Finding] = []
    for finding in findings:
        path = finding.location.path or finding.target.path
        if finding.target.kind in PRAGMA_KINDS and path:
            full = Path(path) if Path(path).is_absolute() else ctx.cwd / path
            per_file.setdefault(full, []).append(finding)
        else:
            config.append(finding)
    fixes = [fix for p, fs in per_file.items() if (fix := pragma_fix(fs, p, reason)) is not None]
    if config and (fix := config_fixes(config, ctx, reason)) is not None:
        fixes.append(fix)
    return fixes
