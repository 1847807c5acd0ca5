"""container.non-root for Dockerfiles: add a USER (creating a system user suited to the
base distribution, or using the image's own non-root user) before the final stage's
CMD/ENTRYPOINT. Changes behaviour: files written at run time need the right owner.

Not offered (the finding says why) for a base image: a Dockerfile whose image other
Dockerfiles of the project build FROM (their RUN steps would lose root; known from the
local image's history when the engine has it), or whose final command is only a shell; nor
for an image whose entrypoint starts as root to drop privileges itself (gosu, su-exec...).
"""

from __future__ import annotations

import re
from pathlib import Path

from lockdock.context import ScanContext
from lockdock.dockerfile.edit import insert_lines_after, insert_lines_before, make_fix
from lockdock.dockerfile.facts import final_chain
from lockdock.dockerfile.model import Dockerfile, Instruction
from lockdock.fixers.servicefacts import refuse
from lockdock.model import Applicability, Finding, Fix, TargetKind, TextEdit
from lockdock.registry import fixer
from lockdock.sources import DockerfileSubject
from lockdock.sources.dockerfiles import load_subject
from lockdock.startfacts import analyze
from lockdock.text import safe

ALPINE = "addgroup -S app && adduser -S -G app app"
DEBIAN = "groupadd --system app && useradd --system --gid app --no-create-home app"
BUSYBOX = "addgroup -S app && adduser -S -D -H -G app app"

_ALPINE = re.compile(r"(?i)(^|/)alpine(:|$)|[:-]alpine|(^|/)(wolfi-base|apk-based)")
_DEBIAN = re.compile(
    r"(?i)(^|/)(debian|ubuntu|buildpack-deps)(:|$)|slim|bookworm|bullseye|buster|trixie|jammy|noble|focal|"
    r"(^|/)(python|ruby|golang|rust|perl|php|openjdk|eclipse-temurin|maven|gradle|elixir|erlang)(:|$)"
)
_RHEL = re.compile(r"(?i)(^|/)(centos|fedora|rockylinux|almalinux|oraclelinux|amazonlinux|ubi[0-9]*|ubi[0-9]*/ubi)(:|$)")
_RHEL_MINIMAL = re.compile(r"(?i)(micro|minimal)")


def user_lines(base: str) -> list[str] | None:
    """The lines that give the final stage a non-root user, by base image; None if unknown."""
    b = base.lower()
    name = b.split("@", 1)[0]
    repo = re.sub(r":[^/]*$", "", name).rsplit("/", 1)[-1]
    if b == "scratch" or "distroless" in b:
        return ["USER 65532:65532"]
    if repo == "node":
        return ["USER node"]
    if repo in ("nginx",) and "unprivileged" not in b:
        return ["USER nginx"]
    if repo == "busybox":
        return [f"RUN {BUSYBOX}", "USER app"]
    if _ALPINE.search(b):
        return [f"RUN {ALPINE}", "USER app"]
    if _RHEL.search(b):
        if _RHEL_MINIMAL.search(b):
            return ["USER 1001"]
        return [f"RUN {DEBIAN}", "USER app"]
    if _DEBIAN.search(b):
        return [f"RUN {DEBIAN}", "USER app"]
    return None


def anchor(df: Dockerfile) -> tuple[Instruction, bool] | None:
    """Where the lines go: before the final stage's first CMD/ENTRYPOINT after its last
    USER, else after its last instruction (True means "after")."""
    stages = final_chain(df)
    if not stages:
        return None
    final = stages[-1]
    insts = final.instructions
    last_user = max((i for i, inst in enumerate(insts) if inst.cmd == "user"), default=-1)
    for inst in insts[last_user + 1 :]:
        if inst.cmd in ("cmd", "entrypoint"):
            return inst, False
    return (insts[-1] if insts else final.from_instruction), True


