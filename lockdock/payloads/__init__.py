"""The typed payloads analyzers hand to fixers (`Finding.payload`), one small frozen
dataclass per finding kind.

Analyzers and fixers never import each other, so the shapes they share live here, one
module per subject format: `dockerfile`, `compose`, `engine` (images, containers, the
host), `repo`; the shapes several formats use are in this module. Each class says which
checks produce it. A fixer narrows `finding.payload` with `isinstance` and offers no fix
for a payload of another kind. Payloads are never serialised into a report; the fields
hold names, paths and positions, never a secret value.
"""

from __future__ import annotations

from dataclasses import dataclass

from lockdock.model import Payload

__all__ = ["MissingIgnoreEntries", "PackageUpdate", "Payload", "SystemPath", "Variant"]


@dataclass(frozen=True)
class Variant(Payload):
    """Which variant of its check a finding is, when that word is all it carries.

    `kind` is a short word the check's analyzer documents ("missing", "root-user",
    "toolchain-kept", ...).
    """

    kind: str


@dataclass(frozen=True)
class SystemPath(Payload):
    """build.system-paths (Dockerfile and image history): a system directory used as a
    WORKDIR or declared a VOLUME. `kind` is "workdir" or "volume"; `path` is the masked,
    shortened path as the message shows it."""

    kind: str
    path: str


@dataclass(frozen=True)
class PackageUpdate(Payload):
    """build.package-update (Dockerfile and image history). `issue`: "lone-update" (an
    index update in its own layer), "upgrade" or "dist-upgrade"; `manager`: the package
    manager of the command ("apt-get", "apk", ...) when the Dockerfile names it."""

    issue: str
    manager: str | None = None


@dataclass(frozen=True)
class MissingIgnoreEntries(Payload):
    """Patterns an ignore file lacks (build.dockerignore, repository .gitignore checks, and
    secrets.no-secrets-in-image for secret files left in a build context).

    `path`: absolute path of the ignore file (.dockerignore or .gitignore), which may not
    exist yet (`exists`); `missing`: the patterns to append, in order.
    """

    path: str
    missing: tuple[str, ...]
    exists: bool = True
