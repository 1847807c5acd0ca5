"""Where analyzers, sources and fixers announce themselves.

Each module under `analyzers/` and `fixers/` (and the source modules of the core) registers
with a decorator at import time. The pipeline never names an analyzer, so adding one is
adding a module.

Modules are loaded lazily, per target kind, from the first word of their name
(`PREFIX_KINDS`): `analyzers_for(TargetKind.DOCKERFILE)` imports the `dockerfile_*`
modules only, so a file-only scan never imports the engine client or the image analyzers.
A module whose name starts with no known prefix is loaded for every kind (it is still
found, only not lazily), except the helper modules named in `HELPER_MODULES`, which
register nothing and are imported only by the rules that use them. `load_plugins()` with
no argument imports everything.

A scan needs the sources first and the rules of a kind only once a subject of that kind
exists: `load_sources(kinds)` imports the source modules of `kinds` alone, so an engine
scan of an empty directory imports neither the compose nor the Dockerfile code.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from lockdock.checks import CATALOGUE
from lockdock.model import Applicability, Finding, Fix, Target, TargetKind

if TYPE_CHECKING:
    from lockdock.context import ScanContext
    from lockdock.discovery import Discovery


class Subject(Protocol):
    """Anything analysable: a parsed Dockerfile, a compose service, an image, a container..."""

    target: Target


SubjectT = TypeVar("SubjectT", bound=Subject)
"""The subject type one analyzer or fixer takes (one of lockdock.sources' types)."""

AnalyzerFn = Callable[[SubjectT, "ScanContext"], Iterable[Finding]]
"""`fn(subject, ctx) -> findings`, generic in the subject type it reads."""
SourceFn = Callable[["Discovery", "ScanContext"], Iterator[Subject]]
FixerFn = Callable[[Finding, SubjectT, "ScanContext"], Fix | None]
"""`fn(finding, subject, ctx) -> Fix | None`, generic in the subject type it edits."""
BatchFn = Callable[[list[Any], "ScanContext"], None]
"""`fn(subjects, ctx)`: work done once for a batch of subjects before they are analysed."""


@dataclass(frozen=True)
class Analyzer:
    kind: TargetKind
    checks: tuple[str, ...]
    fn: AnalyzerFn[Any]
    name: str


@dataclass(frozen=True)
class Source:
    """Turns what discovery found (or the engine) into subjects."""

    name: str
    fn: SourceFn
    needs_engine: bool
    order: int


@dataclass(frozen=True)
class Fixer:
    check: str
    kinds: tuple[TargetKind, ...]
    fn: FixerFn[Any]
    title: str
    applicability: Applicability
    lazy: bool  # True: computing the fix is slow (engine stats); done on demand only
    name: str


PLUGIN_PACKAGES = ("lockdock.sources", "lockdock.analyzers", "lockdock.fixers")
SOURCE_PACKAGES = ("lockdock.sources",)  # of PLUGIN_PACKAGES, those `load_sources` imports
# Modules of the plugin packages that register nothing (code several rule modules share):
# left to the modules that import them, so their imports are not paid for every kind.
HELPER_MODULES = frozenset({"lockdock.fixers.servicefacts"})
_ENGINE_KINDS = (TargetKind.IMAGE, TargetKind.CONTAINER, TargetKind.HOST)
# First word of a plugin module's name (before "_") -> the target kinds it may register for.
# A module registering for a kind outside its prefix's kinds is a bug (tests/core/test_cache.py
# checks every module).
PREFIX_KINDS: dict[str, tuple[TargetKind, ...]] = {
    "dockerfile": (TargetKind.DOCKERFILE,),
    "dockerfiles": (TargetKind.DOCKERFILE,),
    "compose": (TargetKind.COMPOSE_FILE, TargetKind.COMPOSE_SERVICE),
    "repo": (TargetKind.REPO,),
    "image": (TargetKind.IMAGE, TargetKind.CONTAINER),
    "container": (TargetKind.CONTAINER,),
    "host": (TargetKind.HOST,),
    "daemon": (TargetKind.HOST,),
    "engine": _ENGINE_KINDS,
    "swarm": (TargetKind.SWARM_SERVICE,),
}

ANALYZERS: list[Analyzer] = []
BATCH_HOOKS: list[tuple[TargetKind, BatchFn]] = []
SOURCES: list[Source] = []
FIXERS: list[Fixer] = []


def _check_ids(checks: Iterable[str]) -> tuple[str, ...]:
    ids = tuple(checks)
    for cid in ids:
        if cid not in CATALOGUE:
            raise ValueError(f"unknown check id {cid!r}")
    return ids


def analyzer(kind: TargetKind, *checks: str) -> Callable[[AnalyzerFn[SubjectT]], AnalyzerFn[SubjectT]]:
    """Register `fn(subject, ctx) -> findings` for subjects of `kind` emitting `checks`."""
    ids = _check_ids(checks)

    def deco(fn: AnalyzerFn[SubjectT]) -> AnalyzerFn[SubjectT]:
        ANALYZERS.append(Analyzer(kind, ids, fn, f"{fn.__module__}.{fn.__qualname__}"))
        return fn

    return deco


def before_batch(kind: TargetKind) -> Callable[[BatchFn], BatchFn]:
    """Register `fn(subjects, ctx)`, called with a batch of subjects of `kind` before they are
    analysed one by one: the place to start one external process for many files (ShellCheck)
    instead of one per file. It may only warm caches; findings still come from analyzers."""

    def deco(fn: BatchFn) -> BatchFn:
        BATCH_HOOKS.append((kind, fn))
        return fn

    return deco


def batch_hooks_for(kind: TargetKind) -> list[BatchFn]:
    """Batch hooks of `kind` (their modules are imported on first use)."""
    if kind not in _LOADED_KINDS:
        load_plugins((kind,))
    return [fn for k, fn in BATCH_HOOKS if k == kind]


def source(name: str, *, needs_engine: bool = False, order: int = 50) -> Callable[[SourceFn], SourceFn]:
    """Register `fn(discovery, ctx) -> iterator of subjects`; lower `order` runs first."""

    def deco(fn: SourceFn) -> SourceFn:
        SOURCES[:] = [s for s in SOURCES if s.name != name]
        SOURCES.append(Source(name, fn, needs_engine, order))
        SOURCES.sort(key=lambda s: s.order)
        return fn

    return deco


def fixer(
    check: str,
    *kinds: TargetKind,
    title: str,
    applicability: Applicability,
    lazy: bool = False,
) -> Callable[[FixerFn[SubjectT]], FixerFn[SubjectT]]:
    """Register `fn(finding, subject, ctx) -> Fix | None` for `check` on `kinds`."""
    (cid,) = _check_ids([check])

    def deco(fn: FixerFn[SubjectT]) -> FixerFn[SubjectT]:
        FIXERS.append(
            Fixer(cid, tuple(kinds), fn, title, applicability, lazy, f"{fn.__module__}.{fn.__qualname__}")
        )
        return fn

    return deco


def analyzers_for(kind: TargetKind) -> list[Analyzer]:
    """Analyzers of `kind`, in module-name order (their modules are imported on first use)."""
    if kind not in _LOADED_KINDS:
        load_plugins((kind,))
    return [a for a in ANALYZERS if a.kind == kind]


_FIXERS_BY_KEY: dict[tuple[str, TargetKind, int], list[Fixer]] = {}


def fixers_for(check: str, kind: TargetKind) -> list[Fixer]:
    """Fixers of `check` for `kind`, looked up once per pair (this runs for every finding).

    The key includes how many fixers are registered, so registering more (plugins load
    lazily) never serves a stale answer.
    """
    if kind not in _LOADED_KINDS:
        load_plugins((kind,))
    key = (check, kind, len(FIXERS))
    found = _FIXERS_BY_KEY.get(key)
    if found is None:
        found = _FIXERS_BY_KEY[key] = [f for f in FIXERS if f.check == check and kind in f.kinds]
    return found


@functools.cache
def _plugin_modules() -> tuple[tuple[str, tuple[TargetKind, ...]], ...]:
    """(module name, kinds) of every plugin module, sorted by package then name."""
    out: list[tuple[str, tuple[TargetKind, ...]]] = []
    for pkg_name in PLUGIN_PACKAGES:
        pkg = importlib.import_module(pkg_name)
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            name = f"{pkg_name}.{info.name}"
            if not info.name.startswith("_") and name not in HELPER_MODULES:
                kinds = PREFIX_KINDS.get(info.name.split("_", 1)[0], tuple(TargetKind))
                out.append((name, kinds))
    return tuple(out)


_LOADED_KINDS: set[TargetKind] = set()


def load_plugins(kinds: Iterable[TargetKind] | None = None) -> None:
    """Import the analyzer, fixer and source modules of `kinds` (None: every kind), once.

    Registration is the import's side effect; a module already imported is not imported
    again, so calling this often costs a set lookup.
    """
    if type(kinds) is tuple and len(kinds) == 1 and kinds[0] in _LOADED_KINDS:
        return  # the per-finding lookups: no set to build
    wanted = set(TargetKind) if kinds is None else set(kinds)
    if wanted <= _LOADED_KINDS:
        return
    for name, module_kinds in _plugin_modules():
        if wanted.intersection(module_kinds):
            importlib.import_module(name)
    _LOADED_KINDS.update(wanted)


_SOURCE_KINDS: set[TargetKind] = set()


def load_sources(kinds: Iterable[TargetKind]) -> None:
    """Import the source modules (`SOURCE_PACKAGES`) of `kinds`, and those of no known
    prefix, once; the analyzers and fixers of a kind wait for `load_plugins` (called by
    `analyzers_for`, `fixers_for` and `batch_hooks_for` with the first subject of the kind).
    """
    wanted = set(kinds)
    if wanted <= _SOURCE_KINDS:
        return
    for name, module_kinds in _plugin_modules():
        if name.rpartition(".")[0] in SOURCE_PACKAGES and wanted.intersection(module_kinds):
            importlib.import_module(name)
    _SOURCE_KINDS.update(wanted)


def engine_kinds() -> tuple[TargetKind, ...]:
    """The kinds an engine gives subjects of in every scan of it: images, containers, the host."""
    return _ENGINE_KINDS
