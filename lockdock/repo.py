"""The repository as a scan target: its ignore files, secret files, CI, build contexts.

One `Repo` subject per scanned directory, and one per repository holding files named on the
command line (see `discovery.repository_root`). Git is asked (when present) which files it
tracks; nothing here writes or executes anything from the repository.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from lockdock.context import ScanContext
from lockdock.discovery import Discovery, find_git_root
from lockdock.files import FileProblem, Inside, read_text
from lockdock.model import Target, TargetKind
from lockdock.secrets import check_assignment, public_pem


@dataclass
class SecretFileInfo:
    path: Path
    rel: str  # relative to the repo root, forward slashes
    mode: int
    mtime: float
    kind: str  # "password" or "key"


@dataclass
class Repo:
    target: Target
    root: Path
    git_root: Path | None
    gitignore: Path | None
    gitignore_text: str | None
    tracked: list[str] | None  # None when git is not available or this is not a git repo
    secret_files: list[SecretFileInfo] = field(default_factory=list)
    ci_configs: list[Path] = field(default_factory=list)
    dockerfiles: list[Path] = field(default_factory=list)
    compose_files: list[Path] = field(default_factory=list)
    # The scan whose loaded compose projects give the build contexts (`build_contexts`).
    contexts_of: ScanContext | None = field(default=None, repr=False, compare=False)
    _contexts: list[Path] | None = field(default=None, repr=False, compare=False)

    @property
    def build_contexts(self) -> list[Path]:
        """The local build contexts the repository's compose files name (each once, in file
        order), read on first use: at analysis time, when a scan that loaded its compose
        projects in two processes (lockdock.composesplit) has the facts of both, instead of
        parsing the other process's files again when the repository is listed."""
        if self._contexts is None:
            self._contexts = []
            if self.compose_files:  # the compose code is imported only when there is a compose file
                from lockdock.compose.project import build_contexts

                self._contexts = build_contexts(self.compose_files, self.contexts_of)
        return self._contexts


_KEY_SUFFIXES = (".key", ".pem", ".p12", ".pfx", ".jks", ".keystore", ".ppk", ".asc")


def secret_kind(name: str) -> str:
    n = name.lower()
    if n.endswith(_KEY_SUFFIXES) or n.startswith("id_") or "key" in n:
        return "key"
    return "password"


def git_tracked(git_root: Path, ctx: ScanContext) -> list[str] | None:
    """Paths git tracks (relative to `git_root`), or None when git cannot tell."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        proc = subprocess.run(
            [git, "-c", "core.quotepath=off", "-C", str(git_root), "ls-files", "-z"],
            capture_output=True,
            timeout=30,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        ctx.warn(git_root, f"git ls-files failed: {exc}")
        return None
    if proc.returncode != 0:
        return None
    return [p for p in proc.stdout.decode("utf-8", "replace").split("\0") if p]


def build_repo(root: Path, discovery: Discovery, ctx: ScanContext) -> Repo:
    git_root = find_git_root(root)
    gi = root / ".gitignore"
    gi_text: str | None = None
    if gi.is_file():
        try:
            gi_text = read_text(gi).text
        except FileProblem as exc:
            ctx.error(gi, str(exc))
    name = ctx.rel(root) or str(root)
    repo = Repo(
        target=Target(TargetKind.REPO, name=name, path=name, key=f"repo:{root}"),
        root=root,
        git_root=git_root,
        gitignore=gi if gi.is_file() else None,
        gitignore_text=gi_text,
        tracked=git_tracked(git_root, ctx) if git_root is not None else None,
    )
    seen: set[Path] = set()
    inside = Inside(root)
    candidates = list(discovery.secret_files)
    for path in candidates:
        if not inside(path) or path in seen:
            continue
        seen.add(path)
        try:
            st = path.stat()
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        if _public_pem(path, rel) or _env_without_secrets(path, rel):
            continue  # public (a certificate, DH parameters) or no credential in it
        repo.secret_files.append(
            SecretFileInfo(path, rel, stat.S_IMODE(st.st_mode), st.st_mtime, secret_kind(path.name))
        )
    repo.ci_configs = [p for p in discovery.ci_configs if inside(p)]
    repo.dockerfiles = [p for p in discovery.dockerfiles if inside(p)]
    repo.compose_files = [p for p in discovery.compose_files if inside(p)]
    repo.contexts_of = ctx  # the build contexts are read when first asked for
    return repo


def _public_pem(path: Path, rel: str) -> bool:
    """A .pem/.crt file whose content holds no private key (lockdock.secrets.public_pem)."""
    if not rel.lower().endswith((".pem", ".crt", ".cer")):
        return False
    try:
        text = read_text(path, max_bytes=256 * 1024).text
    except FileProblem:
        return False
    return public_pem(rel, text)


def _env_without_secrets(path: Path, rel: str) -> bool:
    """A `.env`/`.env.*` file whose every `NAME=value` line is readable and holds nothing
    `check_assignment` calls a credential (paperless-ngx's `.env` sets only
    COMPOSE_PROJECT_NAME). A placeholder still counts as a credential; unreadable is False."""
    name = rel.rsplit("/", 1)[-1]
    if name != ".env" and not name.startswith(".env."):
        return False
    try:
        text = read_text(path, max_bytes=256 * 1024).text
    except FileProblem:
        return False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.removeprefix("export ").partition("=")
        if not eq or check_assignment(key.strip(), value) is not None:
            return False
    return True
