"""Fixes for build hygiene: a lone package-index refresh merged into the install that
needs it (safe), and a bash SHELL with pipefail before the first RUN whose pipe could
hide a failure (changes behaviour: a failing pipe now stops the build).

Both are text edits of the Dockerfile: nothing is re-serialised, so the escape character,
the line endings and every other line stay as they are.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from lockdock.context import ScanContext
from lockdock.dockerfile.buildrules import (
    FAMILY,
    UPDATE_SUBS,
    index_commands,
    indirect_consumers,
    lone_updates,
)
from lockdock.dockerfile.edit import (
    delete_instruction,
    insert_lines_before,
    instruction_at,
    make_fix,
)
from lockdock.dockerfile.facts import installs_in
from lockdock.dockerfile.model import Dockerfile, Instruction
from lockdock.dockerfile.shell import Command
from lockdock.dockerfile.shellsafety import pipefail_shell
from lockdock.model import Applicability, Finding, Fix, TargetKind, TextEdit
from lockdock.payloads import PackageUpdate
from lockdock.payloads.dockerfile import ShellIssue
from lockdock.registry import fixer
from lockdock.sources import DockerfileSubject

_KEYWORDS = frozenset({"then", "do", "else", "if", "!", "{", "elif", "while", "until", "("})


def _only_updates(inst: Instruction) -> list[Command] | None:
    """The update commands of a RUN made of lone index refreshes only (else None)."""
    if inst.json or inst.heredocs or inst.cmd != "run":
        return None
    lone = lone_updates(inst)
    uses = index_commands(inst)
    from lockdock.dockerfile.shell import run_scripts

    scripts = run_scripts(inst)
    total = sum(len(s.commands) for s in scripts)
    if not lone or len(lone) != total or len(uses) != total:
        return None
    if any(c.op_after in ("|", "||", "&") for s in scripts for c in s.commands):
        return None
    return [u.command for u in lone]


def merge_update(df: Dockerfile, inst: Instruction) -> list[TextEdit] | None:
    """Delete the lone-update RUN and run the refresh right before the next install of the
    same package manager family in its stage; None when that is not provably equivalent."""
    cmds = _only_updates(inst)
    if not cmds:
        return None
    fam = FAMILY[cmds[0].program()[0]]
    if any(FAMILY.get(c.program()[0]) != fam for c in cmds):
        return None
    st = df.stage_of(inst)
    if st is None:
        return None
    after = st.instructions[st.instructions.index(inst) + 1 :]
    for other in after:
        if other.cmd in ("user", "shell", "onbuild"):
            return None  # the refresh would run under another user or shell
        if other.cmd != "run":
            continue
        uses = [u for u in index_commands(other) if u.family == fam]
        if fam in indirect_consumers(other):
            return None  # `xargs apt-get install` and the like: leave the order alone
        if not uses:
            continue
        if other.flag("network") == "none":
            return None  # the refresh needs the network this RUN does not have
        first = uses[0]
        install = next((i for i in installs_in(other) if i.command is first.command), None)
        if first.sub in UPDATE_SUBS[fam]:
            return [delete_instruction(df, inst)]  # it refreshes on its own already
        if install is None:
            return None  # an upgrade or another use of the index: leave it
        return _prefix(df, inst, install.script, first.command, cmds)
    return None


def _prefix(df: Dockerfile, lone: Instruction, script: Any, cmd: Command, updates: list[Command]) -> list[TextEdit] | None:
    if script.to_file is None or not cmd.words or cmd.words[0].value in _KEYWORDS:
        return None
    if cmd.op_before not in ("", "&&", ";", "\n"):
        return None
    text = " && ".join(shlex.join(w.value for w in u.words) for u in updates)
    pos = script.to_file(cmd.words[0].start)
    return [delete_instruction(df, lone), TextEdit(pos, pos, f"{text} && ")]


@fixer("build.package-update", TargetKind.DOCKERFILE, title="Merge the lone index refresh into its install", applicability=Applicability.SAFE)
def package_update(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    if not isinstance(finding.payload, PackageUpdate) or finding.payload.issue != "lone-update":
        return None
    df = subject.dockerfile
    inst = instruction_at(df, finding)
    if inst is None:
        return None
    edits = merge_update(df, inst)
    if not edits:
        return None
    return make_fix(subject, "Run the index refresh in the same RUN as the install", Applicability.SAFE, edits)


@fixer("build.shell-safety", TargetKind.DOCKERFILE, title="SHELL with -o pipefail", applicability=Applicability.UNSAFE)
def pipefail(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    if finding.payload != ShellIssue("pipe"):
        return None
    df = subject.dockerfile
    inst = instruction_at(df, finding)
    if inst is None:
        return None
    first, bash, _why = pipefail_shell(df, inst, ctx)
    if first is not inst or bash is None:
        return None  # one fix per stage, offered on its first RUN with a pipe
    line = "SHELL " + json.dumps([bash, "-o", "pipefail", "-c"])
    return make_fix(
        subject,
        f"Add {line} before the first RUN with a pipe",
        Applicability.UNSAFE,
        [insert_lines_before(df, first, [line])],
        note="later RUNs of the stage run in bash with pipefail: a failing command inside a pipe now fails the build",
    )
