"""Source modules: each turns discovered files or engine objects into subjects.

The subject types analyzers and fixers receive are named here, each defined once beside the
code that builds it: a Dockerfile (`DockerfileSubject`), a compose file and its services
(`ComposeFile`, `ComposeService`), a local image, a container and the host's daemon
(`ImageSubject`, `ContainerSubject`, `HostSubject`, read from the engine) and a repository
(`Repo`). Every subject has a `target` (lockdock.model.Target) naming it in findings.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Where each subject type is defined. Looked up on first use (PEP 562), so that naming a file
# subject never imports the engine modules: a file-only scan stays free of docker and the engine.
_HOMES = {
    "ContainerSubject": "lockdock.engine.containers",
    "HostSubject": "lockdock.engine.host",
    "ImageSubject": "lockdock.engine.images",
    "Repo": "lockdock.repo",
    "ComposeFile": "lockdock.sources.compose",
    "ComposeService": "lockdock.sources.compose",
    "DockerfileSubject": "lockdock.sources.dockerfiles",
}


def __getattr__(name: str) -> Any:
    if name == "AnySubject":
        return Any
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(home), name)


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
