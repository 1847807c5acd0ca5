"""The host as a subject: daemon.json, dockerd's own flags, `docker info`, client config.

A setting can come from daemon.json, from a dockerd command-line flag or (with an engine)
from what the daemon reports. `setting()` answers with the value and where it came from,
so a finding can say "set by the --icc flag" and a fixer can refuse to write a daemon.json
key that is also a flag (dockerd refuses to start when both are given).
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockdock.engine import daemonjson
from lockdock.engine.daemonjson import DaemonJson
from lockdock.files import FileProblem, read_text
from lockdock.model import Location, Target, TargetKind
from lockdock.text import safe

if TYPE_CHECKING:
    from lockdock.context import ScanContext

DEFAULT_DAEMON_JSON = Path("/etc/docker/daemon.json")
# dockerd flags that take no value (`--live-restore`, or `--icc=false` with one).
BOOL_FLAGS = frozenset(
    {"live-restore", "icc", "userland-proxy", "no-new-privileges", "tls", "tlsverify",
     "selinux-enabled", "ip-forward", "iptables", "debug", "experimental", "rootless", "D"}
)
# daemon.json key -> dockerd flag names for the same setting.
KEY_FLAGS: dict[str, tuple[str, ...]] = {
    "live-restore": ("live-restore",),
    "icc": ("icc",),
    "userland-proxy": ("userland-proxy",),
    "no-new-privileges": ("no-new-privileges",),
    "userns-remap": ("userns-remap",),
    "log-driver": ("log-driver",),
    "log-opts": ("log-opt",),
    "insecure-registries": ("insecure-registry",),
    "hosts": ("H", "host"),
    "tlsverify": ("tlsverify",),
    "iptables": ("iptables",),
    "debug": ("D", "debug"),
    "log-level": ("l", "log-level"),
    "authorization-plugins": ("authorization-plugin",),
    "cgroup-parent": ("cgroup-parent",),
    "seccomp-profile": ("seccomp-profile",),
    "registry-mirrors": ("registry-mirror",),
}
# Keys whose dockerd flag may repeat: every value counts, not only the last.
LIST_KEYS = frozenset({"insecure-registries", "hosts", "authorization-plugins", "registry-mirrors"})
AUDIT_TARGETS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("dockerd binary", re.compile(r"/s?bin/dockerd$")),
    ("/var/lib/docker", re.compile(r"^/var/lib/docker/?$")),
    ("/etc/docker", re.compile(r"^/etc/docker/?$")),
    ("docker.service", re.compile(r"docker\.service$")),
    ("docker.sock / docker.socket", re.compile(r"docker\.sock(et)?$")),
    ("containerd", re.compile(r"/s?bin/containerd$|/run/containerd/containerd\.sock$")),
)


@dataclass
class AuditRules:
    files: list[str] = field(default_factory=list)
    watched: list[str] = field(default_factory=list)


@dataclass
class DockerConfig:
    path: Path
    exists: bool = False
    error: str | None = None
    plain_auth: list[str] = field(default_factory=list)  # registries, never the credential
    creds_store: str | None = None


@dataclass
class HostSubject:
    target: Target
    daemon: DaemonJson
    daemon_explicit: bool
    info: dict[str, Any] | None
    bridge_options: dict[str, str] | None
    dockerd_args: list[str] | None  # None: no dockerd process found
    docker_config: DockerConfig
    env: dict[str, str]
    audit: AuditRules
    daemon_display: str = ""  # daemon.json path as reports show it
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def flags(self) -> dict[str, list[str]]:
        return parse_flags(self.dockerd_args or [])

    @property
    def knows_daemon(self) -> bool:
        """True when there is a daemon to judge: an engine, or a daemon.json to read."""
        return self.info is not None or self.daemon.exists or self.daemon_explicit

    def flag_for(self, key: str) -> str | None:
        """The dockerd flag that already sets daemon.json `key`, as typed (e.g. `--icc`)."""
        flags = self.flags
        for name in KEY_FLAGS.get(key, (key,)):
            if name in flags:
                return ("-" if len(name) == 1 else "--") + name
        return None

    def setting(self, key: str) -> tuple[Any, str] | None:
        """(value, where it is set) from daemon.json or a dockerd flag; None when unset."""
        if self.daemon.usable and key in self.daemon.data:
            return self.daemon.data[key], f"{self.daemon_display or self.daemon.path} line {self.daemon.line_of(key)}"
        if self.daemon_explicit:
            return None
        flags = self.flags
        for name in KEY_FLAGS.get(key, (key,)):
            if name in flags:
                values = flags[name]
                shown = ("-" if len(name) == 1 else "--") + name
                if name in BOOL_FLAGS:
                    return values[-1].lower() != "false", f"dockerd flag {shown}"
                if key in ("log-opts",):
                    return dict(v.split("=", 1) for v in values if "=" in v), f"dockerd flag {shown}"
                if key in LIST_KEYS:
                    return values, f"dockerd flag {shown}"
                return values[-1], f"dockerd flag {shown}"
        return None

    def location(self, key: str | None = None) -> Location:
        """Where a daemon setting finding points: the key's line in daemon.json, if any."""
        shown = self.daemon_display or str(self.daemon.path)
        if not self.daemon.exists:
            return Location(path=shown)
        line = self.daemon.line_of(key) if key else None
        return Location(path=shown, line=line)


