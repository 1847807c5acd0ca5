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
# Compose file names: compose.yaml, docker-compose.prod.yml, compose.prod.yaml, and names that
# end in it (agent-compose.yml, stack.compose.yaml), as `docker compose -f` users write them.
_COMPOSE = re.compile(
    r"(?i)^((docker-)?compose([.-][A-Za-z0-9_-]+)*|[A-Za-z0-9_.-]+[._-](docker-)?compose([.-][A-Za-z0-9_-]+)*)"
    r"\.ya?ml$"
)
# Names that carry "compose" somewhere else (compose_dev.yml, my-compose-stack.yaml): compose
# files when their content says so.
_MAYBE_COMPOSE = re.compile(r"(?i)^[A-Za-z0-9_.-]*compose[A-Za-z0-9_.-]*\.ya?ml$")
# Sources that generate a Dockerfile (docker-library's Dockerfile.template, Jinja, m4, erb...).
TEMPLATE_SUFFIXES = (".template", ".tmpl", ".tpl", ".j2", ".jinja", ".jinja2", ".in", ".erb", ".mustache",
                     ".gotmpl", ".m4", ".hbs", ".njk")
# Template syntax in an instruction: {{ }}, {% %}, %%VAR%%, @VAR@ (autoconf), <%= %> (erb).
TEMPLATE_SYNTAX = re.compile(r"\{\{.*?\}\}|\{\{|\{%|%%[A-Za-z_][A-Za-z0-9_]*%%|@[A-Z_][A-Z0-9_]*@|<%")
SNIFF_BYTES = 64 * 1024
_TOP_SERVICES = re.compile(r"(?m)^services:[ \t]*(#.*)?\r?\n(?:[ \t]*(#.*)?\r?\n)*[ \t]+[\"']?[A-Za-z0-9_.-]+[\"']?:")
_V1_SERVICE = re.compile(
    r"(?m)^[\"']?[A-Za-z0-9_.-]+[\"']?:[ \t]*(#.*)?\r?\n(?:[ \t]*(#.*)?\r?\n)*"
    r"[ \t]+(image|build|command|links|ports|volumes|environment|container_name):"
)
_DOCKERFILE_FIRST = re.compile(r"(?i)^(from|arg)\s+\S")
_CI_FILES = (
    ".gitlab-ci.yml", ".gitlab-ci.yaml", "Jenkinsfile", ".travis.yml", "azure-pipelines.yml",
    "bitbucket-pipelines.yml", ".drone.yml", "cloudbuild.yaml", "cloudbuild.yml",
    "buildkite.yml", ".buildkite/pipeline.yml", "Taskfile.yml", "Makefile", "justfile",
)
_CI_DIRS = (".github/workflows", ".circleci", ".buildkite", ".woodpecker", ".gitea/workflows", ".forgejo/workflows")


@dataclass
class Discovery:
    roots: list[Path] = field(default_factory=list)
    # Where the repository checks run: each scanned directory, and for files named on the
    # command line the repository that holds them (git's top level, else the current
    # directory when they are inside it, else their folder), once.
    repo_roots: list[Path] = field(default_factory=list)
    dockerfiles: list[Path] = field(default_factory=list)
    compose_files: list[Path] = field(default_factory=list)
    dockerignores: list[Path] = field(default_factory=list)
    gitignores: list[Path] = field(default_factory=list)
    ci_configs: list[Path] = field(default_factory=list)
    secret_files: list[Path] = field(default_factory=list)
    env_files: list[Path] = field(default_factory=list)  # .env files (compose interpolation)
    files_seen: int = 0
    folders: list[Path] = field(default_factory=list)  # every folder walked (lockdock.scanrecord)
    sniffed: list[Path] = field(default_factory=list)  # files whose content decided their kind

    def root_of(self, path: Path) -> Path:
        """The scan root that contains `path` (the longest match)."""
        best: Path | None = None
        for root in self.roots:
            if within(path, root) and (best is None or len(str(root)) > len(str(best))):
                best = root
        return best or path.parent


def is_template(name: str) -> bool:
    """A file that generates a Dockerfile or compose file (`Dockerfile.template`, `compose.yml.j2`)."""
    return name.lower().endswith(TEMPLATE_SUFFIXES)


def is_dockerfile(name: str) -> bool:
    """A Dockerfile by its name (`Dockerfile`, `Dockerfile.prod`, `api.dockerfile`, `Containerfile`);
    documents, scripts, YAML and templates (`Dockerfile.template`, `*.j2`) are not."""
    lower = name.lower()
    if lower.endswith((".md", ".txt", ".rst", ".orig", ".bak", ".swp", ".sh", ".py", ".json", ".yml", ".yaml",
                       ".ps1", ".bat", ".lock")):
        return False
    if is_template(lower):
        return False
    return bool(_DOCKERFILE.match(name))


def is_compose(name: str) -> bool:
    """A compose file by its name alone (see `_MAYBE_COMPOSE` for names that need a look inside)."""
    return bool(_COMPOSE.match(name))


