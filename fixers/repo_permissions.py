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
from lockdock.fixers.servicefacts import refuse, service_facts
from lockdock.model import Applicability, Finding, Fix, ModeChange, TargetKind
from lockdock.payloads.repo import SecretFileMode
from lockdock.registry import fixer
from lockdock.sources import Repo
from lockdock.text import safe


def non_root_readers(path: str, repo: Repo, ctx: ScanContext) -> list[str]:
    """Services of the repository's compose files that mount `path` as a secret and are not
    known to read it as root (names, sanitised)."""
    from lockdock.compose import views
    from lockdock.compose.project import load_projects

    files = [Path(p) for p in getattr(repo, "compose_files", []) or []]
    if not files:
        return []
    quiet = ScanContext(cwd=ctx.cwd, use_engine=ctx.use_engine, engine=ctx.engine, cache=ctx.cache)
    out: list[str] = []
    target = os.path.realpath(path)
    for project in load_projects(files, quiet):
        names = {s.name for s in views.secret_files(project) if os.path.realpath(s.path) == target}
        if not names:
            continue
        for svc in project.services.values():
            if not names & {r.source for r in views.secret_refs(svc)}:
                continue
            facts = service_facts(svc, quiet)
            if facts.runs_as_root is not True or facts.drops_privileges:
                out.append(safe(svc.name, 60))
    return out


@fixer("secrets.file-permissions", TargetKind.REPO, title="chmod 600 the secret file", applicability=Applicability.SAFE)
def owner_only(finding: Finding, subject: Repo, ctx: ScanContext) -> Fix | None:
    if not isinstance(finding.payload, SecretFileMode) or not finding.payload.mode & 0o077:
        return None
    path, mode = finding.payload.path, finding.payload.mode
    readers = non_root_readers(path, subject, ctx)
    if readers:
        refuse(finding, f"services {', '.join(readers)} read it through compose's bind mount as a user that is "
               "not root, and chmod 600 would lock them out",
               f"protect its directory instead: chmod 700 {safe(os.path.dirname(path), 200)}")
        return None
    name = os.path.basename(path)
    return Fix(f"chmod 600 {name}", Applicability.SAFE, [ModeChange(path, mode, 0o600)])
