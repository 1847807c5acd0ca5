"""Compose projects as `docker compose` sees them.

A project is a main file plus its override file (or the files `COMPOSE_FILE` in the
project's `.env` names), with `extends` and `include` resolved, `${VAR}` interpolated and
the files merged. Every value of the effective configuration is a `Node` that still knows
the file, line, column and character offsets where it is written, and the anchor it came
through, so findings point where a user has to look and fixers know what to edit.
Problems become `ctx.error` entries naming the file and line; loading never raises.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdock.compose import schema
from lockdock.compose.interpolate import Env, interpolate_tree, parse_dotenv
from lockdock.compose.merge import drop_resets, merge_nodes
from lockdock.compose.yamlread import Node, parse
from lockdock.context import ScanContext
from lockdock.files import FileProblem, TextFile, read_text

BASE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
MAX_INCLUDE_DEPTH = 10


def override_names(base: str) -> tuple[str, str]:
    stem = base.rsplit(".", 1)[0]
    return f"{stem}.override.yaml", f"{stem}.override.yml"


def is_remote(ref: str) -> bool:
    return "://" in ref or ref.startswith(("git@", "oci:"))


@dataclass
class LoadedFile:
    """One compose file as read: text (for edits), parsed tree (interpolated), health."""

    path: Path
    text: TextFile | None
    root: Node | None
    clean: bool  # parsed without problems: fixers may edit it
    indent: int = 2
    # The local build contexts the file names as written, from its tree before interpolation
    # (`build_contexts` reads them here instead of parsing the file again); None: not read.
    build_refs: list[str] | None = None

    @property
    def key(self) -> str:
        return str(self.path)


@dataclass
class Service:
    name: str
    node: Node  # effective, merged configuration
    project: Project
    key_lines: dict[str, int] = field(default_factory=dict)  # file -> line of `name:`
    decls: list[Node] = field(default_factory=list)  # the service's own map in each project file

    def get(self, *path: str) -> Node | None:
        cur: Node | None = self.node
        for part in path:
            if cur is None:
                return None
            cur = cur.get(part)
        return cur

    def value(self, *path: str, default: Any = None) -> Any:
        node = self.get(*path)
        return default if node is None else node.plain()

    @property
    def main_decl(self) -> Node | None:
        """The service's own map in the first project file that declares it."""
        return self.decls[0] if self.decls else None

    def scope_line(self, file: str) -> int | None:
        return self.key_lines.get(file)


@dataclass
class Project:
    main: Path
    files: list[Path]
    directory: Path
    env: Env
    loaded: dict[str, LoadedFile] = field(default_factory=dict)
    root: Node | None = None
    services: dict[str, Service] = field(default_factory=dict)
    consumed: set[str] = field(default_factory=set)  # other files this project reads
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)  # fixers' per-project caches

    def file(self, path: str) -> LoadedFile | None:
        return self.loaded.get(path)


