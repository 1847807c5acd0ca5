"""EXPOSE of remote-admin and data-store ports.

A data-store port in a Dockerfile built on that very data store (EXPOSE 5432 on a
postgres base), or in one whose CMD/ENTRYPOINT starts that data store's server (the
official postgres image: FROM debian, CMD ["postgres"]), is the image's purpose and is
not reported; remote-admin ports always are.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

from lockdock.context import ScanContext
from lockdock.dockerfile.facts import ADMIN_PORTS, capped, chain, chain_root, finding
from lockdock.dockerfile.model import Dockerfile, Stage
from lockdock.model import Finding, TargetKind
from lockdock.payloads.dockerfile import ExposedPort
from lockdock.registry import analyzer
from lockdock.sources import DockerfileSubject

DATA_PORTS = {
    3306: ("MySQL", ("mysql", "mariadb", "percona")),
    5432: ("PostgreSQL", ("postgres", "postgis", "timescale")),
    6379: ("Redis", ("redis", "valkey", "keydb")),
    27017: ("MongoDB", ("mongo",)),
    9200: ("Elasticsearch", ("elasticsearch", "opensearch")),
    9300: ("Elasticsearch transport", ("elasticsearch", "opensearch")),
    11211: ("memcached", ("memcached",)),
    1433: ("SQL Server", ("mssql", "sql-server")),
    1521: ("Oracle", ("oracle",)),
    5984: ("CouchDB", ("couchdb",)),
    9042: ("Cassandra", ("cassandra", "scylla")),
    2379: ("etcd", ("etcd",)),
}
# The server programs that listen on each data-store port.
SERVERS = {
    3306: ("mysqld", "mariadbd", "mysqld_safe", "mariadbd-safe"),
    5432: ("postgres", "postmaster", "pg_ctl"),
    6379: ("redis-server", "valkey-server", "keydb-server"),
    27017: ("mongod", "mongos"),
    9200: ("elasticsearch", "opensearch"),
    9300: ("elasticsearch", "opensearch"),
    11211: ("memcached",),
    1433: ("sqlservr",),
    5984: ("couchdb",),
    9042: ("cassandra", "scylla"),
    2379: ("etcd",),
}
_PORT = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?(?:/(tcp|udp|sctp))?$", re.I)


def ports_of(word: str) -> list[int]:
    m = _PORT.match(word.strip())
    if not m:
        return []
    lo = int(m.group(1))
    hi = int(m.group(2) or lo)
    if hi < lo or hi - lo > 65535:
        return []
    return [p for p in (*ADMIN_PORTS, *DATA_PORTS) if lo <= p <= hi]


@analyzer(TargetKind.DOCKERFILE, "network.exposed-ports")
@capped
def exposed_ports(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    df = subject.dockerfile
    for st in df.stages:
        base = chain_root(df, st).base.lower()
        for inst in st.instructions:
            if inst.cmd != "expose":
                continue
            for word in inst.args:
                for port in ports_of(word):
                    if port in ADMIN_PORTS:
                        what = ADMIN_PORTS[port]
                    else:
                        what, images = DATA_PORTS[port]
                        if any(img in base for img in images) or _runs_server(df, st, port):
                            continue
                    yield finding(
                        "network.exposed-ports",
                        subject,
                        inst,
                        f"EXPOSE {port} announces the {what} port; do not ship remote-admin or data-store "
                        "access in an application image",
                        payload=ExposedPort(port, word),
                    )


def _runs_server(df: Dockerfile, st: Stage, port: int) -> bool:
    """True when the stage's effective CMD or ENTRYPOINT names the server of `port`."""
    servers = SERVERS.get(port, ())
    words: list[str] = []
    for cmd in ("entrypoint", "cmd"):
        last = None
        for s in chain(df, st):
            for inst in s.instructions:
                if inst.cmd == cmd:
                    last = inst
        if last is None:
            continue
        if last.json:
            words += last.args
        else:
            try:
                words += shlex.split(" ".join(last.args))
            except ValueError:
                continue
    return any(w.rsplit("/", 1)[-1] in servers for w in words)
