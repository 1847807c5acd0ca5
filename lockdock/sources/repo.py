"""Source: one repository subject per scanned directory, and one per repository that holds
the files named on the command line (its git top level, not each file's folder)."""

from __future__ import annotations

from collections.abc import Iterator

from lockdock.context import ScanContext
from lockdock.discovery import Discovery
from lockdock.registry import source
from lockdock.repo import Repo, build_repo


@source("repository", order=30)
def repositories(discovery: Discovery, ctx: ScanContext) -> Iterator[Repo]:
    seen = set()
    for root in discovery.repo_roots:
        if root in seen or not root.is_dir():
            continue
        seen.add(root)
        yield build_repo(root, discovery, ctx)
