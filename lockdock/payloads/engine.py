"""Payloads of engine findings: images, containers and the Docker host (`lockdock.payloads`
says what a payload is). Image-history findings that share a shape with Dockerfile findings
use `SystemPath`, `PackageUpdate` and `Variant` from `lockdock.payloads`."""

from __future__ import annotations

from dataclasses import dataclass

from lockdock.model import Payload


@dataclass(frozen=True)
class AccountEntries(Payload):
    """image.accounts: `accounts` (names, never password fields) of the in-image account
    file `path` ("/etc/passwd", "/etc/shadow") that have an empty password (`kind`
    "empty-password") or UID 0 besides root ("extra-uid0")."""

    kind: str
    path: str
    accounts: tuple[str, ...]


@dataclass(frozen=True)
class PackageManagers(Payload):
    """build.pinned-packages on an image layer: the package `managers` whose installs are
    not pinned, sorted."""

    managers: tuple[str, ...]


@dataclass(frozen=True)
class ScannerReport(Payload):
    """image.vulnerability-scan: `count` vulnerabilities the `scanner` (grype, trivy) found
    in the packages of one layer."""

    scanner: str
    count: int


@dataclass(frozen=True)
class ContainerMountOption(Payload):
    """container.mount-options on a container: a bind mount at `target` with a shared or
    slave propagation `option` (`kind` "propagation"), or a tmpfs at `target` mounted with
    `option` "exec" or "suid" (`kind` "tmpfs")."""

    kind: str
    target: str
    option: str


@dataclass(frozen=True)
class HostMount(Payload):
    """container.sensitive-mounts on a container: the host `source` path of a bind mount,
    `writable` when mounted read-write."""

    source: str
    writable: bool


@dataclass(frozen=True)
class ContainerLimits(Payload):
    """container.resource-limits on a container: the limits it runs without, as the message
    words them ("memory", "CPU", "PIDs", ...)."""

    missing: tuple[str, ...]


@dataclass(frozen=True)
class RestartPolicy(Payload):
    """runtime.restart-policy on a container: its HostConfig.RestartPolicy `name` ("no",
    "always", "on-failure") and `maximum_retry_count` (0: unlimited)."""

    name: str
    maximum_retry_count: int


@dataclass(frozen=True)
class DaemonSetting(Payload):
    """A Docker host finding: the daemon.json `key` it is about (None: no daemon.json key,
    e.g. a client setting); for runtime.log-rotation the daemon's default log `driver`."""

    key: str | None
    driver: str | None = None
