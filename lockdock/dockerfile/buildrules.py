"""Shell-level build rules shared by Dockerfile RUNs and image history commands: which
package installs leave the version open, which index refreshes stand alone, which
upgrades replace the whole distribution.

Everything here works on an `Instruction` whose scripts `run_scripts` can read, so an
image history command wrapped by `history_instruction` is judged exactly like a RUN.
Rules follow hadolint's pinning rules (DL3008 apt, DL3018 apk, DL3033/DL3041 yum/dnf,
DL3037 zypper, DL3013 pip, DL3016 npm, DL3028 gem, DL3062 pecl in the hadolint
versions where it means pecl; go install `@version` as the brief of checklist v2 asks) and the "update alone"
rules of CIS Docker Benchmark 4.7, Trivy DS-0017, checkov CKV_DOCKER_5 and dockle
CIS-DI-0007 / DKL-DI-0003.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lockdock.dockerfile.facts import installs_in
from lockdock.dockerfile.model import Instruction
from lockdock.dockerfile.shell import Command, run_scripts

# Package-manager families: an update of one family is consumed by an install of the same.
FAMILY = {
    "apt-get": "apt", "apt": "apt", "apk": "apk", "yum": "rpm", "dnf": "rpm",
    "microdnf": "rpm", "tdnf": "rpm", "zypper": "zypper",
}
# (family) -> subcommands that refresh the index only.
UPDATE_SUBS = {
    "apt": ("update",), "apk": ("update",), "rpm": ("makecache",), "zypper": ("refresh", "ref"),
}
# Subcommands that read the refreshed index (so the refresh is not alone).
CONSUMER_SUBS = {
    "apt": ("install", "upgrade", "dist-upgrade", "full-upgrade", "build-dep", "source", "download"),
    "apk": ("add", "upgrade", "fix", "fetch"),
    "rpm": ("install", "groupinstall", "upgrade", "update", "distro-sync", "reinstall", "download"),
    "zypper": ("install", "in", "update", "up", "dist-upgrade", "dup", "patch", "source-install", "si"),
}
_NPM_FLOATING = frozenset({"", "latest", "next", "*", "x"})
_LOCAL_SPEC = re.compile(r"^(\.{1,2}(/|\[|$)|/|~|file:|git\+|git:|https?://|github:)|\.(deb|rpm|apk|whl|tar\.gz|tgz|zip|gem)$")
# name-version[-release]: the part after the last dash starts with a digit (java-17-openjdk is a name)
_RPM_VERSIONED = re.compile(r"^[^-\s]\S*-[0-9][^-\s]*$")
_PIP_PINNED = re.compile(r"===?|@\s*\S")
_PIP_LOCKISH = re.compile(r"lock|constraint|hash", re.I)
_APK_APT_PINNED = re.compile(r"[=<>~]")
_RPM_PINNED = re.compile(r"[=<>]")
_PECL_VERSIONED = re.compile(r"-[0-9][^/]*$")


@dataclass(frozen=True)
class Unpinned:
    """One install that does not pin what it installs."""

    manager: str  # apt-get, apk, dnf, pip, npm, yarn, pnpm, gem, go ...
    what: str  # the package spec or command as written (untrusted: sanitise to show)
    hint: str  # how to pin with this manager


def _program(cmd: Command) -> tuple[str, list[str]]:
    name, args, _ = cmd.program()
    return name, args


# `pecl install` options that take the next word as their value (`pecl help install`).
_PECL_VALUE_OPTIONS = frozenset({"-D", "--configureoptions", "-P", "--packagingroot", "-R", "--installroot"})


def _is_local(spec: str) -> bool:
    return bool(_LOCAL_SPEC.search(spec))


def unpinned_installs(inst: Instruction, read_file: Callable[[str], str | None] | None = None) -> list[Unpinned]:
    """Installs of a RUN whose versions float, one entry per package (or per command).

    `read_file(path)` returns the text of a file of the build context (pip `-r` files), or
    None when it cannot be read; without it a requirements file is not judged.
    """
    out: list[Unpinned] = []
    for install in installs_in(inst):
        m = install.manager
        args = [w.value for w in install.command.words]
        fam = FAMILY.get(m)
        if fam in ("apt", "apk"):
            for p in install.packages:
                if not _is_local(p) and not _APK_APT_PINNED.search(p):
                    out.append(Unpinned(m, p, f"{p}=<version>"))
        elif fam in ("rpm", "zypper"):
            for p in install.packages:
                if p.startswith("@") or _is_local(p) or _RPM_PINNED.search(p):
                    continue
                if not _RPM_VERSIONED.match(p):
                    out.append(Unpinned(m, p, f"{p}-<version>"))
        elif m == "pip":
            out += _pip_unpinned(args, install.packages, read_file)
        elif m in ("npm", "pnpm", "yarn"):
            out += _node_unpinned(m, args, install.packages, install.command)
    for script in run_scripts(inst):
        for cmd in script.commands:
            name, args = _program(cmd)
            if name == "gem" and args[:1] == ["install"]:
                out += _gem_unpinned(args[1:])
            elif name == "pecl" and args[:1] == ["install"]:
                rest = args[1:]
                for k, a in enumerate(rest):
                    if k and rest[k - 1] in _PECL_VALUE_OPTIONS:
                        continue  # `--configureoptions 'with-x="yes"'`: an option's value
                    if not a.startswith("-") and "$" not in a and not _is_local(a) and not _PECL_VERSIONED.search(a):
                        out.append(Unpinned("pecl", a, f"{a}-<version>"))
            elif name == "go" and args[:1] == ["install"]:
                for a in args[1:]:
                    if a.startswith("-") or "$" in a or a.startswith("."):
                        continue
                    if "@" not in a or a.rsplit("@", 1)[1] in ("latest", "master", "main", "HEAD", ""):
                        out.append(Unpinned("go", a, f"{a.split('@', 1)[0]}@v<version>"))
    return out


def _pip_unpinned(args: list[str], packages: list[str], read_file: Callable[[str], str | None] | None) -> list[Unpinned]:
    out: list[Unpinned] = []
    hashed = "--require-hashes" in args
    constrained = any(a in ("-c", "--constraint") or a.startswith("--constraint=") for a in args)
    for i, a in enumerate(args):
        req = args[i + 1] if a in ("-r", "--requirement") and i + 1 < len(args) else None
        if req is None and a.startswith("--requirement="):
            req = a.split("=", 1)[1]
        if not req or hashed or constrained or _PIP_LOCKISH.search(req.rsplit("/", 1)[-1]) or "$" in req:
            continue
        text = read_file(req) if read_file is not None else None
        if text is None:
            continue  # not in the build context we can see: not judged
        for line in text.splitlines()[:5000]:
            spec = line.split("#", 1)[0].strip()
            if not spec or spec.startswith("-") or _is_local(spec):
                continue
            if not _PIP_PINNED.search(spec):
                out.append(Unpinned("pip", f"{spec} (in {req})", "name==<version> in the requirements file"))
    for p in packages:
        if _is_local(p) or p == "." or p.startswith("-"):
            continue
        if constrained or hashed:
            continue
        if not _PIP_PINNED.search(p):
            out.append(Unpinned("pip", p, f"{p.split('[', 1)[0]}==<version>"))
    return out


def _node_unpinned(m: str, args: list[str], packages: list[str], cmd: Command) -> list[Unpinned]:
    _, prog_args = _program(cmd)
    sub = prog_args[0] if prog_args else "install"
    out: list[Unpinned] = []
    if not packages:
        if m == "npm" and sub in ("install", "i"):
            out.append(Unpinned("npm", f"npm {sub}", "npm ci (installs exactly package-lock.json)"))
        elif m in ("yarn", "pnpm") and not {"--frozen-lockfile", "--immutable"} & set(args):
            out.append(Unpinned(m, f"{m} install", f"{m} install --frozen-lockfile"))
        return out
    for p in packages:
        if _is_local(p):
            continue
        name, _, version = p[1:].partition("@") if p.startswith("@") else p.partition("@")
        if version.strip() in _NPM_FLOATING or version.startswith(("^", "~", ">", "<")):
            shown = ("@" + name) if p.startswith("@") else name
            out.append(Unpinned(m, p, f"{shown}@<version>"))
    return out


def _gem_unpinned(args: list[str]) -> list[Unpinned]:
    if any(a in ("-v", "--version") or a.startswith("--version=") for a in args):
        return []
    out = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-i", "--install-dir", "-n", "--bindir", "--source", "-s", "--platform"):
            skip = True
            continue
        if a.startswith("-") or "$" in a or _is_local(a):
            continue
        if ":" not in a:
            out.append(Unpinned("gem", a, f"{a}:<version>"))
    return out


# --------------------------------------------------------------------------- index refresh


@dataclass(frozen=True)
class IndexUse:
    """A package-manager command that refreshes, consumes or upgrades the index."""

    family: str
    manager: str
    sub: str
    command: Command
    script_index: int


def index_commands(inst: Instruction) -> list[IndexUse]:
    """Package-manager commands of a RUN in script order (the first subcommand word counts)."""
    out: list[IndexUse] = []
    for si, script in enumerate(run_scripts(inst)):
        for cmd in script.commands:
            name, args = _program(cmd)
            fam = FAMILY.get(name)
            if fam is None:
                continue
            out.append(IndexUse(fam, name, _subcommand(args), cmd, si))
    return out


_OPTION_VALUE = frozenset({"-o", "--option", "-c", "--config", "-t", "--target-release", "-X", "--repository",
                           "--setopt", "--enablerepo", "--disablerepo", "--root", "--installroot"})


def _subcommand(args: list[str]) -> str:
    """The first word that is neither an option nor an option's value."""
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a in _OPTION_VALUE:
            skip = True
        elif not a.startswith("-"):
            return a
    return ""


