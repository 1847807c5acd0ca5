"""Source modules: each turns discovered files or engine objects into subjects.

The subject types analyzers and fixers receive are named here, each defined once beside the
code that builds it: a Dockerfile (`DockerfileSubject`), a compose file and its services
(`ComposeFile`, `ComposeService`), a local image, a container and the host's daemon
(`ImageSubject`, `ContainerSubject`, `HostSubject`, read from the engine) and a repository
(`Repo`). Every subject has a `target` (lockdock.model.Target) naming it in findings.
"""

from __future__ import annotations

from typing import TypeAlias

from lockdock.engine.containers import ContainerSubject
from lockdock.engine.host import HostSubject
from lockdock.engine.images import ImageSubject
from lockdock.repo import Repo
from lockdock.sources.compose import ComposeFile, ComposeService
from lockdock.sources.dockerfiles import DockerfileSubject

AnySubject: TypeAlias = (
    DockerfileSubject | ComposeFile | ComposeService | ImageSubject | ContainerSubject | HostSubject | Repo
)
"""Every kind of subject a source yields."""

__all__ = [
    "AnySubject",
    "ComposeFile",
    "ComposeService",
    "ContainerSubject",
    "DockerfileSubject",
    "HostSubject",
    "ImageSubject",
    "Repo",
]
