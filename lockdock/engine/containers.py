"""Containers as subjects: listed once, inspected in parallel, linked to their compose service.

`api.containers(all=True)` is one call whatever the host size. On a local unix socket
(`rawapi.LocalAPI`) the inspects are pipelined on a few keep-alive connections without
threads (`LocalAPI.get_many`; the SDK's per-request overhead is four times the engine's own
work); elsewhere through the SDK in a small thread pool. A container removed between the
list and its inspect is skipped quietly.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lockdock.engine.rawapi import EngineNotFound, LocalAPI, _quote
from lockdock.model import Finding, Location, Target, TargetKind
from lockdock.text import safe

if TYPE_CHECKING:
    from lockdock.context import ScanContext

INSPECT_WORKERS = 8  # SDK path (tcp, ssh): parallel requests
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_DIR = "com.docker.compose.project.working_dir"
COMPOSE_FILES = "com.docker.compose.project.config_files"


@dataclass(frozen=True)
class ComposeLink:
    """The compose service a container was created from (from its labels)."""

    project: str
    service: str
    working_dir: str
    config_files: tuple[str, ...]

    def describe(self) -> str:
        where = f" in {safe(self.config_files[0], 200)}" if self.config_files else ""
        return f"compose service {safe(self.service, 80)!r}{where}"


_NOWHERE = Location()  # frozen: one for every finding of a container outside compose


@dataclass
class ContainerSubject:
    target: Target
    id: str
    name: str
    inspect: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict)
    compose: ComposeLink | None = None

    @property
    def config(self) -> dict[str, Any]:
        c = self.inspect.get("Config")
        return c if isinstance(c, dict) else {}

    @property
    def host_config(self) -> dict[str, Any]:
        c = self.inspect.get("HostConfig")
        return c if isinstance(c, dict) else {}

    @property
    def state(self) -> dict[str, Any]:
        s = self.inspect.get("State")
        return s if isinstance(s, dict) else {}

    @property
    def running(self) -> bool:
        return bool(self.state.get("Running"))

    @property
    def image_ref(self) -> str:
        return str(self.config.get("Image") or "")

    @property
    def image_id(self) -> str:
        return str(self.inspect.get("Image") or "")

    def location(self, ctx: ScanContext) -> Location:
        """A compose container's findings point at its compose file (where the fix goes)."""
        if self.compose and self.compose.config_files:
            return Location(path=ctx.rel(self.compose.config_files[0]))
        return _NOWHERE

    def finding(self, ctx: ScanContext, check: str, message: str, **kw: Any) -> Finding:
        """A finding on this container; the message names its compose service, if any."""
        return Finding(check, self.target, message + self.suffix(), self.location(ctx), **kw)

    def suffix(self) -> str:
        """Appended to messages so a finding names the compose service that will fix it."""
        return f" (fix it in {self.compose.describe()})" if self.compose else ""


def compose_link(labels: dict[str, str]) -> ComposeLink | None:
    if COMPOSE_SERVICE not in labels:
        return None
    files = tuple(f.strip() for f in labels.get(COMPOSE_FILES, "").split(",") if f.strip())
    return ComposeLink(labels.get(COMPOSE_PROJECT, ""), labels[COMPOSE_SERVICE], labels.get(COMPOSE_DIR, ""), files)


def make_subject(inspect: dict[str, Any]) -> ContainerSubject:
    cid = str(inspect.get("Id", ""))
    name = str(inspect.get("Name") or cid[:12]).lstrip("/")
    config = inspect.get("Config") if isinstance(inspect.get("Config"), dict) else {}
    raw_labels = config.get("Labels") if isinstance(config.get("Labels"), dict) else {}
    labels = {str(k): str(v) for k, v in (raw_labels or {}).items()}
    return ContainerSubject(
        target=Target(TargetKind.CONTAINER, safe(name, 200), None, key=f"container:{cid}"),
        id=cid,
        name=name,
        inspect=inspect,
        labels=labels,
        compose=compose_link(labels),
    )


def _not_found(exc: BaseException) -> bool:
    """HTTP 404 from either client (`rawapi.EngineNotFound`, the SDK's `NotFound`)."""
    return isinstance(exc, EngineNotFound) or getattr(exc, "status_code", None) == 404


def _inspect(api: Any, cid: str, ctx: ScanContext) -> dict[str, Any] | None:
    try:
        data = api.inspect_container(cid)
    except Exception as exc:  # noqa: BLE001 - HTTP 500, garbage, timeout: this container only
        data = exc
    return _inspected(cid, data, ctx)