def indirect_consumers(inst: Instruction) -> set[str]:
    """Families whose index a command reads indirectly (`xargs apt-get install`, `sh -c "apk add"`)."""
    found: set[str] = set()
    for script in run_scripts(inst):
        for cmd in script.commands:
            name, args = _program(cmd)
            if name in FAMILY or not args:
                continue
            words = " ".join(args).split()
            for i, w in enumerate(words):
                fam = FAMILY.get(w.rsplit("/", 1)[-1].strip("'\""))
                if fam is not None and _subcommand(words[i + 1 :]).strip("'\"") in CONSUMER_SUBS[fam]:
                    found.add(fam)
    return found


def lone_updates(inst: Instruction) -> list[IndexUse]:
    """Index refreshes that no later command of the same family in this RUN reads."""
    uses = index_commands(inst)
    out = []
    indirect: set[str] | None = None
    for i, u in enumerate(uses):
        if u.sub not in UPDATE_SUBS[u.family]:
            continue
        if any(v.family == u.family and v.sub in CONSUMER_SUBS[v.family] for v in uses[i + 1 :]):
            continue
        if indirect is None:
            indirect = indirect_consumers(inst)
        if u.family not in indirect:
            out.append(u)
    return out


# Whole-distribution upgrades, judged as the rule's target (dockle DKL-DI-0003, hadolint DL3035).
DIST_UPGRADE = {"apt": ("dist-upgrade", "full-upgrade"), "zypper": ("dist-upgrade", "dup"), "rpm": ("distro-sync",)}
# Upgrades of every installed package (no package named): reported one severity lower.
ALL_UPGRADE = {"apt": ("upgrade",), "apk": ("upgrade",), "rpm": ("upgrade", "update"), "zypper": ("update", "up")}