def _head(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read(SNIFF_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""


def compose_by_content(text: str) -> str | None:
    """"compose" for a top-level `services:` mapping, "v1" for a Compose v1 file (services
    at the top level, or `version: "1"`), None otherwise. A cheap look at the text, not a parse."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if _TOP_SERVICES.search(text):
        return "compose"
    if re.search(r"(?m)^version:[ \t]*[\"']?1(\.0)?[\"']?[ \t]*$", text) or _V1_SERVICE.search(text):
        if re.search(r"(?m)^(apiVersion|kind|on|jobs|steps|stages|hosts|tasks):", text):
            return None  # Kubernetes, CI or Ansible YAML
        return "v1"
    return None


def dockerfile_by_content(text: str) -> bool:
    """True when the first instruction (after comments, directives and blank lines) is FROM or ARG."""
    for line in text.splitlines()[:200]:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        return bool(_DOCKERFILE_FIRST.match(stripped))
    return False


def _is_ci(rel: str) -> bool:
    if rel in _CI_FILES or os.path.basename(rel) in (".gitlab-ci.yml", "Jenkinsfile", ".travis.yml"):
        return True
    return any(rel.startswith(d + "/") for d in _CI_DIRS) and rel.endswith((".yml", ".yaml"))


def find_git_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding `.git` (a work tree's top level)."""
    for d in [start, *start.parents]:
        if (d / ".git").exists():
            return d
    return None


def repository_root(folder: Path, cwd: Path) -> Path:
    """The repository a file in `folder` belongs to: git's top level, else the current
    directory when `folder` is inside it, else `folder` itself."""
    git_root = find_git_root(folder)
    if git_root is not None:
        return git_root
    cwd = Path(os.path.abspath(cwd))
    return cwd if within(folder, cwd) else folder


def discover(paths: list[Path], ctx: ScanContext) -> Discovery:
    """Walk `paths` (directories or files) and sort what is there into kinds."""
    found = Discovery()
    file_repos: list[Path] = []
    for raw in paths:
        path = Path(os.path.abspath(raw))
        if not os.path.lexists(path):
            ctx.error(path, "path does not exist")
            continue
        if path.is_file():
            found.roots.append(path.parent)
            _classify(path, path.parent, found, ctx, explicit=True)
            repo = repository_root(path.parent, ctx.cwd)
            if repo not in file_repos:
                file_repos.append(repo)
            continue
        if not path.is_dir():
            ctx.error(path, "not a file or directory; skipped")
            continue
        found.roots.append(path)
        if path not in found.repo_roots:
            found.repo_roots.append(path)
        _walk(path, found, ctx)
    for repo in file_repos:
        if any(within(repo, d) for d in found.repo_roots):
            continue  # a scanned directory already covers it
        found.repo_roots.append(repo)
        _repository_files(repo, found)
    return found


def _repository_files(root: Path, found: Discovery) -> None:
    """The repository-level files of `root` (CI configuration, .gitignore) without a walk:
    a file-list scan (pre-commit, CI) judges the listed files, not every file on disk."""
    known = {p for p in (*found.ci_configs, *found.gitignores)}
    for rel in _CI_FILES:
        p = root / rel
        if p.is_file() and not p.is_symlink() and p not in known:
            found.ci_configs.append(p)
    for d in _CI_DIRS:
        folder = root / d
        if folder.is_dir() and not folder.is_symlink():
            for p in sorted(folder.iterdir()):
                if p.is_file() and p.suffix in (".yml", ".yaml") and p not in known:
                    found.ci_configs.append(p)
    gi = root / ".gitignore"
    if gi.is_file() and gi not in known:
        found.gitignores.append(gi)


def _walk(root: Path, found: Discovery, ctx: ScanContext) -> None:
    def onerror(exc: OSError) -> None:
        ctx.error(exc.filename or root, f"cannot read directory: {exc.strerror or exc}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        base = Path(dirpath)
        found.folders.append(base)
        for name in sorted(filenames):
            found.files_seen += 1
            if found.files_seen > MAX_FILES:
                ctx.warn(root, f"stopped after {MAX_FILES} files; scan a smaller directory")
                return
            _classify(base / name, root, found, ctx)


def _classify(path: Path, root: Path, found: Discovery, ctx: ScanContext, explicit: bool = False) -> None:
    name = path.name
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    maybe_compose = not is_compose(name) and bool(_MAYBE_COMPOSE.match(name))
    wanted = (
        is_dockerfile(name)
        or is_compose(name)
        or maybe_compose
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
    elif maybe_compose and not explicit:
        found.sniffed.append(path)
        if compose_by_content(_head(path)):
            found.compose_files.append(path)
    elif name == ".dockerignore" or name.endswith(".dockerignore"):
        found.dockerignores.append(path)
    elif name == ".gitignore":
        found.gitignores.append(path)
    elif _is_ci(rel):
        found.ci_configs.append(path)
    elif explicit and not secret_path(rel) and name != ".env":
        _classify_explicit(path, rel, found, ctx)
    if name == ".env" or name.startswith(".env."):
        found.env_files.append(path)
    if secret_path(rel):
        found.secret_files.append(path)


def _classify_explicit(path: Path, rel: str, found: Discovery, ctx: ScanContext) -> None:
    """A file named on the command line whose name says nothing: judged by its content."""
    name = path.name
    found.sniffed.append(path)
    head = _head(path)
    kind = compose_by_content(head) if name.lower().endswith((".yml", ".yaml")) or "compose" in name.lower() else None
    if kind is None and not name.lower().endswith((".yml", ".yaml", ".json")):
        if dockerfile_by_content(head) or (is_template(name) and "dockerfile" in name.lower()):
            found.dockerfiles.append(path)
            return
        kind = compose_by_content(head)
    if kind is not None:
        found.compose_files.append(path)
        return
    if fnmatch.fnmatch(name.lower(), "*dockerfile*"):
        found.dockerfiles.append(path)
        return
    ctx.warn(path, "not a Dockerfile (no FROM), a compose file (no top-level services:) or a repository "
                   "file; skipped")
