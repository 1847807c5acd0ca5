"""Fixes for build hygiene: ADD -> COPY, exec-form CMD/ENTRYPOINT, dropping sudo where
the build already runs as root (all safe), and removing TLS-disabling flags (unsafe:
a build that only worked without verification will now fail loudly).
"""

from __future__ import annotations

import json
import re

from lockdock.context import ScanContext
from lockdock.dockerfile.commands import sudo_word
from lockdock.dockerfile.edit import (
    delete_instruction,
    instruction_at,
    make_fix,
    remove_env_pair,
    remove_word,
    word_span,
)
from lockdock.dockerfile.facts import ARCHIVE, add_sources, exec_form_json, final_chain, is_remote
from lockdock.dockerfile.model import Dockerfile
from lockdock.dockerfile.shell import run_scripts
from lockdock.dockerfile.tls import CONFIG_FLAG, TLS_ENV, tls_problems
from lockdock.model import Applicability, Finding, Fix, TargetKind, TextEdit
from lockdock.payloads import Variant
from lockdock.payloads.dockerfile import NamedVariable, SudoUse
from lockdock.registry import fixer
from lockdock.sources import DockerfileSubject


@fixer("build.copy-not-add", TargetKind.DOCKERFILE, title="Use COPY instead of ADD", applicability=Applicability.SAFE)
def copy_not_add(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    inst = instruction_at(subject.dockerfile, finding)
    if inst is None or inst.cmd != "add" or finding.payload != Variant("local"):
        return None
    srcs = add_sources(inst)
    if not srcs or any(is_remote(s) or ARCHIVE.search(s) or "$" in s for s in srcs):
        return None
    if any(f.split("=", 1)[0] in ("--checksum", "--keep-git-dir", "--unpack") for f in inst.flags):
        return None
    new = "COPY" if inst.keyword.isupper() else "copy" if inst.keyword.islower() else "Copy"
    return make_fix(subject, "Use COPY instead of ADD", Applicability.SAFE, [TextEdit(inst.start, inst.start + len(inst.keyword), new)])


def _has_cmd(df: Dockerfile) -> bool:
    return any(i.cmd == "cmd" for st in final_chain(df) for i in st.instructions)


@fixer("build.exec-form", TargetKind.DOCKERFILE, title="Use the exec (JSON) form", applicability=Applicability.SAFE)
def exec_form(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    df: Dockerfile = subject.dockerfile
    inst = instruction_at(df, finding)
    if inst is None or inst.json or inst.cmd not in ("cmd", "entrypoint") or inst.flags:
        return None
    if inst.cmd == "entrypoint" and _has_cmd(df):
        return None  # an exec-form ENTRYPOINT would start taking CMD as arguments
    words = exec_form_json(inst.rest)
    if words is None:
        return None
    start = inst.offset(inst.rest_pos)
    end = inst.offset(inst.rest_pos + len(inst.rest) - 1) + 1
    new = json.dumps(words, ensure_ascii=False)
    return make_fix(subject, f"{inst.keyword} {new}", Applicability.SAFE, [TextEdit(start, end, new)])


@fixer("build.no-sudo", TargetKind.DOCKERFILE, title="Drop sudo (the build runs as root here)", applicability=Applicability.SAFE)
def no_sudo(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    df: Dockerfile = subject.dockerfile
    inst = instruction_at(df, finding)
    if inst is None or finding.payload != SudoUse("run", root=True):
        return None
    edits = []
    for script in run_scripts(inst):
        for cmd in script.commands:
            word = sudo_word(cmd)
            if word is None:
                continue
            idx = cmd.words.index(word)
            nxt = cmd.words[idx + 1] if idx + 1 < len(cmd.words) else None
            if nxt is None or nxt.value.startswith("-"):
                return None  # sudo with options (-u user ...) is not a plain prefix
            span = word_span(script, word)
            nspan = word_span(script, nxt)
            if span is None or nspan is None:
                return None
            edits.append(TextEdit(span[0], nspan[0], ""))
    return make_fix(subject, "Drop sudo (the build already runs as root)", Applicability.SAFE, edits)


_REMOVABLE_WITH_VALUE = {"--trusted-host"}


@fixer("build.tls-verification", TargetKind.DOCKERFILE, title="Remove the flag that disables verification", applicability=Applicability.UNSAFE)
def tls_verification(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    df: Dockerfile = subject.dockerfile
    inst = instruction_at(df, finding)
    if inst is None or not isinstance(finding.payload, (NamedVariable, Variant)):
        return None
    if isinstance(finding.payload, NamedVariable) and finding.payload.kind == "env":
        pairs = inst.env_pairs() if inst.cmd == "env" else [(w.partition("=")[0], "") for w in inst.args]
        name = finding.payload.name
        if len(pairs) == 1 and pairs[0][0] in TLS_ENV:
            return make_fix(subject, f"Remove {inst.keyword} {pairs[0][0]}", Applicability.UNSAFE, [delete_instruction(df, inst)])
        edit = remove_env_pair(df, inst, name) if inst.cmd == "env" else None
        return make_fix(subject, f"Remove {name} from {inst.keyword}", Applicability.UNSAFE, [edit]) if edit else None
    edits: list[TextEdit] = []
    for script in run_scripts(inst):
        for cmd in script.commands:
            problems = {flag for flag, _ in tls_problems(cmd)}
            if not problems:
                continue
            if CONFIG_FLAG in problems:
                return None  # a config command or config text: not one flag to drop
            words = cmd.words
            for i, w in enumerate(words):
                if w.value not in problems:
                    continue
                if re.fullmatch(r"-[a-zA-Z]*k[a-zA-Z]*", w.value) and len(w.value) > 2:
                    span = word_span(script, w)
                    if span is None or w.quoted:
                        return None
                    edits.append(TextEdit(span[0], span[1], w.value.replace("k", "", 1)))
                    continue
                if w.value in ("http.sslVerify", "strict-ssl"):
                    return None  # a config command, not a flag: leave it to the user
                edit = remove_word(df, script, w)
                if edit is None:
                    return None
                edits.append(edit)
                if w.value in _REMOVABLE_WITH_VALUE and i + 1 < len(words):
                    extra = remove_word(df, script, words[i + 1])
                    if extra is None:
                        return None
                    edits.append(extra)
    return make_fix(subject, "Remove the flags that disable TLS/signature checks", Applicability.UNSAFE, edits)
