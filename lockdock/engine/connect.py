"""Reaching the Docker engine, and saying plainly why when it cannot be reached.

The docker SDK raises one `DockerException` for "down", "permission denied" and
"garbage"; the cause chain tells them apart. DOCKER_HOST and docker contexts are honoured
(docker>=7.2), and an explicitly named endpoint is never swapped for another socket.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

DEFAULT_TIMEOUT = 10.0


class EngineUnavailable(Exception):
    """The engine cannot be used; `str()` is a one-line message for the user."""

    def __init__(self, message: str, endpoint: str | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint


@dataclass
class Engine:
    """A connected engine: the low-level API client plus what we learned when connecting."""

    api: Any  # docker.APIClient
    endpoint: str
    version: str
    info: dict[str, Any]

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing must never fail a scan
            self.api.close()


def describe_endpoint() -> str:
    """The endpoint the SDK will use (DOCKER_HOST, the current context, or the default)."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        return host
    try:
        from docker.context import ContextAPI

        ctx = ContextAPI.get_current_context()
        if ctx is not None and ctx.Host:
            name = ctx.Name
            return ctx.Host if name == "default" else f"{ctx.Host} (context {name})"
    except Exception:  # noqa: BLE001 - an unreadable context config is reported on connect
        pass
    return "unix:///var/run/docker.sock"


def _cause_message(exc: BaseException, endpoint: str) -> str:
    """Walk the cause chain and name the real reason."""
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    for e in seen:
        if isinstance(e, PermissionError) or "Permission denied" in str(e):
            return (
                f"engine not reachable at {endpoint}: permission denied on the socket "
                "(run as a member of the 'docker' group, with sudo, or set DOCKER_HOST)"
            )
    for e in seen:
        if isinstance(e, FileNotFoundError) or "No such file or directory" in str(e):
            return f"engine not reachable at {endpoint}: the socket does not exist (is dockerd running?)"
        if isinstance(e, ConnectionRefusedError) or "Connection refused" in str(e):
            return f"engine not reachable at {endpoint}: connection refused (is dockerd running?)"
    for e in seen:
        name = type(e).__name__
        if "Timeout" in name or "timed out" in str(e):
            return f"engine not reachable at {endpoint}: no answer within the timeout"
    for e in seen:
        if "context" in str(e).lower() and "not found" in str(e).lower():
            return f"engine not reachable: {str(e).splitlines()[0][:200]}"
    first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return f"engine not reachable at {endpoint}: {first}"


def connect(timeout: float = DEFAULT_TIMEOUT) -> Engine:
    """Connect with a short timeout; raise `EngineUnavailable` with a plain message."""
    endpoint = describe_endpoint()
    try:
        import docker
        from docker.errors import DockerException
    except ImportError as exc:  # pragma: no cover - docker is a dependency
        raise EngineUnavailable(f"docker SDK not installed: {exc}", endpoint) from None
    try:
        client = docker.from_env(timeout=int(max(1, timeout)))
        api = client.api
        version = api.version(api_version=False) if hasattr(api, "version") else {}
        info = api.info()
    except DockerException as exc:
        raise EngineUnavailable(_cause_message(exc, endpoint), endpoint) from None
    except Exception as exc:  # noqa: BLE001 - requests errors, garbage replies
        raise EngineUnavailable(_cause_message(exc, endpoint), endpoint) from None
    if not isinstance(info, dict):
        raise EngineUnavailable(f"engine at {endpoint} sent an unexpected reply", endpoint)
    return Engine(
        api=api,
        endpoint=endpoint,
        version=str(version.get("Version", "?")) if isinstance(version, dict) else "?",
        info=info,
    )


def connect_endpoint(endpoint: Any, timeout: float = DEFAULT_TIMEOUT) -> Engine:
    """Connect to one named engine (a `lockdock.engine.contexts.Endpoint`): its host URL and
    TLS settings; `ssh://` goes through the system `ssh` client (`use_ssh_client=True`).
    Raises `EngineUnavailable` naming the endpoint."""
    shown = endpoint.name if endpoint.name == endpoint.host else f"{endpoint.host} (context {endpoint.name})"
    try:
        import docker
    except ImportError as exc:  # pragma: no cover - docker is a dependency
        raise EngineUnavailable(f"docker SDK not installed: {exc}", shown) from None
    if endpoint.is_ssh:
        try:
            import paramiko  # noqa: F401 - the docker SDK imports it even for the ssh client
        except ImportError:
            raise EngineUnavailable(f"engine {shown}: ssh:// needs the paramiko package "
                                    "(pip install 'lockdock[ssh]')", shown) from None
    try:
        api = docker.APIClient(
            base_url=endpoint.host,
            tls=endpoint.tls or False,
            timeout=int(max(1, timeout)),
            version="auto",
            use_ssh_client=endpoint.is_ssh,
        )
        version = api.version(api_version=False)
        info = api.info()
    except Exception as exc:  # noqa: BLE001 - DockerException, requests errors, garbage replies
        raise EngineUnavailable(_cause_message(exc, shown), shown) from None
    if not isinstance(info, dict):
        raise EngineUnavailable(f"engine at {shown} sent an unexpected reply", shown)
    return Engine(
        api=api,
        endpoint=shown,
        version=str(version.get("Version", "?")) if isinstance(version, dict) else "?",
        info=info,
    )
