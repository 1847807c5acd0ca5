"""Compose checks on how a service runs: resource limits, health check, restart policy,
log rotation."""

from __future__ import annotations

import re
from collections.abc import Iterator

from lockdock.compose import views
from lockdock.compose.findings import service_finding
from lockdock.compose.views import build_dockerfile
from lockdock.context import ScanContext
from lockdock.files import FileProblem, read_text
from lockdock.model import Finding, TargetKind
from lockdock.payloads.compose import LogRotation, MissingLimits, SwapLimit
from lockdock.registry import analyzer
from lockdock.sources import ComposeService
from lockdock.text import safe

_HEALTHCHECK = re.compile(r"(?im)^\s*HEALTHCHECK\s+(?!NONE\b)\S")


def _limit(subject: ComposeService, *paths: tuple[str, ...]) -> views.Node | None:
    for path in paths:
        node = subject.service.get(*path)
        if node is not None and node.kind == "scalar" and node.value not in (None, "", 0, "0"):
            return node
    return None


def parse_bytes(value: object) -> int | None:
    """`512m`, `1g`, `1073741824` as bytes; -1 for unlimited; None when unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", str(value).lower())
    if not m:
        return None
    num = float(m.group(1))
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2)]
    return int(num * mult)


@analyzer(TargetKind.COMPOSE_SERVICE, "container.resource-limits")
def resource_limits(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    name = safe(subject.name, 60)
    memory = _limit(subject, ("deploy", "resources", "limits", "memory"), ("mem_limit",))
    cpus = _limit(subject, ("deploy", "resources", "limits", "cpus"), ("cpus",), ("cpu_quota",))
    pids = _limit(subject, ("pids_limit",), ("deploy", "resources", "limits", "pids"))
    if pids is not None and parse_bytes(pids.value) is not None and (parse_bytes(pids.value) or 0) < 0:
        pids = None
    missing = [what for what, node in (("memory", memory), ("CPU", cpus), ("PIDs", pids)) if node is None]
    if missing:
        yield service_finding(subject, ctx, "container.resource-limits",
                              f"service {name} sets no {', '.join(missing)} limit", None,
                              payload=MissingLimits(tuple(missing)))
    swap = subject.service.get("memswap_limit")
    if swap is not None and views.text(swap) is not None:
        swap_bytes = parse_bytes(swap.value)
        mem_bytes = parse_bytes(memory.value) if memory is not None else None
        if swap_bytes == -1 or (swap_bytes is not None and mem_bytes is not None and swap_bytes > mem_bytes):
            what = "unlimited" if swap_bytes == -1 else "larger than the memory limit"
            yield service_finding(subject, ctx, "container.resource-limits",
                                  f"service {name}: memswap_limit is {what}; set it equal to the memory limit",
                                  swap, payload=SwapLimit(memory))


def _dockerfile_has_healthcheck(subject: ComposeService) -> bool | None:
    path = build_dockerfile(subject)
    if path is None:
        return None
    try:
        return bool(_HEALTHCHECK.search(read_text(path).text))
    except FileProblem:
        return None


@analyzer(TargetKind.COMPOSE_SERVICE, "runtime.healthcheck")
def healthcheck(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    svc = subject.service
    name = safe(subject.name, 60)
    node = svc.get("healthcheck")
    if node is not None and node.kind == "map":
        disable = node.get("disable")
        test = node.get("test")
        test_words = [s.upper() for s, _ in views.string_list(test)]
        if views.truthy(disable):
            yield service_finding(subject, ctx, "runtime.healthcheck",
                                  f"service {name} disables its health check", disable)
            return
        if test_words[:1] == ["NONE"]:
            yield service_finding(subject, ctx, "runtime.healthcheck",
                                  f"service {name} disables its health check (test: NONE)", test)
            return
        if test is not None:
            return
        # A healthcheck map without `test` only tunes the image's own check.
    if views.builds(svc) and _dockerfile_has_healthcheck(subject):
        return
    img = views.image_node(svc)
    if img is not None and not views.builds(svc):
        data = ctx.local_image(str(img.value))
        hc = ((data or {}).get("Config") or {}).get("Healthcheck") or {}
        if hc.get("Test") and hc["Test"][0] != "NONE":
            return
    yield service_finding(subject, ctx, "runtime.healthcheck",
                          f"service {name} defines no health check", None)


def _retries(policy: str) -> int | None:
    _, _, count = policy.partition(":")
    return int(count) if count.strip().isdigit() else None


@analyzer(TargetKind.COMPOSE_SERVICE, "runtime.restart-policy")
def restart_policy(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    svc = subject.service
    name = safe(subject.name, 60)
    node = svc.get("restart")
    policy = (views.text(node) or "").strip().lower()
    if node is not None and policy:
        if policy == "unless-stopped":
            return
        if policy.startswith("on-failure"):
            n = _retries(policy)
            if n is not None and n <= 5:
                return
            yield service_finding(subject, ctx, "runtime.restart-policy",
                                  f"service {name} restarts on failure without a retry limit of at most 5",
                                  node)
            return
        yield service_finding(subject, ctx, "runtime.restart-policy",
                              f"service {name} uses restart: {safe(policy, 30)}; use unless-stopped "
                              "or on-failure:5", node)
        return
    deploy = svc.get("deploy", "restart_policy")
    if deploy is not None and deploy.kind == "map":
        cond = (views.text(deploy.get("condition")) or "any").lower()
        attempts = deploy.get("max_attempts")
        n = attempts.value if attempts is not None and isinstance(attempts.value, int) else None
        if cond != "none" and n is not None and 0 < n <= 5:
            return  # bounded retries (on-failure or any)
        yield service_finding(subject, ctx, "runtime.restart-policy",
                              f"service {name}: deploy.restart_policy has no max_attempts of at most 5",
                              deploy)
        return
    yield service_finding(subject, ctx, "runtime.restart-policy",
                          f"service {name} sets no restart policy", None)


@analyzer(TargetKind.COMPOSE_SERVICE, "runtime.log-rotation")
def log_rotation(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    svc = subject.service
    name = safe(subject.name, 60)
    logging = svc.get("logging")
    if logging is None or logging.kind != "map":
        yield service_finding(subject, ctx, "runtime.log-rotation",
                              f"service {name} sets no logging options; json-file logs grow without "
                              "limit unless the daemon rotates them", None, payload=LogRotation("missing"))
        return
    driver_node = logging.get("driver")
    driver = (views.text(driver_node) or "json-file").strip().lower()
    if driver == "none":
        yield service_finding(subject, ctx, "runtime.log-rotation",
                              f"service {name} disables logging (driver: none)", driver_node,
                              payload=LogRotation("disabled"))
        return
    if driver != "json-file":
        return  # local rotates by default; other drivers ship logs elsewhere
    options = logging.get("options")
    have = set(options.value) if options is not None and options.kind == "map" else set()
    missing = [k for k in ("max-size", "max-file") if k not in have]
    if missing:
        yield service_finding(subject, ctx, "runtime.log-rotation",
                              f"service {name}: json-file logging without {' and '.join(missing)}",
                              logging, payload=LogRotation("options", tuple(missing)))