class _Loader:
    """Loads the files of one project (and what they extend or include)."""

    def __init__(self, project: Project, ctx: ScanContext) -> None:
        self.project = project
        self.ctx = ctx

    def err(self, path: Path | str, line: int | None, msg: str, warn: bool = False) -> None:
        text = f"line {line}: {msg}" if line else msg
        if warn:
            self.ctx.warn(path, text)
        else:
            self.ctx.error(path, text)

    def load(self, path: Path) -> LoadedFile:
        key = str(path)
        if key in self.project.loaded:
            return self.project.loaded[key]
        lf = LoadedFile(path, None, None, False)
        self.project.loaded[key] = lf
        try:
            tf = read_text(path)
        except FileProblem as exc:
            self.ctx.error(path, str(exc))
            return lf
        lf.text = tf
        result = parse(tf.text, key)
        for p in result.problems:
            self.err(path, p.line, p.message)
        for p in result.warnings:
            self.err(path, p.line, p.message, warn=True)
        lf.clean = not result.problems and result.documents == 1
        lf.root = result.root
        lf.build_refs = _build_refs(result.root) if "build" in tf.text else []
        if lf.root is None:
            return lf
        lf.indent = _detect_indent(lf.root)
        interpolate_tree(lf.root, self.project.env,
                         lambda n, m: self.err(path, n.line, m))
        self._validate(lf)
        return lf

    def _validate(self, lf: LoadedFile) -> None:
        root = lf.root
        assert root is not None
        if root.kind != "map":
            return
        if root.get("services") is None and self._v1(lf, root):
            return
        for key, node in root.value.items():
            if key not in schema.TOP_KEYS and not key.startswith("x-"):
                self.err(lf.path, node.entry_line, f"unknown top-level key {key[:60]!r}", warn=True)
        services = root.get("services")
        if services is None:
            return
        if services.kind == "scalar" and services.value is None:
            del root.value["services"]
            return
        if services.kind != "map":
            self.err(lf.path, services.entry_line, "`services` must be a mapping")
            del root.value["services"]
            return
        for name in list(services.value):
            svc = services.value[name]
            if svc.kind != "map":
                what = "is empty" if svc.kind == "scalar" and svc.value is None else "must be a mapping"
                self.err(lf.path, svc.entry_line, f"service {name[:60]!r} {what}")
                del services.value[name]
                continue
            for key in list(svc.value):
                child = svc.value[key]
                if key not in schema.SERVICE_KEYS and not key.startswith("x-"):
                    self.err(lf.path, child.entry_line,
                             f"service {name[:60]!r}: unknown key {key[:60]!r}", warn=True)
                    continue
                problem = schema.type_problem(key, child)
                if problem:
                    self.err(lf.path, child.entry_line, f"service {name[:60]!r}: {problem}")
                    del svc.value[key]
                elif key == "volumes" and child.kind == "seq":
                    for item in child.value:
                        for bad in schema.unknown_mount_keys(item):
                            self.err(lf.path, item.get(bad).entry_line if item.get(bad) else item.line,
                                     f"service {name[:60]!r}: {schema.mount_key_reason(bad)}", warn=True)

    def _v1(self, lf: LoadedFile, root: Node) -> bool:
        """Say plainly when a file is Compose file format v1 (services at the top level)."""
        version = root.get("version")
        v1_version = version is not None and str(version.value).strip() in ("1", "1.0")
        names = [k for k, n in root.value.items()
                 if k not in schema.TOP_KEYS and not k.startswith("x-") and n.kind == "map"
                 and any(key in schema.SERVICE_KEYS for key in n.value)]
        if not names and not v1_version:
            return False
        shown = ", ".join(repr(n[:40]) for n in names[:5]) + (", ..." if len(names) > 5 else "")
        what = f"its {len(names)} service(s) ({shown})" if names else "its services"
        self.err(lf.path, 1, "Compose file format v1 (services at the top level, no `services:` key): "
                 f"docker compose v2 no longer reads it, and lockdock did not check {what}; "
                 "move them under a top-level `services:` key to have them checked", warn=True)
        for name in names:
            del root.value[name]
        return True

    # ------------------------------------------------------------------ extends

    def resolve_services(self, lf: LoadedFile) -> dict[str, Node]:
        """The file's services with `extends` applied."""
        services = lf.root.get("services") if lf.root else None
        if services is None or services.kind != "map":
            return {}
        return {name: self.resolve_service(lf, name, []) or Node("map", {}, lf.key, 0, 0, 1, 1, 1)
                for name in services.value}

    def resolve_service(self, lf: LoadedFile, name: str, stack: list[tuple[str, str]]) -> Node | None:
        services = lf.root.get("services") if lf.root else None
        svc = services.get(name) if services is not None else None
        if svc is None:
            return None
        ext = svc.get("extends")
        if ext is None:
            return svc
        here = (lf.key, name)
        if here in stack:
            chain = " -> ".join(n for _, n in [*stack, here])
            self.err(lf.path, ext.entry_line, f"service {name[:60]!r}: extends cycle ({chain[:200]})")
            return _without(svc, "extends")
        target_file, target_name = lf, None
        if ext.kind == "scalar":
            target_name = str(ext.value) if ext.value is not None else None
        elif ext.kind == "map":
            sn, fn = ext.get("service"), ext.get("file")
            target_name = str(sn.value) if sn is not None and sn.kind == "scalar" else None
            if fn is not None and fn.kind == "scalar" and fn.value:
                ref = str(fn.value)
                if is_remote(ref):
                    self.err(lf.path, fn.line, f"extends of a remote file {ref[:80]} not analysed", warn=True)
                    return _without(svc, "extends")
                other = (lf.path.parent / ref).resolve()
                if not other.is_file():
                    self.err(lf.path, fn.line, f"service {name[:60]!r}: extends file {ref[:80]} not found")
                    return _without(svc, "extends")
                self.project.consumed.add(str(other))
                target_file = self.load(other)
        if not target_name:
            self.err(lf.path, ext.entry_line, f"service {name[:60]!r}: extends needs a service name")
            return _without(svc, "extends")
        base = self.resolve_service(target_file, target_name, [*stack, here])
        if base is None:
            self.err(lf.path, ext.entry_line,
                     f"service {name[:60]!r} extends {target_name[:60]!r}, which does not exist")
            return _without(svc, "extends")
        return merge_nodes(base, _without(svc, "extends"))

    # ------------------------------------------------------------------ include

    def includes(self, lf: LoadedFile, depth: int, chain: list[str]) -> list[tuple[LoadedFile, dict[str, Node]]]:
        inc = lf.root.get("include") if lf.root else None
        if inc is None:
            return []
        if inc.kind != "seq":
            self.err(lf.path, inc.entry_line, "`include` must be a list")
            return []
        result: list[tuple[LoadedFile, dict[str, Node]]] = []
        for item in inc.value:
            refs: list[Node] = []
            if item.kind == "scalar":
                refs = [item]
            elif item.kind == "map":
                p = item.get("path")
                if p is not None:
                    refs = p.value if p.kind == "seq" else [p]
            for ref in refs:
                text = str(ref.value or "")
                if not text:
                    continue
                if is_remote(text):
                    self.err(lf.path, ref.line, f"remote include {text[:100]} not analysed (no network access)",
                             warn=True)
                    continue
                target = (lf.path.parent / text).resolve()
                if str(target) in chain:
                    self.err(lf.path, ref.line, f"include cycle: {text[:100]} is already being included")
                    continue
                if depth >= MAX_INCLUDE_DEPTH:
                    self.err(lf.path, ref.line, "includes nested too deeply; stopped")
                    continue
                if not target.is_file():
                    self.err(lf.path, ref.line, f"included file {text[:100]} not found")
                    continue
                self.project.consumed.add(str(target))
                sub = self.load(target)
                if sub.root is None:
                    continue
                result.extend(self.includes(sub, depth + 1, [*chain, str(target)]))
                result.append((sub, self.resolve_services(sub)))
        return result


