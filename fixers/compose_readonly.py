"""container.read-only-rootfs for compose services: `read_only: true` only where every path
the service writes stays writable.

The writable paths come from facts, never from guesses: the image's declared VOLUMEs and
the service's volumes stay writable; paths its start command or entrypoint script writes
(redirections, mkdir, touch, chown; `lockdock.startfacts`) and the known run-time paths of
common official images (`KNOWN_WRITES`) get a tmpfs. Without the image's facts (no engine,
image not local or built by compose), with a supervisor (s6-overlay, supervisord) or when a
written path lies in a directory the image ships content in, no fix is offered and the
finding says why (CIS Docker 5.12).
"""

from __future__ import annotations

import posixpath

from lockdock.compose import views
from lockdock.compose.edit import Editor, EditRefused
from lockdock.compose.fixkit import insert_at_path, make_fix
from lockdock.compose.project import Service
from lockdock.context import ScanContext
from lockdock.fixers.servicefacts import missing_image, refuse, service_facts
from lockdock.imagepolicy import split_reference
from lockdock.model import Applicability, Finding, Fix, TargetKind
from lockdock.payloads.compose import service_node
from lockdock.registry import fixer
from lockdock.sources import ComposeService

# Official images whose run-time writes are known from their Dockerfiles and entrypoints
# (docker-library): paths written outside their declared VOLUMEs, by repository. Used
# as the facts when the image is not local (then the fix title says so).
KNOWN_WRITES: dict[str, tuple[str, ...]] = {
    "nginx": ("/var/cache/nginx", "/run"),  # proxy/client temp dirs; nginx.pid (/var/run -> /run)
    "redis": (),  # writes only its VOLUME /data
    "postgres": ("/var/run/postgresql",),  # socket and lock; data is the VOLUME
    "mysql": ("/var/run/mysqld",),
    "mariadb": ("/run/mysqld",),
    "httpd": ("/usr/local/apache2/logs",),  # httpd.pid
}
# Directories whose content an image only ever creates at run time: a tmpfs there hides
# nothing the app needs.
RUNTIME_DIRS = ("/tmp", "/var/tmp", "/run", "/var/run", "/var/log", "/var/cache", "/var/lock")
BY_HAND = "set read_only: true yourself with a tmpfs or volume for every path the service writes"


def _under(path: str, dirs: list[str] | tuple[str, ...]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs)


def _repo(ref: str | None) -> str:
    if not ref:
        return ""
    parts = split_reference(ref)
    return parts[1].rsplit("/", 1)[-1] if parts else ""


def writable_plan(svc: Service, ctx: ScanContext) -> tuple[list[str], str | None]:
    """(tmpfs paths to add, why no fix; "offline" when known from `KNOWN_WRITES` only)."""
    facts = service_facts(svc, ctx)
    image = facts.image
    repo = _repo(facts.image_ref)
    known = KNOWN_WRITES.get(repo)
    if image is None and (known is None or views.builds(svc)):
        return [], missing_image(facts, ctx) + ", so the paths it writes are not known"
    if image is not None and image.supervisors:
        return [], f"the image runs a supervisor ({', '.join(image.supervisors)}) that writes where its services say"
    if image is not None and any("not found" not in p for p in image.problems):
        return [], "the image's layers could not be read"
    kept = list(image.volumes) if image else []
    kept += [m.target for m in views.mounts(svc) if m.target and m.type != "tmpfs"]
    tmpfs_node = svc.get("tmpfs")
    have_tmpfs = [t.split(":", 1)[0].rstrip("/") or "/" for t, _ in views.string_list(tmpfs_node)]
    if tmpfs_node is not None and tmpfs_node.kind == "scalar":
        have_tmpfs.append((views.text(tmpfs_node) or "").split(":", 1)[0])
    have_tmpfs += [m.target for m in views.mounts(svc) if m.type == "tmpfs" and m.target]
    wanted = ["/tmp"]
    for written in [*facts.start.writes, *(known or ())]:
        path = posixpath.normpath(written)
        if _under(path, kept) or _under(path, have_tmpfs):
            continue
        is_dir = path in (known or ()) or (image is not None and image.owner(path) is not None)
        directory = path if is_dir else posixpath.dirname(path)
        if directory in ("/", ""):
            return [], f"it writes {path} at the top of the filesystem"
        if not _under(directory, [*RUNTIME_DIRS, *(known or ())]) and (image is None or image.owner(directory) is not None):
            return [], f"it writes in {directory}, a directory the image may ship content in"
        wanted.append(directory)
    out: list[str] = []
    for d in sorted(dict.fromkeys(wanted), key=len):
        if not _under(d, out) and not _under(d, have_tmpfs):
            out.append(d)
    return out, None if image is not None else "offline"


@fixer("container.read-only-rootfs", TargetKind.COMPOSE_SERVICE,
       title="Set read_only: true with a tmpfs for every path the service writes",
       applicability=Applicability.UNSAFE)
def fix_read_only_rootfs(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    svc = subject.service
    node = service_node(finding)
    tmpfs = svc.get("tmpfs")
    paths, why = writable_plan(svc, ctx)
    offline = why == "offline"
    if why is not None and not offline:
        refuse(finding, why, BY_HAND)
        return None
    if tmpfs is not None and tmpfs.kind != "seq" and paths:
        refuse(finding, "its tmpfs key has a shape lockdock does not edit", BY_HAND)
        return None

    def data_for(other: Service) -> dict[str, object] | None:
        other_paths, other_why = writable_plan(other, ctx)
        if other_why not in (None, "offline") or other.get("tmpfs") is not None:
            return None
        return {"read_only": "true", "tmpfs": list(other_paths)}

    def build(ed: Editor) -> None:
        if node is None and tmpfs is None:
            insert_at_path(ed, svc, [], {"read_only": "true", "tmpfs": list(paths)}, share=data_for)
            return
        if node is not None:
            ed.replace(node, "true")
        else:
            insert_at_path(ed, svc, [], {"read_only": "true"})
        if not paths:
            return
        if tmpfs is None:
            insert_at_path(ed, svc, [], {"tmpfs": list(paths)})
        elif tmpfs.kind == "seq":
            ed.append_items(tmpfs, list(paths))
        else:
            raise EditRefused("tmpfs has a shape we do not edit")

    title = "Set read_only: true" + (f" with a tmpfs on {', '.join(paths)}" if paths else "")
    if offline:
        title += f" (the official {_repo(service_facts(subject, ctx).image_ref)} image's known paths; not checked offline)"
    return make_fix(subject, title, Applicability.UNSAFE, build, touched=node,
                    note="declared volumes stay writable; paths the image's start writes get a tmpfs")
