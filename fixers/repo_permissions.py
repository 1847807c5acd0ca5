"""Repository fix: secret files readable by group or others become owner-only (0600).

Not for a compose file secret that a container reads as a user other than root: without
swarm compose bind-mounts the file with its host owner and mode, so `chmod 600` would make
it unreadable there (a restart loop). Then the finding says to protect the directory
instead (`chmod 700` on it keeps the file readable through the bind mount).
"""

from __future__ import annotations

import os
from pathlib import Path

from lockdock.context import ScanContext
from lockdock.model import Applicability, Finding, Fix, ModeChange, TargetKind
from lockdock.payloads.repo import SecretFileMode
from lockdock.registry import fixer
from lockdock.sources import Repo
from lockdock.text import safe


def non_root_readers(path: str, repo: Repo, ctx: ScanContext) -> list[str]:
    """Services of the repository's compose files that mount `path` as a secret and are not
    known to read it as root (names, sanitised)."""
    return _secret_readers(repo, ctx).get(os.path.realpath(path), [])


def _secret_readers(repo: Repo, ctx: ScanContext) -> dict[str, list[str]]:
    """Real path of every compose secret file of the repository -> its non-root readers.

    Built once per scan and repository (a repository with many secret-looking files asks for
    each of them), from the projects the scan already loaded, or as a split compose scan
    gathered them (`lockdock.compose.secretreaders.GATHERED`)."""
    from lockdock.compose.project import projects_key, projects_of
    from lockdock.compose.secretreaders import GATHERED, secret_readers

    key = f"secret-readers:{id(repo)}"
    cached = ctx.cache.get(key)
    if cached is not None and cached[0] is repo:  # the id of a freed repository may be reused
        return cached[1]
    files = [Path(p) for p in getattr(repo, "compose_files", []) or []]
    gathered = ctx.cache.get(GATHERED)
    if files and gathered is not None and gathered[0] == projects_key(files):
        found = gathered[1]
    else:
        found = secret_readers(projects_of(files, ctx) if files else [], ctx)
    ctx.cache[key] = (repo, found)  # stored only when complete (a failure leaves no half answer)
    return found


@fixer("secrets.file-permissions", TargetKind.REPO, title="chmod 600 the secret file", applicability=Applicability.SAFE)
def owner_only(finding: Finding, subject: Repo, ctx: ScanContext) -> Fix | None:
    if not isinstance(finding.payload, SecretFileMode) or not finding.payload.mode & 0o077:
        return None
    path, mode = finding.payload.path, finding.payload.mode
    readers = non_root_readers(path, subject, ctx)
    if readers:
        from lockdock.fixers.servicefacts import refuse  # compose code: only with compose readers

        refuse(finding, f"services {', '.join(readers)} read it through compose's bind mount as a user that is "
               "not root, and chmod 600 would lock them out",
               f"protect its directory instead: chmod 700 {safe(os.path.dirname(path), 200)}")
        return None
    name = os.path.basename(path)
    return Fix(f"chmod 600 {name}", Applicability.SAFE, [ModeChange(path, mode, 0o600)])