def _without(node: Node, key: str) -> Node:
    out = node.copy_shallow()
    out.value.pop(key, None)
    return out


def _detect_indent(root: Node) -> int:
    """The file's indentation step, from the first nested block mapping."""
    for child in root.value.values():
        if child.kind == "map" and child.style == "block" and child.value and child.key_column:
            first = next(iter(child.value.values()))
            if first.key_column and first.key_column > child.key_column and first.file == child.file:
                return first.key_column - child.key_column
    return 2


def load_project(files: list[Path], ctx: ScanContext, env: Env) -> Project:
    """Load, merge and resolve one project made of `files` (main file first)."""
    main = files[0]
    project = Project(main, files, main.parent, env)
    loader = _Loader(project, ctx)
    effective: Node | None = None
    per_file: list[tuple[LoadedFile, dict[str, Node]]] = []
    for path in files:
        lf = loader.load(path)
        if lf.root is None:
            continue
        for sub, services in loader.includes(lf, 0, [str(path)]):
            per_file.append((sub, services))
        per_file.append((lf, loader.resolve_services(lf)))
    key_lines: dict[str, dict[str, int]] = {}
    decls: dict[str, list[Node]] = {}
    services_eff: dict[str, Node] = {}
    for lf, services in per_file:
        assert lf.root is not None
        top = _without(lf.root, "services")
        top.value.pop("include", None)
        effective = top if effective is None else merge_nodes(effective, top)
        raw = lf.root.get("services")
        for name, node in services.items():
            decl = raw.get(name) if raw is not None else None
            if decl is not None:
                key_lines.setdefault(name, {})[lf.key] = decl.key_line or decl.line
                decls.setdefault(name, []).append(decl)
            services_eff[name] = merge_nodes(services_eff.get(name), node) if name in services_eff else node
    project.root = effective
    for name, node in services_eff.items():
        if node.get("image") is None and node.get("build") is None and files[0].name in BASE_NAMES:
            decl = decls.get(name, [node])[0]
            ctx.warn(decl.file, f"line {decl.key_line or decl.line}: service {name[:60]!r} has neither an "
                     "image nor a build context; docker compose would refuse it")
        svc = Service(name, drop_resets(node.copy_shallow()), project, key_lines.get(name, {}),
                      decls.get(name, []))
        project.services[name] = svc
    project.consumed.update(str(p) for p in files[1:])
    return project


