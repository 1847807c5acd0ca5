"""Where analyzers, sources and fixers announce themselves.

Each module under `analyzers/` and `fixers/` (and the source modules of the core) registers
with a decorator at import time; `load_plugins()` imports them all. The pipeline never
names an analyzer, so adding one is adding a module.
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


ANALYZERS: list[Analyzer] = []
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
    return [a for a in ANALYZERS if a.kind == kind]



_FIXERS_BY_KEY: dict[tuple[str, TargetKind, int], list[Fixer]] = {}


def fixers_for(check: str, kind: TargetKind) -> list[Fixer]:
    """Fixers of `check` for `kind`, looked up once per pair (this runs for every finding).

    The key includes how many fixers are registered, so registering more (plugins load
    lazily) never serves a stale answer.
    """
    key = (check, kind, len(FIXERS))
    found = _FIXERS_BY_KEY.get(key)
    if found is None:
        found = _FIXERS_BY_KEY[key] = [f for f in FIXERS if f.check == check and kind in f.kinds]
    return found


@functools.cache
def load_plugins() -> None:
    """Import every analyzer, fixer and source module once (registration side effects)."""
    for pkg_name in ("lockdock.sources", "lockdock.analyzers", "lockdock.fixers"):
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{pkg_name}.{info.name}")
