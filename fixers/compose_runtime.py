"""Compose fixes for runtime settings: resource limits, restart policy, log rotation."""

from __future__ import annotations

from lockdock.compose import views
from lockdock.compose.edit import Editor, EditRefused, block_lines, indent_step
from lockdock.compose.fixkit import insert_at_path, make_fix
from lockdock.compose.yamlread import Node
from lockdock.context import ScanContext
from lockdock.model import Applicability, Finding, Fix, TargetKind
from lockdock.payloads.compose import LogRotation, MissingLimits, SwapLimit, service_node
from lockdock.registry import fixer
from lockdock.sources import ComposeService

DEFAULT_MEMORY = '"512M"'
DEFAULT_CPUS = '"1.0"'
DEFAULT_PIDS = "256"


@fixer("container.resource-limits", TargetKind.COMPOSE_SERVICE, title="Add resource limits",
       applicability=Applicability.UNSAFE)
def fix_resource_limits(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    svc = subject.service
    payload = finding.payload
    if isinstance(payload, SwapLimit):
        swap, memory = payload.node, payload.memory
        if swap is None or memory is None or views.text(memory) is None:
            return None
        mem_text = views.text(memory) or ""
        return make_fix(subject, f"Set memswap_limit equal to the memory limit ({mem_text})",
                        Applicability.UNSAFE, lambda ed: ed.replace(swap, f'"{mem_text}"'), touched=swap)
    if not isinstance(payload, MissingLimits):
        return None
    missing = payload.missing
    limits: dict[str, object] = {}
    if "memory" in missing:
        limits["memory"] = DEFAULT_MEMORY
    if "CPU" in missing:
        limits["cpus"] = DEFAULT_CPUS

    def build(ed: Editor) -> None:
        if limits:
            insert_at_path(ed, svc, ["deploy", "resources", "limits"], limits, share=True)
        if "PIDs" in missing:
            # A non-positive limit already written is replaced; otherwise pids_limit is added.
            existing = svc.get("deploy", "resources", "limits", "pids") or svc.get("pids_limit")
            if existing is not None:
                ed.replace(existing, DEFAULT_PIDS)
            else:
                insert_at_path(ed, svc, [], {"pids_limit": DEFAULT_PIDS}, share=True)

    parts = [k for k in ("memory 512M" if "memory" in missing else "", "cpus 1.0" if "CPU" in missing else "",
                         "pids 256" if "PIDs" in missing else "") if k]
    return make_fix(subject, "Add limits: " + ", ".join(parts) + " (size them to the service)",
                    Applicability.UNSAFE, build)


@fixer("runtime.restart-policy", TargetKind.COMPOSE_SERVICE, title="Set restart: unless-stopped",
       applicability=Applicability.SAFE)
def fix_restart_policy(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    node = service_node(finding)
    existing = subject.service.get("restart")
    if node is not None and node is not existing:
        return None  # deploy.restart_policy (swarm): not rewritten

    def build(ed: Editor) -> None:
        if existing is not None:
            ed.replace(existing, "unless-stopped")
        else:
            insert_at_path(ed, subject.service, [], {"restart": "unless-stopped"}, share=True)

    return make_fix(subject, "Set restart: unless-stopped", Applicability.SAFE, build, touched=existing)


ROTATION = {"max-size": '"10m"', "max-file": '"3"'}


@fixer("runtime.log-rotation", TargetKind.COMPOSE_SERVICE, title="Rotate json-file logs",
       applicability=Applicability.SAFE)
def fix_log_rotation(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    payload = finding.payload
    if not isinstance(payload, LogRotation):
        return None
    kind = payload.kind
    svc = subject.service
    logging: Node | None = svc.get("logging")

    def build(ed: Editor) -> None:
        if kind == "missing":
            insert_at_path(ed, svc, [], {"logging": {"driver": "json-file", "options": dict(ROTATION)}}, share=True)
            return
        if kind != "options" or logging is None or logging.kind != "map":
            raise EditRefused("logging is disabled on purpose or has an unknown shape")
        missing = {k: v for k, v in ROTATION.items() if k in payload.missing}
        options = logging.get("options")
        if options is not None and options.kind == "map" and options.value:
            ed.insert_entries(options, [f"{k}: {v}" for k, v in missing.items()])
        elif options is None:
            ed.insert_entries(logging, block_lines({"options": missing}, indent_step(svc.project, logging.file)))
        else:
            raise EditRefused("logging options have a shape we do not edit")

    return make_fix(subject, "Rotate logs: json-file with max-size 10m, max-file 3", Applicability.SAFE,
                    build, touched=logging)
