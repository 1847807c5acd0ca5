"""Compose checks on a service's network exposure: risky published ports, ports bound to
all interfaces, and isolation of backend services."""

from __future__ import annotations

from collections.abc import Iterator

from lockdock import addresses
from lockdock.compose import views
from lockdock.compose.findings import service_finding
from lockdock.compose.views import is_datastore
from lockdock.context import ScanContext
from lockdock.model import Finding, TargetKind
from lockdock.payloads.compose import PublishedPort, ServiceVariant
from lockdock.registry import analyzer
from lockdock.sources import ComposeService
from lockdock.text import safe

RISKY_PORTS = {
    22: "SSH", 23: "telnet", 2375: "Docker API", 2376: "Docker API", 3306: "MySQL",
    5432: "PostgreSQL", 6379: "Redis", 27017: "MongoDB", 27018: "MongoDB", 9200: "Elasticsearch",
    9300: "Elasticsearch", 11211: "memcached", 1433: "SQL Server", 1521: "Oracle", 5984: "CouchDB",
    8086: "InfluxDB", 9042: "Cassandra", 7000: "Cassandra", 2379: "etcd", 2380: "etcd",
    5672: "RabbitMQ", 3389: "RDP", 5900: "VNC", 445: "SMB", 139: "NetBIOS", 111: "rpcbind",
    21: "FTP", 873: "rsync", 6443: "Kubernetes API",
    10250: "kubelet", 4243: "Docker API", 2181: "ZooKeeper", 9092: "Kafka", 7687: "Neo4j bolt",
    28015: "RethinkDB",
}


_all_interfaces = addresses.all_interfaces
_loopback = addresses.loopback


@analyzer(TargetKind.COMPOSE_SERVICE, "network.exposed-ports")
def exposed_ports(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    for port in views.ports(subject.service):
        if _loopback(port.host_ip):
            continue
        risky = [p for p in port.target_ports + port.published_ports if p in RISKY_PORTS]
        if risky:
            p = risky[0]
            yield service_finding(subject, ctx, "network.exposed-ports",
                                  f"service {safe(subject.name, 60)} publishes {RISKY_PORTS[p]} port {p} "
                                  "to the host network", port.node, payload=PublishedPort(port))


@analyzer(TargetKind.COMPOSE_SERVICE, "network.bind-localhost")
def bind_localhost(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    # Ports are reported under network_mode: host too: they publish on all interfaces the
    # moment the host network goes (which is what the host-namespaces fix does).
    for port in views.ports(subject.service):
        if _all_interfaces(port.host_ip):
            spec = f"{port.published or '(random)'}->{port.target}"
            yield service_finding(subject, ctx, "network.bind-localhost",
                                  f"service {safe(subject.name, 60)} publishes port {safe(spec, 40)} on all "
                                  "interfaces", port.node, payload=PublishedPort(port))


def internal_networks(subject: ComposeService) -> set[str]:
    root = subject.project.root
    nets = root.get("networks") if root is not None else None
    if nets is None or nets.kind != "map":
        return set()
    return {name for name, n in nets.value.items() if n.kind == "map" and views.truthy(n.get("internal"))}


@analyzer(TargetKind.COMPOSE_SERVICE, "network.isolation")
def isolation(subject: ComposeService, ctx: ScanContext) -> Iterator[Finding]:
    svc = subject.service
    name = safe(subject.name, 60)
    mode = svc.get("network_mode")
    if (views.text(mode) or "").lower() == "bridge":
        yield service_finding(subject, ctx, "network.isolation",
                              f"service {name} joins Docker's default bridge (network_mode: bridge)", mode,
                              payload=ServiceVariant("bridge"))
        return
    mode_text = (views.text(mode) or "").lower()
    if views.ports(svc) or not is_datastore(subject) or (mode is not None and mode_text != "host"):
        return  # none / service:x / container:x: not on a network of its own
    joined = views.network_names(svc) if mode_text != "host" else []
    if set(joined) & internal_networks(subject):
        return
    yield service_finding(subject, ctx, "network.isolation",
                          f"service {name} is a backend data store with no published ports but is not on "
                          "an internal network (it can reach the internet)",
                          mode if mode_text == "host" else svc.get("networks"),
                          payload=ServiceVariant("backend"))
