"""Does a RUN stop when one of its commands fails? Pipes without `pipefail`, `cd` whose
failure is ignored, and recursive deletes of a path built from a variable that may be
empty (ShellCheck SC2115/SC2164, hadolint DL4006/DL3003).

The shell a RUN runs in comes from the stage's SHELL instruction (inherited through
`FROM <stage>`), `/bin/sh -c` otherwise. Options count when SHELL passes them
(`-o pipefail`, `-e`) or when the script sets them (`set -o pipefail`, `set -eu`) before
the command judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lockdock.dockerfile.facts import chain, chain_root
from lockdock.dockerfile.model import Dockerfile, Instruction
from lockdock.dockerfile.shell import Command, Script, run_scripts

BASH_LIKE = frozenset({"bash", "zsh", "ksh", "mksh", "ash", "busybox"})
POSIX_SHELLS = frozenset({"sh", "dash"}) | BASH_LIKE
# A path that starts with a variable and goes on below it (`$DIR/`, `${DIR}/*`): empty, it is
# `/...` (ShellCheck SC2115). A lone `"$DIR"` is not: empty, rm gets "" and deletes nothing.
_VAR_PATH = re.compile(r"^\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})/")
DESTRUCTIVE = frozenset({"rm", "chmod", "chown", "chgrp", "mv", "cp", "ln", "shred"})
_SHORT_FLAGS = re.compile(r"-[a-zA-Z]+")
_RECURSIVE = re.compile(r"-[a-zA-Z]*[rR][a-zA-Z]*|--recursive")


@dataclass(frozen=True)
class ShellInfo:
    """The shell of a RUN: its argv (SHELL or the default) and the options it starts with."""

    argv: tuple[str, ...]
    name: str  # basename of argv[0]
    pipefail: bool
    errexit: bool

    @property
    def posix(self) -> bool:
        return self.name in POSIX_SHELLS

    @property
    def supports_pipefail(self) -> bool:
        return self.name in BASH_LIKE


DEFAULT_SHELL = ("/bin/sh", "-c")


def shell_info(argv: tuple[str, ...]) -> ShellInfo:
    name = argv[0].rsplit("/", 1)[-1].lower() if argv else "sh"
    pipefail = errexit = False
    for i, a in enumerate(argv[1:], 1):
        if a.startswith("-") and not a.startswith("--"):
            flags = a[1:]
            if "e" in flags:
                errexit = True
            if flags.endswith("o") and i + 1 < len(argv) and argv[i + 1] == "pipefail":
                pipefail = True
    return ShellInfo(tuple(argv), name, pipefail, errexit)


def shells_by_run(df: Dockerfile) -> dict[int, ShellInfo]:
    """id(RUN instruction) -> the shell it runs in (computed once per file)."""
    cached = df.cache.get("run_shells")
    if cached is not None:
        return cached
    out: dict[int, ShellInfo] = {}
    at_end: dict[int, tuple[str, ...]] = {}
    for st in df.stages:
        current = at_end.get(st.base_stage, DEFAULT_SHELL) if st.base_stage is not None else DEFAULT_SHELL
        for inst in st.instructions:
            if inst.cmd == "shell" and inst.json and inst.args:
                current = tuple(inst.args)
            elif inst.cmd == "run":
                out[id(inst)] = shell_info(current)
        at_end[st.index] = current
    df.cache["run_shells"] = out
    return out


def _set_options(cmd: Command) -> tuple[bool, bool]:
    """(pipefail, errexit) switched on by a `set` command."""
    name, args, _ = cmd.program()
    if name != "set":
        return False, False
    pipefail = errexit = False
    for i, a in enumerate(args):
        if _SHORT_FLAGS.fullmatch(a):
            if "e" in a:
                errexit = True
            if a.endswith("o") and i + 1 < len(args) and args[i + 1] == "pipefail":
                pipefail = True
        elif a == "-o" and i + 1 < len(args) and args[i + 1] == "errexit":
            errexit = True
    return pipefail, errexit


@dataclass(frozen=True)
class ShellIssue:
    kind: str  # "pipe", "cd", "rm-var"
    script: Script
    command: Command
    detail: str  # the variable name for rm-var, the program feeding the pipe...


def _env_defined(df: Dockerfile, inst: Instruction) -> set[str]:
    """Names an ENV of this stage's chain sets to a non-empty value before `inst`."""
    st = df.stage_of(inst)
    names: set[str] = set()
    if st is None:
        return names
    for s in chain(df, st):
        for i in s.instructions:
            if i is inst:
                return names
            if i.cmd == "env":
                names |= {k for k, v in i.env_pairs() if v.strip("'\"")}
    return names


def shell_issues(df: Dockerfile, inst: Instruction) -> list[ShellIssue]:
    """Lockdock's own shell-safety detections for one RUN (computed once per instruction:
    the analyzer, and the pipefail fix of every pipe finding, ask for them)."""
    cached = inst.cache.get("shell_issues")
    if cached is None:
        cached = inst.cache["shell_issues"] = _shell_issues(df, inst)
    return list(cached)


