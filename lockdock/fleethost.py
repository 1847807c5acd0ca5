"""The host subject of one engine in a fleet scan: where its daemon settings come from.

A fleet scan never judges a remote engine by this machine's files. Per engine, the daemon
settings come from one of (the `HostFacts.source` string says which, in every report):

- `files`: a local `unix://` socket served by a dockerd running on this machine (found in
  /proc by its `-H`/`--host` flag): its daemon.json (`--config-file` or
  /etc/docker/daemon.json) and its command line, like a single-engine scan;
- `ssh`: an `ssh://` engine with `--remote-host-files`: daemon.json and the dockerd command
  line read by the system `ssh` client with the same destination (so the same
  `~/.ssh/config`, agent and ControlMaster) as the engine connection;
- `info`: `docker info` only (tcp://, ssh:// without `--remote-host-files`, a socket whose
  daemon is not visible here): settings that only daemon.json or auditd show are not
  judged, and that is said.
- `podman`: Podman's Docker-compatible API. Podman has no daemon and no daemon.json; the
  dockerd-only checks do not apply and are listed as such (CIS Docker Benchmark section 2
  is about dockerd).
"""

from __future__ import annotations

import base64
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lockdock.engine import daemonjson
from lockdock.engine.host import (
    DEFAULT_DAEMON_JSON,
    AuditRules,
    HostSubject,
    dockerd_processes,
    parse_flags,
    read_audit,
    read_docker_config,
)
from lockdock.model import Target, TargetKind
from lockdock.text import safe

if TYPE_CHECKING:
    from lockdock.context import ScanContext
    from lockdock.engine.contexts import Endpoint

# Checks that read host files (auditd rules) and cannot be judged from `docker info`.
NEEDS_HOST_FILES = frozenset({"runtime.audit-logging"})
# Checks about dockerd itself: they do not apply to Podman (no daemon, no daemon.json).
DOCKERD_ONLY = frozenset({
    "container.userns-remap", "network.daemon-tls", "network.icc", "network.daemon-iptables",
    "runtime.live-restore", "runtime.daemon-log-level", "runtime.authorization-plugin",
    "container.cgroup-parent", "runtime.audit-logging",
    # daemon-wide defaults of dockerd; Podman keeps its own in containers.conf (not read)
    "container.no-new-privileges", "runtime.log-rotation", "container.security-profiles",
})
# Prints the dockerd command line and daemon.json, each base64 on one line (no parsing of
# untrusted text on the remote side; a missing file prints MISSING).
_REMOTE_SCRIPT = (
    "pid=$(pidof dockerd 2>/dev/null | cut -d' ' -f1); cfg=/etc/docker/daemon.json; "
    "if [ -n \"$pid\" ]; then base64 -w0 /proc/$pid/cmdline; "
    "c=$(tr '\\0' '\\n' </proc/$pid/cmdline | sed -n 's/^--config-file=//p' | tail -n1); "
    "[ -n \"$c\" ] && cfg=$c; fi; echo; echo \"$cfg\"; "
    "if [ -e \"$cfg\" ]; then base64 -w0 \"$cfg\" || echo UNREADABLE; else echo MISSING; fi; echo"
)
REMOTE_LIMIT = 4 * 1024 * 1024  # bytes of remote output read at most


@dataclass
class HostFacts:
    """Where one engine's daemon settings came from, and the checks that cannot be judged."""

    source: str  # "files", "ssh", "info", "podman"; only "files" hosts get fixes (local files)
    note: str  # one sentence for reports
    skip_checks: frozenset[str] = field(default_factory=frozenset)
    rootless: bool = False


def is_podman(version: dict[str, object] | None) -> bool:
    """True when `/version` names a Podman engine (its Components list says so)."""
    comps = (version or {}).get("Components")
    return any("podman" in str((c or {}).get("Name", "")).lower() for c in comps or [] if isinstance(c, dict))



def local_dockerd_args(socket_path: str, proc: Path = Path("/proc")) -> list[str] | None:
    """The command line of the dockerd on this machine serving `socket_path`, or None.

    Matched by its `-H`/`--host` values; a dockerd without one (or with `fd://`, systemd
    socket activation) serves /var/run/docker.sock."""
    want = os.path.realpath(socket_path)
    default = os.path.realpath("/var/run/docker.sock")
    for args in dockerd_processes(proc):
        hosts = parse_flags(args).get("H", []) + parse_flags(args).get("host", [])
        paths = [os.path.realpath(h[len("unix://"):]) for h in hosts if h.startswith("unix://")]
        if want in paths:
            return args
        if want == default and (not hosts or any(h.startswith("fd://") for h in hosts)):
            return args
    return None


def read_remote(endpoint: Endpoint, timeout: float) -> tuple[list[str] | None, str, str | None, str | None]:
    """(dockerd args, daemon.json path, daemon.json text or None, problem) over `ssh`.

    Raises nothing: a failure is the `problem` string."""
    dest, port = endpoint.ssh_destination()
    cmd = ["ssh", "-o", "BatchMode=yes"] + (["-p", port] if port else []) + ["--", dest, _REMOTE_SCRIPT]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(DEFAULT_DAEMON_JSON), None, f"ssh failed: {safe(exc, 200)}"
    if done.returncode != 0:
        err = done.stderr[:300].decode("utf-8", "replace").strip()
        return None, str(DEFAULT_DAEMON_JSON), None, f"ssh exited {done.returncode}: {safe(err, 200)}"
    return parse_remote_reply(done.stdout)


