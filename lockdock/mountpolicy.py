"""What lockdock believes about host paths mounted into a container, in one place.

Compose services, containers (from `docker inspect`) and, later, Swarm services ask the
same questions here, so one mount never gets two verdicts:

- a runtime socket (docker.sock, containerd.sock, ...) is `container.docker-socket`;
- a sensitive host path (CHECKLIST.md, container.sensitive-mounts: `/`, `/etc`, `/root`,
  `/boot`, `/proc`, `/sys`, `/dev`, `/lib/modules`, `/var/lib/docker`, home directories,
  and anything beneath them; CIS Docker Benchmark 5.6, compose-lint CL-0013/CL-0025) is a
  finding whether it is mounted read-only or not: writable keeps the check's severity,
  read-only is one step lower. The system binary folders (`/usr`, `/bin`, `/sbin`, `/lib`)
  and `/var/lib/kubelet` count when mounted whole.

Paths are POSIX host paths as written (`~` and `~/x` stand for the user's home directory).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from lockdock.model import Severity

# Propagation modes that let mounts cross between host and container (mount(8) terms).
SHARED_PROPAGATION = frozenset({"shared", "rshared", "slave", "rslave"})
# tmpfs flags that re-enable what Docker turns off by default (noexec, nosuid).
TMPFS_UNSAFE = frozenset({"exec", "suid"})

SOCKET_NAMES = ("docker.sock", "containerd.sock", "podman.sock", "crio.sock", "cri-dockerd.sock",
                "dockershim.sock", "buildkitd.sock")
# Folders that hold those sockets: mounting the folder hands over the socket.
SOCKET_DIRS = frozenset({"/run", "/var/run", "/run/docker", "/var/run/docker", "/run/containerd",
                         "/var/run/containerd", "/run/podman", "/var/run/podman", "/run/user"})

# Sensitive with everything beneath them (the checklist's list).
SENSITIVE_TREES = ("/etc", "/root", "/boot", "/proc", "/sys", "/dev", "/lib/modules",
                   "/usr/lib/modules", "/var/lib/docker", "/home", "/Users")
# Sensitive only when mounted whole (a subfolder such as /usr/share/fonts is not).
SENSITIVE_WHOLE = ("/", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/var", "/var/lib",
                   "/var/lib/kubelet", "/var/lib/containerd")
# Files under a sensitive tree that are public and harmless to read: not reported when read-only.
PUBLIC_READ_ONLY = ("/etc/localtime", "/etc/timezone", "/usr/share/zoneinfo", "/etc/ssl/certs",
                    "/etc/ca-certificates", "/etc/pki/ca-trust/extracted", "/etc/pki/tls/certs",
                    "/etc/hostname", "/etc/os-release", "/usr/lib/os-release", "/etc/machine-id",
                    "/dev/null", "/dev/urandom", "/dev/random", "/dev/zero")
_HOME_SECRETS = (".ssh", ".docker", ".aws", ".kube", ".gnupg", ".config")


@dataclass(frozen=True)
class MountVerdict:
    """The policy's answer for one mount.

    `kind` is "socket" (container.docker-socket), "sensitive" (container.sensitive-mounts) or
    None (nothing to report); `severity` is None for the check's own severity or a lower one
    for a read-only sensitive mount; `why` names what is sensitive, for messages.
    """

    path: str
    kind: str | None
    writable: bool
    severity: Severity | None = None
    why: str = ""


def host_path(source: str | None) -> str | None:
    """The normalised host path of a bind source (`/a/../b` -> `/b`, `~/x/` -> `~/x`);
    None for a named volume, a relative path or an empty source."""
    if not source:
        return None
    s = source.strip()
    if s.startswith("~"):
        if s in {"~", "~/"}:
            return "~"
        if not s.startswith("~/"):
            return "~"  # ~user: another user's home directory
        return "~" + posixpath.normpath("/" + s[2:])
    if not s.startswith("/"):
        return None
    norm = posixpath.normpath(s)
    return "/" + norm.lstrip("/") if norm.startswith("//") else norm


def is_socket(path: str) -> bool:
    """A container runtime socket, or a folder that holds one."""
    return path.endswith(SOCKET_NAMES) or path in SOCKET_DIRS


def _beneath(path: str, root: str) -> bool:
    return path == root or path.startswith(root + "/")


def sensitive_reason(path: str) -> str | None:
    """Why a normalised host path is sensitive ("the host's /etc", "a home directory"), or None."""
    if path == "~" or path.startswith("~/"):
        return "a home directory"
    if path in SENSITIVE_WHOLE:
        return "the host's root filesystem" if path == "/" else f"the host's {path}"
    if path in ("/home", "/Users"):
        return "the host's home directories"
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] in ("home", "Users") and parts[2]:
        return "a home directory"
    for root in SENSITIVE_TREES:
        if _beneath(path, root):
            return f"the host's {root}" if path == root else f"inside the host's {root}"
    return None


def judge(source: str | None, writable: bool) -> MountVerdict:
    """The verdict for a bind mount of host `source` (as written or as inspected)."""
    path = host_path(source)
    if path is None:
        return MountVerdict(source or "", None, writable)
    if is_socket(path):
        return MountVerdict(path, "socket", writable, None, "the container runtime socket")
    why = sensitive_reason(path)
    if why is None:
        return MountVerdict(path, None, writable)
    if not writable:
        if any(_beneath(path, p) for p in PUBLIC_READ_ONLY):
            return MountVerdict(path, None, writable, None, why)
        return MountVerdict(path, "sensitive", writable, Severity.MEDIUM, why)
    return MountVerdict(path, "sensitive", writable, None, why)


def describe(v: MountVerdict) -> str:
    """`/etc/ssl (inside the host's /etc), read-only`: the words every target kind uses."""
    mode = "writable" if v.writable else "read-only"
    return f"{v.path} ({v.why}), {mode}"
