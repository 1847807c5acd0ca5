"""Which engines a fleet scan talks to: docker contexts and explicit host URLs.

Docker already names remote engines. A context is stored by the docker CLI under
`$DOCKER_CONFIG/contexts/meta/<sha256 of the name>/meta.json` (endpoint `docker`: `Host`,
`SkipTLSVerify`) with its TLS files under `contexts/tls/<sha256>/docker/` (`ca.pem`,
`cert.pem`, `key.pem`); the docker SDK's `ContextAPI` reads that store, so lockdock does not
parse it itself. The implicit `default` context is `DOCKER_HOST` when set, else the local
socket, as the docker CLI does.

`--host URL` accepts what the docker CLI's `-H` accepts for engines: `unix://PATH`,
`tcp://HOST:PORT` (TLS from `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`, as the CLI) and
`ssh://[USER@]HOST[:PORT]` (the system `ssh` client, so `~/.ssh/config`, agents and jump
hosts apply).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lockdock.text import safe

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
SCHEMES = ("unix", "tcp", "ssh", "npipe")


class EndpointError(ValueError):
    """A context or host URL that cannot be used; `str()` is a one-line message."""


@dataclass(frozen=True)
class Endpoint:
    """One engine to scan.

    `name` is what reports show as the target's engine: the context name, or the host URL
    for `--host`. `tls` is a `docker.tls.TLSConfig` or None. `context` is the context name
    when the endpoint came from one."""

    name: str
    host: str
    tls: Any = None
    context: str | None = None

    @property
    def scheme(self) -> str:
        return urlsplit(self.host).scheme or "unix"

    @property
    def is_ssh(self) -> bool:
        return self.scheme == "ssh"

    @property
    def socket_path(self) -> str | None:
        """The local socket path of a `unix://` endpoint, else None."""
        if self.scheme != "unix":
            return None
        return self.host[len("unix://"):] if self.host.startswith("unix://") else self.host

    def ssh_destination(self) -> tuple[str, str | None]:
        """(`[user@]host`, port or None) of an `ssh://` endpoint, for the `ssh` command."""
        parts = urlsplit(self.host)
        if parts.scheme != "ssh" or not parts.hostname:
            raise EndpointError(f"{safe(self.host, 200)} is not an ssh:// URL")
        dest = f"{parts.username}@{parts.hostname}" if parts.username else parts.hostname
        return dest, (str(parts.port) if parts.port else None)


def check_host_url(url: str) -> str:
    """`url` when it names an engine as the docker CLI accepts it; raises `EndpointError`.

    Paths without a scheme are not guessed: `unix:///run/docker.sock`, not `/run/docker.sock`."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES:
        raise EndpointError(
            f"--host {safe(url, 200)}: expected unix://PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]"
        )
    if parts.scheme == "unix" and not parts.path:
        raise EndpointError(f"--host {safe(url, 200)}: no socket path")
    if parts.scheme in ("tcp", "ssh") and not parts.hostname:
        raise EndpointError(f"--host {safe(url, 200)}: no host name")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise EndpointError(f"--host {safe(url, 200)}: bad port") from None
    return text


def _env_tls(host: str) -> Any:
    """TLS for a `tcp://` host from DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, as the CLI does."""
    if not host.startswith("tcp://") or not os.environ.get("DOCKER_TLS_VERIFY"):
        return None
    from docker.utils import kwargs_from_env

    return kwargs_from_env().get("tls")


def host_endpoint(url: str) -> Endpoint:
    """An `Endpoint` for `--host URL`; raises `EndpointError`."""
    host = check_host_url(url)
    return Endpoint(name=host, host=host, tls=_env_tls(host))


def _default_endpoint() -> Endpoint:
    host = os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
    return Endpoint(name="default", host=host, tls=_env_tls(host), context="default")


def context_endpoint(name: str) -> Endpoint:
    """The endpoint of docker context `name` (host and TLS); raises `EndpointError`."""
    if name == "default":
        return _default_endpoint()
    from docker.context import ContextAPI

    try:
        ctx = ContextAPI.get_context(name)
    except Exception as exc:  # noqa: BLE001 - unreadable meta.json, bad TLS files
        raise EndpointError(f"docker context {safe(name, 100)!r} cannot be read: {safe(exc, 200)}") from None
    if ctx is None:
        raise EndpointError(f"docker context {safe(name, 100)!r} not found (see `docker context ls`)")
    host = ctx.Host
    if not host:
        raise EndpointError(f"docker context {safe(name, 100)!r} has no docker endpoint")
    tls = (ctx.TLSConfig if host.startswith("tcp://") else None)
    return Endpoint(name=name, host=host, tls=tls, context=name)


def context_names() -> list[str]:
    """Every context the docker CLI knows, `default` first; raises `EndpointError`."""
    from docker.context import ContextAPI

    try:
        found = ContextAPI.contexts()
    except Exception as exc:  # noqa: BLE001 - a broken meta.json stops `docker context ls` too
        raise EndpointError(f"docker contexts cannot be listed: {safe(exc, 200)}") from None
    names = [str(c.Name) for c in found if c is not None]
    return ["default", *sorted(n for n in set(names) if n != "default")]


def resolve(contexts: list[str], hosts: list[str], all_contexts: bool) -> tuple[list[Endpoint], list[str]]:
    """The endpoints named on the command line, each once, in the order given.

    Returns (endpoints, problems): a context or URL that cannot be used is one problem
    line and the others are still scanned."""
    problems: list[str] = []
    names = list(contexts)
    if all_contexts:
        try:
            names += [n for n in context_names() if n not in names]
        except EndpointError as exc:
            problems.append(str(exc))
    out: list[Endpoint] = []
    seen: set[str] = set()
    for name in names:
        try:
            ep = context_endpoint(name)
        except EndpointError as exc:
            problems.append(str(exc))
            continue
        if ep.name not in seen:
            seen.add(ep.name)
            out.append(ep)
    for url in hosts:
        try:
            ep = host_endpoint(url)
        except EndpointError as exc:
            problems.append(str(exc))
            continue
        if ep.name not in seen:
            seen.add(ep.name)
            out.append(ep)
    return out, problems
