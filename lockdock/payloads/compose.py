"""Payloads of compose service findings (`lockdock.payloads` says what a payload is).

Every compose service finding carries a `ServiceValue` (or a subclass): the YAML node of
the value it is about, which a fixer edits in place. `lockdock.compose.findings.
service_finding` sets `node`; an analyzer names only the other fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lockdock.model import Payload

if TYPE_CHECKING:
    from lockdock.compose.imageref import ImageRef
    from lockdock.compose.views import Mount, Port
    from lockdock.compose.yamlread import Node
    from lockdock.model import Finding


@dataclass(frozen=True)
class ServiceValue(Payload):
    """A compose service finding: `node` is the value it is about, None when it is about
    a key the service does not set (on a compose fragment such a finding is dropped).

    The node may hold a secret (secrets.no-secrets-in-env), so it stays out of `repr`.
    """

    node: Node | None = field(default=None, kw_only=True, repr=False)


def service_node(finding: Finding) -> Node | None:
    """The node a compose service finding is about; None when it is about a missing key
    or the finding carries no `ServiceValue`."""
    payload = finding.payload
    return payload.node if isinstance(payload, ServiceValue) else None


@dataclass(frozen=True)
class ServiceVariant(ServiceValue):
    """Which variant of its check a service finding is, when that word is all it carries:
    container.non-root ("root-user", "missing"), container.capabilities ("no-drop-all",
    "dangerous-add", "availability-add"), network.isolation ("bridge", "backend",
    "default-network")."""

    kind: str


@dataclass(frozen=True)
class ImageValue(ServiceValue):
    """image.pinned-tag / image.pinned-digest: the service's `image:` reference, parsed."""

    ref: ImageRef


@dataclass(frozen=True)
class SensitiveMount(ServiceValue):
    """container.sensitive-mounts: the bind `mount` of a sensitive host path; `writable`
    tells whether it is mounted read-write (a read-only one gets no fix)."""

    mount: Mount
    writable: bool


@dataclass(frozen=True)
class PublishedPort(ServiceValue):
    """network.exposed-ports / network.bind-localhost: the `ports:` entry."""

    port: Port


@dataclass(frozen=True)
class PrivilegedPorts(ServiceValue):
    """network.privileged-ports: the host `ports` below 1024 a `ports:` entry publishes."""

    ports: tuple[int, ...]


@dataclass(frozen=True)
class UnsafeMountOption(ServiceValue):
    """container.mount-options: `kind` "propagation" (a shared or slave propagation
    `option`; `long` when written as `propagation:` under a long-syntax `bind:`) or
    "tmpfs" (an exec/suid tmpfs `option`)."""

    kind: str
    option: str
    long: bool = False


@dataclass(frozen=True)
class HostNamespace(ServiceValue):
    """container.host-namespaces: the service key set to `host` (`network_mode`, `pid`,
    `ipc`, `uts`, `userns_mode`)."""

    key: str


@dataclass(frozen=True)
class MissingLimits(ServiceValue):
    """container.resource-limits: the limits the service lacks ("memory", "CPU", "PIDs")."""

    missing: tuple[str, ...]


@dataclass(frozen=True)
class SwapLimit(ServiceValue):
    """container.resource-limits: `node` is a `memswap_limit` above the memory limit or
    unlimited; `memory` is the service's memory limit value, if any."""

    memory: Node | None


@dataclass(frozen=True)
class LogRotation(ServiceValue):
    """runtime.log-rotation: `kind` "missing" (no logging options), "disabled" (driver
    none) or "options" (json-file logging without the rotation options in `missing`:
    "max-size", "max-file")."""

    kind: str
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecretVariable(ServiceValue):
    """secrets.no-secrets-in-env: the variable `var` (its name; the value is never kept)
    holds a literal secret, set in the service's `environment` or in `env_file`
    (its absolute path). `anchor_note`: the value comes through a YAML anchor."""

    var: str
    anchor_note: bool = False
    env_file: str | None = None