# ---------------------------------------------------------------------- grouping


def _dotenv(directory: Path, ctx: ScanContext) -> dict[str, str]:
    path = directory / ".env"
    if not path.is_file():
        return {}
    try:
        return parse_dotenv(read_text(path).text)
    except FileProblem as exc:
        ctx.error(path, str(exc))
        return {}


def project_file_sets(compose_files: list[Path], ctx: ScanContext) -> list[tuple[list[Path], Env]]:
    """Group discovered compose files into projects: (files main-first, interpolation env)."""
    by_dir: dict[Path, list[Path]] = {}
    for path in compose_files:
        by_dir.setdefault(Path(os.path.abspath(path)).parent, []).append(Path(os.path.abspath(path)))
    groups: list[tuple[list[Path], Env]] = []
    environ = dict(os.environ)  # one read-only copy for every project (not one per folder)
    for directory, paths in sorted(by_dir.items()):
        dotenv = _dotenv(directory, ctx)
        env = Env(dotenv, environ)
        names = {p.name: p for p in paths}
        used: set[str] = set()
        compose_file = dotenv.get("COMPOSE_FILE")
        if compose_file:
            sep = dotenv.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
            members: list[Path] = []
            for raw_part in compose_file.split(sep):
                part = raw_part.strip()
                if not part:
                    continue
                p = (directory / part).resolve()
                if p.is_file():
                    members.append(p)
                else:
                    ctx.error(directory / ".env", f"COMPOSE_FILE names {part[:100]}, which does not exist")
            if members:
                groups.append((members, env))
                used.update(p.name for p in members if p.parent == directory)
        for base in BASE_NAMES:
            if base in names and base not in used:
                files = [names[base]]
                for ov in override_names(base):
                    if ov in names:
                        files.append(names[ov])
                        break
                used.update(p.name for p in files)
                groups.append((files, env))
        for name in sorted(names):
            if name not in used:
                groups.append(([names[name]], env))
    return groups


def load_projects(compose_files: list[Path], ctx: ScanContext, *, groups: list[tuple[list[Path], Env]] | None = None,
                  first_error: int | None = None) -> list[Project]:
    """All projects under the discovered compose files; files another project reads are not
    analysed on their own (their values are reported through that project). `groups`: the
    files' `project_file_sets` when the caller made them already (its problems recorded
    from `first_error` on)."""
    if groups is None:
        first_error = len(ctx.errors)
        groups = project_file_sets(compose_files, ctx)
    elif first_error is None:
        first_error = len(ctx.errors)
    projects = [load_project(files, ctx, env) for files, env in groups]
    said_once(ctx, first_error)  # a file read by two projects reports its problems once
    return not_consumed(projects, consumed_by(projects))


def said_once(ctx: ScanContext, first: int) -> None:
    """Keep each problem recorded from `ctx.errors[first]` on once (the first of equal ones:
    same path, message and kind)."""
    seen: set[tuple[str | None, str, str]] = set()
    kept = []
    for e in ctx.errors[first:]:
        key = (e.path, e.message, e.kind)
        if key not in seen:
            seen.add(key)
            kept.append(e)
    ctx.errors[first:] = kept


def consumed_by(projects: list[Project]) -> set[str]:
    """The files `projects` read besides their own main file (overrides, `extends`, `include`)."""
    consumed: set[str] = set()
    for p in projects:
        consumed |= {c for c in p.consumed if c != str(p.main)}
    return consumed


def not_consumed(projects: list[Project], consumed: set[str]) -> list[Project]:
    """The projects whose main file no project reads: those analysed on their own."""
    return [p for p in projects if str(p.main) not in consumed]


def projects_key(compose_files: list[Path]) -> str:
    """The ctx.cache key of the projects of exactly `compose_files` (`projects_of`)."""
    return "compose-projects:" + "\0".join(os.path.abspath(p) for p in compose_files)


