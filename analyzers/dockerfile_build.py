"""Build hygiene: COPY over ADD, exec-form CMD/ENTRYPOINT, no sudo, no `curl | sh`,
TLS and signature checks left on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from lockdock.context import ScanContext
from lockdock.dockerfile.commands import sudo_word
from lockdock.dockerfile.facts import (
    ARCHIVE,
    add_sources,
    capped,
    chain_root,
    final_chain,
    finding,
    image_ref,
    installs_in,
    is_remote,
    is_root_user,
    package_name,
    user_before,
)
from lockdock.dockerfile.model import Instruction
from lockdock.dockerfile.shell import SHELLS, Script, run_scripts
from lockdock.dockerfile.tls import config_problems, tls_env, tls_problems
from lockdock.model import Finding, TargetKind
from lockdock.payloads import Variant
from lockdock.payloads.dockerfile import NamedVariable, SudoUse
from lockdock.registry import analyzer
from lockdock.sources import DockerfileSubject
from lockdock.text import safe

INTERPRETERS = SHELLS | {"python", "python3", "perl", "ruby", "node", "php"}


@analyzer(TargetKind.DOCKERFILE, "build.copy-not-add")
@capped
def copy_not_add(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    for inst in subject.dockerfile.instructions:
        if inst.cmd != "add":
            continue
        srcs = add_sources(inst)
        remote = [s for s in srcs if is_remote(s)]
        if remote and inst.flag("checksum") is None:
            yield finding(
                "build.copy-not-add",
                subject,
                inst,
                f"ADD downloads {safe(remote[0], 120)} without --checksum; fetch it with curl and "
                "verify a checksum, or add --checksum=sha256:...",
                payload=Variant("remote"),
            )
            continue
        if remote or any("$" in s for s in srcs):
            continue
        if srcs and not any(ARCHIVE.search(s) for s in srcs):
            yield finding(
                "build.copy-not-add",
                subject,
                inst,
                "ADD of local files: use COPY, which does not unpack archives or fetch URLs",
                payload=Variant("local"),
            )


@analyzer(TargetKind.DOCKERFILE, "build.exec-form")
@capped
def exec_form(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    stages = final_chain(subject.dockerfile)
    for st in stages:
        for inst in st.instructions:
            if inst.cmd not in ("cmd", "entrypoint") or inst.json or not inst.args:
                continue
            yield finding(
                "build.exec-form",
                subject,
                inst,
                _shell_form_reason(inst),
                payload=Variant("single-quotes" if _single_quoted_json(inst) else "shell"),
            )


def _single_quoted_json(inst: Instruction) -> bool:
    rest = inst.rest.strip()
    return rest.startswith("[") and rest.endswith("]") and "'" in rest


def _shell_form_reason(inst: Instruction) -> str:
    """Why a CMD/ENTRYPOINT is shell form, said plainly (issue 13: name single quotes)."""
    kw = inst.cmd.upper()
    if _single_quoted_json(inst):
        return (
            f"{kw} is in the shell form because its list uses single quotes: the exec form is JSON, "
            "which needs double quotes. As written, /bin/sh -c runs the text and the process does "
            "not receive SIGTERM"
        )
    if inst.rest.strip().startswith("["):
        return (
            f"{kw} is in the shell form because its list is not valid JSON; /bin/sh -c runs the text "
            "and the process does not receive SIGTERM. Write it as a JSON array of double-quoted strings"
        )
    return (
        f"{kw} uses the shell form: the process runs under /bin/sh -c and does "
        "not receive SIGTERM; use the JSON (exec) form"
    )


def effective_root(subject: DockerfileSubject, inst: Instruction, ctx: ScanContext) -> bool:
    """True only when `inst` is known to run as root: an explicit root USER before it, or
    no USER and a base known to default to root (scratch, official images, inspected)."""
    df = subject.dockerfile
    user = user_before(df, inst)
    if user is not None:
        return "$" not in user.args[0] and is_root_user(user.args[0])
    stage = df.stage_of(inst)
    if stage is None:
        return False
    root = chain_root(df, stage)
    if root.is_scratch:
        return True
    if not root.resolved or not root.base:
        return False
    info = ctx.local_image(root.base)
    if info is not None:
        return is_root_user(str((info.get("Config") or {}).get("User") or ""))
    ref = image_ref(root.base)
    return ref is not None and ref.official


@analyzer(TargetKind.DOCKERFILE, "build.no-sudo")
@capped
def no_sudo(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    shipped = {id(i) for st in final_chain(subject.dockerfile) for i in st.instructions}
    for inst in subject.dockerfile.instructions:
        if inst.cmd != "run":
            continue
        used = any(sudo_word(c) is not None for s in run_scripts(inst) for c in s.commands)
        if used:
            yield finding(
                "build.no-sudo",
                subject,
                inst,
                "RUN uses sudo; build steps run as the image's USER, switch with USER instead",
                payload=SudoUse("run", effective_root(subject, inst, ctx)),
            )
            continue
        if id(inst) in shipped:
            for install in installs_in(inst):
                if any(package_name(p) == "sudo" for p in install.packages):
                    yield finding(
                        "build.no-sudo",
                        subject,
                        inst,
                        "the final image installs sudo, a privilege-escalation helper",
                        payload=SudoUse("install"),
                    )
                    break


def _pipe_to_shell(script: Script) -> str | None:
    cmds = script.commands
    for i, c in enumerate(cmds):
        name, args, _ = c.program()
        j = i
        while name in ("curl", "wget", "fetch") and cmds[j].op_after == "|" and j + 1 < len(cmds):
            j += 1  # follow the pipeline: curl ... | tee log | sh
            target = cmds[j].program()[0]
            if target in INTERPRETERS:
                return f"{name} ... | {target}"
        if name in SHELLS | INTERPRETERS:
            for a in args:
                if ("$(curl" in a or "$(wget" in a or "`curl" in a or "`wget" in a) or (
                    a.startswith("<(") and ("curl" in a or "wget" in a)
                ):
                    return f"{name} running a download"
    return None


@analyzer(TargetKind.DOCKERFILE, "build.no-curl-pipe-shell")
@capped
def curl_pipe_shell(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    for inst in subject.dockerfile.instructions:
        for script in run_scripts(inst):
            if "<(" in script.text:
                # process substitution is not split by the command splitter: look at the text
                m = re.search(r"\b(bash|sh|zsh)\s+<\(\s*(curl|wget)\b", script.text)
                if m:
                    yield _pipe_finding(subject, inst, f"{m.group(1)} <({m.group(2)} ...)")
                    break
            what = _pipe_to_shell(script)
            if what:
                yield _pipe_finding(subject, inst, what)
                break


def _pipe_finding(subject: DockerfileSubject, inst: Instruction, what: str) -> Finding:
    return finding(
        "build.no-curl-pipe-shell",
        subject,
        inst,
        f"RUN pipes a download into an interpreter ({safe(what, 60)}); download to a file, verify "
        "its checksum or signature, then run it",
    )


@analyzer(TargetKind.DOCKERFILE, "build.tls-verification")
@capped
def tls_verification(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    """Flags, ENV/ARG values, config commands and config-file text (RUN words, heredoc
    bodies of RUN, COPY and ADD) that turn TLS or signature checks off."""
    for inst in subject.dockerfile.instructions:
        if inst.cmd in ("env", "arg"):
            pairs = inst.env_pairs() if inst.cmd == "env" else [
                (w.partition("=")[0], w.partition("=")[2]) for w in inst.args if "=" in w
            ]
            for name, value in pairs:
                if tls_env(name, value):
                    yield finding(
                        "build.tls-verification",
                        subject,
                        inst,
                        f"{inst.cmd.upper()} {safe(name, 40)}={safe(value, 20)} turns TLS verification off",
                        payload=NamedVariable("env", name),
                    )
            continue
        problems: list[tuple[str, str]] = []
        at: Any = None
        for script in run_scripts(inst):
            for cmd in script.commands:
                found = tls_problems(cmd)
                if found and at is None:
                    at = (script, cmd)
                problems += found
        shell_fed = {s.to_file(0) for s in run_scripts(inst) if s.from_heredoc and s.to_file is not None}
        for doc in inst.heredocs:
            if doc.start in shell_fed:
                continue  # a script: its commands were judged word by word above
            for offset, msg in config_problems(doc.content):
                problems.append(("config", msg))
                at = at if at is not None else doc.start + offset
        if problems:
            yield finding(
                "build.tls-verification",
                subject,
                inst,
                "; ".join(dict.fromkeys(safe(m, 100) for _, m in problems)),
                payload=Variant("run" if inst.cmd == "run" else "heredoc"),
                at=at,
            )
