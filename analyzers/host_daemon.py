"""Host checks on the daemon's settings: userns, no-new-privileges, TLS, icc, logs, live-restore.

Settings come from daemon.json, dockerd's flags and (with an engine) `docker info`. When
a setting is also given as a dockerd flag the message says so: adding the same key to
daemon.json would stop dockerd from starting, so no daemon.json fix is offered then.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lockdock.context import ScanContext
from lockdock.model import Finding, TargetKind
from lockdock.payloads.engine import DaemonSetting
from lockdock.registry import analyzer
from lockdock.sources import HostSubject
from lockdock.text import safe

LOCAL_INSECURE = {"127.0.0.0/8", "::1/128"}


def _true(value: Any) -> bool:
    return value is True or str(value).strip().lower() == "true"


def flag_note(host: HostSubject, key: str) -> str:
    """Why no daemon.json fix is offered for `key`, or ''."""
    if not host.daemon.usable:
        return " (no daemon.json fix: the file is not valid JSON)"
    flag = host.flag_for(key)
    if flag:
        return f" (no daemon.json fix: dockerd is started with {flag}, and dockerd refuses a setting given both ways; change the flag)"
    return ""


def _finding(host: HostSubject, check: str, message: str, key: str | None, *, driver: str | None = None) -> Finding:
    """A host finding about daemon.json `key`; `driver` is the default log driver (log-rotation)."""
    return Finding(check, host.target, message, host.location(key), payload=DaemonSetting(key, driver))


@analyzer(TargetKind.HOST, "container.userns-remap")
def userns_remap(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    if not host.knows_daemon:
        return
    found = host.setting("userns-remap")
    if found and str(found[0]).strip():
        return
    if not host.daemon_explicit and host.info is not None:
        opts = " ".join(str(o) for o in host.info.get("SecurityOptions") or [])
        if "name=userns" in opts or "name=rootless" in opts:
            return
    yield _finding(
        host, "container.userns-remap",
        "the daemon does not remap user namespaces: root in a container is root on the host"
        + flag_note(host, "userns-remap"),
        "userns-remap",
    )


@analyzer(TargetKind.HOST, "container.no-new-privileges")
def no_new_privileges(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    if not host.knows_daemon:
        return
    found = host.setting("no-new-privileges")
    if found and _true(found[0]):
        return
    yield _finding(
        host, "container.no-new-privileges",
        "the daemon does not set no-new-privileges by default: setuid binaries in containers can gain privileges"
        + flag_note(host, "no-new-privileges"),
        "no-new-privileges",
    )


@analyzer(TargetKind.HOST, "network.daemon-tls")
def daemon_tls(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    found = host.setting("hosts")
    hosts = found[0] if found and isinstance(found[0], list) else []
    tlsverify = host.setting("tlsverify")
    verified = bool(tlsverify and _true(tlsverify[0]))
    for listen in hosts:
        h = str(listen)
        if h.startswith("tcp://") and not verified:
            yield _finding(
                host, "network.daemon-tls",
                f"the daemon listens on {safe(h, 80)} without TLS client verification (tlsverify): "
                "anyone who reaches the port controls the host",
                "hosts",
            )
    docker_host = host.env.get("DOCKER_HOST", "")
    if docker_host.startswith("tcp://") and host.env.get("DOCKER_TLS_VERIFY", "") not in ("1", "true"):
        yield _finding(
            host, "network.daemon-tls",
            f"DOCKER_HOST is {safe(docker_host, 80)} without DOCKER_TLS_VERIFY=1: the client talks "
            "to the daemon unencrypted and unauthenticated",
            None,
        )


@analyzer(TargetKind.HOST, "network.icc")
def icc(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    if not host.knows_daemon:
        return
    found = host.setting("icc")
    off = found is not None and not _true(found[0])
    if found is None and not host.daemon_explicit and host.bridge_options is not None:
        off = host.bridge_options.get("com.docker.network.bridge.enable_icc") == "false"
    if not off:
        yield _finding(
            host, "network.icc",
            "containers on the default bridge can talk to each other (icc is on)" + flag_note(host, "icc"),
            "icc",
        )
    proxy = host.setting("userland-proxy")
    if proxy is None or _true(proxy[0]):
        yield _finding(
            host, "network.icc",
            "default-bridge hardening (network.icc) is incomplete: the userland proxy is on (\"userland-proxy\": false lets iptables handle published ports)",
            "userland-proxy",
        )


@analyzer(TargetKind.HOST, "runtime.log-rotation")
def log_rotation(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    if not host.knows_daemon:
        return
    found = host.setting("log-driver")
    driver = str(found[0]) if found else None
    if driver is None and not host.daemon_explicit and host.info is not None:
        driver = str(host.info.get("LoggingDriver") or "") or None
    driver = driver or "json-file"
    if driver == "none":
        yield _finding(host, "runtime.log-rotation", "the daemon's default log driver is 'none': container logs are discarded" + flag_note(host, "log-driver"), "log-driver", driver=driver)
        return
    if driver != "json-file":
        return  # local rotates by itself; syslog, journald, fluentd... ship logs off the container
    opts_found = host.setting("log-opts")
    opts = opts_found[0] if opts_found and isinstance(opts_found[0], dict) else {}
    missing = [k for k in ("max-size", "max-file") if k not in opts]
    if missing:
        yield _finding(
            host, "runtime.log-rotation",
            f"json-file logs do not rotate: log-opts lacks {', '.join(missing)}; logs grow until the disk is full"
            + flag_note(host, "log-opts"),
            "log-opts", driver=driver,
        )


@analyzer(TargetKind.HOST, "runtime.live-restore")
def live_restore(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    if not host.knows_daemon:
        return
    found = host.setting("live-restore")
    if found is not None and _true(found[0]):
        return
    if found is None and not host.daemon_explicit and host.info is not None and host.info.get("LiveRestoreEnabled"):
        return
    yield _finding(
        host, "runtime.live-restore",
        "live-restore is off: restarting or upgrading dockerd stops every container" + flag_note(host, "live-restore"),
        "live-restore",
    )


@analyzer(TargetKind.HOST, "registry.https")
def insecure_registries(host: HostSubject, ctx: ScanContext) -> Iterator[Finding]:
    found = host.setting("insecure-registries")
    listed = [str(r) for r in found[0]] if found and isinstance(found[0], list) else []
    if not host.daemon_explicit and host.info is not None and not listed:
        reg = host.info.get("RegistryConfig") or {}
        listed = [c for c in reg.get("InsecureRegistryCIDRs") or [] if c not in LOCAL_INSECURE]
        for name, idx in (reg.get("IndexConfigs") or {}).items():
            if isinstance(idx, dict) and idx.get("Secure") is False and name != "docker.io":
                listed.append(name)
    listed = [r for r in listed if r not in LOCAL_INSECURE]
    if listed:
        yield _finding(
            host, "registry.https",
            f"insecure (plain-HTTP) registries are configured: {', '.join(safe(r, 80) for r in listed[:10])}; "
            "images from them can be swapped in transit" + flag_note(host, "insecure-registries"),
            "insecure-registries",
        )
