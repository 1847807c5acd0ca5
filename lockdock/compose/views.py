"""Normalised views of a service's ports, volumes and environment.

Compose accepts short and long syntax for ports and volumes and a list or a map for
`environment`; analyzers and fixers read one shape, each item keeping its `Node` (so
its file and line).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lockdock.compose import imageref, schema
from lockdock.compose.project import Project, Service
from lockdock.compose.yamlread import Node

if TYPE_CHECKING:
    from lockdock.sources.compose import ComposeService

TRUE_STRINGS = frozenset({"true", "yes", "on", "1"})


def truthy(node: Node | None) -> bool:
    """Compose's reading of a boolean field (YAML 1.1 words, quoted or not)."""
    if node is None or node.kind != "scalar":
        return False
    v = node.value
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        return v.strip().lower() in TRUE_STRINGS
    return bool(v) if isinstance(v, int) else False


def text(node: Node | None) -> str | None:
    """A scalar as a string (None for collections and null)."""
    if node is None or node.kind != "scalar" or node.value is None:
        return None
    v = node.value
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


@dataclass
class Port:
    node: Node  # the list item
    host_ip: str | None
    published: str | None  # "8080", "8080-8081", None (random host port)
    target: str  # "80", "80-81"
    protocol: str
    long: bool

    @property
    def target_ports(self) -> list[int]:
        return _expand(self.target)

    @property
    def published_ports(self) -> list[int]:
        return _expand(self.published or "")


def _expand(spec: str) -> list[int]:
    spec = spec.strip()
    try:
        if "-" in spec:
            a, b = spec.split("-", 1)
            lo, hi = int(a), int(b)
            return list(range(lo, min(hi, lo + 1024) + 1))
        return [int(spec)] if spec else []
    except ValueError:
        return []


def parse_port(item: Node) -> Port | None:
    if item.kind == "map":
        tgt = text(item.get("target"))
        if tgt is None:
            return None
        pub = text(item.get("published"))
        return Port(item, text(item.get("host_ip")), pub or None, tgt,
                    text(item.get("protocol")) or "tcp", True)
    spec = text(item)
    if spec is None:
        return None
    spec, _, proto = spec.partition("/")
    host_ip: str | None = None
    if spec.startswith("["):
        close = spec.find("]")
        host_ip, spec = spec[1:close], spec[close + 2:] if close > 0 else ""
    parts = spec.split(":")
    if len(parts) == 1:
        return Port(item, host_ip, None, parts[0], proto or "tcp", False)
    if len(parts) == 2:
        return Port(item, host_ip, parts[0] or None, parts[1], proto or "tcp", False)
    return Port(item, ":".join(parts[:-2]) or host_ip, parts[-2] or None, parts[-1], proto or "tcp", False)


def ports(service: Service) -> list[Port]:
    node = service.get("ports")
    if node is None or node.kind != "seq":
        return []
    return [p for p in (parse_port(i) for i in node.value) if p is not None]


@dataclass
class Mount:
    node: Node
    type: str  # bind, volume, tmpfs, npipe
    source: str | None
    target: str | None
    read_only: bool
    long: bool
    modes: list[str]
    unknown_keys: list[str] = field(default_factory=list)  # long syntax keys compose rejects



def _is_path(src: str) -> bool:
    return src.startswith(("/", ".", "~", "$")) or (len(src) > 1 and src[1] == ":" and src[0].isalpha())


def parse_mount(item: Node) -> Mount | None:
    if item.kind == "map":
        typ = text(item.get("type")) or "volume"
        unknown = schema.unknown_mount_keys(item)
        return Mount(item, typ, text(item.get("source")), text(item.get("target")),
                     truthy(item.get("read_only")), True, [], unknown)
    spec = text(item)
    if spec is None:
        return None
    parts = spec.split(":")
    # Windows drive letters ("C:\\x:/y") keep their colon.
    if len(parts) > 1 and len(parts[0]) == 1 and parts[0].isalpha():
        parts = [parts[0] + ":" + parts[1], *parts[2:]]
    if len(parts) == 1:
        return Mount(item, "volume", None, parts[0], False, False, [])
    src, dst = parts[0], parts[1]
    modes = parts[2].split(",") if len(parts) > 2 else []
    typ = "bind" if _is_path(src) else "volume"
    return Mount(item, typ, src, dst, "ro" in modes, False, modes)


def mounts(service: Service) -> list[Mount]:
    node = service.get("volumes")
    if node is None or node.kind != "seq":
        return []
    return [m for m in (parse_mount(i) for i in node.value) if m is not None]


@dataclass
class EnvVar:
    name: str
    value: str | None  # interpolated value
    raw: str | None  # as written in the file (value part only)
    node: Node


def environment(service: Service) -> list[EnvVar]:
    return assignments(service.get("environment"))


