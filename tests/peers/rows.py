"""The shape of a peer-rule row and the hardened skeletons its tiny input is built on.

A row names one rule of one peer tool (hadolint, Trivy, checkov, compose-lint, KICS, dockle,
docker-bench-security), says in our own words what it looks for, and either gives a tiny
input plus the lockdock check id that must catch it, or says why the rule is out of scope.

Inputs are built on skeletons that lockdock scans clean for every check a row expects (the
test scans the skeletons too and asserts it), so a finding on a row comes from what the row
adds, not from the skeleton.

Target kinds use the checklist letters: D Dockerfile, C compose service, H host
(daemon.json and client environment), I local image, K container.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# One digest-pinned, versioned, minimal base for every Dockerfile and compose row.
BASE = "alpine:3.19.1@sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b"


@dataclass(frozen=True)
class Row:
    """One peer rule. `kind` and `spec` describe the input; `expect` is the lockdock check id
    that must report it; `out_of_scope` (instead of an input) says why lockdock does not."""

    peer: str
    rule: str
    summary: str
    expect: str | None = None
    kind: str = ""  # D C H I K, empty when out of scope
    spec: Any = None
    out_of_scope: str | None = None
    on_skeleton: bool = True  # the input is the kind's skeleton plus a change
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        raw = f"{self.peer}-{self.rule}".lower()
        return "".join(c if c.isalnum() else "-" for c in raw).strip("-")


def out(peer: str, rule: str, summary: str, reason: str) -> Row:
    return Row(peer, rule, summary, out_of_scope=reason)


# -- Dockerfile ---------------------------------------------------------------------------

def dockerfile(
    *body: str,
    base: str = BASE,
    stages: str = "",
    user: str | None = "10001:10001",
    healthcheck: bool = True,
    entrypoint: str = 'ENTRYPOINT ["/app/app.sh"]',
) -> str:
    """The skeleton Dockerfile with `body` lines after FROM; the keyword arguments take away
    one hardening at a time (no USER, no HEALTHCHECK, a shell-form entrypoint...)."""
    lines = [stages.rstrip("\n")] if stages else []
    lines += [f"FROM {base}", *body, "COPY app.sh /app/app.sh"]
    if user is not None:
        lines.append(f"USER {user}")
    if healthcheck:
        lines.append('HEALTHCHECK CMD ["/app/app.sh", "health"]')
    lines.append(entrypoint)
    return "\n".join(lines) + "\n"


DOCKERFILE_SKELETON = dockerfile()


def d(peer: str, rule: str, summary: str, expect: str, *body: str, **kw: Any) -> Row:
    return Row(peer, rule, summary, expect, "D", dockerfile(*body, **kw), on_skeleton=not kw)


# -- compose -------------------------------------------------------------------------------

COMPOSE_SERVICE: dict[str, Any] = {
    "image": BASE,
    "user": "10001:10001",
    "read_only": True,
    "tmpfs": ["/tmp"],
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "restart": "unless-stopped",
    "healthcheck": {"test": ["CMD", "/bin/true"]},
    "logging": {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}},
    "mem_limit": "256m",
    "memswap_limit": "256m",
    "cpus": 0.5,
    "pids_limit": 100,
    "networks": ["backend"],
}


def compose(**changes: Any) -> dict[str, Any]:
    """A compose file with one service `app`: the skeleton service with `changes` applied
    (a value of None removes the key)."""
    service = dict(COMPOSE_SERVICE)
    for key, value in changes.items():
        if value is None:
            service.pop(key, None)
        else:
            service[key] = value
    return {"services": {"app": service}, "networks": {"backend": {"internal": True}}}


def c(peer: str, rule: str, summary: str, expect: str, **changes: Any) -> Row:
    return Row(peer, rule, summary, expect, "C", compose(**changes))


# -- host ----------------------------------------------------------------------------------

DAEMON_JSON: dict[str, Any] = {
    "icc": False,
    "userland-proxy": False,
    "log-level": "info",
    "live-restore": True,
    "no-new-privileges": True,
    "userns-remap": "default",
    "authorization-plugins": ["authz-broker"],
    "log-driver": "json-file",
    "log-opts": {"max-size": "10m", "max-file": "3"},
}
HOST_ENV: dict[str, str | None] = {"DOCKER_CONTENT_TRUST": "1", "DOCKER_HOST": None}


def h(peer: str, rule: str, summary: str, expect: str, env: dict[str, str | None] | None = None, **changes: Any) -> Row:
    """A host row: the hardened daemon.json with `changes` (None removes a key, keys use
    daemon.json spelling with `_` for `-`) and the client environment with `env` applied."""
    daemon = dict(DAEMON_JSON)
    for key, value in changes.items():
        key = key.replace("_", "-")
        if value is None:
            daemon.pop(key, None)
        else:
            daemon[key] = value
    return Row(peer, rule, summary, expect, "H", {"daemon": daemon, "env": {**HOST_ENV, **(env or {})}})


# -- images and containers -----------------------------------------------------------------

def i(peer: str, rule: str, summary: str, expect: str, *, files: dict[str, Any] | None = None,
      config: dict[str, Any] | None = None, history: list[str] | None = None, tag: str = "1.0",
      created: str | None = None, untrusted: bool = False) -> Row:
    """An image row: the skeleton image plus a layer of `files`, config overrides, extra
    history lines (`created_by` text, empty layers), a tag, a build date, and whether its
    repository is outside the registries the scan's config trusts."""
    spec = {"files": files or {}, "config": config or {}, "history": history or [], "tag": tag, "created": created,
            "untrusted": untrusted}
    return Row(peer, rule, summary, expect, "I", spec)


def k(peer: str, rule: str, summary: str, expect: str, *, image: str = "skeleton", cmd: list[str] | None = None,
      **flags: Any) -> Row:
    """A container row: `docker create` with the skeleton flags, `flags` replacing them
    (option name with `_` for `-`; None drops the option; a list repeats it)."""
    changes = {"--" + key.replace("_", "-"): value for key, value in flags.items()}
    return Row(peer, rule, summary, expect, "K", {"flags": changes, "image": image, "cmd": cmd or []})
