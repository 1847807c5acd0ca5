"""Swarm services as subjects: a manager's services, checked with the container checks.

A service's task template (`docker service inspect`: `Spec.TaskTemplate.ContainerSpec`,
`Resources`, `RestartPolicy`, `Networks`, `Spec.EndpointSpec.Ports`) is the container
every task runs, so it is translated into the shape of `docker container inspect` and the
container analyzers judge it (the catalogue's Where letter K covers containers and Swarm
services, `lockdock.model.WHERE_KINDS`). Swarm has no privileged services and no host
namespaces; ingress-mode published ports listen on every address of every node.
A service deployed from a compose file (`docker stack deploy`) carries the
`com.docker.stack.namespace` label; its findings name the stack and service.

Only a manager answers `GET /services` (`Swarm.ControlAvailable` in `docker info`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lockdock.context import ScanContext
from lockdock.discovery import Discovery
from lockdock.engine.containers import ComposeLink, ContainerSubject
from lockdock.model import Target, TargetKind
from lockdock.registry import source
from lockdock.text import safe

STACK_LABEL = "com.docker.stack.namespace"
# ScanContext.cache key: compose service name -> compose files (absolute paths) that define
# it, from the files of the same scan (set by `lockdock.fleet`).
STACK_FILES = "swarm:compose-services"
# Swarm restart conditions -> the container restart policy that means the same (a service
# stopped on purpose is scaled to 0, so "any" restarts like unless-stopped).
_RESTART = {"any": "unless-stopped", "on-failure": "on-failure", "none": "no"}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def container_view(service: dict[str, Any]) -> dict[str, Any]:
    """`docker container inspect`-shaped data for the task template of `service`."""
    spec = _dict(service.get("Spec"))
    task = _dict(spec.get("TaskTemplate"))
    cs = _dict(task.get("ContainerSpec"))
    res = _dict(_dict(task.get("Resources")).get("Limits"))
    restart = _dict(task.get("RestartPolicy"))
    privileges = _dict(cs.get("Privileges"))
    security: list[str] = []
    if privileges.get("NoNewPrivileges"):
        security.append("no-new-privileges:true")
    seccomp = _dict(privileges.get("Seccomp"))
    if seccomp.get("Mode") == "unconfined":
        security.append("seccomp=unconfined")
    apparmor = _dict(privileges.get("AppArmor"))
    if apparmor.get("Mode") == "disabled":
        security.append("apparmor=unconfined")
    ports: dict[str, list[dict[str, str]]] = {}
    for raw_port in (_dict(spec.get("EndpointSpec")).get("Ports") or []):
        p = _dict(raw_port)
        if p.get("PublishedPort"):
            key = f"{p.get('TargetPort')}/{p.get('Protocol') or 'tcp'}"
            ports.setdefault(key, []).append({"HostIp": "", "HostPort": str(p.get("PublishedPort"))})
    mounts = []
    for raw_mount in cs.get("Mounts") or []:
        m = _dict(raw_mount)
        mounts.append({"Type": m.get("Type") or "volume", "Source": m.get("Source") or "",
                       "Destination": m.get("Target") or "", "RW": not m.get("ReadOnly"),
                       "Mode": "ro" if m.get("ReadOnly") else "rw",
                       "Propagation": _dict(m.get("BindOptions")).get("Propagation") or ""})
    log = _dict(task.get("LogDriver"))
    networks = {str(_dict(n).get("Target")): {} for n in task.get("Networks") or spec.get("Networks") or []}
    condition = str(restart.get("Condition") or "any")
    return {
        "Id": service.get("ID", ""),
        "Name": spec.get("Name", ""),
        "Image": "",
        "Config": {
            "Image": str(cs.get("Image") or "").split("@", 1)[0],
            "Entrypoint": cs.get("Command"),
            "Cmd": cs.get("Args"),
            "User": cs.get("User") or "",
            "Env": cs.get("Env") or [],
            "Labels": {**_dict(cs.get("Labels")), **_dict(spec.get("Labels"))},
            "Healthcheck": cs.get("Healthcheck"),
        },
        "HostConfig": {
            "Privileged": False,
            "CapAdd": cs.get("CapabilityAdd"),
            "CapDrop": cs.get("CapabilityDrop"),
            "Mounts": [m for m in cs.get("Mounts") or [] if isinstance(m, dict)],  # same shape as the API's
            "ReadonlyRootfs": bool(cs.get("ReadOnly")),
            "Memory": int(res.get("MemoryBytes") or 0),
            "NanoCpus": int(res.get("NanoCPUs") or 0),
            "PidsLimit": int(res.get("Pids") or 0) or None,
            "RestartPolicy": {"Name": _RESTART.get(condition, condition),
                              "MaximumRetryCount": int(restart.get("MaxAttempts") or 0)},
            "PortBindings": ports,
            "SecurityOpt": security,
            "Init": cs.get("Init"),
            "LogConfig": {"Type": log.get("Name") or "", "Config": _dict(log.get("Options"))} if log else {},
            "Sysctls": cs.get("Sysctls"),
            "NetworkMode": "default",
        },
        "Mounts": mounts,
        "NetworkSettings": {"Networks": networks},
        # Not a container: nothing to `docker top` or measure (no usage-sized fixes).
        "State": {"Running": False, "Status": "swarm-service"},
    }


def service_subject(service: dict[str, Any]) -> ContainerSubject:
    """The subject of one service (its task template seen as a container)."""
    view = container_view(service)
    sid = str(view["Id"])
    name = str(view["Name"] or sid[:12])
    labels = {str(k): str(v) for k, v in _dict(_dict(service.get("Spec")).get("Labels")).items()}
    return ContainerSubject(
        target=Target(TargetKind.SWARM_SERVICE, safe(name, 200), None, key=f"swarm-service:{sid}"),
        id=sid, name=name, inspect=view, labels=labels,
    )


@source("swarm", needs_engine=True, order=97)
def swarm_services(discovery: Discovery, ctx: ScanContext) -> Iterator[ContainerSubject]:
    """Every service of a Swarm manager engine; nothing on other engines."""
    if ctx.engine is None:
        return
    swarm = _dict(_dict(ctx.engine.info).get("Swarm"))
    if not swarm.get("ControlAvailable"):
        return
    try:
        services = ctx.engine.api.services()
    except Exception as exc:  # noqa: BLE001 - the manager lost quorum, engine died
        ctx.error(None, f"cannot list Swarm services: {safe(exc, 200)}")
        return
    for svc in services or []:
        if isinstance(svc, dict) and svc.get("ID"):
            subject = service_subject(svc)
            local = ctx.local_image(subject.image_ref)  # the image a task on this node runs
            if isinstance(local, dict) and isinstance(local.get("Id"), str):
                subject.inspect["Image"] = local["Id"]
            subject.compose = stack_link(subject, ctx.cache.get(STACK_FILES) or {})
            yield subject


def stack_link(subject: ContainerSubject, compose_services: dict[str, list[str]]) -> ComposeLink | None:
    """The compose service a stack service was deployed from, when the scan holds its file.

    `docker stack deploy -c FILE NS` names services `NS_SERVICE` and labels them with NS; the
    file itself is not recorded, so the link is made when exactly one scanned compose file
    defines SERVICE (several: the one in a directory named NS), else there is none."""
    stack = subject.labels.get(STACK_LABEL)
    if not stack or not subject.name.startswith(f"{stack}_"):
        return None
    service = subject.name[len(stack) + 1:]
    files = compose_services.get(service) or []
    if len(files) > 1:
        files = [f for f in files if f.rstrip("/").split("/")[-2:-1] == [stack]]
    if len(files) != 1:
        return None
    return ComposeLink(stack, service, files[0].rsplit("/", 1)[0], (files[0],))
