"""The scan pipeline: discover -> sources -> analyzers -> suppressions -> fix summaries.

One function per stage so the CLI runs them all in a row and the TUI can run the same
stages per target in background workers (and rescan only what a fix touched).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdock import catalogue, registry
from lockdock.context import ScanContext
from lockdock.discovery import Discovery, discover
from lockdock.model import Finding, Fix, ScanError, Severity, Target, TargetKind
from lockdock.suppress import apply_suppressions
from lockdock.text import safe


@dataclass
class TargetResult:
    target: Target
    subject: Any
    findings: list[Finding] = field(default_factory=list)

    @property
    def active(self) -> list[Finding]:
        """Findings that are not suppressed."""
        return [f for f in self.findings if f.suppressed is None]

    @property
    def level(self) -> int:
        return level_reached(self.active)

    @property
    def worst(self) -> Severity | None:
        sev = [severity_of(f) for f in self.active]
        return max(sev) if sev else None


@dataclass
class ScanResult:
    targets: dict[str, TargetResult] = field(default_factory=dict)
    errors: list[ScanError] = field(default_factory=list)
    engine_endpoint: str | None = None
    engine_error: str | None = None

    @property
    def findings(self) -> list[Finding]:
        return [f for t in self.targets.values() for f in t.findings]


def severity_of(finding: Finding) -> Severity:
    if finding.severity is not None:
        return finding.severity
    return catalogue.get(finding.check).severity


def level_reached(findings: Iterable[Finding]) -> int:
    """Highest N such that no check of level <= N fails (0 when a level-1 check fails)."""
    failing = [catalogue.get(f.check).level for f in findings]
    return (min(failing) - 1) if failing else 4


ENGINE_KINDS = frozenset({TargetKind.IMAGE, TargetKind.CONTAINER, TargetKind.HOST})


def connect_engine(ctx: ScanContext) -> None:
    """Fill `ctx.engine` (or `ctx.engine_error`) when the engine is wanted."""
    if not ctx.use_engine or ctx.engine is not None:
        return
    from lockdock.engine.connect import EngineUnavailable, connect

    try:
        timeout = float(os.environ.get("LOCKDOCK_ENGINE_TIMEOUT", "10"))
    except ValueError:
        timeout = 10.0
    timeout = max(1.0, min(timeout, ctx.remaining()))  # every engine call, within the scan's budget
    try:
        ctx.engine = connect(timeout=timeout)
    except EngineUnavailable as exc:
        ctx.engine_error = str(exc)


def analyze_subject(subject: Any, ctx: ScanContext) -> TargetResult:
    """Run every analyzer of the subject's kind; a crashing analyzer becomes an error entry."""
    target: Target = subject.target
    result = TargetResult(target, subject)
    for analyzer in registry.analyzers_for(target.kind):
        try:
            for finding in analyzer.fn(subject, ctx):
                result.findings.append(finding)
        except Exception as exc:  # noqa: BLE001 - one broken check must not stop the scan
            ctx.error(
                target.path,
                f"internal error in {analyzer.name} on {safe(target.name, 80)}: "
                f"{type(exc).__name__}: {safe(exc, 200)}",
                target=target.key,
            )
    keeps = getattr(subject, "keeps", None)  # a subject may narrow what applies to it
    if keeps is not None:
        result.findings = [f for f in result.findings if keeps(f)]
    finish_findings(result, ctx)
    return result


def finish_findings(result: TargetResult, ctx: ScanContext) -> None:
    """Severity overrides, suppressions and fix summaries, in that order."""
    for f in result.findings:
        if f.check in ctx.config.severity:
            f.severity = ctx.config.severity[f.check]
    apply_suppressions(result.findings, result.subject, ctx)
    for f in result.findings:
        if f.fix is None:
            f.fix = fix_summary(f, result.subject, ctx)
    result.findings.sort(
        key=lambda f: (
            catalogue.LAYER_INDEX[f.layer],
            -severity_of(f),
            f.location.line or 0,
            f.check,
        )
    )


def fix_summary(finding: Finding, subject: Any, ctx: ScanContext) -> Fix | None:
    """The fix of a finding, computed now unless its fixer is lazy (engine measurements)."""
    for fx in registry.fixers_for(finding.check, finding.target.kind):
        if fx.lazy:
            return Fix(fx.title, fx.applicability, [], check=finding.check, pending=True, target=finding.target.key)
        try:
            fix = fx.fn(finding, subject, ctx)
        except Exception as exc:  # noqa: BLE001 - a broken fixer only loses its fix
            ctx.warn(finding.location.path, f"fixer {fx.name} failed: {type(exc).__name__}: {safe(exc)}")
            continue
        if fix is not None:
            fix.check = fix.check or finding.check
            fix.target = fix.target or finding.target.key
            return fix
    return None


def iter_subjects(discovery: Discovery, ctx: ScanContext) -> Iterable[Any]:
    """All subjects from every registered source, files first, engine last."""
    for src in registry.SOURCES:
        if src.needs_engine and not ctx.use_engine:
            continue
        try:
            yield from src.fn(discovery, ctx)
        except Exception as exc:  # noqa: BLE001 - a broken source must not stop the others
            ctx.error(None, f"internal error in source {src.name}: {type(exc).__name__}: {safe(exc)}")


def scan(
    paths: list[Path],
    ctx: ScanContext,
    *,
    on_target: Callable[[TargetResult], None] | None = None,
) -> ScanResult:
    """Scan files under `paths` and (when wanted) the engine; the headless entry point."""
    registry.load_plugins()
    connect_engine(ctx)
    result = ScanResult(engine_error=ctx.engine_error)
    if ctx.engine is not None:
        result.engine_endpoint = ctx.engine.endpoint
    discovery = discover(paths, ctx)
    for subject in iter_subjects(discovery, ctx):
        if ctx.out_of_time() and subject.target.kind in ENGINE_KINDS:
            # Bounded scan: an engine object left after the timeout is an error, not a pass.
            ctx.error(None, f"{subject.target.kind.value} {safe(subject.target.name, 120)} not scanned: "
                      f"the scan timeout ({ctx.timeout:g} s) was reached", target=subject.target.key)
            continue
        tr = analyze_subject(subject, ctx)
        result.targets[tr.target.key] = tr
        if on_target is not None:
            on_target(tr)
    result.errors = list(ctx.errors)
    return result