@fixer("container.non-root", TargetKind.DOCKERFILE, title="Run as a non-root user", applicability=Applicability.UNSAFE)
def non_root(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    df: Dockerfile = subject.dockerfile
    stages = final_chain(df)
    if not stages or not stages[0].resolved:
        return None
    children = built_from(subject, ctx)
    if children:
        refuse(finding, f"other Dockerfiles build FROM this image ({', '.join(children[:5])}) and their steps "
               "would lose root", "add USER to those final images instead")
        return None
    why = base_or_dropping(stages[-1].instructions)
    if why:
        refuse(finding, why, "add USER where the image runs its service")
        return None
    lines = user_lines(stages[0].base)
    where = anchor(df)
    if lines is None or where is None:
        return None
    why = base_image_refusal(stages[0].base, stages[-1].instructions, lines, ctx)
    if why:
        refuse(finding, why, "add a USER the image has, after the steps that need root")
        return None
    inst, after = where
    edit: TextEdit = insert_lines_after(df, inst, lines) if after else insert_lines_before(df, inst, lines)
    user = lines[-1].split(" ", 1)[1]
    return make_fix(
        subject,
        f"Add USER {user} to the final stage",
        Applicability.UNSAFE,
        [edit],
        note="files the app writes at run time must be writable by this user",
    )


SHELL_ONLY = frozenset({"sh", "/bin/sh", "bash", "/bin/bash", "ash", "/bin/ash"})


def base_or_dropping(insts: list[Instruction]) -> str | None:
    """Why the final stage is not an image to give a USER: a base image (its command is
    only a shell) or an entrypoint that switches user itself; None otherwise."""
    cmd = next((i for i in reversed(insts) if i.cmd == "cmd"), None)
    entry = next((i for i in reversed(insts) if i.cmd == "entrypoint"), None)
    if entry is None and cmd is not None and [a for a in cmd.args if a] in ([s] for s in SHELL_ONLY):
        return "it looks like a base image (its command is only a shell)"
    start = " ".join(" ".join(i.args) for i in insts if i.cmd in ("cmd", "entrypoint"))
    if analyze(start).drops_privileges:
        return "its entrypoint starts as root and drops privileges itself"
    return None


def _history(ref: str, ctx: ScanContext) -> list[str]:
    key = f"history:{ref}"
    if key not in ctx.cache:
        out: list[str] = []
        if ctx.engine is not None and ctx.local_image(ref) is not None:
            try:
                out = [str(h.get("CreatedBy") or "") for h in ctx.engine.api.history(ref) or []]
            except Exception:  # noqa: BLE001 - no history: no match
                out = []
        ctx.cache[key] = out
    return ctx.cache[key]


def _runs(df: Dockerfile) -> list[str]:
    stages = final_chain(df)
    return [" ".join(i.args) for st in stages for i in st.instructions if i.cmd == "run" and i.args]


def built_from(subject: DockerfileSubject, ctx: ScanContext) -> list[str]:
    """Project Dockerfiles whose FROM is the image this Dockerfile builds (by the local
    image's history holding every RUN step of this Dockerfile, in order)."""
    mine = _runs(subject.dockerfile)
    if not mine or ctx.engine is None:
        return []
    out = []
    for path in ctx.cache.get("dockerfiles", []):
        if Path(path) == Path(subject.path):
            continue
        other = ctx.cache.get(f"df-subject:{path}")
        if other is None:
            other = load_subject(Path(path), ctx.__class__(cwd=ctx.cwd, use_engine=False)) or False
            ctx.cache[f"df-subject:{path}"] = other
        if not other:
            continue
        aliases = {st.alias for st in other.dockerfile.stages if st.alias}
        for st in other.dockerfile.stages:
            if not st.resolved or st.base_stage is not None or st.base in aliases or st.is_scratch:
                continue
            history = list(reversed(_history(st.base, ctx)))  # oldest first
            pos = 0
            for run in mine:
                pos = next((i + 1 for i in range(pos, len(history)) if run in history[i]), -1)
                if pos < 0:
                    break
            if pos > 0:
                out.append(safe(ctx.rel(path) or str(path), 120))
                break
    return out


def base_image_refusal(base: str, insts: list[Instruction], lines: list[str], ctx: ScanContext) -> str | None:
    """With the base image local: why the USER lines would break it (its inherited
    entrypoint drops privileges itself, or the named user is not in its /etc/passwd)."""
    if ctx.engine is None:
        return None
    from lockdock.engine.imagefacts import image_facts

    facts = image_facts(base, ctx)
    if facts is None:
        return None
    if not any(i.cmd == "entrypoint" for i in insts) and facts.drops_privileges:
        return f"the entrypoint of {safe(base, 80)} starts as root and drops privileges itself"
    user = lines[-1].split(" ", 1)[1].split(":", 1)[0]
    creates = any(line.startswith("RUN ") for line in lines)
    if not creates and not user.isdigit() and facts.account(user) is None and not facts.problems:
        return f"{safe(base, 80)} has no user {safe(user, 40)}"
    return None