def _shell_issues(df: Dockerfile, inst: Instruction) -> list[ShellIssue]:
    info = shells_by_run(df).get(id(inst), shell_info(DEFAULT_SHELL))
    if inst.json:
        info = shell_info(tuple(inst.args[:-1]))  # exec form: its own `sh -c`, not SHELL
    if not info.posix:
        return []  # PowerShell, cmd, a custom interpreter: not a POSIX shell script
    out: list[ShellIssue] = []
    env = None
    for script in run_scripts(inst):
        pipefail, errexit = info.pipefail, info.errexit
        cmds = script.commands
        for idx, cmd in enumerate(cmds):
            pf, ee = _set_options(cmd)
            pipefail, errexit = pipefail or pf, errexit or ee
            name, args, _ = cmd.program()
            if cmd.op_after == "|" and not pipefail and cmd.op_before != "|":
                out.append(ShellIssue("pipe", script, cmd, name))
            if (
                name == "cd"
                and not errexit
                and cmd.op_after in (";", "\n", "&")
                and idx + 1 < len(cmds)
                and cmds[idx + 1].op_before not in ("||", "&&")
            ):
                out.append(ShellIssue("cd", script, cmd, args[0] if args else "~"))
            if name == "rm" and any(_RECURSIVE.fullmatch(a) for a in args):
                for a in args:
                    m = _VAR_PATH.match(a)
                    if m is None:
                        continue
                    var = m.group(1) or m.group(2)
                    if env is None:
                        env = _env_defined(df, inst)
                    if var not in env:
                        out.append(ShellIssue("rm-var", script, cmd, var))
                        break
    return out


def stage_has_bash_before(df: Dockerfile, inst: Instruction) -> bool:
    """True when the stage chain of `inst` installs bash (apt/apk/yum/dnf) before it."""
    from lockdock.dockerfile.facts import installs_in, package_name

    st = df.stage_of(inst)
    if st is None:
        return False
    for s in chain(df, st):
        for i in s.instructions:
            if i is inst:
                return False
            if i.cmd == "run":
                for install in installs_in(i):
                    if install.manager in ("apt-get", "apt", "apk", "yum", "dnf", "microdnf", "tdnf", "zypper") and any(
                        package_name(p) == "bash" for p in install.packages
                    ):
                        return True
    return False


def bash_for_stage(df: Dockerfile, inst: Instruction, ctx: Any) -> tuple[str | None, str]:
    """(path of bash, how it is known) for the stage of `inst`, or (None, why not).

    Bash is known when the stage chain installs it before `inst`, or when the chain's base
    is a local image whose final filesystem has bash (layer facts, read through the engine).
    """
    if stage_has_bash_before(df, inst):
        return "/bin/bash", "the stage installs bash"
    st = df.stage_of(inst)
    if st is None:
        return None, "the RUN is outside any stage"
    root = chain_root(df, st)
    if not root.base_is_image or not root.resolved:
        return None, "the stage is not built on an image lockdock can inspect"
    if getattr(ctx, "engine", None) is None:
        return None, f"bash is not known to be in {root.base} (no Docker engine to inspect it)"
    data = ctx.local_image(root.base)
    if not isinstance(data, dict):
        return None, f"{root.base} is not a local image, so bash in it cannot be verified"
    from lockdock.engine.images import make_subject

    key = f"bash-in:{data.get('Id')}"
    cached = ctx.cache.get(key)
    if cached is None:
        image = make_subject(ctx.engine.api, data, ctx)
        image.load(ctx)
        paths = sorted("/" + p.fact.path for p in image.placed_facts({"shell"}) if p.in_final)
        cached = ctx.cache[key] = (paths, image.contents is not None)
    paths, read = cached
    if paths:
        best = "/bin/bash" if "/bin/bash" in paths else paths[0]
        return best, f"{root.base} has {best}"
    if not read:
        return None, f"the layers of {root.base} could not be read"
    return None, f"{root.base} has no bash"


def first_pipe_run(df: Any, inst: Instruction) -> Instruction | None:
    """The first RUN of `inst`'s stage with a pipe lacking pipefail (where SHELL goes)."""
    st = df.stage_of(inst)
    for other in st.instructions if st is not None else []:
        if other.cmd == "run" and not other.json and any(i.kind == "pipe" for i in shell_issues(df, other)):
            return other
    return None


def pipefail_shell(df: Any, inst: Instruction, ctx: Any) -> tuple[Instruction | None, str | None, str]:
    """(RUN to put SHELL before, bash path, "") when the fix is possible, else (.., None, why)."""
    first = first_pipe_run(df, inst)
    if first is None:
        return None, None, "no pipe without pipefail in this stage"
    info = shells_by_run(df).get(id(first))
    if info is not None and info.name not in ("sh", "bash", "dash"):
        return first, None, f"the stage's SHELL is {info.name}, not a shell lockdock replaces"
    path, why = bash_for_stage(df, first, ctx)
    return first, path, "" if path else why
