"""The build context next to each Dockerfile must keep .git, .env, keys and secrets out.

Only Dockerfiles that copy from their context (COPY/ADD without --from) are judged: a
file that never reads its context cannot leak it. BuildKit also reads
`<Dockerfile>.dockerignore` beside the Dockerfile, which wins over `.dockerignore`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from lockdock.analyzers.repo import dockerignore_gaps
from lockdock.context import ScanContext
from lockdock.dockerfile.facts import capped, final_chain, finding
from lockdock.dockerfile.model import Instruction
from lockdock.files import FileProblem, read_text
from lockdock.ignorefiles import IgnoreRules
from lockdock.model import Finding, TargetKind
from lockdock.payloads import MissingIgnoreEntries
from lockdock.registry import analyzer
from lockdock.secrets import secret_file
from lockdock.sources import DockerfileSubject
from lockdock.text import safe


def ignore_file(dockerfile: Path) -> Path:
    """The ignore file BuildKit uses for this Dockerfile (existing or the one to create)."""
    specific = dockerfile.parent / (dockerfile.name + ".dockerignore")
    if specific.is_file():
        return specific
    return dockerfile.parent / ".dockerignore"


def context_copy(subject: DockerfileSubject) -> Instruction | None:
    """The first COPY/ADD that reads the build context."""
    for inst in subject.dockerfile.instructions:
        if inst.cmd in ("copy", "add") and inst.flag("from") is None and len(inst.args) >= 2:
            srcs = inst.args[:-1]
            if all(s.startswith("<<") or "://" in s for s in srcs):
                continue
            return inst
    return None


WHOLE_CONTEXT = frozenset({".", "./", "*", "./*", "/"})
MAX_CONTEXT_ENTRIES = 2000  # only the top of the context and secrets/ are looked at


def context_secret_files(context: Path) -> list[str]:
    """Secret files at the top of the build context and in its secrets/ directory."""
    found: list[str] = []
    for rel_dir in ("", "secrets"):
        base = context / rel_dir if rel_dir else context
        try:
            with os.scandir(base) as entries:
                for n, entry in enumerate(entries):
                    if n >= MAX_CONTEXT_ENTRIES:
                        break
                    rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                    if entry.is_file(follow_symlinks=False) and (rel_dir == "secrets" or secret_file(rel)):
                        found.append(rel)
        except OSError:
            continue
    return sorted(found)


def _context_secret_files_once(context: Path, ctx: ScanContext) -> list[str]:
    """`context_secret_files`, listed once per scan for Dockerfiles sharing a context (1,000
    Dockerfiles in one folder listed it 1,000 times); the folders' mtimes are in the key, so a
    file added or removed since (a TUI rescan) lists it again."""
    try:
        stamp = tuple(os.stat(d).st_mtime_ns if os.path.isdir(d) else None for d in (context, context / "secrets"))
    except OSError:
        return context_secret_files(context)
    key = f"context-secret-files:{context}:{stamp}"
    found = ctx.cache.get(key)
    if found is None:
        found = ctx.cache[key] = context_secret_files(context)
    return found


@analyzer(TargetKind.DOCKERFILE, "secrets.no-secrets-in-image")
@capped
def context_secrets(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    """`COPY . .` sends every file of the context that .dockerignore does not exclude."""
    shipped = {id(i) for st in final_chain(subject.dockerfile) for i in st.instructions}
    copy = next(
        (
            i
            for i in subject.dockerfile.instructions
            if id(i) in shipped
            and i.cmd in ("copy", "add")
            and i.flag("from") is None
            and any(src in WHOLE_CONTEXT for src in i.args[:-1])
        ),
        None,
    )
    if copy is None:
        return
    context = subject.path.parent
    ignore = ignore_file(subject.path)
    text = ""
    exists = ignore.is_file()
    if exists:
        try:
            text = read_text(ignore).text
        except FileProblem:
            return  # reported by the build.dockerignore check
    rules = IgnoreRules(text, "docker")
    leaked = [rel for rel in _context_secret_files_once(context, ctx) if not rules.ignored(rel)]
    if not leaked:
        return
    shown = ", ".join(safe(r, 60) for r in leaked[:5])
    yield finding(
        "secrets.no-secrets-in-image",
        subject,
        copy,
        f"{copy.cmd.upper()} of the whole build context copies {shown} into the image "
        f"({safe(ignore.name, 60)} does not exclude {'it' if len(leaked) == 1 else 'them'})",
        payload=MissingIgnoreEntries(str(ignore), tuple(leaked), exists),
    )


@analyzer(TargetKind.DOCKERFILE, "build.dockerignore")
@capped
def dockerignore(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    inst = context_copy(subject)
    if inst is None:
        return
    context = subject.path.parent
    ignore = ignore_file(subject.path)
    gaps = dockerignore_gaps(ignore, context, ctx)
    if gaps is None or not gaps[1]:
        return
    exists, missing = gaps
    if not exists:
        msg = (
            f"build context {safe(ctx.rel(context), 120)} has no .dockerignore; "
            f"{', '.join(missing)} would be sent to the builder and may be copied into the image"
        )
    else:
        msg = f"{safe(ctx.rel(ignore), 120)} does not exclude {', '.join(missing)}"
    yield finding(
        "build.dockerignore",
        subject,
        inst,
        msg,
        payload=MissingIgnoreEntries(str(ignore), tuple(missing), exists),
    )
