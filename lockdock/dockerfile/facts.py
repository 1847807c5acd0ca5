"""Facts analyzers and fixers share: which stages ship, who runs, what gets installed.

Multi-stage awareness lives here once: the final stage and the stages it builds on
(`FROM build`) make up the image; everything else is a build stage whose tools and
users do not ship.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from lockdock.dockerfile.model import Dockerfile, Instruction, Stage
from lockdock.dockerfile.shell import Command, Script, run_scripts, split_commands
from lockdock.engine.refs import ImageRef, parse_ref
from lockdock.model import Finding, Location, Payload, Severity
from lockdock.secrets import check_assignment, find_in_text, mask
from lockdock.text import safe

ROOT_USERS = frozenset({"", "root", "0"})


def chain(df: Dockerfile, stage: Stage) -> list[Stage]:
    """`stage` and the stages it builds on, root first."""
    out = [stage]
    seen = {stage.index}
    cur = stage
    while cur.base_stage is not None and cur.base_stage not in seen:
        seen.add(cur.base_stage)
        cur = df.stages[cur.base_stage]
        out.append(cur)
    out.reverse()
    return out


def chain_root(df: Dockerfile, stage: Stage) -> Stage:
    """The first stage of `stage`'s chain (memoised: files may chain thousands of stages)."""
    memo: dict[int, int] = df.cache.setdefault("roots", {})
    path = []
    cur = stage
    while cur.index not in memo and cur.base_stage is not None and cur.base_stage < cur.index:
        path.append(cur.index)
        cur = df.stages[cur.base_stage]
    root = memo.get(cur.index, cur.index)
    for idx in path:
        memo[idx] = root
    memo[stage.index] = root
    return df.stages[root]


def final_chain(df: Dockerfile) -> list[Stage]:
    return chain(df, df.stages[-1]) if df.stages else []


def shipped_instructions(df: Dockerfile) -> list[Instruction]:
    """Instructions whose effects end up in the final image."""
    return [i for st in final_chain(df) for i in st.instructions]


def is_root_user(user: str) -> bool:
    name = user.strip().split(":", 1)[0].strip()
    return name.lower() in ROOT_USERS


def last_user(stages: list[Stage]) -> Instruction | None:
    found = None
    for st in stages:
        for inst in st.instructions:
            if inst.cmd == "user" and inst.args:
                found = inst
    return found


def user_before(df: Dockerfile, inst: Instruction) -> Instruction | None:
    """The USER in effect when `inst` runs (None: the base image's user)."""
    users: dict[int, Instruction | None] | None = df.cache.get("users_before")
    if users is None:
        users = {}
        at_end: dict[int, Instruction | None] = {}  # stage index -> USER in effect at its end
        for st in df.stages:
            current = at_end.get(st.base_stage) if st.base_stage is not None else None
            for other in st.instructions:
                users[id(other)] = current
                if other.cmd == "user" and other.args:
                    current = other
            at_end[st.index] = current
        df.cache["users_before"] = users
    return users.get(id(inst))


# --------------------------------------------------------------------------- images


@dataclass
class ImageUse:
    inst: Instruction
    ref: str  # after ARG substitution
    parsed: ImageRef
    how: str  # "FROM", "COPY --from", "RUN --mount from"
    stage: Stage | None


def image_ref(text: str) -> ImageRef | None:
    """Parse an image reference; None for references the analyzers cannot judge."""
    if not text or "$" in text or any(c.isspace() for c in text):
        return None
    ref = text.split("://", 1)[1] if "://" in text else text
    try:
        return parse_ref(ref)
    except ValueError:
        return None


def image_uses(df: Dockerfile) -> list[ImageUse]:
    """Every real image reference: FROM bases, `COPY --from=image`, `RUN --mount=from=image`."""
    uses: list[ImageUse] = []
    for st in df.stages:
        if st.base_is_image and st.resolved:
            parsed = image_ref(st.base)
            if parsed is not None:
                uses.append(ImageUse(st.from_instruction, st.base, parsed, "FROM", st))
        for inst in st.instructions:
            refs: list[tuple[str, str]] = []
            if inst.cmd in ("copy", "add"):
                refs += [(v, "COPY --from") for v in inst.flag_values("from")]
            if inst.cmd == "run":
                for mount in inst.flag_values("mount"):
                    opts = mount_options(mount)
                    if "from" in opts:
                        refs.append((opts["from"], "RUN --mount from"))
            for value, how in refs:
                if not value or df.stage_by_name(value) is not None or "$" in value:
                    continue
                if ":" not in value and "/" not in value and "@" not in value:
                    continue  # a bare word is a (possibly later or unknown) stage name, or a context
                parsed = image_ref(value)
                if parsed is not None:
                    uses.append(ImageUse(inst, value, parsed, how, st))
    return uses


