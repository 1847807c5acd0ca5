"""Which services read each compose secret file as a user other than root.

`chmod 600` on a secret file a container reads as another user breaks that container
(without swarm, compose bind-mounts the file with its host owner and mode), so the
repository fixer of `secrets.file-permissions` asks this first (fixers/repo_permissions.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from lockdock.compose import views
from lockdock.compose.project import Project
from lockdock.compose.servicefacts import service_facts
from lockdock.context import ScanContext
from lockdock.text import safe

# ctx.cache key: (`projects_key` of the compose files, their readers) when a split compose
# scan (lockdock.composesplit) gathered the readers in the two processes that loaded them.
GATHERED = "compose-secret-readers"


def secret_readers(projects: Iterable[Project], ctx: ScanContext) -> dict[str, list[str]]:
    """Real path of every compose secret file of `projects` -> the names (sanitised) of the
    services that mount it as a secret and are not known to read it as root, in project
    and service order. Image facts are read with a quiet copy of `ctx` (nothing reported)."""
    found: dict[str, list[str]] = {}
    quiet = ctx.quiet()
    for project in projects:
        by_path: dict[str, set[str]] = {}
        for s in views.secret_files(project):
            by_path.setdefault(os.path.realpath(s.path), set()).add(s.name)
        for target, names in by_path.items():
            out = found.setdefault(target, [])
            for svc in project.services.values():
                if not names & {r.source for r in views.secret_refs(svc)}:
                    continue
                facts = service_facts(svc, quiet)
                if facts.runs_as_root is not True or facts.drops_privileges:
                    out.append(safe(svc.name, 60))
    return found


def merged(first: dict[str, list[str]], then: dict[str, list[str]]) -> dict[str, list[str]]:
    """The readers of two runs of `secret_readers` over consecutive project lists, as one
    run over both lists gives them."""
    out = {k: list(v) for k, v in first.items()}
    for target, names in then.items():
        out.setdefault(target, []).extend(names)
    return out