def _inspected(cid: str, data: Any, ctx: ScanContext) -> dict[str, Any] | None:
    """An inspect's answer (the decoded reply, or the exception it raised) as `_inspect`
    returns it: None, with the error said in `ctx`, when it is not a container's data."""
    if isinstance(data, Exception):
        if _not_found(data):
            return None  # removed since the list: nothing to report
        ctx.error(None, f"container {safe(cid[:12], 20)} could not be inspected: {safe(data, 200)}")
        return None
    if not isinstance(data, dict):
        ctx.error(None, f"container {safe(cid[:12], 20)} could not be inspected: the engine sent an unexpected reply")
        return None
    return data


def _inspect_all(api: Any, ids: list[str], ctx: ScanContext) -> list[dict[str, Any] | None]:
    """Inspect `ids` in list order, a few requests in flight (see the module docstring)."""
    return list(_inspect_stream(api, ids, ctx))


def _inspect_stream(api: Any, ids: list[str], ctx: ScanContext) -> Iterator[dict[str, Any] | None]:
    """Start inspecting `ids` now, a few requests in flight; the replies (None: not
    inspected) come in list order, each as soon as it and those before it are in."""
    if isinstance(api, LocalAPI) and len(ids) >= 2:
        # Pipelined on a few connections, no threads (`LocalAPI.get_many`): the engine answers
        # the next requests while this process analyses a container.
        paths = [f"/containers/{_quote(cid)}/json" for cid in ids]
        return (_inspected(cid, got, ctx) for cid, got in zip(ids, api.get_many(paths), strict=True))
    if len(ids) < 2:
        return iter([_inspect(api, cid, ctx) for cid in ids])
    pool = ThreadPoolExecutor(max_workers=min(INSPECT_WORKERS, len(ids)), thread_name_prefix="lockdock-inspect")
    try:
        return pool.map(lambda cid: _inspect(api, cid, ctx), ids)  # every request submitted here
    finally:
        pool.shutdown(wait=False)  # the submitted requests still run; the threads end after them


def iter_containers(ctx: ScanContext) -> list[ContainerSubject]:
    """Every container (running or not), inspected in parallel, in list order.

    With `[scan] container-labels` in the config, only the containers that carry all of
    those labels (the engine's `label` filter: "key" or "key=value")."""
    return list(stream_containers(ctx))


def wanted_image_ids(ctx: ScanContext) -> set[str]:
    """The ids of the `--image` references that are local images (inspects cached in `ctx`)."""
    return {str(d.get("Id")) for d in (ctx.local_image(r) for r in ctx.images) if d}


def list_container_ids(ctx: ScanContext) -> list[str]:
    """The ids of every container (running or not), in the engine's list order; with
    `[scan] container-labels`, only those carrying all of them. Empty without an engine or
    when the engine refuses the list (said in `ctx` as an error)."""
    if ctx.engine is None:
        return []
    api = ctx.engine.api
    labels = ctx.config.container_labels
    try:
        listed = api.containers(all=True, filters={"label": labels}) if labels else api.containers(all=True)
    except Exception as exc:  # noqa: BLE001 - engine refused or died mid-scan
        ctx.error(None, f"cannot list containers: {safe(exc, 200)}")
        return []
    if ctx.images:
        # `--image REF`: only the containers that run those images are inspected (the list's
        # `ImageID`; an entry without one is inspected, and the source checks the inspect).
        wanted = wanted_image_ids(ctx)
        listed = [c for c in listed if not isinstance(c, dict) or not c.get("ImageID") or c.get("ImageID") in wanted]
    return [str(c.get("Id")) for c in listed if isinstance(c, dict) and c.get("Id")]


def stream_containers(ctx: ScanContext, ids: list[str] | None = None) -> Iterator[ContainerSubject]:
    """`iter_containers` as the replies come: lists the containers (unless `ids`, from
    `list_container_ids`, says which) and starts inspecting them before returning; the
    iterator yields each subject in list order as soon as it is inspected, so a scan
    analyses the first containers while the engine answers for the next ones
    (`lockdock.sources.engine.prefetch`)."""
    if ctx.engine is None:
        return iter(())
    if ids is None:
        ids = list_container_ids(ctx)
    return (make_subject(data) for data in _inspect_stream(ctx.engine.api, ids, ctx) if data is not None)