def mount_options(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in value.split(","):
        k, eq, v = part.partition("=")
        out[k.strip().lower()] = v.strip() if eq else "true"
    return out


def has_cache_mount(inst: Instruction, *targets: str) -> bool:
    """True when a `--mount=type=cache` (or tmpfs) of `inst` covers one of `targets`:
    the mount's target is that directory or one above it, so nothing under it reaches the layer."""
    for m in inst.flag_values("mount"):
        opts = mount_options(m)
        if opts.get("type") not in ("cache", "tmpfs"):
            continue
        target = (opts.get("target") or opts.get("dst") or opts.get("destination") or "").rstrip("/")
        if not target.startswith("/"):
            continue
        if any(t.rstrip("/") == target or t.startswith(target + "/") for t in targets):
            return True
    return False


def has_secret_mount(inst: Instruction) -> bool:
    return any(mount_options(m).get("type") in ("secret", "ssh") for m in inst.flag_values("mount"))


# --------------------------------------------------------------------------- packages


@dataclass
class Install:
    manager: str  # apt-get, apk, pip, npm, yarn, yum, dnf, microdnf, zypper
    command: Command
    packages: list[str]
    script: Script
    inst: Instruction
    sub_index: int  # index of the subcommand word in command.words


_APT = {"apt-get", "apt"}
_SIMULATE = frozenset({"-s", "--simulate", "--just-print", "--dry-run", "--recon", "--no-act"})
_RPM = {"yum", "dnf", "microdnf", "tdnf"}
_ARG_OPTS = {"-o", "--option", "-t", "--target-release", "--virtual", "-X", "--repository",
             "-c", "--constraint", "-r", "--requirement", "-i", "--index-url", "--extra-index-url",
             "--trusted-host", "--enablerepo", "--disablerepo", "--setopt", "--prefix", "--root"}


_PIP = re.compile(r"pip[0-9.]*")
_PYTHON = re.compile(r"python[0-9.]*")
_SPEC_END = re.compile(r"[=<>~@!\[]")


def _pip_sub(name: str, args: list[str]) -> int | None:
    """Index (into args) of `install` for pip/pip3/python -m pip."""
    if not name.startswith("p"):
        return None
    if _PIP.fullmatch(name):
        return args.index("install") if "install" in args[:3] else None
    if _PYTHON.fullmatch(name) and args[:2] == ["-m", "pip"] and "install" in args[2:5]:
        return args.index("install")
    return None


def installs_in(inst: Instruction) -> list[Install]:
    """Package-manager install commands of a RUN (computed once per instruction)."""
    cached = inst.cache.get("installs")
    if cached is None:
        cached = inst.cache["installs"] = _installs_in(inst)
    return cached


def _installs_in(inst: Instruction) -> list[Install]:
    out: list[Install] = []
    for script in run_scripts(inst):
        for cmd in script.commands:
            name, args, pidx = cmd.program()
            sub: int | None = None
            manager = name
            if name in _APT and "install" in args:
                if any(a in _SIMULATE for a in args):
                    continue  # `apt-get install -s`: a dry run installs nothing
                sub = args.index("install")
            elif name == "apk" and "add" in args:
                sub = args.index("add")
            elif name in _RPM and ("install" in args or "groupinstall" in args):
                sub = args.index("install") if "install" in args else args.index("groupinstall")
            elif name == "zypper" and ("install" in args or "in" in args):
                sub = args.index("install") if "install" in args else args.index("in")
            elif name in ("npm", "pnpm") and args and args[0] in ("install", "i", "ci", "add"):
                sub = 0
            elif name == "yarn" and (not args or args[0] in ("install", "add")):
                sub = 0 if args else -1
            else:
                sub = _pip_sub(name, args)
                manager = "pip" if sub is not None else name
            if sub is None:
                continue
            pkgs = _packages(args[sub + 1 :]) if sub >= 0 else []
            out.append(Install(manager, cmd, pkgs, script, inst, pidx + 1 + sub))
    return out


def _packages(args: list[str]) -> list[str]:
    pkgs = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in _ARG_OPTS:
            skip = True
            continue
        if a.startswith("-") or a in ("&&", ";") or "$" in a:
            continue
        pkgs.append(a)
    return pkgs


def package_name(spec: str) -> str:
    """`curl=7.88.1-10` / `git>=2` / `py3-pip@edge` -> the bare package name."""
    return _SPEC_END.split(spec, maxsplit=1)[0].strip().lower()


def removed_packages(scripts: list[Script]) -> set[str]:
    """Packages a RUN removes again (apt-get purge/remove, apk del, yum remove...)."""
    out: set[str] = set()
    for script in scripts:
        for cmd in script.commands:
            name, args, _ = cmd.program()
            if (name in _APT and any(a in ("purge", "remove", "autoremove") for a in args[:3])) or (
                name == "apk" and "del" in args[:3]
            ) or (name in _RPM and any(a in ("remove", "erase", "autoremove") for a in args[:3])):
                out |= {package_name(a) for a in args if not a.startswith("-")}
    return out


def auto_removed_installs(inst: Instruction) -> set[int]:
    """ids of the Install commands a RUN undoes with the docker-library idiom: every package
    installed before `apt-mark auto` (also `... | xargs apt-mark auto`) is removed again by
    `apt-get purge --auto-remove` (or `remove --purge --auto-remove`, `autoremove`)."""
    cached = inst.cache.get("auto_removed")
    if cached is not None:
        return cached
    order: list[tuple[str, Command]] = []
    for script in run_scripts(inst):
        for cmd in script.commands:
            name, args, _ = cmd.program()
            if name == "xargs" and args[:1] == ["apt-mark"]:
                name, args = "apt-mark", args[1:]
            order.append((name, cmd))
            if name == "apt-mark" and "auto" in args[:2]:
                order[-1] = ("<auto>", cmd)
            elif name in _APT and ("autoremove" in args[:3] or any(a in ("--auto-remove", "--autoremove") for a in args)):
                order[-1] = ("<purge>", cmd)
    names = [n for n, _ in order]
    out: set[int] = set()
    if "<auto>" in names and "<purge>" in names[names.index("<auto>") :]:
        before = {id(c) for _, c in order[: names.index("<auto>")]}
        out = {id(i) for i in installs_in(inst) if id(i.command) in before}
    inst.cache["auto_removed"] = out
    return out


# --------------------------------------------------------------------------- findings

MAX_FINDINGS_PER_CHECK = 100  # per file: a generated 60,000-line Dockerfile must not flood reports


def capped(fn: Callable[[Any, Any], Iterable[Finding]]) -> Callable[[Any, Any], Iterator[Finding]]:
    """Limit an analyzer to MAX_FINDINGS_PER_CHECK findings per check and file; say so once."""

    @functools.wraps(fn)
    def wrapper(subject: Any, ctx: Any) -> Iterator[Finding]:
        counts: Counter[str] = Counter()
        for f in fn(subject, ctx):
            counts[f.check] += 1
            n = counts[f.check]
            if n == MAX_FINDINGS_PER_CHECK + 1:
                ctx.warn(
                    getattr(subject, "path", None) or subject.target.path,
                    f"{f.check}: more than {MAX_FINDINGS_PER_CHECK} findings in this file; the rest are not listed",
                )
            if n <= MAX_FINDINGS_PER_CHECK:
                yield f

    return wrapper



_PAIR = re.compile(r"([A-Za-z_][A-Za-z0-9_.\-]*)=(\"[^\"]*\"|'[^']*'|\S+)")
_OLD_STYLE = re.compile(r"(?i)^(\s*(?:env|arg|label)\s+)([^\s=]+)(\s+)(.+)$")


def _mask_pairs(line: str) -> str:
    """Mask `NAME=value` (and `ENV NAME value`) whose name or value says it is a secret."""
    old = _OLD_STYLE.match(line)
    if old:
        match = check_assignment(old.group(2), old.group(4).strip("'\""))
        return line if match is None else old.group(1) + old.group(2) + old.group(3) + match.masked
    out: list[str] = []
    pos = 0
    for m in _PAIR.finditer(line):
        if "******" in m.group(2):
            continue  # already masked by format
        match = check_assignment(m.group(1), m.group(2).strip("'\""))
        if match is not None:
            out.append(line[pos : m.start(2)] + match.masked)
            pos = m.end()
    out.append(line[pos:])
    return "".join(out)


def evidence(text: str, limit: int = 160) -> str:
    """The instruction's first line as shown in reports: secrets masked, controls escaped."""
    if len(text) > 2048:  # not remembered: the memo must not hold on to big texts
        return _evidence.__wrapped__(text, limit)
    return _evidence(text, limit)


@functools.lru_cache(maxsize=4096)
def _evidence(text: str, limit: int) -> str:
    # Remembered: the same RUN text or package name is shown by many findings and files.
    first = text.strip().splitlines()[0] if text.strip() else ""
    first = mask_build_passwords(first[:4096])
    for match in sorted(find_in_text(first), key=lambda m: m.start, reverse=True):
        first = first[: match.start] + match.masked + first[match.end :]
    return safe(_mask_pairs(first), limit)


_PASSWORD_SETTER = re.compile(r"\b(chpasswd|passwd|useradd|usermod|adduser)\b")
# What precedes the shell script: a RUN and its flags, or an image history entry's
# `|N ARG=v... /bin/sh -c`.
_RUN_PREFIX = re.compile(r"(?i)\s*(?:RUN\s+(?:--\S+\s+)*|(?:\|\d+\s+(?:\S+=\S*\s+)*)?/bin/(?:ba)?sh\s+-c\s+)?")


def mask_build_passwords(line: str) -> str:
    """`line` (a RUN line or an image history command) with the literal passwords
    `build_passwords` finds masked: the words fed to chpasswd/passwd, the value after
    useradd/usermod -p. Any finding's evidence or layer command may show such a line (a
    pipe without pipefail, say), not only the secrets check's."""
    if not _PASSWORD_SETTER.search(line):
        return line
    prefix = _RUN_PREFIX.match(line)
    offset = prefix.end() if prefix else 0
    commands = split_commands(line[offset:])
    spans: list[tuple[int, int, str]] = []
    for cmd, what, masked in build_passwords(commands):
        if what.split()[0] in ("useradd", "usermod", "adduser"):  # useradd -p VALUE
            words = cmd.words
            spans += [(w.start, w.end, masked) for k, w in enumerate(words[1:], 1) if words[k - 1].value == what.split()[1]]
        else:  # the feeder's words (echo 'user:pw' | chpasswd)
            feeder = commands[commands.index(cmd) - 1]
            _, _, at = feeder.program()
            spans += [(w.start, w.end, masked) for w in feeder.words[at + 1 :] if not w.value.startswith("-")]
    for start, end, masked in sorted(spans, reverse=True):
        line = line[: offset + start] + masked + line[offset + end :]
    return line


def command_offset(script: Script, cmd: Command) -> int | None:
    """File offset of `cmd`'s first word, or None when the script has no positions (JSON form)."""
    if script.to_file is None or not cmd.words:
        return None
    return script.to_file(cmd.words[0].start)


Where = tuple[Script, Command] | int | None


def finding(
    check: str,
    subject: Any,
    inst: Instruction,
    message: str,
    *,
    text: str | None = None,
    severity: Severity | None = None,
    payload: Payload | None = None,
    ev: str | None = None,
    at: Where = None,
) -> Finding:
    """A finding located at `inst`: its first and last line.

    `at` narrows the start line to one sub-command of a multi-line RUN or heredoc: a
    (script, command) pair from `run_scripts`, or a file offset. The instruction's first
    line stays in the finding's `scope_lines`, so a pragma above the instruction still applies.
    """
    src = subject.dockerfile.text[inst.start : inst.end] if text is None else text
    line = inst.start_line
    offset = command_offset(*at) if isinstance(at, tuple) else at
    scope: tuple[int, ...] = ()
    if offset is not None and inst.start <= offset <= inst.end:
        line = subject.dockerfile.line_of(offset)
        if line != inst.start_line:
            scope = (inst.start_line,)
            if text is None and ev is None:
                src = _line_around(subject.dockerfile.text, offset)
    return Finding(
        check=check,
        target=subject.target,
        message=message,
        location=Location(path=subject.target.path, line=line, end_line=max(line, inst.end_line)),
        evidence=ev if ev is not None else evidence(src),
        severity=severity,
        payload=payload,
        scope_lines=scope,
    )


def _line_around(text: str, offset: int) -> str:
    """The text of the line holding `offset`, continuation backslash dropped."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    line = text[start : len(text) if end < 0 else end].rstrip("\r")
    return line[:-1].rstrip() if line.endswith("\\") else line


# --------------------------------------------------------------------------- build-time passwords

_FEEDERS = frozenset({"echo", "printf"})


_CRYPT_HASH = re.compile(r"^\$(1|2[abxy]?|5|6|7|y|gy)\$[^\s$]*\$?[^\s]*$")


def _literal(value: str) -> bool:
    """A value written in the Dockerfile: no variable, no command substitution, no secret mount
    (a crypt(3) hash such as `$6$salt$...` is literal despite its dollars)."""
    v = value.strip()
    if _CRYPT_HASH.match(v):
        return True
    return bool(v) and "$" not in v and "`" not in v and not v.startswith("/run/secrets/")


def build_passwords(commands: list[Command]) -> list[tuple[Command, str, str]]:
    """(command, what, masked value) for literal passwords set while building an image.

    Spellings: `echo 'user:pw' | chpasswd`, `echo pw | passwd --stdin user`,
    `echo -e 'pw\\npw' | passwd user`, `useradd/usermod -p HASH`. A value read from a
    variable or a `/run/secrets/` file is not a literal and is not reported.
    """
    out: list[tuple[Command, str, str]] = []
    for i, cmd in enumerate(commands):
        name, args, _ = cmd.program()
        if name in ("useradd", "usermod", "adduser") and ("-p" in args or "--password" in args):
            flag = "-p" if "-p" in args else "--password"
            j = args.index(flag) + 1
            if j < len(args) and _literal(args[j]) and args[j] not in ("*", "!", "x", "''", '""'):
                out.append((cmd, f"{name} {flag}", mask(args[j])))
            continue
        if name not in ("chpasswd", "passwd") or cmd.op_before != "|" or i == 0:
            continue
        feeder = commands[i - 1]
        fname, fargs, _ = feeder.program()
        if fname not in _FEEDERS:
            continue
        values = [a for a in fargs if not a.startswith("-")]
        if not values or not all(_literal(v) for v in values):
            continue
        value = " ".join(values)
        if name == "chpasswd":
            pairs = [p.partition(":")[2] for p in value.replace("\\n", "\n").split() if ":" in p]
            if not pairs or not all(pairs):
                continue
            out.append((cmd, "chpasswd", mask(pairs[0])))
        else:
            out.append((cmd, "passwd --stdin" if "--stdin" in args else "passwd", mask(value.split("\\n")[0])))
    return out


# Names shared by the Dockerfile analyzers and fixers (build.copy-not-add, build.exec-form,
# network.exposed-ports).
# ADD sources Docker unpacks: a local archive is the one reason to keep ADD over COPY.
ARCHIVE = re.compile(r"(?i)\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tzst|tar\.lz|tar\.lzma|gz|bz2|xz)$")
# Characters that need a shell: a shell-form command using none converts to exec form as is.
SHELL_SYNTAX = re.compile(r"[$`|&;<>*?~(){}\[\]\\!#'\"]")
# Remote-administration ports (port -> service) an image should not EXPOSE.
ADMIN_PORTS = {22: "SSH", 23: "telnet", 2375: "Docker API (plain)", 2376: "Docker API", 3389: "RDP", 5900: "VNC"}


def add_sources(inst: Instruction) -> list[str]:
    """The source arguments of an ADD or COPY (every argument but the destination)."""
    if len(inst.args) < 2:
        return []
    return list(inst.args[:-1])


def is_remote(src: str) -> bool:
    """Whether an ADD source is a URL or a git remote rather than a build-context path."""
    return "://" in src or src.startswith("git@")


def exec_form_json(rest: str) -> list[str] | None:
    """The exec-form words of a shell-form command, when it uses no shell syntax."""
    words = rest.split()
    if not words or SHELL_SYNTAX.search(rest) or "=" in words[0]:
        return None
    return words
