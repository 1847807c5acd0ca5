"""What the compose fixers know about a service before changing its behaviour, and how they
refuse: the facts themselves live in `lockdock.compose.servicefacts` (re-exported here).
A fixer that needs a fact it does not have refuses and says so (`refuse`).
"""

from __future__ import annotations

from lockdock.compose.servicefacts import KNOWN_PORTS, ServiceFacts, repository, service_facts
from lockdock.context import ScanContext
from lockdock.model import Finding
from lockdock.text import safe

__all__ = ["DROP_CAPS", "KNOWN_PORTS", "ServiceFacts", "missing_image", "refuse", "repository", "service_facts"]

# Capabilities an entrypoint needs to start as root, chown/chmod its data and drop to a
# user (docker-library postgres/mysql/redis/mongo entrypoints, nginx and apache masters).
# DAC_OVERRIDE is left out: the checklist counts it as dangerous, and root needs it only
# to enter another user's 0700 directory (said in the fix note).
DROP_CAPS = ("CHOWN", "SETUID", "SETGID", "FOWNER")


def refuse(finding: Finding, why: str, by_hand: str) -> None:
    """Say on the finding why no automatic fix is offered and what to do by hand."""
    text = f"; no automatic fix: {why}; {by_hand}"
    if text not in finding.message:
        finding.message += safe(text, 400)


def missing_image(facts: ServiceFacts, ctx: ScanContext) -> str:
    """Why the image's facts are missing, in words."""
    if facts.image_ref is None:
        return "the service's image is built or not named"
    if ctx.engine is None:
        return "no Docker engine to read the image " + safe(facts.image_ref, 80)
    return f"the image {safe(facts.image_ref, 80)} is not local"