def parse_flags(args: list[str]) -> dict[str, list[str]]:
    """dockerd's argv (without argv[0]) as flag name -> values (`--a=b`, `--a b`, `-H x`)."""
    out: dict[str, list[str]] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            continue
        name = arg.lstrip("-")
        value: str | None = None
        if "=" in name:
            name, value = name.split("=", 1)
        elif name in BOOL_FLAGS:
            value = "true"
        elif i < len(args) and not args[i].startswith("-"):
            value = args[i]
            i += 1
        else:
            value = "true"
        out.setdefault(name, []).append(value)
    return out


def dockerd_processes(proc: Path = Path("/proc")) -> list[list[str]]:
    """The arguments (after the program) of every running dockerd, read from /proc."""
    out: list[list[str]] = []
    try:
        entries = list(proc.iterdir())
    except OSError:
        return out
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parts = [p.decode("utf-8", "replace") for p in raw.split(b"\0") if p]
        if parts and os.path.basename(parts[0]) == "dockerd":
            out.append(parts[1:])
    return out


def find_dockerd_args(proc: Path = Path("/proc")) -> list[str] | None:
    """The command line of the running dockerd (from /proc), or None."""
    found = dockerd_processes(proc)
    return found[0] if found else None


def read_audit(root: Path = Path("/")) -> AuditRules:
    """Paths watched by auditd rules (`-w PATH`, `-F path=` / `-F dir=`)."""
    rules = AuditRules()
    files = sorted((root / "etc/audit/rules.d").glob("*.rules")) if (root / "etc/audit/rules.d").is_dir() else []
    main = root / "etc/audit/audit.rules"
    if main.is_file():
        files.append(main)
    for f in files:
        try:
            text = read_text(f).text
        except FileProblem:
            continue
        rules.files.append(str(f))
        for raw_line in text.splitlines():
            line = raw_line.split("#", 1)[0].strip()
            for m in re.finditer(r"(?:^|\s)-w\s+(\S+)|-F\s+(?:path|dir)=(\S+)", line):
                rules.watched.append(m.group(1) or m.group(2))
    return rules


def missing_audit(rules: AuditRules) -> list[str]:
    return [name for name, pat in AUDIT_TARGETS if not any(pat.search(w) for w in rules.watched)]


