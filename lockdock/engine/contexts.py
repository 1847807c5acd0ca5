"""Which engines a fleet scan talks to: docker contexts and explicit host URLs.

Docker already names remote engines. A context is stored by the docker CLI under
`$DOCKER_CONFIG/contexts/meta/<sha256 of the name>/meta.json` (endpoint `docker`: `Host`,
`SkipTLSVerify`) with its TLS files under `contexts/tls/<sha256>/docker/` (`ca.pem`,
`cert.pem`, `key.pem`), DOCKER_CONFIG defaulting to ~/.docker. That store is read here (the
docker SDK's `ContextAPI` finds it only next to an existing config.json); the TLS files
become the SDK's `docker.tls.TLSConfig`. The implicit `default` context is `DOCKER_HOST`
when set, else the local socket, as the docker CLI does.

`--host URL` accepts what the docker CLI's `-H` accepts for engines: `unix://PATH`,
`tcp://HOST:PORT` (TLS from `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`, as the CLI) and
`ssh://[USER@]HOST[:PORT]` (the system `ssh` client, so `~/.ssh/config`, agents and jump
hosts apply).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lockdock.text import safe

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
SCHEMES = ("unix", "tcp", "ssh", "npipe")
MAX_META_BYTES = 1024 * 1024


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
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unbalanced '[' (urllib reads it as an IPv6 literal)
        raise EndpointError(f"--host {safe(url, 200)}: not a URL") from None
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


def store_dir() -> Path:
    """`$DOCKER_CONFIG/contexts` (default ~/.docker/contexts)."""
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return Path(base) / "contexts"


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_META_BYTES + 1)
        data = json.loads(raw.decode("utf-8")) if len(raw) <= MAX_META_BYTES else None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise EndpointError(f"{safe(path, 200)}: {safe(getattr(exc, 'strerror', None) or exc, 200)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("Name"), str):
        raise EndpointError(f"{safe(path, 200)}: not a docker context (no Name)")
    return data


def _tls(name: str, skip_verify: bool) -> Any:
    folder = store_dir() / "tls" / hashlib.sha256(name.encode()).hexdigest() / "docker"
    files = {p.stem: p for p in folder.glob("*.pem")} if folder.is_dir() else {}
    if not files:
        return None
    from docker.tls import TLSConfig

    cert = (str(files["cert"]), str(files["key"])) if "cert" in files and "key" in files else None
    try:
        return TLSConfig(client_cert=cert, ca_cert=str(files["ca"]) if "ca" in files else None,
                         verify=not skip_verify)
    except Exception as exc:  # noqa: BLE001 - TLSParameterError: a missing or odd file
        raise EndpointError(f"docker context {safe(name, 100)!r}: TLS files unusable: {safe(exc, 200)}") from None


def context_endpoint(name: str) -> Endpoint:
    """The endpoint of docker context `name` (host and TLS); raises `EndpointError`."""
    if name == "default":
        return _default_endpoint()
    meta = store_dir() / "meta" / hashlib.sha256(name.encode()).hexdigest() / "meta.json"
    if not meta.exists():
        raise EndpointError(f"docker context {safe(name, 100)!r} not found (see `docker context ls`)")
    data = _read_meta(meta)
    endpoint = (data.get("Endpoints") or {}).get("docker") if isinstance(data.get("Endpoints"), dict) else None
    host = endpoint.get("Host") if isinstance(endpoint, dict) else None
    if not isinstance(host, str) or not host:
        raise EndpointError(f"docker context {safe(name, 100)!r} has no docker endpoint")
    try:
        host = check_host_url(host)
    except EndpointError as exc:
        raise EndpointError(f"docker context {safe(name, 100)!r}: {exc}".replace("--host ", "host ")) from None
    tls = _tls(name, bool(endpoint.get("SkipTLSVerify"))) if host.startswith("tcp://") else None
    return Endpoint(name=name, host=host, tls=tls, context=name)


def context_names() -> list[str]:
    """Every context the docker CLI knows, `default` first; raises `EndpointError` when
    a stored context cannot be read (as `docker context ls` fails then too)."""
    folder = store_dir() / "meta"
    names = [str(_read_meta(p)["Name"]) for p in sorted(folder.glob("*/meta.json"))] if folder.is_dir() else []
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
    asked = [(context_endpoint, name) for name in names] + [(host_endpoint, url) for url in hosts]
    for resolve, value in asked:
        try:
            ep = resolve(value)
        except EndpointError as exc:
            problems.append(str(exc))
            continue
        if ep.name not in seen:
            seen.add(ep.name)
            out.append(ep)
    return out, problems