def assignments(node: Node | None) -> list[EnvVar]:
    """`NAME: value` mappings or `NAME=value` lists (environment, labels, build.args)."""
    if node is None:
        return []
    result: list[EnvVar] = []
    if node.kind == "map":
        for name, v in node.value.items():
            result.append(EnvVar(name, text(v), v.raw if v.raw is not None else text(v), v))
    elif node.kind == "seq":
        for item in node.value:
            s = text(item)
            if s is None:
                continue
            name, sep, value = s.partition("=")
            raw_value = None
            if item.raw is not None and sep:
                raw_value = item.raw.partition("=")[2]
            result.append(EnvVar(name.strip(), value if sep else None, raw_value, item))
    return result


def string_list(node: Node | None) -> list[tuple[str, Node]]:
    """A list of scalars (or one scalar) as (text, node) pairs."""
    if node is None:
        return []
    if node.kind == "scalar":
        s = text(node)
        return [(s, node)] if s is not None else []
    if node.kind == "seq":
        return [(s, i) for i in node.value if (s := text(i)) is not None]
    return []


def builds(service: Service) -> bool:
    """True when compose builds the service's image (then `image:` names the result)."""
    return service.get("build") is not None


def image_node(service: Service) -> Node | None:
    node = service.get("image")
    return node if node is not None and node.kind == "scalar" and node.value is not None else None


def network_names(service: Service) -> list[str]:
    """Networks the service joins (`default` when none is named and no network_mode)."""
    node = service.get("networks")
    if node is None:
        return [] if service.get("network_mode") is not None else ["default"]
    if node.kind == "map":
        return list(node.value)
    return [s for s, _ in string_list(node)]


def env_file_entries(service: Service) -> list[tuple[Path, Node]]:
    """The service's `env_file:` entries (short or long syntax), resolved beside the file
    that declares them, as (path, node)."""
    node = service.get("env_file")
    if node is None:
        return []
    items = node.value if node.kind == "seq" else [node]
    out = []
    for item in items:
        ref = item.get("path") if item.kind == "map" else item
        value = text(ref) if ref is not None else None
        if value:
            out.append(((Path(item.file).parent / value), item))
    return out


@dataclass
class SecretRef:
    """A service's use of a compose secret (short `- name` or long `- source: name`)."""

    source: str
    target: str  # path inside the container
    node: Node


def secret_refs(service: Service) -> list[SecretRef]:
    node = service.get("secrets")
    if node is None or node.kind != "seq":
        return []
    refs: list[SecretRef] = []
    for item in node.value:
        if item.kind == "map":
            source = text(item.get("source"))
            if source is None:
                continue
            target = text(item.get("target")) or source
        else:
            source = text(item)
            if source is None:
                continue
            target = source
        refs.append(SecretRef(source, target if target.startswith("/") else f"/run/secrets/{target}", item))
    return refs


@dataclass
class SecretFile:
    """A top-level `secrets: name: file: path` entry, resolved against the project directory."""

    name: str
    path: str
    node: Node


def secret_files(project: Project) -> list[SecretFile]:
    """Files the project's top-level `secrets:` read (for permission and git checks)."""
    root = project.root
    secrets = root.get("secrets") if root is not None else None
    if secrets is None or secrets.kind != "map":
        return []
    found: list[SecretFile] = []
    for name, entry in secrets.value.items():
        file_node = entry.get("file") if entry.kind == "map" else None
        path = text(file_node)
        if path is None or file_node is None:
            continue
        base = os.path.dirname(file_node.file) if file_node.file else str(project.directory)
        found.append(SecretFile(name, os.path.normpath(os.path.join(base, os.path.expanduser(path))), file_node))
    return found


# Images of data stores (short names), which the network checks keep off shared networks.
DATASTORES = frozenset({
    "postgres", "mysql", "mariadb", "redis", "mongo", "memcached", "elasticsearch", "rabbitmq",
    "cassandra", "couchdb", "influxdb", "neo4j", "clickhouse", "valkey", "keydb", "etcd",
    "zookeeper", "opensearch", "percona", "cockroachdb", "timescaledb", "postgis", "bitnami/redis",
    "bitnami/postgresql", "bitnami/mysql", "bitnami/mongodb", "bitnami/mariadb",
})


def is_datastore(subject: ComposeService) -> bool:
    """Whether the service runs a well-known data store image (postgres, redis, ...)."""
    node = image_node(subject.service)
    if node is None:
        return False
    ref = imageref.parse(str(node.value))
    if ref is None:
        return False
    name = ref.short_name
    return name in DATASTORES or name.rsplit("/", 1)[-1] in DATASTORES


def build_dockerfile(subject: ComposeService) -> Path | None:
    """The local Dockerfile a service builds from, or None (no build, remote context)."""
    build = subject.service.get("build")
    if build is None:
        return None
    context = text(build) if build.kind == "scalar" else text(build.get("context")) or "."
    dockerfile = "Dockerfile" if build.kind == "scalar" else text(build.get("dockerfile")) or "Dockerfile"
    if not context or "://" in context:
        return None
    base = Path(build.file).parent
    return (base / context / dockerfile) if not Path(dockerfile).is_absolute() else Path(dockerfile)
