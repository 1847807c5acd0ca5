"""Repository fixes: add the missing secret patterns to .gitignore / .dockerignore.

Appending ignore patterns never changes what an application does, so these are safe.
The file keeps its newline style, BOM and final-newline state; a missing file is created.
"""

from __future__ import annotations

from pathlib import Path

from lockdock.context import ScanContext
from lockdock.files import FileProblem, read_text
from lockdock.model import Applicability, FileEdit, Finding, Fix, NewFile, TargetKind, TextEdit
from lockdock.payloads import MissingIgnoreEntries
from lockdock.registry import fixer
from lockdock.sources import Repo

HEADER = "# secrets and local files (added by lockdock)"


def append_patterns(path: Path, patterns: list[str], title: str, ctx: ScanContext) -> Fix | None:
    """A fix appending `patterns` (those not already listed verbatim) to an ignore file."""
    if not patterns or any("\n" in p or "\r" in p for p in patterns):
        return None
    if not path.exists() and not path.is_symlink():
        body = "\n".join([HEADER, *patterns]) + "\n"
        return Fix(title, Applicability.SAFE, [NewFile(str(path), body, 0o644)])
    try:
        tf = read_text(path)
    except FileProblem as exc:
        ctx.error(path, str(exc))
        return None
    present = {line.strip() for line in tf.lines}
    todo = [p for p in patterns if p not in present]
    if not todo:
        return None
    nl = tf.newline
    lead = "" if not tf.text or tf.text.endswith(("\n", "\r")) else nl
    lines = ([] if HEADER in present else [HEADER]) + todo
    text = lead + nl.join(lines) + nl
    end = len(tf.text)
    return Fix(title, Applicability.SAFE, [FileEdit(str(path), [TextEdit(end, end, text)], tf.sha256)])


@fixer("secrets.gitignore", TargetKind.REPO, title="Add the missing secret patterns to .gitignore", applicability=Applicability.SAFE)
def gitignore_patterns(finding: Finding, _subject: Repo, ctx: ScanContext) -> Fix | None:
    entries = finding.payload
    if not isinstance(entries, MissingIgnoreEntries):
        return None  # a tracked secret file: `git rm --cached` is the user's call
    return append_patterns(Path(entries.path), list(entries.missing), "Add the missing secret patterns to .gitignore", ctx)


@fixer("build.dockerignore", TargetKind.REPO, title="Exclude secrets and VCS data in .dockerignore", applicability=Applicability.SAFE)
def dockerignore_patterns(finding: Finding, _subject: Repo, ctx: ScanContext) -> Fix | None:
    entries = finding.payload
    if not isinstance(entries, MissingIgnoreEntries):
        return None
    return append_patterns(Path(entries.path), list(entries.missing), "Exclude secrets and VCS data in .dockerignore", ctx)
