"""Container fixes made through the engine (`docker update`): restart policy, resource limits.

Resource limits are sized from what the container uses now (`docker stats`, one sample)
with headroom, so a fix does not starve it; measuring is slow, so that fixer is lazy
(computed when the user asks for it). A stopped container has no usage to measure and
gets no limits fix; its finding says so.
"""

from __future__ import annotations

from typing import Any

from lockdock.context import ScanContext
from lockdock.model import Applicability, EngineAction, Finding, Fix, TargetKind
from lockdock.registry import fixer
from lockdock.sources import ContainerSubject

MiB = 1024 * 1024
MIN_MEMORY = 64 * MiB
MIN_CPUS = 0.25
MIN_PIDS = 64
HEADROOM = 2.0


@fixer("runtime.restart-policy", TargetKind.CONTAINER, title="docker update --restart unless-stopped", applicability=Applicability.SAFE)
def restart_policy(finding: Finding, c: ContainerSubject, ctx: ScanContext) -> Fix | None:
    if ctx.engine is None:
        return None
    current = c.host_config.get("RestartPolicy") or {"Name": "", "MaximumRetryCount": 0}
    action = EngineAction(
        "container.update", c.id, c.name,
        current={"RestartPolicy": current},
        new={"RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0}},
    )
    return Fix("docker update --restart unless-stopped", Applicability.SAFE, [action])


def size_limits(stats: dict[str, Any], hc: dict[str, Any]) -> dict[str, int]:
    """HostConfig limits from one `docker stats` sample, only for what is not limited yet."""
    new: dict[str, int] = {}
    mem = stats.get("memory_stats") or {}
    used = int(mem.get("max_usage") or mem.get("usage") or 0)
    memory = int(hc.get("Memory") or 0)
    if memory <= 0:
        memory = max(MIN_MEMORY, _round_up(int(used * HEADROOM), 16 * MiB))
        new["Memory"] = memory
    if int(hc.get("MemorySwap") or 0) != memory:
        new["MemorySwap"] = memory
    if not (hc.get("NanoCpus") or hc.get("CpuQuota")):
        cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
        online = int(cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1)
        delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
        system = int(cpu.get("system_cpu_usage") or 0) - int(pre.get("system_cpu_usage") or 0)
        cpus = (delta / system) * online if system > 0 and delta > 0 else 0.0
        cpus = min(float(online), max(MIN_CPUS, round(cpus * HEADROOM, 2)))
        new["NanoCpus"] = int(cpus * 1e9)
    pids = hc.get("PidsLimit")
    if not pids or int(pids) <= 0:
        current = int((stats.get("pids_stats") or {}).get("current") or 0)
        new["PidsLimit"] = max(MIN_PIDS, int(current * HEADROOM * 2))
    return new


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


@fixer(
    "container.resource-limits", TargetKind.CONTAINER,
    title="docker update with limits sized from observed usage",
    applicability=Applicability.UNSAFE,
    lazy=True,
)
def resource_limits(finding: Finding, c: ContainerSubject, ctx: ScanContext) -> Fix | None:
    if ctx.engine is None or not c.running:
        return None
    stats = ctx.engine.api.stats(c.id, stream=False)
    if not isinstance(stats, dict):
        return None
    hc = c.host_config
    new = size_limits(stats, hc)
    if not new:
        return None
    current = {k: hc.get(k) for k in new}
    mem = new.get("Memory")
    title = "docker update " + " ".join(
        part
        for part in (
            f"--memory {mem // MiB}m --memory-swap {mem // MiB}m" if mem else "",
            f"--memory-swap {new['MemorySwap'] // MiB}m" if "MemorySwap" in new and not mem else "",
            f"--cpus {new['NanoCpus'] / 1e9:g}" if "NanoCpus" in new else "",
            f"--pids-limit {new['PidsLimit']}" if "PidsLimit" in new else "",
        )
        if part
    )
    action = EngineAction("container.update", c.id, c.name, current=current, new=new)
    return Fix(title, Applicability.UNSAFE, [action], note="sized from one `docker stats` sample with 2x headroom")
