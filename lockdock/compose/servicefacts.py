"""What lockdock knows about a compose service before a fix changes its behaviour.

Combines the service's own keys (`user:`, `entrypoint:`, `command:`, ports, volumes) with
the facts of its local image (`lockdock.engine.imagefacts`), when the engine has it.
`image` is None when there is no engine, the image is not local, or compose builds it.
Read by the compose fixers (`lockdock.fixers.servicefacts` adds how they refuse) and by
the repository facts a split compose scan gathers (`lockdock.compose.secretreaders`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lockdock.compose import views
from lockdock.compose.project import Service
from lockdock.compose.yamlread import Node
from lockdock.context import ScanContext
from lockdock.imagepolicy import split_reference
from lockdock.sources import ComposeService
from lockdock.startfacts import StartFacts, service_start

if TYPE_CHECKING:
    from lockdock.engine.imagefacts import ImageFacts

# Ports the official images serve (their EXPOSE), by repository: the served ports when
# the image is not local.
KNOWN_PORTS: dict[str, tuple[int, ...]] = {
    "nginx": (80,), "httpd": (80,), "postgres": (5432,), "mysql": (3306,), "mariadb": (3306,),
    "redis": (6379,), "mongo": (27017,), "memcached": (11211,), "rabbitmq": (5672,),
}


def repository(ref: str | None) -> str:
    """The last path component of an image reference's repository ("" when unparsable)."""
    parts = split_reference(ref) if ref else None
    return parts[1].rsplit("/", 1)[-1] if parts else ""


def _value(node: Node | None) -> object:
    if node is None:
        return None
    if node.kind == "seq":
        return [views.text(i) or "" for i in node.value]
    return views.text(node)


@dataclass
class ServiceFacts:
    image: ImageFacts | None
    start: StartFacts
    user: str | None  # the user the container starts as ("" root); None: unknown
    image_ref: str | None

    @property
    def runs_as_root(self) -> bool | None:
        """True/False when known; None when neither compose nor the image says."""
        if self.user is None:
            return None
        who = self.user.strip().split(":", 1)[0]
        if who in ("", "root", "0"):
            return True
        if who.isdigit():
            return False
        ids = self.image.uid_gid(self.user) if self.image is not None else None
        return None if ids is None else ids[0] == 0

    @property
    def drops_privileges(self) -> bool:
        """Starts as root and switches user (its command, its entrypoint or a supervisor)."""
        supervised = bool(self.image and self.image.supervisors)
        return self.runs_as_root is not False and (self.start.drops_privileges or supervised)

    def served_ports(self) -> list[int]:
        """Container ports the service serves: image EXPOSE, compose ports/expose, -p flags."""
        ports = list(self.image.exposed) if self.image else list(KNOWN_PORTS.get(repository(self.image_ref), ()))
        ports += self.start.ports
        return sorted(set(ports))


def service_facts(subject: ComposeService | Service, ctx: ScanContext) -> ServiceFacts:
    """Facts for one compose service (cached on the context per service)."""
    svc = subject.service if isinstance(subject, ComposeService) else subject
    key = f"service-facts:{id(svc)}"
    cached = ctx.cache.get(key)
    if cached is not None and cached[0] is svc:  # the id of a freed service may be reused
        return cached[1]
    img = views.image_node(svc)
    ref = str(img.value) if img is not None and "$" not in str(img.value) else None
    facts = None
    if ref and ctx.engine is not None:
        # Imported here: a file-only scan loads this fixer module but never needs the engine.
        from lockdock.engine.imagefacts import image_facts

        facts = image_facts(ref, ctx)
    start = service_start(facts, _value(svc.get("entrypoint")), _value(svc.get("command")))
    user_node = svc.get("user")
    if user_node is not None:
        user: str | None = views.text(user_node) or ""
    elif facts is not None:
        user = facts.user
    else:
        user = None
    out = ServiceFacts(facts, start, user, ref)
    ctx.cache[key] = (svc, out)
    return out
