"""Fixes for secrets in Dockerfiles, where the pattern is recognised (all change behaviour):

- `ENV NAME=<literal>` alone on its line: removed; the value is passed at run time.
- `ARG NAME[=literal]` used only by RUN instructions: the ARG goes and each RUN using it
  gets `--mount=type=secret,id=name,env=NAME` (`docker build --secret id=name,env=NAME`).
- `COPY .npmrc <dir>` followed by npm/yarn RUNs: the copy goes, the RUNs mount the file.
- `COPY <secret file> <dst>` alone: removed (and the file belongs in .dockerignore).
- `COPY . .` of a context holding secret files: the files are added to .dockerignore
  (this one is safe: the files only stop reaching the builder).
"""

from __future__ import annotations

import re
from pathlib import Path

from lockdock.context import ScanContext
from lockdock.dockerfile.edit import delete_instruction, instruction_at, make_fix, remove_env_pair
from lockdock.dockerfile.model import Dockerfile, Instruction
from lockdock.dockerfile.shell import run_scripts
from lockdock.fixers.repo_ignorefiles import append_patterns
from lockdock.model import Applicability, Finding, Fix, TargetKind, TextEdit
from lockdock.payloads import MissingIgnoreEntries
from lockdock.payloads.dockerfile import NamedVariable, SecretCopy
from lockdock.registry import fixer
from lockdock.sources import DockerfileSubject

NOTE = "pass the value at build time with `docker build --secret id=...` (BuildKit)"


def _refs(text: str, name: str) -> bool:
    return re.search(r"\$\{?" + re.escape(name) + r"(?![A-Za-z0-9_])", text) is not None


def _mount_flag(inst: Instruction, flag: str) -> TextEdit:
    pos = inst.start + len(inst.keyword)
    return TextEdit(pos, pos, f" {flag}")


def arg_to_secret_mount(df: Dockerfile, name: str) -> list[TextEdit] | None:
    """Edits turning build argument `name` into a secret mount, or None when it is used
    anywhere but in shell-form RUN instructions."""
    edits: list[TextEdit] = []
    secret_id = name.lower().replace("_", "-")
    flag = f"--mount=type=secret,id={secret_id},env={name}"
    for inst in df.instructions:
        if inst.cmd == "arg":
            names = [w.partition("=")[0] for w in inst.args]
            if name in names:
                if len(names) != 1:
                    return None
                edits.append(delete_instruction(df, inst))
            continue
        text = df.text[inst.start : inst.end]
        if not _refs(text, name):
            continue
        if inst.cmd != "run" or inst.json:
            return None
        if flag not in inst.flags:
            edits.append(_mount_flag(inst, flag))
    return edits or None


def _single_env(inst: Instruction) -> bool:
    return inst.cmd == "env" and len(inst.env_pairs()) == 1


_NPM = re.compile(r"\b(npm|yarn|pnpm|npx)\b")


def npmrc_to_mount(df: Dockerfile, inst: Instruction) -> list[TextEdit] | None:
    """`COPY .npmrc /app/` (alone) + later npm RUNs in the stage -> secret mounts."""
    if len(inst.args) != 2 or inst.flags or inst.args[0].rsplit("/", 1)[-1] != ".npmrc":
        return None
    dest = inst.args[1]
    stage = df.stage_of(inst)
    if stage is None:
        return None
    workdir = None
    edits = [delete_instruction(df, inst)]
    seen = False
    runs = 0
    for other in stage.instructions:
        if other is inst:
            seen = True
            continue
        if other.cmd == "workdir" and other.args:
            workdir = other.args[0] if other.args[0].startswith("/") else None
            if not seen:
                continue
        if not seen:
            continue
        if other.cmd == "run" and not other.json and any(_NPM.search(s.text) for s in run_scripts(other)):
            runs += 1
    if dest in (".", "./"):
        if workdir is None:
            return None
        target = workdir.rstrip("/") + "/.npmrc"
    elif dest.startswith("/") and dest.endswith("/"):
        target = dest + ".npmrc"
    elif dest.startswith("/") and dest.endswith(".npmrc"):
        target = dest
    else:
        return None
    if runs == 0 or "$" in target:
        return None
    flag = f"--mount=type=secret,id=npmrc,target={target}"
    seen = False
    for other in stage.instructions:
        if other is inst:
            seen = True
            continue
        if seen and other.cmd == "run" and not other.json and any(_NPM.search(s.text) for s in run_scripts(other)):
            edits.append(_mount_flag(other, flag))
    return edits


@fixer("secrets.no-secrets-in-image", TargetKind.DOCKERFILE, title="Remove the baked-in secret", applicability=Applicability.UNSAFE)
def no_secrets(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    df: Dockerfile = subject.dockerfile
    inst = instruction_at(df, finding)
    payload = finding.payload
    if inst is None:
        return None
    if isinstance(payload, MissingIgnoreEntries):
        return append_patterns(Path(payload.path), list(payload.missing), "Exclude the secret files from the build context", ctx)
    if isinstance(payload, NamedVariable) and payload.kind == "env":
        name = payload.name
        edit = delete_instruction(df, inst) if _single_env(inst) else remove_env_pair(df, inst, name)
        if edit is not None:
            return make_fix(subject, f"Remove ENV {name}; set it at run time", Applicability.UNSAFE, [edit], note="the container now needs the value from its environment")
    if isinstance(payload, NamedVariable) and payload.kind == "arg":
        edits = arg_to_secret_mount(df, payload.name)
        if edits:
            return make_fix(subject, f"Turn ARG {payload.name} into a build secret", Applicability.UNSAFE, edits, note=NOTE)
    if isinstance(payload, SecretCopy) and payload.kind == "copy" and inst.cmd in ("copy", "add") and len(inst.args) == 2 and not inst.heredocs:
        return make_fix(subject, f"Do not copy {inst.args[0]} into the image", Applicability.UNSAFE, [delete_instruction(df, inst)], note="also list the file in .dockerignore")
    return None


@fixer("secrets.build-secrets", TargetKind.DOCKERFILE, title="Use a BuildKit secret mount", applicability=Applicability.UNSAFE)
def build_secrets(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    df: Dockerfile = subject.dockerfile
    inst = instruction_at(df, finding)
    payload = finding.payload
    if inst is None:
        return None
    if isinstance(payload, NamedVariable) and payload.kind == "arg":
        edits = arg_to_secret_mount(df, payload.name)
        if edits:
            return make_fix(subject, f"Turn ARG {payload.name} into a build secret", Applicability.UNSAFE, edits, note=NOTE)
    if isinstance(payload, SecretCopy) and payload.kind == "copy" and inst.cmd == "copy":
        edits = npmrc_to_mount(df, inst)
        if edits:
            return make_fix(subject, "Mount .npmrc as a build secret instead of copying it", Applicability.UNSAFE, edits, note="build with `docker build --secret id=npmrc,src=.npmrc`")
    return None