def read_docker_config(path: Path | None = None) -> DockerConfig:
    """~/.docker/config.json: which registries keep a plain `auth` (never the value)."""
    if path is None:
        base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
        path = Path(base) / "config.json"
    cfg = DockerConfig(path=path)
    if not path.exists():
        return cfg
    cfg.exists = True
    try:
        data = json.loads(read_text(path).text)
    except FileProblem as exc:
        cfg.error = str(exc)
        return cfg
    except ValueError as exc:
        cfg.error = f"invalid JSON: {exc}"
        return cfg
    if not isinstance(data, dict):
        cfg.error = "not a JSON object"
        return cfg
    store = data.get("credsStore")
    cfg.creds_store = store if isinstance(store, str) and store else None
    helpers = data.get("credHelpers") if isinstance(data.get("credHelpers"), dict) else {}
    auths = data.get("auths") if isinstance(data.get("auths"), dict) else {}
    for registry, entry in auths.items():
        if not isinstance(entry, dict) or cfg.creds_store or registry in helpers:
            continue
        if _has_credential(entry):
            cfg.plain_auth.append(str(registry))
    return cfg


def _has_credential(entry: dict[str, Any]) -> bool:
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            return b":" in base64.b64decode(auth + "=" * (-len(auth) % 4))
        except ValueError:
            return True
    return any(isinstance(entry.get(k), str) and entry.get(k) for k in ("password", "identitytoken", "registrytoken"))


def collect(
    ctx: ScanContext,
    *,
    audit_root: Path = Path("/"),
    proc: Path = Path("/proc"),
    docker_config: Path | None = None,
) -> HostSubject:
    """Gather the host's settings; an engine adds `docker info` and the bridge options."""
    explicit = ctx.daemon_json is not None
    dockerd_args = None if explicit else find_dockerd_args(proc)
    path = Path(ctx.daemon_json) if explicit else DEFAULT_DAEMON_JSON
    config_file = parse_flags(dockerd_args or []).get("config-file")
    if not explicit and config_file:
        path = Path(config_file[-1])  # dockerd reads its settings from there
    if not path.is_absolute():
        path = Path(ctx.cwd) / path
    daemon = daemonjson.load(path)
    info = None
    bridge = None
    endpoint = "localhost"
    if ctx.engine is not None:
        endpoint = ctx.engine.endpoint
        info = ctx.engine.info if isinstance(ctx.engine.info, dict) else None
        try:
            net = ctx.engine.api.inspect_network("bridge")
            opts = net.get("Options") if isinstance(net, dict) else None
            bridge = {str(k): str(v) for k, v in (opts or {}).items()}
        except Exception:  # noqa: BLE001 - no default bridge (e.g. --bridge=none)
            bridge = None
    env = {k: os.environ[k] for k in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CONTENT_TRUST") if k in os.environ}
    subject = HostSubject(
        target=Target(TargetKind.HOST, safe(endpoint, 200), ctx.rel(path) if daemon.exists else None, key=f"host:{endpoint}"),
        daemon=daemon,
        daemon_explicit=explicit,
        info=info,
        bridge_options=bridge,
        dockerd_args=dockerd_args,
        docker_config=read_docker_config(docker_config),
        env=env,
        audit=read_audit(audit_root),
        daemon_display=ctx.rel(path) or str(path),
    )
    if daemon.error:
        ctx.error(path, f"daemon.json: {daemon.error}; its settings are not checked and no fix is offered")
    for dup in daemon.duplicates:
        ctx.error(path, f"daemon.json: duplicate key {safe(dup.key, 80)!r} at line {dup.line}; dockerd uses the last one")
    if subject.docker_config.error:
        ctx.error(subject.docker_config.path, f"docker client config: {subject.docker_config.error}")
    return subject


def host_subject(ctx: ScanContext) -> HostSubject:
    """The host subject of this scan, collected once (containers consult daemon defaults)."""
    with ctx._lock:
        cached = ctx.cache.get("engine:host")
    if cached is None:
        cached = collect(ctx)
        with ctx._lock:
            ctx.cache["engine:host"] = cached
    return cached


def daemon_no_new_privileges(ctx: ScanContext) -> tuple[bool, str]:
    """Whether the daemon sets no-new-privileges for every container, and where."""
    found = host_subject(ctx).setting("no-new-privileges")
    if found is None:
        return False, ""
    value, where = found
    return value is True or str(value).lower() == "true", where
