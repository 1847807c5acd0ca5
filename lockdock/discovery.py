"""Finding what to scan under the given paths.

Walks without following symlinked directories, never leaves the scanned root through a
symlinked file, skips VCS/dependency folders, and records unreadable places as errors.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from lockdock.context import ScanContext
from lockdock.files import within
from lockdock.secrets import secret_path

SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "node_modules", "vendor", "third_party", ".venv", "venv",
        "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache",
        "site-packages", ".terraform", ".idea", ".gradle", "bower_components",
    }
)
MAX_FILES = 200_000

_DOCKERFILE = re.compile(r"(?i)^(dockerfile|containerfile)([._-].+)?$|^.+\.(dockerfile|containerfile)$")
_COMPOSE = re.compile(r"^(docker-)?compose([.-][A-Za-z0-9_-]+)*\.ya?ml$")
_CI_FILES = (
    ".gitlab-ci.yml", ".gitlab-ci.yaml", "Jenkinsfile", ".travis.yml", "azure-pipelines.yml",
    "bitbucket-pipelines.yml", ".drone.yml", "cloudbuild.yaml", "cloudbuild.yml",
    "buildkite.yml", ".buildkite/pipeline.yml", "Taskfile.yml", "Makefile", "justfile",
)
_CI_DIRS = (".github/workflows", ".circleci", ".buildkite", ".woodpecker", ".gitea/workflows", ".forgejo/workflows")


@dataclass
class Discovery:
    roots: list[Path] = field(default_factory=list)
    dockerfiles: list[Path] = field(default_factory=list)
    compose_files: list[Path] = field(default_factory=list)
    dockerignores: list[Path] = field(default_factory=list)
    gitignores: list[Path] = field(default_factory=list)
    ci_configs: list[Path] = field(default_factory=list)
    secret_files: list[Path] = field(default_factory=list)
    env_files: list[Path] = field(default_factory=list)  # .env files (compose interpolation)
    files_seen: int = 0

    def root_of(self, path: Path) -> Path:
        """The scan root that contains `path` (the longest match)."""
        best: Path | None = None
        for root in self.roots:
            if within(path, root) and (best is None or len(str(root)) > len(str(best))):
                best = root
        return best or path.parent


def is_dockerfile(name: str) -> bool:
    if name.lower().endswith((".md", ".txt", ".rst", ".orig", ".bak", ".swp", ".sh", ".py", ".json", ".yml", ".yaml")):
        return False
    return bool(_DOCKERFILE.match(name))


def is_compose(name: str) -> bool:
    return bool(_COMPOSE.match(name))


def _is_ci(rel: str) -> bool:
    if rel in _CI_FILES or os.path.basename(rel) in (".gitlab-ci.yml", "Jenkinsfile", ".travis.yml"):
        return True
    return any(rel.startswith(d + "/") for d in _CI_DIRS) and rel.endswith((".yml", ".yaml"))


def discover(paths: list[Path], ctx: ScanContext) -> Discovery:
    """Walk `paths` (directories or files) and sort what is there into kinds."""
    found = Discovery()
    for raw in paths:
        path = Path(os.path.abspath(raw))
        if not os.path.lexists(path):
            ctx.error(path, "path does not exist")
            continue
        if path.is_file():
            found.roots.append(path.parent)
            _classify(path, path.parent, found, ctx, explicit=True)
            continue
        if not path.is_dir():
            ctx.error(path, "not a file or directory; skipped")
            continue
        found.roots.append(path)
        _walk(path, found, ctx)
    return found


def _walk(root: Path, found: Discovery, ctx: ScanContext) -> None:
    def onerror(exc: OSError) -> None:
        ctx.error(exc.filename or root, f"cannot read directory: {exc.strerror or exc}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        base = Path(dirpath)
        for name in sorted(filenames):
            found.files_seen += 1
            if found.files_seen > MAX_FILES:
                ctx.warn(root, f"stopped after {MAX_FILES} files; scan a smaller directory")
                return
            _classify(base / name, root, found, ctx)


def _classify(path: Path, root: Path, found: Discovery, ctx: ScanContext, explicit: bool = False) -> None:
    name = path.name
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    wanted = (
        is_dockerfile(name)
        or is_compose(name)
        or name in (".dockerignore", ".gitignore")
        or name.endswith(".dockerignore")
        or _is_ci(rel)
        or secret_path(rel)
        or name == ".env"
    )
    if not wanted and not explicit:
        return
    if path.is_symlink():
        # Only files lockdock would analyse deserve a word; a symlinked certificate does not.
        analysed = is_dockerfile(name) or is_compose(name) or name in (".dockerignore", ".gitignore")
        if not os.path.exists(path):
            if analysed:
                ctx.warn(path, "broken symlink; skipped")
            return
        if not within(path, root):
            if analysed:
                ctx.warn(path, "symlink leads outside the scanned root; not followed")
            return
    if is_dockerfile(name):
        found.dockerfiles.append(path)
    elif is_compose(name):
        found.compose_files.append(path)
    elif name == ".dockerignore" or name.endswith(".dockerignore"):
        found.dockerignores.append(path)
    elif name == ".gitignore":
        found.gitignores.append(path)
    elif _is_ci(rel):
        found.ci_configs.append(path)
    elif explicit and not secret_path(rel) and name != ".env":
        # An explicit file of unknown kind: try it as a Dockerfile when it looks like one.
        if fnmatch.fnmatch(name.lower(), "*dockerfile*"):
            found.dockerfiles.append(path)
        else:
            ctx.warn(path, "not a Dockerfile, compose file or repository file; skipped")
    if name == ".env" or name.startswith(".env."):
        found.env_files.append(path)
    if secret_path(rel):
        found.secret_files.append(path)
