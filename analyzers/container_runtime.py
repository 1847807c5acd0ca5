"""Container checks on how it runs: limits, health, restart policy, logs, secrets in env."""

from __future__ import annotations

from collections.abc import Iterator

from lockdock.checks import CATALOGUE
from lockdock.context import ScanContext
from lockdock.model import Finding, TargetKind
from lockdock.payloads.engine import ContainerLimits, RestartPolicy
from lockdock.registry import analyzer
from lockdock.secrets import check_assignment, lowered
from lockdock.sources import ContainerSubject
from lockdock.text import safe

MAX_RETRIES = 5


@analyzer(TargetKind.CONTAINER, "container.resource-limits")
def resource_limits(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    hc = c.host_config
    memory = int(hc.get("Memory") or 0)
    swap = int(hc.get("MemorySwap") or 0)
    missing = []
    if memory <= 0:
        missing.append("memory")
    elif swap != memory:
        missing.append("memory-swap equal to memory (swap is " + ("unlimited" if swap in (-1,) else "allowed") + ")")
    if not (hc.get("NanoCpus") or hc.get("CpuQuota")):
        missing.append("CPU")
    pids = hc.get("PidsLimit")
    if not pids or int(pids) <= 0:
        missing.append("PIDs")
    if missing:
        why = "" if c.running else "; no automatic fix: the container is not running, so its usage cannot be measured to size limits"
        yield c.finding(ctx, "container.resource-limits", f"no limit on: {', '.join(missing)}{why}", payload=ContainerLimits(tuple(missing)))


@analyzer(TargetKind.CONTAINER, "runtime.healthcheck")
def healthcheck(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    hc = c.config.get("Healthcheck")
    test = hc.get("Test") if isinstance(hc, dict) else None
    if not (isinstance(test, list) and test and test[0] != "NONE"):
        why = "disabled by HEALTHCHECK NONE" if isinstance(test, list) and test and test[0] == "NONE" else "missing"
        yield c.finding(ctx, "runtime.healthcheck", f"container has no health check ({why})")
        return
    health = c.state.get("Health")
    status = health.get("Status") if isinstance(health, dict) else None
    if status == "unhealthy":
        yield c.finding(ctx, "runtime.healthcheck", "container's health check reports it unhealthy")


@analyzer(TargetKind.CONTAINER, "runtime.restart-policy")
def restart_policy(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    policy = c.host_config.get("RestartPolicy") or {}
    name = str(policy.get("Name") or "no") if isinstance(policy, dict) else "no"
    retries = int(policy.get("MaximumRetryCount") or 0) if isinstance(policy, dict) else 0
    if name == "unless-stopped":
        return
    if name == "on-failure" and 0 < retries <= MAX_RETRIES:
        return
    if name == "on-failure":
        msg = f"restart policy on-failure retries {'forever' if retries == 0 else retries} times (at most {MAX_RETRIES})"
    elif name == "always":
        msg = "restart policy 'always' also restarts containers stopped on purpose; use unless-stopped"
    else:
        msg = "container has no restart policy"
    yield c.finding(ctx, "runtime.restart-policy", msg, payload=RestartPolicy(name, retries))


@analyzer(TargetKind.CONTAINER, "runtime.log-rotation")
def log_rotation(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    log = c.host_config.get("LogConfig") or {}
    driver = str(log.get("Type") or "") if isinstance(log, dict) else ""
    opts = log.get("Config") if isinstance(log, dict) and isinstance(log.get("Config"), dict) else {}
    if driver == "none":
        yield c.finding(ctx, "runtime.log-rotation", "logging is disabled (log driver 'none')")
    elif driver == "json-file":
        missing = [k for k in ("max-size", "max-file") if k not in opts]
        if missing:
            yield c.finding(ctx, "runtime.log-rotation", f"json-file logs do not rotate: no {', '.join(missing)}")


@analyzer(TargetKind.CONTAINER, "secrets.no-secrets-in-env")
def env_secrets(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    for item in c.config.get("Env") or []:
        if not isinstance(item, str) or "=" not in item:
            continue
        name, _, value = item.partition("=")
        match = check_assignment(name, value)
        if match is not None:
            yield c.finding(
                ctx, "secrets.no-secrets-in-env",
                f"environment variable {safe(name, 80)} holds a secret ({match.kind}); `docker inspect` shows it",
                evidence=f"{safe(name, 80)}={match.masked}",
                severity=lowered(CATALOGUE["secrets.no-secrets-in-env"].severity, match) if match.placeholder else None,
            )
