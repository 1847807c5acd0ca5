"""`docker update` of a running container, and proof that it took.

The engine answers `docker update` with success even when it ignored a value, so every
update is read back with `docker inspect` (Engine API `/containers/{id}/update` and
`/containers/{id}/json`). Used by the fix transaction and by undo (`lockdock.fixing`).
"""

from __future__ import annotations

from typing import Any

from lockdock.engine import rawapi
from lockdock.text import safe


class EngineActionFailed(Exception):
    """`docker update` failed or the container does not show the new values."""


# ScanContext.cache key of a multi-engine fix run: {engine name: connected Engine}.
FLEET_ENGINES = "fleet:engines"


class Engines:
    """Connected engines by name, so each `docker update` goes to the engine that owns
    its container (`EngineAction.engine`, `journal.EngineRecord.engine`).

    `default` (an `Engine` or None) answers the name None: the scan's one engine;
    `named` maps a context name or host URL to its `Engine`.
    """

    def __init__(self, default: Any = None, named: dict[str, Any] | None = None) -> None:
        self.default = default
        self.named = dict(named or {})

    def get(self, name: str | None) -> Any:
        """The engine called `name` (None: the default), or None when it is not connected."""
        return self.default if name is None else self.named.get(name)

    def require(self, name: str | None) -> Any:
        """The engine called `name`; raises `EngineActionFailed` when it is not connected."""
        engine = self.get(name)
        if engine is None:
            raise EngineActionFailed("no engine connection" if name is None
                                     else f"engine {safe(name, 120)} is not connected")
        return engine

    def close(self, default: bool = False) -> None:
        """Close the named connections, and the default one when `default` (by default it
        belongs to the caller)."""
        for engine in [*self.named.values(), *([self.default] if default and self.default is not None else [])]:
            engine.close()


def connect_engines(names: list[str | None], timeout: float | None = None) -> Engines:
    """Connect to each engine in `names`: None is the default engine (DOCKER_HOST or the
    current context), a name with `://` a host URL, any other a docker context name.

    Raises `lockdock.engine.connect.EngineUnavailable` naming the first engine that
    cannot be reached (the others are closed again)."""
    from lockdock.engine.connect import (
        DEFAULT_TIMEOUT,
        EngineUnavailable,
        connect,
        connect_endpoint,
    )
    from lockdock.engine.contexts import EndpointError, context_endpoint, host_endpoint

    wait = DEFAULT_TIMEOUT if timeout is None else timeout
    out = Engines()
    try:
        for name in names:
            if name is None:
                out.default = connect(wait)
                continue
            try:
                endpoint = host_endpoint(name) if "://" in name else context_endpoint(name)
            except EndpointError as exc:
                raise EngineUnavailable(f"engine {safe(name, 120)}: {exc}", name) from None
            try:
                out.named[name] = connect_endpoint(endpoint, timeout=wait)
            except EngineUnavailable as exc:
                raise EngineUnavailable(f"engine {safe(name, 120)} cannot be reached: {exc}", name) from None
    except BaseException:
        out.close(default=True)
        raise
    return out


def engines_of(ctx: Any) -> Engines:
    """The engines of a scan context: `ctx.engine` and those a fleet fix run keeps in
    `ctx.cache[FLEET_ENGINES]`."""
    return Engines(ctx.engine, ctx.cache.get(FLEET_ENGINES))


def as_engines(engine: Any) -> Engines:
    """`engine` (one `Engine`, an `Engines`, or None) as an `Engines`."""
    return engine if isinstance(engine, Engines) else Engines(engine)


# docker SDK keyword -> HostConfig key (fixers may use either spelling).
SDK_TO_HOSTCONFIG = {
    "mem_limit": "Memory",
    "memswap_limit": "MemorySwap",
    "mem_reservation": "MemoryReservation",
    "cpu_shares": "CpuShares",
    "cpu_period": "CpuPeriod",
    "cpu_quota": "CpuQuota",
    "cpuset_cpus": "CpusetCpus",
    "cpuset_mems": "CpusetMems",
    "blkio_weight": "BlkioWeight",
    "restart_policy": "RestartPolicy",
    "pids_limit": "PidsLimit",
    "nano_cpus": "NanoCpus",
    "kernel_memory": "KernelMemory",
}
HOSTCONFIG_TO_SDK = {
    v: k for k, v in SDK_TO_HOSTCONFIG.items() if k not in ("pids_limit", "nano_cpus")
}


def hostconfig(values: dict[str, Any]) -> dict[str, Any]:
    """`values` keyed by HostConfig names (docker SDK keywords translated)."""
    return {SDK_TO_HOSTCONFIG.get(k, k): v for k, v in values.items()}


# `docker update` treats 0 as "leave unchanged": a limit set on an unlimited container
# cannot be removed again without recreating the container.
CANNOT_UNSET = frozenset(
    {"Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuQuota",
     "CpuPeriod", "BlkioWeight", "KernelMemory", "CpusetCpus", "CpusetMems"}
)


def normalise(key: str, value: Any) -> Any:
    """One spelling for values the engine treats as the same (`key` is a HostConfig name)."""
    if key == "PidsLimit" and value in (None, 0, -1):
        return 0
    if key == "RestartPolicy" and isinstance(value, dict):
        name = value.get("Name") or "no"
        return {"Name": name, "MaximumRetryCount": int(value.get("MaximumRetryCount") or 0)}
    if key in CANNOT_UNSET and value is None:
        return 0
    return value


def update_container_verified(engine: Any, container_id: str, values: dict[str, Any]) -> list[str]:
    """`docker update` then inspect: every value must read back as set.

    `values` use docker SDK keywords or HostConfig names. Returns notes for values the
    engine cannot set back (removing a limit). Raises `EngineActionFailed` when the engine
    refuses, cannot be reached, or reads back another value.
    """
    if engine is None:
        raise EngineActionFailed("no engine connection")
    hc = {k: normalise(k, v) for k, v in hostconfig(values).items()}
    notes = [
        f"{k} cannot be reset to unlimited by docker update (recreate the container to drop it)"
        for k, v in hc.items()
        if k in CANNOT_UNSET and v in (0, "")
    ]
    hc = {k: v for k, v in hc.items() if not (k in CANNOT_UNSET and v in (0, ""))}
    if not hc:
        return notes
    api = engine.api
    sdk_kwargs = {HOSTCONFIG_TO_SDK[k]: v for k, v in hc.items() if k in HOSTCONFIG_TO_SDK}
    raw = {k: v for k, v in hc.items() if k not in HOSTCONFIG_TO_SDK}
    try:
        if sdk_kwargs:
            api.update_container(container_id, **sdk_kwargs)
        if raw:
            # The SDK has no keyword for these (PidsLimit, NanoCpus); same endpoint.
            rawapi.post_json(api, "/containers/{0}/update", container_id, data=raw)
        got = api.inspect_container(container_id).get("HostConfig") or {}
    except Exception as exc:  # noqa: BLE001 - the SDK raises several kinds; all mean "failed"
        raise EngineActionFailed(f"docker update failed: {safe(exc, 300)}") from None
    for key, want in hc.items():
        have = normalise(key, got.get(key))
        if have != want:
            raise EngineActionFailed(
                f"container shows {safe(key)}={safe(have)} after docker update (wanted {safe(want)})"
            )
    return notes
