"""runtime.healthcheck for compose services that build from a local Dockerfile.

The same derivation as for Dockerfiles (fixers/dockerfile_health.py): the image the
service builds installs curl and serves a usual HTTP port, so the check can ask that port
whether it answers. Services that only name an image get no fix: what the image contains is
not known from the files. Changes behaviour.
"""

from __future__ import annotations

import json

from lockdock.compose import views
from lockdock.compose.fixkit import insert_at_path, make_fix
from lockdock.compose.views import build_dockerfile
from lockdock.context import ScanContext
from lockdock.dockerfile import DockerfileError, load
from lockdock.dockerfile.facts import final_chain
from lockdock.files import FileProblem
from lockdock.fixers.dockerfile_health import HTTP_PORTS, exposed_http_port, installs_curl
from lockdock.model import Applicability, Finding, Fix, TargetKind
from lockdock.registry import fixer
from lockdock.sources import ComposeService


def _served_port(subject: ComposeService, insts: list) -> int | None:
    """The Dockerfile's EXPOSEd HTTP port, else a published container port that is one."""
    port = exposed_http_port(insts)
    if port is not None:
        return port
    for p in views.ports(subject.service):
        target = str(p.target).split("/", 1)[0]
        if target.isdigit() and int(target) in HTTP_PORTS:
            return int(target)
    return None


@fixer(
    "runtime.healthcheck",
    TargetKind.COMPOSE_SERVICE,
    title="Add a healthcheck that asks the served HTTP port",
    applicability=Applicability.UNSAFE,
)
def add_healthcheck(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    if subject.service.get("healthcheck") is not None:
        return None  # disabled or tuned on purpose: switching it on is a decision
    path = build_dockerfile(subject)
    if path is None:
        return None
    try:
        df = load(path)
    except (FileProblem, DockerfileError):
        return None
    insts = [inst for st in final_chain(df) for inst in st.instructions]
    if any(inst.cmd == "healthcheck" for inst in insts):
        return None  # HEALTHCHECK NONE in the image: switched off on purpose
    port = _served_port(subject, insts)
    if port is None or not installs_curl(insts):
        return None
    test = ["CMD", "curl", "-s", "-o", "/dev/null", "--max-time", "4", f"http://127.0.0.1:{port}/"]
    block = {
        "healthcheck": {
            "test": "[" + ", ".join(json.dumps(w) for w in test) + "]",
            "interval": "30s",
            "timeout": "5s",
            "retries": "3",
            "start_period": "10s",
        }
    }
    return make_fix(
        subject,
        f"Add a healthcheck that checks the server answers on port {port}",
        Applicability.UNSAFE,
        lambda ed: insert_at_path(ed, subject.service, [], block),
        note="checks only that the port answers HTTP; point it at a health URL of the app if it has one",
    )
