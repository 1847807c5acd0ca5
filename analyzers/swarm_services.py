"""Swarm services get the container checks: their task template is a container spec.

`lockdock.sources.swarm` presents a service in the shape of `docker container inspect`;
this analyzer runs every container analyzer on it, so the rules live in one place. The
findings are about the service (its target kind is `swarm-service`); the fix is a
`docker service update` or the stack's compose file, which lockdock does not write.
A service deployed as a stack names its stack in each message.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lockdock import checks, registry
from lockdock.context import ScanContext
from lockdock.model import Finding, TargetKind
from lockdock.text import safe

STACK_LABEL = "com.docker.stack.namespace"
# Every check the checklist marks for containers (Where letter K).
CONTAINER_CHECKS = tuple(c.id for c in checks.CHECKS if "K" in c.where)


@registry.analyzer(TargetKind.SWARM_SERVICE, *CONTAINER_CHECKS)
def swarm_service(subject: Any, ctx: ScanContext) -> Iterator[Finding]:
    stack = subject.labels.get(STACK_LABEL)
    if subject.compose is not None:  # its compose file was scanned: the message names it
        suffix = f" (Swarm stack {safe(stack, 80)!r})"
    elif stack:
        suffix = f" (Swarm stack {safe(stack, 80)!r}: fix it in the stack's compose file)"
    else:
        suffix = " (Swarm service)"
    for a in registry.analyzers_for(TargetKind.CONTAINER):
        try:
            found = list(a.fn(subject, ctx))
        except Exception as exc:  # noqa: BLE001 - one container rule must not stop the others
            ctx.error(None, f"internal error in {a.name} on Swarm service {safe(subject.name, 80)}: "
                      f"{type(exc).__name__}: {safe(exc, 200)}", target=subject.target.key)
            continue
        for f in found:
            f.message += suffix
            yield f
