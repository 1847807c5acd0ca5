"""Compose projects as scan subjects: one per project main file, one per service."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from lockdock.compose.project import BASE_NAMES, Project, Service, override_names
from lockdock.context import ScanContext
from lockdock.discovery import Discovery
from lockdock.model import Finding, Target, TargetKind
from lockdock.payloads.compose import ServiceValue
from lockdock.registry import source

OVERRIDE_NAMES = frozenset(name for base in BASE_NAMES for name in override_names(base))


@dataclass
class ComposeFile:
    """A compose project, named after its main file."""

    target: Target
    project: Project


@dataclass
class ComposeService:
    """One service of a project with its effective (merged, interpolated) configuration."""

    target: Target
    service: Service
    project: Project
    _fragment: bool | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def fragment(self) -> bool:
        """True when the service is only part of a definition made elsewhere.

        Either the project gives it neither `image`, `build` nor `extends` (compose refuses
        to run it: "has neither an image nor a build context"), or the project is a lone
        override file (`docker-compose.override.yml` with no base file beside it, like the
        samples in mailcow's `docker-compose.override.yml.d/`), which compose only ever
        reads on top of a base file. What it writes is checked; what it leaves out is the
        base file's business.
        """
        files = self.project.files
        if len(files) == 1 and files[0].name in OVERRIDE_NAMES:
            return True
        return all(self.service.get(k) is None for k in ("image", "build", "extends"))

    def keeps(self, finding: Finding) -> bool:
        """Whether `finding` applies: on a fragment, only findings about a written value do
        (a finding built for a missing key, `service_finding(node=None)`, does not)."""
        payload = finding.payload
        if not isinstance(payload, ServiceValue) or payload.node is not None:
            return True
        fragment = self._fragment
        if fragment is None:  # asked once per subject: the project never changes after loading
            fragment = self._fragment = self.fragment
        return not fragment


def subjects_for(project: Project, ctx: ScanContext) -> Iterator[ComposeFile | ComposeService]:
    rel = ctx.rel(project.main) or str(project.main)
    file_target = Target(TargetKind.COMPOSE_FILE, rel, rel)
    yield ComposeFile(file_target, project)
    for name, svc in project.services.items():
        target = Target(TargetKind.COMPOSE_SERVICE, name, rel, parent=file_target.key)
        yield ComposeService(target, svc, project)


@source("compose", order=20)
def compose_source(discovery: Discovery, ctx: ScanContext) -> Iterator[ComposeFile | ComposeService]:
    """Load every compose project found and yield its file and services."""
    if not discovery.compose_files:
        return
    from lockdock.composesplit import begin

    yield from begin(discovery.compose_files, ctx)  # in two processes when allowed and worth it
