"""Repository checks: ignore files, secret files on disk, CI scanning, build contexts."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

from lockdock.context import ScanContext
from lockdock.files import FileProblem, read_text, within
from lockdock.ignorefiles import DOCKERIGNORE_NEEDS, GITIGNORE_NEEDS, IgnoreRules
from lockdock.model import Finding, Location, TargetKind
from lockdock.payloads import MissingIgnoreEntries
from lockdock.payloads.repo import SecretFileAge, SecretFileMode, TrackedSecret
from lockdock.registry import analyzer
from lockdock.secrets import secret_path
from lockdock.sources import Repo
from lockdock.text import safe

SCANNERS = re.compile(
    r"(?i)\b(trivy|grype|docker\s+scout|snyk|lockdock|anchore|clair|dockle|neuvector|"
    r"aquasecurity/trivy-action|anchore/scan-action|docker/scout-action|snyk/actions)\b"
)


def dockerignore_needs(context: Path) -> tuple[tuple[str, str, bool], ...]:
    """What a build context's .dockerignore must exclude (node_modules for node projects)."""
    if (context / "package.json").exists():
        return (*DOCKERIGNORE_NEEDS, ("node_modules", "node_modules", True))
    return DOCKERIGNORE_NEEDS


def dockerignore_gaps(ignore: Path, context: Path, ctx: ScanContext) -> tuple[bool, list[str]] | None:
    """(the ignore file exists, patterns it misses); None when it cannot be read (reported)."""
    text = None
    if ignore.is_file():
        try:
            text = read_text(ignore).text
        except FileProblem as exc:
            ctx.error(ignore, str(exc))
            return None
    return text is not None, missing_patterns(text, dockerignore_needs(context), "docker")


def missing_patterns(text: str | None, needs: tuple[tuple[str, str, bool], ...], flavour: str) -> list[str]:
    rules = IgnoreRules(text or "", flavour)
    return [pattern for pattern, sample, is_dir in needs if not rules.ignored(sample, is_dir)]


@analyzer(TargetKind.REPO, "secrets.gitignore")
def gitignore(repo: Repo, ctx: ScanContext) -> Iterator[Finding]:
    """The ignore file must cover secret files, and git must track none of them."""
    if repo.git_root is None and repo.gitignore is None:
        return
    missing = missing_patterns(repo.gitignore_text, GITIGNORE_NEEDS, "git")
    rules = IgnoreRules(repo.gitignore_text or "", "git")
    exposed = [s.rel for s in repo.secret_files if not rules.ignored(s.rel)]
    if missing:
        where = repo.gitignore or repo.root
        msg = (
            f".gitignore does not ignore {', '.join(missing)}"
            if repo.gitignore
            else f"no .gitignore: secret files ({', '.join(missing)}) could be committed"
        )
        if exposed:
            msg += f"; not ignored on disk: {', '.join(safe(e, 80) for e in exposed[:5])}"
        yield Finding(
            check="secrets.gitignore",
            target=repo.target,
            message=msg,
            location=Location(path=ctx.rel(where) if repo.gitignore else ctx.rel(repo.root)),
            payload=MissingIgnoreEntries(str(repo.root / ".gitignore"), tuple(missing), repo.gitignore is not None),
        )
    if repo.tracked and repo.git_root is not None:
        prefix = ""
        if repo.root != repo.git_root:
            prefix = str(repo.root.relative_to(repo.git_root)).replace("\\", "/") + "/"
        for rel in repo.tracked:
            if prefix and not rel.startswith(prefix):
                continue
            if secret_path(rel) and not rel.endswith((".example", ".sample", ".template")):
                path = repo.git_root / rel
                yield Finding(
                    check="secrets.gitignore",
                    target=repo.target,
                    message=f"git tracks the secret file {safe(rel, 120)}; remove it from the index "
                    "(git rm --cached) and rotate what it held",
                    location=Location(path=ctx.rel(path)),
                    payload=TrackedSecret(rel),
                )


