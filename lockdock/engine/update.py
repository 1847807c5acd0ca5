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
