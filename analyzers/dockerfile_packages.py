"""Package hygiene in what ships: caches left behind, intruder-friendly tools, dev
dependencies, and toolchains that belong in a build stage.

Only RUNs of the final stage and the stages it builds on are judged: a build stage may
install compilers and leave caches, none of it reaches the image.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lockdock.context import ScanContext
from lockdock.dockerfile.commands import cache_issues
from lockdock.dockerfile.facts import (
    Install,
    auto_removed_installs,
    capped,
    final_chain,
    finding,
    installs_in,
    mount_options,
    package_name,
    removed_packages,
)
from lockdock.dockerfile.model import Instruction
from lockdock.dockerfile.shell import run_scripts
from lockdock.dockerfile.stages import expand
from lockdock.model import Finding, TargetKind
from lockdock.payloads import Variant
from lockdock.payloads.dockerfile import PackageIssue, StageCopy, UnneededTools
from lockdock.registry import analyzer
from lockdock.sources import DockerfileSubject
from lockdock.text import safe

TOOLS = frozenset(
    {
        "curl", "wget", "git", "vim", "vim-tiny", "vim-nox", "nano", "emacs", "emacs-nox",
        "openssh-client", "openssh-server", "openssh", "openssh-clients", "ssh", "dropbear",
        "netcat", "netcat-openbsd", "netcat-traditional", "nc", "ncat", "nmap", "nmap-ncat",
        "socat", "telnet", "ftp", "tcpdump", "gcc", "g++", "make", "build-essential", "clang",
        "cmake", "sudo", "gdb", "strace",
    }
)
TOOLCHAIN_PACKAGES = frozenset(
    {"build-essential", "gcc", "g++", "make", "clang", "cmake", "golang", "golang-go", "rustc",
     "cargo", "default-jdk", "openjdk-17-jdk", "openjdk-21-jdk", "maven", "gradle", "musl-dev",
     "python3-dev", "libc-dev", "alpine-sdk", "gcc-c++", "build-base"}
)
OS_MANAGERS = frozenset({"apt-get", "apt", "apk", "yum", "dnf", "microdnf", "tdnf", "zypper"})


TRACKED_ENV = ("PIP_NO_CACHE_DIR", "NODE_ENV")


def _shipped(subject: DockerfileSubject) -> list[tuple[dict[str, str | None], Instruction]]:
    """The final image's RUNs in order, each with the tracked ENV values in effect.

    An ENV value that names an ARG (`ARG NODE_ENV=production` then `ENV NODE_ENV
    $NODE_ENV`) takes the ARG's default, as a build without `--build-arg` does.
    """
    out = []
    env: dict[str, str | None] = dict.fromkeys(TRACKED_ENV)
    for st in final_chain(subject.dockerfile):
        scope: dict[str, str | None] = dict(env)  # ARGs are per stage, ENV is inherited
        for inst in st.instructions:
            if inst.cmd == "arg":
                for word in inst.args:
                    name, eq, value = word.partition("=")
                    scope[name] = expand(value, scope)[0] if eq else scope.get(name)
            elif inst.cmd == "env":
                for k, v in inst.env_pairs():
                    value, known = expand(v, scope)
                    scope[k] = value if known else v.strip("'\"")
                    if k in env:
                        env[k] = scope[k]
            elif inst.cmd == "run":
                out.append((dict(env), inst))
    return out


@analyzer(TargetKind.DOCKERFILE, "image.package-cache")
@capped
def package_cache(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    for env, inst in _shipped(subject):
        scripts = run_scripts(inst)
        seen: set[str] = set()
        for install in installs_in(inst):
            for issue, msg in cache_issues(install, scripts, env):
                if issue in seen and issue not in ("apt-recommends",):
                    continue
                seen.add(issue)
                yield finding(
                    "image.package-cache", subject, inst, msg, payload=PackageIssue(issue),
                    at=(install.script, install.command),
                )


# Programs that, when a final-stage RUN calls them, must be in the image (tool -> package).
USED_TOOLS = {
    "curl": "curl", "wget": "wget", "git": "git", "ssh": "openssh-client", "scp": "openssh-client",
    "sftp": "openssh-client", "nc": "netcat", "ncat": "ncat", "netcat": "netcat", "socat": "socat",
    "telnet": "telnet", "ftp": "ftp", "nmap": "nmap", "tcpdump": "tcpdump", "vim": "vim", "nano": "nano",
}
DOWNLOADERS = ("curl", "wget")


def _mounted_bins(inst: Instruction) -> set[str]:
    """Program names a RUN borrows through a bind or cache mount (`--mount=...,target=/usr/bin/curl`)."""
    out = set()
    for m in inst.flag_values("mount"):
        target = mount_options(m).get("target") or mount_options(m).get("dst") or ""
        out.add(target.rstrip("/").rsplit("/", 1)[-1])
    return out


@analyzer(TargetKind.DOCKERFILE, "image.no-unneeded-tools")
@capped
def unneeded_tools(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    """Tools installed by a shipped RUN, tools a shipped RUN calls (so they are in the image
    even when the base image brought them), and curl beside wget (hadolint DL4001)."""
    shipped = _shipped(subject)
    removed_at: dict[str, int] = {}  # package -> last shipped RUN that removes it
    for idx, (_insts, inst) in enumerate(shipped):
        for name in removed_packages(run_scripts(inst)):
            removed_at[name] = idx
    reported: set[str] = set()
    downloaders: dict[str, tuple[Instruction, Any]] = {}
    for idx, (_insts, inst) in enumerate(shipped):
        tools: list[str] = []
        at = None
        installed_here: set[str] = set()
        undone = auto_removed_installs(inst)
        for install in installs_in(inst):
            if install.manager not in OS_MANAGERS:
                continue
            virtual = _virtual_name(install)
            if (virtual and removed_at.get(virtual, -1) >= idx) or id(install) in undone:
                installed_here.update(package_name(p) for p in install.packages)
                continue
            for p in install.packages:
                name = package_name(p)
                installed_here.add(name)
                if name in TOOLS and removed_at.get(name, -1) < idx and name not in tools:
                    tools.append(name)
                    at = at or (install.script, install.command)
                    if name in DOWNLOADERS:
                        downloaders.setdefault(name, (inst, at))
        if tools:
            reported.update(tools)
            yield finding(
                "image.no-unneeded-tools",
                subject,
                inst,
                f"the final image installs {', '.join(safe(t, 30) for t in tools)}: tools an intruder "
                "can use. Install them in a build stage, or remove them in the same RUN",
                payload=UnneededTools("install", tuple(tools)),
                at=at,
            )
        yield from _used_tools(subject, inst, idx, removed_at, installed_here, reported, downloaders)
    if all(d in downloaders for d in DOWNLOADERS):
        inst, at = downloaders["wget"]
        yield finding(
            "image.no-unneeded-tools",
            subject,
            inst,
            "the final image has both curl and wget: one download tool is one too many, keep at most one",
            payload=UnneededTools("both-downloaders", tuple(DOWNLOADERS)),
            at=at,
        )


def _used_tools(
    subject: DockerfileSubject,
    inst: Instruction,
    idx: int,
    removed_at: dict[str, int],
    installed_here: set[str],
    reported: set[str],
    downloaders: dict[str, tuple[Instruction, Any]],
) -> Iterator[Finding]:
    borrowed = _mounted_bins(inst)
    for script in run_scripts(inst):
        for cmd in script.commands:
            name = cmd.program()[0]
            pkg = USED_TOOLS.get(name)
            if pkg is None or name in borrowed or name in reported or pkg in reported:
                continue
            if pkg in installed_here or name in installed_here:
                continue  # installed by this RUN: reported above unless removed again here
            if removed_at.get(pkg, -1) >= idx or removed_at.get(name, -1) >= idx:
                continue
            reported.add(name)
            at = (script, cmd)
            if name in DOWNLOADERS:
                downloaders.setdefault(name, (inst, at))
            yield finding(
                "image.no-unneeded-tools",
                subject,
                inst,
                f"a final-stage RUN calls {safe(name, 30)}, so {safe(name, 30)} is in the image even though "
                "no install is visible: it comes with the base image or an earlier layer. Use it in a "
                "build stage, or remove it from the final image",
                payload=UnneededTools("used", (name,)),
                at=at,
            )


def _virtual_name(install: Install) -> str | None:
    args = [w.value for w in install.command.words]
    for flag in ("--virtual", "-t"):
        if flag in args and args.index(flag) + 1 < len(args):
            return args[args.index(flag) + 1].lower()
    return None


DEV_REQUIREMENTS = ("dev", "test", "lint", "docs")


@analyzer(TargetKind.DOCKERFILE, "build.production-deps")
@capped
def production_deps(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    for env, inst in _shipped(subject):
        node_env = (env["NODE_ENV"] or "").lower()
        for install in installs_in(inst):
            args = [w.value for w in install.command.words]
            assigned = {k: v for k, v, _ in install.command.assignments}
            production = node_env == "production" or assigned.get("NODE_ENV") == "production"
            _, prog_args, _ = install.command.program()
            sub = prog_args[0] if prog_args else ""
            if install.manager == "npm" and sub in ("install", "i", "ci") and not install.packages:
                if production or any(
                    a in ("--production", "--omit=dev", "--only=prod", "--only=production") for a in args
                ) or ("--omit" in args and "dev" in args):
                    continue
                yield finding(
                    "build.production-deps",
                    subject,
                    inst,
                    f"npm {sub} in the final stage installs devDependencies too; use `npm ci --omit=dev`",
                    payload=PackageIssue("npm", sub),
                )
            elif install.manager == "yarn" and not install.packages and "--production" not in args and not production:
                yield finding(
                    "build.production-deps",
                    subject,
                    inst,
                    "yarn install in the final stage installs devDependencies too; use --production",
                    payload=PackageIssue("yarn"),
                )
            elif install.manager == "pip":
                for i, a in enumerate(args):
                    req = args[i + 1] if a in ("-r", "--requirement") and i + 1 < len(args) else None
                    if req is None and a.startswith("--requirement="):
                        req = a.split("=", 1)[1]
                    extras = a.split("[", 1)[1] if "[" in a and a.endswith("]") else ""
                    name = (req or "").rsplit("/", 1)[-1].lower()
                    if (req and any(w in name for w in DEV_REQUIREMENTS)) or any(
                        e.strip().lower() in DEV_REQUIREMENTS for e in extras.rstrip("]").split(",") if extras
                    ):
                        yield finding(
                            "build.production-deps",
                            subject,
                            inst,
                            f"pip installs development requirements ({safe(req or a, 80)}) in the final stage",
                            payload=PackageIssue("pip"),
                        )
                        break


COMPILE = {
    "gcc": None, "g++": None, "cc": None, "clang": None, "make": None, "cmake": None,
    "javac": None, "rustc": None, "tsc": None,
    "go": ("build", "install"), "cargo": ("build", "install"),
    "mvn": ("package", "install", "verify", "compile"), "gradle": ("build", "assemble", "jar"),
    "gradlew": ("build", "assemble", "jar"), "dotnet": ("build", "publish"),
    "npm": ("run",), "yarn": ("build",), "pnpm": ("build", "run"),
}


def _compiles(inst: Instruction) -> tuple[str, Any] | None:
    """What makes `inst` a build step (a compile command or a toolchain install), and where."""
    for script in run_scripts(inst):
        for cmd in script.commands:
            name, args, _ = cmd.program()
            name = name.removeprefix("./")
            if name not in COMPILE:
                continue
            subs = COMPILE[name]
            if subs is None:
                return name, (script, cmd)
            if args and args[0] in subs:
                if name in ("npm", "pnpm") and args[0] == "run" and (len(args) < 2 or "build" not in args[1]):
                    continue
                return f"{name} {args[0]}", (script, cmd)
    for install in installs_in(inst):
        if install.manager in OS_MANAGERS:
            tc = [package_name(p) for p in install.packages if package_name(p) in TOOLCHAIN_PACKAGES]
            if tc:
                return "installs " + ", ".join(tc[:3]), (install.script, install.command)
    return None


def toolchain_removed(inst: Instruction) -> bool:
    """True when the toolchain packages this RUN installs are removed again in the same RUN:
    each one purged by name, their `apk add --virtual` group deleted, or the docker-library
    `apt-mark auto` + `apt-get purge --auto-remove` idiom. Such a toolchain never reaches a layer."""
    scripts = run_scripts(inst)
    removed = removed_packages(scripts)
    undone = auto_removed_installs(inst)
    toolchain: list[str] = []
    in_removed_group = False
    for install in installs_in(inst):
        if install.manager not in OS_MANAGERS:
            continue
        names = [package_name(p) for p in install.packages if package_name(p) in TOOLCHAIN_PACKAGES]
        virtual = _virtual_name(install)
        if (virtual and virtual in removed) or id(install) in undone:
            in_removed_group = in_removed_group or bool(names)
            continue
        toolchain += names
    if not toolchain:
        # No toolchain install left: removed by group or idiom, or build deps installed
        # indirectly (mk-build-deps, build-dep) before the apt-mark idiom undoes them.
        return in_removed_group or bool(undone)
    return all(p in removed for p in toolchain)


def _whole_stage_copies(subject: DockerfileSubject) -> Iterator[Finding]:
    """`COPY --from=build / /` in the final image: a build stage's whole filesystem, toolchain included."""
    df = subject.dockerfile
    for st in final_chain(df):
        for inst in st.instructions:
            src_stage = inst.flag("from") if inst.cmd in ("copy", "add") else None
            if not src_stage or len(inst.args) < 2:
                continue
            if any((a.rstrip("/.") == "" and a.startswith("/")) or a in (".", "./") for a in inst.args[:-1]):
                stage = df.stage_by_name(src_stage)
                what = f"build stage {safe(src_stage, 60)}" if stage is not None else f"image {safe(src_stage, 100)}"
                yield finding(
                    "build.multi-stage",
                    subject,
                    inst,
                    f"COPY --from={safe(src_stage, 60)} / copies the whole filesystem of {what} into the final "
                    "image, with its toolchain and caches; copy only the built artefacts",
                    payload=StageCopy("whole-stage", src_stage),
                )


@analyzer(TargetKind.DOCKERFILE, "build.multi-stage")
@capped
def multi_stage(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    df = subject.dockerfile
    yield from _whole_stage_copies(subject)
    purged: tuple[Instruction, str, Any] | None = None
    where = "this single-stage build" if len(df.stages) == 1 else "the final stage"
    for _insts, inst in _shipped(subject):
        found = _compiles(inst)
        if found is None:
            continue
        what, at = found
        if toolchain_removed(inst):
            purged = purged or (inst, what, at)
            continue
        yield finding(
            "build.multi-stage",
            subject,
            inst,
            f"{where} compiles ({safe(what, 60)}) and the toolchain stays in the image; "
            "build in a separate stage and COPY --from it only the result",
            payload=Variant("toolchain-kept"),
            at=at,
        )
        return
    if purged is not None:
        inst, what, at = purged
        yield finding(
            "build.multi-stage",
            subject,
            inst,
            f"{where} compiles ({safe(what, 60)}); the toolchain is removed in the same RUN, but a "
            "separate build stage is simpler to audit",
            payload=Variant("toolchain-removed"),
            at=at,
        )