def _closed_dir(path: Path, root: Path) -> bool:
    """True when a directory between `root` and `path` has no permission for group/others."""
    d = path.parent
    while d not in (root, d.parent) and within(d, root):
        try:
            if not os.stat(d).st_mode & 0o077:
                return True
        except OSError:
            return False
        d = d.parent
    return False


@analyzer(TargetKind.REPO, "secrets.file-permissions")
def file_permissions(repo: Repo, ctx: ScanContext) -> Iterator[Finding]:
    """Secret files readable or writable by group or others (a file in a directory of the
    repository that group and others cannot enter is protected by it)."""
    for info in repo.secret_files:
        if info.mode & 0o077 and not _closed_dir(info.path, repo.root):
            yield Finding(
                check="secrets.file-permissions",
                target=repo.target,
                message=f"secret file {safe(info.rel, 120)} has mode {info.mode:04o}: "
                "group or others can read it",
                location=Location(path=ctx.rel(info.path)),
                payload=SecretFileMode(str(info.path), info.mode),
            )


@analyzer(TargetKind.REPO, "secrets.rotation")
def rotation(repo: Repo, ctx: ScanContext) -> Iterator[Finding]:
    """Secret files older than their rotation period (by modification time)."""
    now = time.time()
    for info in repo.secret_files:
        days = ctx.config.rotation_days.get(info.kind, 90)
        age = (now - info.mtime) / 86400
        if age > days:
            yield Finding(
                check="secrets.rotation",
                target=repo.target,
                message=f"{info.kind} file {safe(info.rel, 120)} was last changed {int(age)} days ago "
                f"(rotation period {days} days)",
                location=Location(path=ctx.rel(info.path)),
                payload=SecretFileAge(str(info.path), int(age)),
            )


@analyzer(TargetKind.REPO, "build.ci-scan")
def ci_scan(repo: Repo, ctx: ScanContext) -> Iterator[Finding]:
    """A repository that builds images should have CI that scans them."""
    if not repo.dockerfiles and not repo.compose_files:
        return
    if not repo.ci_configs:
        yield Finding(
            check="build.ci-scan",
            target=repo.target,
            message="no CI configuration found, so no image scanner runs on this project's images",
            location=Location(path=ctx.rel(repo.root)),
        )
        return
    for path in repo.ci_configs:
        try:
            if SCANNERS.search(read_text(path).text):
                return
        except FileProblem as exc:
            ctx.error(path, str(exc))
    names = ", ".join(safe(ctx.rel(p) or "", 80) for p in repo.ci_configs[:4])
    yield Finding(
        check="build.ci-scan",
        target=repo.target,
        message=f"CI ({names}) runs no image scanner (trivy, grype, docker scout, snyk or lockdock)",
        location=Location(path=ctx.rel(repo.ci_configs[0])),
    )


@analyzer(TargetKind.REPO, "build.dockerignore")
def compose_build_contexts(repo: Repo, ctx: ScanContext) -> Iterator[Finding]:
    """Compose build contexts without a Dockerfile of their own (those are judged per Dockerfile)."""
    dockerfile_dirs = {p.parent.resolve() for p in repo.dockerfiles}
    for context in repo.build_contexts:
        if context in dockerfile_dirs:
            continue
        ignore = context / ".dockerignore"
        gaps = dockerignore_gaps(ignore, context, ctx)
        if gaps is None or not gaps[1]:
            continue
        exists, missing = gaps
        msg = (
            f"build context {safe(ctx.rel(context), 120)}: .dockerignore does not exclude {', '.join(missing)}"
            if exists
            else f"build context {safe(ctx.rel(context), 120)} has no .dockerignore; "
            f"{', '.join(missing)} would be sent to the builder"
        )
        yield Finding(
            check="build.dockerignore",
            target=repo.target,
            message=msg,
            location=Location(path=ctx.rel(ignore if exists else context)),
            payload=MissingIgnoreEntries(str(ignore), tuple(missing), exists),
        )
