"""Which registries the local Docker daemon reaches without TLS.

Dockerfile, compose and host checks all ask the same question, so the answer is built
once per scan from `docker info` (when an engine answers) and from daemon.json (the
`--daemon-json` file or /etc/docker/daemon.json, so it also works without an engine).
Loopback registries are left out: Docker always allows plain HTTP to 127.0.0.0/8 and
that traffic never leaves the host.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path

from lockdock.context import ScanContext

DEFAULT_DAEMON_JSON = Path("/etc/docker/daemon.json")
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class InsecureRegistries:
    names: dict[str, str] = field(default_factory=dict)  # host[:port] -> where it is configured
    networks: list[tuple[IPNetwork, str]] = field(default_factory=list)

    def reason(self, registry: str) -> str | None:
        """Why `registry` (host[:port]) is reached over plain HTTP, or None."""
        reg = registry.strip().lower()
        if reg in self.names:
            return self.names[reg]
        host = reg.rsplit(":", 1)[0] if reg.count(":") == 1 else reg.strip("[]")
        try:
            ip = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return None
        for net, where in self.networks:
            if ip in net:
                return where
        return None


def _add(result: InsecureRegistries, entry: str, where: str) -> None:
    entry = entry.strip().lower()
    if not entry:
        return
    for prefix in ("http://", "https://"):
        if entry.startswith(prefix):
            entry = entry[len(prefix):]
    entry = entry.rstrip("/")
    try:
        net = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        result.names.setdefault(entry, where)
        return
    if any(net.subnet_of(lo) for lo in _LOOPBACK if lo.version == net.version):
        return
    result.networks.append((net, where))


def insecure_registries(ctx: ScanContext) -> InsecureRegistries:
    """Insecure registries from the engine and daemon.json, computed once per scan."""
    cached = ctx.cache.get("insecure-registries")
    if isinstance(cached, InsecureRegistries):
        return cached
    result = InsecureRegistries()
    info = ctx.engine.info if ctx.engine is not None else {}
    reg = info.get("RegistryConfig") if isinstance(info, dict) else None
    if isinstance(reg, dict):
        for name, conf in (reg.get("IndexConfigs") or {}).items():
            if isinstance(conf, dict) and conf.get("Secure") is False:
                _add(result, str(name), "an insecure registry of the local daemon")
        for cidr in reg.get("InsecureRegistryCIDRs") or []:
            _add(result, str(cidr), "an insecure registry range of the local daemon")
    path = ctx.daemon_json or DEFAULT_DAEMON_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        data = None  # the host checks report unreadable or invalid daemon.json
    if isinstance(data, dict) and isinstance(data.get("insecure-registries"), list):
        for entry in data["insecure-registries"]:
            if isinstance(entry, str):
                _add(result, entry, f"listed in insecure-registries of {path}")
    ctx.cache["insecure-registries"] = result
    return result
