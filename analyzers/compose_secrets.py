"""Compose check: literal secrets in a service's `environment:` (shown masked only)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from lockdock.checks import CATALOGUE
from lockdock.compose import views
from lockdock.compose.findings import service_finding
from lockdock.compose.project import ENV_FILES_BEFORE, SCANNED_PROJECTS, Service
from lockdock.context import ScanContext
from lockdock.files import FileProblem, read_text
from lockdock.model import Finding, Location, TargetKind
from lockdock.payloads.compose import SecretVariable
from lockdock.registry import analyzer
from lockdock.secrets import check_assignment, lowered
from lockdock.sources import ComposeService
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
            f"literal {safe(match.kind, 80)}{default}: {match.masked}{where}",
            var.node, evidence=f"{safe(var.name, 80)}={match.masked}", ctx_note=False,
            severity=lowered(CATALOGUE["secrets.no-secrets-in-env"].severity, match) if match.placeholder else None,
            payload=SecretVariable(var.name, bool(var.node.anchor)),
        )


_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*$")
MAX_ENV_FILE_LINES = 5000


def env_files(subject: ComposeService | Service) -> list[tuple[Path, views.Node]]:
    """The service's `env_file:` entries (short or long syntax), resolved beside the file
    that declares them, as (path, node)."""
    return views.env_file_entries(subject.service if isinstance(subject, ComposeService) else subject)


class _Owners(dict[Path, object]):
    """env file -> the first service of the scan (projects, then services, in order) that
    loads it (ELSEWHERE: one of another process's earlier projects); `projects`: the ids of
    the projects covered (alive in SCANNED_PROJECTS)."""

    projects: frozenset[int] = frozenset()


ELSEWHERE = object()  # the owner of an env file that projects analysed elsewhere load


def _env_file_owners(ctx: ScanContext) -> _Owners:
    """Which service reports each env file, from the scan's project order (SCANNED_PROJECTS):
    the same answer in every process analysing some of the services, so workers
    (lockdock.parallel) report a shared file once, where one process would. Subjects of
    projects not in that list (a rescan) fall back to "the first analysed"."""
    projects = ctx.cache.get(SCANNED_PROJECTS) or []
    key = "compose-env-file-owners"
    found = ctx.cache.get(key)
    if found is not None and found[0] is projects:
        return found[1]
    owners = _Owners()
    owners.projects = frozenset(id(p) for p in projects)
    for path in ctx.cache.get(ENV_FILES_BEFORE) or ():  # a split scan's earlier projects (composesplit)
        owners[path] = ELSEWHERE
    for project in projects:
        for svc in project.services.values():
            for path, _node in env_files(svc):
                owners.setdefault(path, svc)
    ctx.cache[key] = (projects, owners)
    return owners


@analyzer(TargetKind.COMPOSE_SERVICE, "secrets.no-secrets-in-env")
def secrets_in_env_files(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    """Literal secrets in the files `env_file:` loads: they end up in the container's
    environment, readable through `docker inspect` like `environment:`."""
    owners = _env_file_owners(ctx)
    seen = ctx.cache.setdefault("compose-env-files", set())
    here: set[Path] = set()
    for path, node in env_files(subject):
        owner = owners.get(path) if id(subject.project) in owners.projects else None
        if owner is not None and owner is not subject.service:
            continue  # one env file shared by several services: reported by the first
        if path in (here if owner is not None else seen):
            continue  # listed twice, or (no owner known) reported by an earlier service
        here.add(path)
        seen.add(path)
        try:
            tf = read_text(path)
        except FileProblem:
            continue  # a missing env_file is compose's error to report, not a secret
        for n, line in enumerate(tf.text.splitlines()[:MAX_ENV_FILE_LINES], 1):
            m = _ENV_LINE.match(line)
            if m is None or line.lstrip().startswith("#"):
                continue
            name, value = m.group(1), m.group(2)
            if value[:1] in ("'", '"'):
                value = value[1:-1] if len(value) > 1 and value[-1] == value[0] else value[1:]
            match = check_assignment(name, value)
            if match is None:
                continue
            rel = ctx.rel(path)
            yield Finding(
                check="secrets.no-secrets-in-env",
                target=subject.target,
                message=f"service {safe(subject.name, 60)}: env_file {safe(rel, 120)} sets {safe(name, 80)} to a "
                f"literal {safe(match.kind, 80)}: {match.masked}; `docker inspect` shows it",
                location=Location(path=rel, line=n),
                evidence=f"{safe(name, 80)}={match.masked}",
                severity=lowered(CATALOGUE["secrets.no-secrets-in-env"].severity, match) if match.placeholder else None,
                payload=SecretVariable(name, env_file=str(path), node=node),
            )