def upgrades(inst: Instruction) -> list[tuple[IndexUse, bool]]:
    """(command, is_dist_upgrade) for upgrades of the whole distribution or every package."""
    out = []
    for u in index_commands(inst):
        if u.sub in DIST_UPGRADE.get(u.family, ()):
            out.append((u, True))
        elif u.sub in ALL_UPGRADE.get(u.family, ()):
            _, args = _program(u.command)
            named = [a for a in args[args.index(u.sub) + 1 :] if not a.startswith("-") and "$" not in a]
            if not named:
                out.append((u, False))
    return out


# --------------------------------------------------------------------------- image history

_BUILD_ARGS = re.compile(r"^\|(\d+)\s+")
_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=(?:'[^']*'|\"[^\"]*\"|\S*)\s+")
_SHELL_C = re.compile(r"^(?:/bin/|/usr/bin/)?(?:sh|bash|ash|dash)(?:\s+-[a-zA-Z]+(?:\s+pipefail)?)*\s+-c\s+", re.S)
_BUILDKIT_TAIL = re.compile(r"\s*# buildkit\s*$")


def history_run_text(created_by: str) -> str | None:
    """The shell script of a RUN history entry, or None for other instructions.

    Handles the classic builder (`/bin/sh -c cmd`, `#(nop)` metadata entries, `|2 A=b
    /bin/sh -c cmd` with build args) and BuildKit (`RUN /bin/sh -c cmd # buildkit`).
    """
    s = created_by.strip()[:65536]
    s = _BUILDKIT_TAIL.sub("", s)
    if "#(nop)" in s:
        return None
    if s.startswith("RUN "):
        s = s[4:].lstrip()
    elif re.match(r"^(ENV|LABEL|CMD|ENTRYPOINT|EXPOSE|USER|WORKDIR|COPY|ADD|HEALTHCHECK|ARG|VOLUME|STOPSIGNAL|SHELL|ONBUILD|MAINTAINER)\b", s):
        return None
    m = _BUILD_ARGS.match(s)
    if m:
        s = s[m.end() :]
        for _ in range(int(m.group(1))):
            am = _ASSIGN.match(s)
            if am is None:
                break
            s = s[am.end() :]
    m2 = _SHELL_C.match(s)
    if m2:
        s = s[m2.end() :]
    return s or None


def history_instruction(created_by: str) -> Instruction | None:
    """A RUN instruction standing for a history entry, so Dockerfile rules apply to it."""
    text = history_run_text(created_by)
    if text is None:
        return None
    return Instruction(cmd="run", keyword="RUN", original=text, rest=text, rest_pos=0, args=[text])


# ------------------------------------------------------------------ system paths

MAX_LISTED = 6  # items a message lists before "..." (unpinned packages, system paths)
# Paths that hold the kernel's or the distribution's own files (dockle DKL-DI-0002, Trivy DS-0030).
SYSTEM_PATHS = ("/", "/proc", "/sys", "/dev", "/boot", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/usr")
# Below these nothing belongs to an application: any path under them is reported too.
KERNEL_TREES = ("/proc", "/sys", "/dev", "/boot")


def system_path(path: str) -> str | None:
    """The system path `path` (a POSIX path as a Dockerfile or image config writes it) is,
    or lies in (kernel trees only); None for other paths. Used by build.system-paths on
    WORKDIR/VOLUME/COPY targets and by the image rules on the same image config fields."""
    p = "/" + "/".join(x for x in path.strip().strip("'\"").split("/") if x not in ("", "."))
    if ".." in p.split("/"):
        return None
    if p in SYSTEM_PATHS:
        return p
    for tree in KERNEL_TREES:
        if p.startswith(tree + "/"):
            return tree
    return None