def parse_remote_reply(raw: bytes) -> tuple[list[str] | None, str, str | None, str | None]:
    """Decode `_REMOTE_SCRIPT`'s output: (dockerd args, daemon.json path, its text, problem).

    Untrusted bytes: anything but the expected base64 lines is a problem, never an error."""
    lines = raw[:REMOTE_LIMIT].decode("ascii", "replace").split("\n")
    lines += [""] * (3 - len(lines))
    try:
        raw_args = base64.b64decode(lines[0], validate=True) if lines[0] else b""
        args = [p.decode("utf-8", "replace") for p in raw_args.split(b"\0") if p][1:] if raw_args else None
        path = lines[1].strip() or str(DEFAULT_DAEMON_JSON)
        if lines[2].strip() in ("MISSING", ""):
            return args, path, None, None
        if lines[2].strip() == "UNREADABLE":
            return args, path, None, f"{safe(path, 200)} is not readable by the ssh user"
        text = base64.b64decode(lines[2].strip(), validate=True).decode("utf-8", "replace")
    except ValueError:
        return None, str(DEFAULT_DAEMON_JSON), None, "the remote host sent an unexpected reply"
    return args, path, text, None


def engine_host(endpoint: Endpoint, ctx: ScanContext, *, remote_files: bool, podman: bool) -> tuple[HostSubject, HostFacts]:
    """The host subject of `endpoint` (connected as `ctx.engine`) and where its facts came from."""
    assert ctx.engine is not None
    info = ctx.engine.info if isinstance(ctx.engine.info, dict) else None
    shown = endpoint.name
    daemon_path = DEFAULT_DAEMON_JSON
    text: str | None = None
    args: list[str] | None = None
    audit = AuditRules()
    if podman:
        opts = " ".join(str(o) for o in (info or {}).get("SecurityOptions") or [])
        rootless = "rootless" in opts or bool(((info or {}).get("host") or {}).get("security", {}).get("rootless"))
        facts = HostFacts("podman", f"Podman engine{' (rootless)' if rootless else ''}: no dockerd and no "
                          "daemon.json; dockerd settings do not apply", DOCKERD_ONLY, rootless)
    elif endpoint.socket_path and (args := local_dockerd_args(endpoint.socket_path)) is not None:
        cfg = parse_flags(args).get("config-file")
        daemon_path = Path(cfg[-1]) if cfg else DEFAULT_DAEMON_JSON
        audit = read_audit()
        facts = HostFacts("files", f"daemon.json ({daemon_path}) and the dockerd command line read on this machine")
    elif endpoint.is_ssh and remote_files:
        args, path, text, problem = read_remote(endpoint, max(5.0, min(30.0, ctx.remaining())))
        daemon_path = Path(path)
        if problem:
            ctx.warn(None, f"engine {safe(shown, 120)}: host files not read ({problem}); settings from docker info only")
            args, text = None, None
            facts = HostFacts("info", "docker info only (reading host files over ssh failed)", NEEDS_HOST_FILES)
        else:
            facts = HostFacts("ssh", f"daemon.json ({safe(path, 200)}) and the dockerd command line read over ssh",
                              NEEDS_HOST_FILES)
    else:
        why = " (pass --remote-host-files to read them over ssh)" if endpoint.is_ssh else ""
        facts = HostFacts("info", f"docker info only: daemon.json, dockerd flags and audit rules not read{why}",
                          NEEDS_HOST_FILES)
    if facts.source == "files":
        daemon = daemonjson.load(daemon_path)
    elif text is not None:
        daemon = daemonjson.parse_text(text, daemon_path)
        daemon.exists = True
    else:
        daemon = daemonjson.DaemonJson(path=daemon_path, exists=False)
    if facts.source == "files":
        display = ctx.rel(daemon_path) or str(daemon_path)
    elif daemon.exists:
        display = f"{shown}:{daemon_path}"
    else:
        display = f"{shown} (docker info)"
    bridge = None
    if not podman:
        try:
            net = ctx.engine.api.inspect_network("bridge")
            opts_ = net.get("Options") if isinstance(net, dict) else None
            bridge = {str(k): str(v) for k, v in (opts_ or {}).items()}
        except Exception:  # noqa: BLE001 - no default bridge
            bridge = None
    env = {k: os.environ[k] for k in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CONTENT_TRUST") if k in os.environ}
    subject = HostSubject(
        target=Target(TargetKind.HOST, safe(shown, 200), display if daemon.exists else None, key=f"host:{endpoint.host}"),
        daemon=daemon,
        daemon_explicit=False,
        info=info,
        bridge_options=bridge,
        dockerd_args=args,
        docker_config=read_docker_config(),
        env=env,
        audit=audit,
        daemon_display=display,
    )
    if daemon.error:
        ctx.error(display, f"daemon.json: {daemon.error}; its settings are not checked")
    return subject, facts
