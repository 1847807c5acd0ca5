"""Compose check: literal secrets in a service's `environment:` (shown masked only)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from lockdock.catalogue import CATALOGUE
from lockdock.compose import views
from lockdock.compose.findings import service_finding
from lockdock.context import ScanContext
from lockdock.model import Finding, TargetKind
from lockdock.registry import analyzer
from lockdock.secrets import check_assignment, lowered
from lockdock.sources.compose import ComposeService
from lockdock.text import safe

_DEFAULT = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^${}]+)\}")


def _written(subject: ComposeService) -> Iterator[tuple[str, views.EnvVar]]:
    """Where a service writes NAME=value pairs that `docker inspect` shows (CHECKLIST.md,
    secrets.no-secrets-in-env): environment, labels, and build arguments (image history)."""
    svc = subject.service
    for var in views.environment(svc):
        yield "environment variable", var
    for var in views.assignments(svc.get("labels")):
        yield "label", var
    build = svc.get("build")
    if build is not None and build.kind == "map":
        for var in views.assignments(build.get("args")):
            yield "build argument", var


@analyzer(TargetKind.COMPOSE_SERVICE, "secrets.no-secrets-in-env")
def secrets_in_env(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    for what, var in _written(subject):
        # Judge what is written in the file: `${VAR}` references are not literals.
        written = var.raw if var.raw is not None else var.value
        if written is None:
            continue
        # `$$` is compose's escape for a literal `$`: `pa$$word` is a literal password.
        match = check_assignment(var.name, written, dollar_escapes=var.raw is not None)
        default = ""
        if match is None:
            # `${VAR:-literal}` writes its default into the file: judge that literal.
            for m in _DEFAULT.finditer(written):
                match = check_assignment(var.name, m.group(1), dollar_escapes=True)
                if match is not None:
                    default = " as the default of a ${...} reference"
                    break
        if match is None:
            continue
        where = ""
        if var.node.anchor:
            where = (f" (set in anchor &{safe(var.node.anchor, 60)}, inherited by service "
                     f"{safe(subject.name, 60)})")
        yield service_finding(
            subject, ctx, "secrets.no-secrets-in-env",
            f"service {safe(subject.name, 60)}: {what} {safe(var.name, 80)} holds a "
            f"literal {safe(match.kind, 80)}{default} ({match.masked}){where}",
            var.node, evidence=f"{safe(var.name, 80)}={match.masked}", ctx_note=False,
            severity=lowered(CATALOGUE["secrets.no-secrets-in-env"].severity, match) if match.placeholder else None,
            data={"var": var.name, "anchor_note": bool(var.node.anchor)},
        )
