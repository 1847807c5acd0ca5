"""Container checks on networking: risky published ports, all-interface binds, default bridge."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lockdock import addresses
from lockdock.context import ScanContext
from lockdock.model import Finding, TargetKind
from lockdock.registry import analyzer
from lockdock.sources import ContainerSubject
from lockdock.text import safe

RISKY_PORTS = {
    22: "SSH", 23: "telnet", 2375: "Docker API", 2376: "Docker API", 2379: "etcd", 3306: "MySQL",
    5432: "PostgreSQL", 6379: "Redis", 27017: "MongoDB", 9200: "Elasticsearch", 9300: "Elasticsearch",
    11211: "memcached", 5984: "CouchDB", 1433: "SQL Server", 1521: "Oracle", 5672: "RabbitMQ",
    15672: "RabbitMQ admin", 9042: "Cassandra", 8086: "InfluxDB", 6443: "Kubernetes API",
}


def published(c: ContainerSubject) -> list[tuple[int, str, str, str]]:
    """(container port, proto, host ip, host port) of every published port."""
    out = []
    bindings: Any = c.host_config.get("PortBindings") or {}
    ports = (c.inspect.get("NetworkSettings") or {}).get("Ports") or {}
    for source in (bindings, ports):
        if not isinstance(source, dict):
            continue
        for key, binds in source.items():
            if not binds:
                continue
            port, _, proto = str(key).partition("/")
            for b in binds:
                if isinstance(b, dict) and port.isdigit():
                    entry = (int(port), proto or "tcp", str(b.get("HostIp") or ""), str(b.get("HostPort") or ""))
                    if entry not in out:
                        out.append(entry)
        if out:
            break
    return out


@analyzer(TargetKind.CONTAINER, "network.exposed-ports")
def exposed_ports(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    for port, proto, ip, host_port in published(c):
        if port in RISKY_PORTS:
            where = f"{safe(ip, 40) or '0.0.0.0'}:{safe(host_port, 10)}"
            yield c.finding(ctx, "network.exposed-ports", f"{RISKY_PORTS[port]} port {port}/{proto} is published on the host ({where})")
    if c.host_config.get("PublishAllPorts"):
        yield c.finding(ctx, "network.exposed-ports", "every exposed port is published (-P / publish-all)")


@analyzer(TargetKind.CONTAINER, "network.bind-localhost")
def bind_localhost(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    for port, proto, ip, host_port in published(c):
        if addresses.all_interfaces(ip):
            shown = ip or "all interfaces"
            yield c.finding(
                ctx, "network.bind-localhost",
                f"port {port}/{proto} is published on {shown} (host port {safe(host_port, 10)}): bind it to 127.0.0.1 or one interface",
            )


@analyzer(TargetKind.CONTAINER, "network.isolation")
def isolation(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    mode = str(c.host_config.get("NetworkMode") or "default")
    networks = ((c.inspect.get("NetworkSettings") or {}).get("Networks") or {})
    if mode in ("default", "bridge") or (isinstance(networks, dict) and "bridge" in networks):
        yield c.finding(ctx, "network.isolation", "container is on the default bridge network: put it on a user-defined (or internal) network")