SCANNED_PROJECTS = "compose-scanned-projects"  # ctx.cache: the projects the scan's subjects come from, in order
# ctx.cache: env files (paths as `views.env_file_entries` gives them) that the services of the
# projects before SCANNED_PROJECTS load, in a process that analyses only the later projects
# of a scan (lockdock.composesplit): their first service, which reports them, is elsewhere.
ENV_FILES_BEFORE = "compose-env-files-before"
# ctx.cache, in a process that loaded only some of a scan's projects (lockdock.composesplit):
# SPLIT_PROJECTS + anything: those projects (their files' build contexts are read from them);
# BUILD_REFS_ELSEWHERE: {absolute path: `LoadedFile.build_refs`} of the files loaded elsewhere.
SPLIT_PROJECTS = "compose-split-projects:"
BUILD_REFS_ELSEWHERE = "compose-build-refs-elsewhere"


def scan_projects(compose_files: list[Path], ctx: ScanContext, *,
                  groups: list[tuple[list[Path], Env]] | None = None, first_error: int | None = None,
                  ) -> list[Project]:
    """`load_projects`, remembered in `ctx.cache` for the rest of this scan, so that a later
    step asking `projects_of` the same files gets these projects without a second load (a
    scan context lives for one scan: a rescan after a fix starts with an empty cache).
    Also kept under `SCANNED_PROJECTS`: a check that reports a thing once per scan (an env
    file several services load) decides which service reports it from this order, the same
    in every process that analyses some of the subjects (lockdock.parallel)."""
    projects = load_projects(compose_files, ctx, groups=groups, first_error=first_error)
    ctx.cache[projects_key(compose_files)] = projects
    ctx.cache[SCANNED_PROJECTS] = projects
    return projects


def projects_of(compose_files: list[Path], ctx: ScanContext) -> list[Project]:
    """The projects of `compose_files` for a step that only reads them (a fixer's facts):
    those this scan loaded (`scan_projects`) when it loaded exactly these files, else loaded
    now with problems left unreported (the scan reports them where it reads the files) and
    remembered. Projects are never modified after loading, so sharing them is safe."""
    key = projects_key(compose_files)
    found = ctx.cache.get(key)
    if found is None:
        quiet = ctx.quiet()
        found = ctx.cache[key] = load_projects(compose_files, quiet)
    return found


def build_contexts(compose_files: list[Path], ctx: ScanContext | None = None) -> list[Path]:
    """Local build contexts the compose files name (`build: dir` or `build.context`), as
    written (before interpolation), each once, in the order of the files.

    With `ctx`, a file this scan loaded already (`scan_projects`) gives what its loader
    read from the same parsed tree (`LoadedFile.build_refs`); any other file is read and
    parsed here with the same fast, bounded parser (for repository checks and stacks that
    need the contexts without loading whole projects)."""
    loaded = _loaded_files(ctx) if ctx is not None else {}
    elsewhere: dict[str, list[str]] = (ctx.cache.get(BUILD_REFS_ELSEWHERE) or {}) if ctx is not None else {}
    contexts: list[Path] = []
    for path in compose_files:
        lf = loaded.get(os.path.abspath(path))
        if lf is not None and lf.build_refs is not None:
            refs = lf.build_refs
        elif os.path.abspath(path) in elsewhere:
            refs = elsewhere[os.path.abspath(path)]
        else:
            try:
                text = read_text(path).text
            except FileProblem:
                continue
            if "build" not in text:
                continue  # no build key can be written without the word
            refs = _build_refs(parse(text, str(path)).root)
        for ctx_dir in refs:
            d = (path.parent / ctx_dir).resolve()
            if d.is_dir() and d not in contexts:
                contexts.append(d)
    return contexts


def _build_refs(root: Node | None) -> list[str]:
    """The local build context of each service of a parsed compose file, as written."""
    services = root.get("services") if root is not None else None
    if services is None or services.kind != "map":
        return []
    refs: list[str] = []
    for svc in services.value.values():
        build = svc.get("build")
        if build is None:
            continue
        node = build if build.kind == "scalar" else build.get("context")
        ctx_dir = node.value if node is not None and node.kind == "scalar" else None
        if isinstance(ctx_dir, str) and "://" not in ctx_dir and not ctx_dir.startswith("git@"):
            refs.append(ctx_dir)
    return refs


def _loaded_files(ctx: ScanContext) -> dict[str, LoadedFile]:
    """Every file of the projects this scan loaded, by path."""
    out: dict[str, LoadedFile] = {}
    for key, projects in ctx.cache.items():
        if isinstance(key, str) and key.startswith(("compose-projects:", SPLIT_PROJECTS)):
            for project in projects:
                for lf in project.loaded.values():
                    out.setdefault(os.path.abspath(lf.path), lf)
    return out
