"""Helpers of the `fix --verify` tests: busybox stacks, hand-made fixes, leftovers by label."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from lockdock.model import Applicability, FileEdit, Fix, TextEdit

PREFIX = "lockdock-verify-"
PROJECT = "com.docker.compose.project"

# A web service that writes a log and serves 8080, and a worker that only sleeps. The log
# directory is computed at run time, so no reading of the command can know it: only running
# the fixed stack shows that read_only breaks the web service.
STACK = """\
services:
  web:
    image: {image}
    command: ["sh", "-c", "L=$$(echo /var/log); mkdir -p $$L /tmp/www && echo hi > $$L/x && echo ok > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"]
    ports:
      - "127.0.0.1::8080"
  worker:
    image: {image}
    command: ["sleep", "3600"]
"""


def insert_fix(path: Path, after: str, text: str, title: str, check: str = "container.read-only-rootfs") -> Fix:
    """A fix inserting `text` right after the first line containing `after`."""
    data = path.read_bytes()
    src = data.decode()
    start = src.index(after)
    pos = src.index("\n", start) + 1
    return Fix(title, Applicability.UNSAFE,
               [FileEdit(str(path), [TextEdit(pos, pos, text)], hashlib.sha256(data).hexdigest())], check=check)


def replace_fix(path: Path, old: str, new: str, title: str, check: str = "container.capabilities") -> Fix:
    data = path.read_bytes()
    src = data.decode()
    pos = src.index(old)
    return Fix(title, Applicability.UNSAFE,
               [FileEdit(str(path), [TextEdit(pos, pos + len(old), new)], hashlib.sha256(data).hexdigest())],
               check=check)


def leftovers(api: Any, projects: set[str] | None = None) -> list[str]:
    """Containers, networks, volumes and images a verification of this test left (every run
    tagged with this test's LOCKDOCK_VERIFY_TAG, or only `projects`); other runs on the same
    engine (a parallel test session) are not looked at."""
    mine = PREFIX + os.environ.get("LOCKDOCK_VERIFY_TAG", "")

    def ours(labels: dict[str, str] | None) -> bool:
        name = (labels or {}).get(PROJECT, "")
        return name in projects if projects is not None else name.startswith(mine)

    out = [f"container {c['Names']}" for c in api.containers(all=True, filters={"label": PROJECT}) if ours(c.get("Labels"))]
    out += [f"network {n['Name']}" for n in api.networks(filters={"label": PROJECT}) if ours(n.get("Labels"))]
    out += [f"volume {v['Name']}" for v in (api.volumes(filters={"label": PROJECT}) or {}).get("Volumes") or []
            if ours(v.get("Labels"))]
    tag = os.environ.get("LOCKDOCK_VERIFY_TAG", "")
    out += [f"container {c['Names']}" for c in api.containers(all=True, filters={"label": "io.lockdock.verify"})
            if str((c.get("Labels") or {}).get("io.lockdock.verify", "")).startswith(tag)]
    if projects is None:
        out += [f"image {t}" for i in api.images(filters={"reference": mine + "*"}) for t in i.get("RepoTags") or []]
    return out
