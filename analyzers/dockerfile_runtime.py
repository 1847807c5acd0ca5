"""What the final image runs as, and whether it has a health check.

Only the final stage (and the stages it builds on) decides; a `USER root` in a build
stage is fine. Without a USER the base image's own user applies: with an engine it is
looked up locally (and the message says so), without one only known non-root bases pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from lockdock.context import ScanContext
from lockdock.dockerfile.facts import capped, final_chain, finding, is_root_user, last_user
from lockdock.dockerfile.model import Instruction, Stage
from lockdock.dockerfile.stages import expand
from lockdock.model import Finding, TargetKind
from lockdock.payloads import Variant
from lockdock.registry import analyzer
from lockdock.sources import DockerfileSubject
from lockdock.text import safe

NONROOT_BASES = re.compile(
    r"(?i)([:\-]nonroot$|[:\-]debug-nonroot$|-rootless$|-unprivileged(:|$)|^cgr\.dev/chainguard/|"
    r"^(docker\.io/)?bitnami/|^nginxinc/nginx-unprivileged)"
)


def stage_env(stages: list[Stage], upto: Instruction) -> dict[str, str | None]:
    """ARG/ENV values known when `upto` runs (for `USER $APP_UID`)."""
    env: dict[str, str | None] = {}
    for st in stages:
        for inst in st.instructions:
            if inst is upto:
                return env
            if inst.cmd == "arg":
                for word in inst.args:
                    name, eq, value = word.partition("=")
                    env[name] = expand(value, env)[0] if eq else env.get(name)
            elif inst.cmd == "env":
                for name, value in inst.env_pairs():
                    env[name] = expand(value, env)[0]
    return env


def base_lookup(stage: Stage, ctx: ScanContext) -> tuple[dict[str, Any] | None, str]:
    """The local image inspect of a stage's base, and a phrase saying how it was judged."""
    ref = safe(stage.base, 120)
    if ctx.engine is None:
        return None, f"base image {ref} not inspected (no engine)"
    info = ctx.local_image(stage.base)
    if info is None:
        return None, f"base image {ref} not present locally, so not inspected"
    return info, f"base image {ref} inspected locally"


def _config(info: dict[str, Any] | None) -> dict[str, Any]:
    conf = (info or {}).get("Config") or {}
    return conf if isinstance(conf, dict) else {}


@analyzer(TargetKind.DOCKERFILE, "container.non-root")
@capped
def non_root(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    df = subject.dockerfile
    stages = final_chain(df)
    if not stages:
        return
    final_from = stages[-1].from_instruction
    user = last_user(stages)
    if user is not None:
        value, ok = expand(user.args[0], stage_env(stages, user))
        if ok and is_root_user(value):
            yield finding(
                "container.non-root",
                subject,
                user,
                f"the final stage runs as root (USER {safe(user.args[0], 60)})",
                payload=Variant("root-user"),
            )
        return
    root = stages[0]
    if root.is_scratch:
        yield finding(
            "container.non-root",
            subject,
            final_from,
            "no USER in the final stage: an image FROM scratch runs as root (UID 0)",
            payload=Variant("missing"),
        )
        return
    if not root.resolved:
        yield finding(
            "container.non-root",
            subject,
            final_from,
            f"no USER in the final stage, and the base image {safe(root.base_raw, 120)} "
            "is not known (unset build argument), so it may run as root",
            payload=Variant("missing"),
        )
        return
    info, how = base_lookup(root, ctx)
    if info is not None:
        base_user = str(_config(info).get("User") or "")
        if not is_root_user(base_user):
            return
        msg = f"no USER in the final stage; {how}: it runs as root"
    elif NONROOT_BASES.search(root.base):
        return
    else:
        msg = f"no USER in the final stage, so it runs as the base image's user; {how}"
    yield finding("container.non-root", subject, final_from, msg, payload=Variant("missing"))


@analyzer(TargetKind.DOCKERFILE, "runtime.healthcheck")
@capped
def healthcheck(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    df = subject.dockerfile
    stages = final_chain(df)
    if not stages:
        return
    last = None
    for st in stages:
        for inst in st.instructions:
            if inst.cmd == "healthcheck":
                last = inst
    if last is not None:
        if last.args and last.args[0].upper() == "NONE":
            yield finding("runtime.healthcheck", subject, last, "HEALTHCHECK NONE disables the health check")
        return
    root = stages[0]
    final_from = stages[-1].from_instruction
    if root.is_scratch:
        how = "the image is built FROM scratch"
    elif not root.resolved:
        how = f"base image {safe(root.base_raw, 120)} is not known"
    else:
        info, how = base_lookup(root, ctx)
        test = (_config(info).get("Healthcheck") or {}).get("Test") if info else None
        if isinstance(test, list) and test and test[0] != "NONE":
            return
        if info is not None:
            how += ": it has no health check"
    yield finding(
        "runtime.healthcheck",
        subject,
        final_from,
        f"the final stage has no HEALTHCHECK; {how}",
    )
