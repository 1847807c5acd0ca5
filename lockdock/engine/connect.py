"""Reaching the Docker engine, and saying plainly why when it cannot be reached.

The docker SDK raises one `DockerException` for "down", "permission denied" and
"garbage"; the cause chain tells them apart. DOCKER_HOST and docker contexts are honoured
(docker>=7.2), and an explicitly named endpoint is never swapped for another socket.

A local engine (a `unix://` DOCKER_HOST, or no DOCKER_HOST and the `default` docker
context) is reached through `rawapi.LocalAPI`, which answers the scan's read calls itself
and builds the SDK client only for the calls it does not know; anything else (tcp, ssh,
TLS, another context) goes through the SDK from the start.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from typing import Any

DEFAULT_TIMEOUT = 10.0
DEFAULT_HOST = "unix:///var/run/docker.sock"


class EngineUnavailable(Exception):
    """The engine cannot be used; `str()` is a one-line message for the user."""

    def __init__(self, message: str, endpoint: str | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint


@dataclass
class Engine:
    """A connected engine: the low-level API client plus what we learned when connecting."""

    api: Any  # docker.APIClient, or rawapi.LocalAPI (the same methods) for a local socket
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
    return DEFAULT_HOST


def _current_context_name() -> str | None:
    """The docker CLI's current context (DOCKER_CONTEXT, else `currentContext` of the
    first docker config file found, else "default"); None when a config file cannot be
    read (then the SDK decides). The files are the SDK's: $DOCKER_CONFIG/config.json,
    ~/.docker/config.json, ~/.dockercfg."""
    name = os.environ.get("DOCKER_CONTEXT")
    if name:
        return name
    home = os.path.expanduser("~")
    candidates = [os.path.join(os.environ["DOCKER_CONFIG"], "config.json")] if os.environ.get("DOCKER_CONFIG") else []
    candidates += [os.path.join(home, ".docker", "config.json"), os.path.join(home, ".dockercfg")]
    for path in candidates:
        if not os.path.exists(path):
            continue
        try:
            with open(path, "rb") as fh:
                data = json.loads(fh.read(4 << 20))
        except (OSError, ValueError):
            return None
        current = data.get("currentContext") if isinstance(data, dict) else None
        return current if isinstance(current, str) and current else "default"
    return "default"


def local_socket_path() -> str | None:
    """The socket of the engine `connect()` talks to when that is a local unix socket
    without TLS settings (what `rawapi.LocalAPI` can serve), else None."""
    if os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH"):
        return None
    host = os.environ.get("DOCKER_HOST")
    if host:
        return host[len("unix://"):] if host.startswith("unix:///") else None
    if _current_context_name() != "default":
        return None
    return DEFAULT_HOST[len("unix://"):]


def _sdk_client(local: Any) -> Any:
    """The SDK client behind a `LocalAPI`: same socket, timeout and API version."""
    import docker

    return docker.APIClient(base_url=f"unix://{local.socket_path}", version=local.api_version,
                            timeout=int(max(1, local.timeout)))


def connect_local(socket_path: str, endpoint: str, timeout: float = DEFAULT_TIMEOUT) -> Engine:
    """Connect to the engine on the unix socket `socket_path` without the SDK (see the module
    docstring); `endpoint` is the name reports show. Raises `EngineUnavailable`."""
    from lockdock.engine.rawapi import LocalAPI

    api = LocalAPI(socket_path, max(1.0, timeout), _sdk_client)
    try:
        version, info = _version_and_info(api)
    except Exception as exc:  # noqa: BLE001 - socket errors, HTTP errors, garbage replies
        api.close()
        raise EngineUnavailable(_cause_message(exc, endpoint), endpoint) from None
    if not isinstance(info, dict):
        api.close()
        raise EngineUnavailable(f"engine at {endpoint} sent an unexpected reply", endpoint)
    return Engine(api=api, endpoint=endpoint, version=str(version.get("Version", "?")), info=info)


def _version_and_info(api: Any) -> tuple[dict[str, Any], Any]:
    """`GET /version` (which sets the API version) and `GET /info`, asked at once on two
    connections: the second round trip overlaps the first. /info goes without a version
    prefix, which the engine answers at its own API version, the `ApiVersion` that /version
    reports and the prefix every later request carries (Engine API reference, "Versioned
    API"), so the reply is the versioned one's. Raises what `LocalAPI.get` raises, the
    /version error first."""
    import threading

    got: dict[str, Any] = {}

    def ask_info() -> None:
        try:
            got["info"] = api.get("/info", versioned=False)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            got["error"] = exc

    asker = threading.Thread(target=ask_info, name="lockdock-info")
    asker.start()
    try:
        version = api.negotiate()
    finally:
        asker.join()
    if "error" in got:
        raise got["error"]
    return version, got["info"]


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
    socket_path = local_socket_path()
    if socket_path is not None:
        return connect_local(socket_path, os.environ.get("DOCKER_HOST") or DEFAULT_HOST, timeout)
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
    return _answered(api, endpoint, version, info)


def connect_endpoint(endpoint: Any, timeout: float = DEFAULT_TIMEOUT) -> Engine:
    """Connect to one named engine (a `lockdock.engine.contexts.Endpoint`): its host URL and
    TLS settings; `ssh://` goes through the system `ssh` client (`use_ssh_client=True`).
    Raises `EngineUnavailable` naming the endpoint."""
    shown = endpoint.name if endpoint.name == endpoint.host else f"{endpoint.host} (context {endpoint.name})"
    if endpoint.socket_path and endpoint.tls is None and endpoint.socket_path.startswith("/"):
        return connect_local(endpoint.socket_path, shown, timeout)
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
    return _answered(api, shown, version, info)


def _answered(api: Any, shown: str, version: Any, info: Any) -> Engine:
    """The `Engine` for an API client whose /version and /info answered; raises
    `EngineUnavailable` when /info is not a JSON object."""
    if not isinstance(info, dict):
        raise EngineUnavailable(f"engine at {shown} sent an unexpected reply", shown)
    return Engine(
        api=api,
        endpoint=shown,
        version=str(version.get("Version", "?")) if isinstance(version, dict) else "?",
        info=info,
    )
