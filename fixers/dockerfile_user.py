"""container.non-root for Dockerfiles: add a USER (creating a system user suited to the
base distribution, or using the image's own non-root user) before the final stage's
CMD/ENTRYPOINT. Changes behaviour: files written at run time need the right owner.
"""

from __future__ import annotations

import re
from typing import Any

from lockdock.context import ScanContext
from lockdock.dockerfile.edit import insert_lines_after, insert_lines_before, make_fix
from lockdock.dockerfile.facts import final_chain
from lockdock.dockerfile.model import Dockerfile, Instruction
from lockdock.model import Applicability, Finding, Fix, TargetKind, TextEdit
from lockdock.registry import fixer

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
def non_root(finding: Finding, subject: Any, ctx: ScanContext) -> Fix | None:
    df: Dockerfile = subject.dockerfile
    stages = final_chain(df)
    if not stages or not stages[0].resolved:
        return None
    lines = user_lines(stages[0].base)
    where = anchor(df)
    if lines is None or where is None:
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
