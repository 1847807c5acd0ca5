"""image.no-unneeded-tools on containers: an SSH server running inside a container.

A container that runs sshd ships and exposes a remote shell beside its application (CIS
Docker Benchmark 5.6, docker-bench check_5_6). It is seen in the container's command
(Config.Entrypoint and Config.Cmd, which include what the image set) and, for a running
container, in its process list from the engine's top API (`docker top`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from lockdock.context import ScanContext
from lockdock.model import Finding, TargetKind
from lockdock.payloads import Variant
from lockdock.registry import analyzer
from lockdock.sources import ContainerSubject
from lockdock.text import safe

SSH_SERVERS = frozenset({"sshd", "dropbear"})
MAX_PROCESSES = 2000


def ssh_server_in(argv: list[str]) -> str | None:
    """The SSH server a command line starts: the program itself, or the script an
    interpreter runs (`/bin/sh /usr/sbin/sshd`), or sshd's retitled process (`sshd: ...`)."""
    for word in argv[:3]:
        if not isinstance(word, str):
            continue
        for token in word.split()[:3]:
            base = posixpath.basename(token.rstrip(":"))
            if base in SSH_SERVERS:
                return base
    return None


def _command(c: ContainerSubject) -> list[str]:
    entry = c.config.get("Entrypoint") or []
    cmd = c.config.get("Cmd") or []
    words = (entry if isinstance(entry, list) else [entry]) + (cmd if isinstance(cmd, list) else [cmd])
    return [w for w in words if isinstance(w, str)]


def _processes(c: ContainerSubject, ctx: ScanContext) -> list[str]:
    """Command lines of the container's processes (empty when not running or on error)."""
    if not c.running or ctx.engine is None:
        return []
    try:
        top: Any = ctx.engine.api.top(c.id)
    except Exception:  # noqa: BLE001 - exited meanwhile, or engine trouble: the config still counts
        return []
    if not isinstance(top, dict):
        return []
    titles = top.get("Titles") or []
    col = next((i for i, t in enumerate(titles) if t in ("CMD", "COMMAND")), len(titles) - 1)
    out = []
    for row in (top.get("Processes") or [])[:MAX_PROCESSES]:
        if isinstance(row, list) and 0 <= col < len(row) and isinstance(row[col], str):
            out.append(row[col])
    return out


@analyzer(TargetKind.CONTAINER, "image.no-unneeded-tools")
def ssh_server(c: ContainerSubject, ctx: ScanContext) -> Iterator[Finding]:
    command = _command(c)
    server = ssh_server_in(command)
    if server is not None:
        yield c.finding(
            ctx,
            "image.no-unneeded-tools",
            f"container's command starts {server}, an SSH server inside the container; use "
            "`docker exec` for access and run only the application",
            evidence=safe(" ".join(command), 160),
            payload=Variant("sshd-command"),
        )
        return
    for line in _processes(c, ctx):
        server = ssh_server_in([line])
        if server is not None:
            yield c.finding(
                ctx,
                "image.no-unneeded-tools",
                f"container runs {server}, an SSH server, beside its application; use `docker exec` "
                "for access and remove the server from the image",
                evidence=safe(line, 160),
                payload=Variant("sshd-process"),
            )
            return
