"""Source: one repository subject per scanned directory."""

from __future__ import annotations

from collections.abc import Iterator

from lockdock.context import ScanContext
from lockdock.discovery import Discovery
from lockdock.registry import source
from lockdock.repo import Repo, build_repo


@source("repository", order=30)
def repositories(discovery: Discovery, ctx: ScanContext) -> Iterator[Repo]:
    seen = set()
    for root in discovery.roots:
        if root in seen or not root.is_dir():
            continue
        seen.add(root)
        yield build_repo(root, discovery, ctx)
