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
    capped,
    final_chain,
    finding,
    installs_in,
    package_name,
    removed_packages,
)
from lockdock.dockerfile.model import Instruction
from lockdock.dockerfile.shell import run_scripts
from lockdock.model import Finding, TargetKind
from lockdock.registry import analyzer
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


def _shipped(subject: Any) -> list[tuple[dict[str, str | None], Instruction]]:
    """The final image's RUNs in order, each with the tracked ENV values in effect."""
    out = []
    env: dict[str, str | None] = dict.fromkeys(TRACKED_ENV)
    for st in final_chain(subject.dockerfile):
        for inst in st.instructions:
            if inst.cmd == "env":
                for k, v in inst.env_pairs():
                    if k in env:
                        env[k] = v.strip("'\"")
            elif inst.cmd == "run":
                out.append((dict(env), inst))
    return out


@analyzer(TargetKind.DOCKERFILE, "image.package-cache")
@capped
def package_cache(subject: Any, ctx: ScanContext) -> Iterator[Finding]:
    for env, inst in _shipped(subject):
        scripts = run_scripts(inst)
        seen: set[str] = set()
        for install in installs_in(inst):
            for issue, msg in cache_issues(install, scripts, env):
                if issue in seen and issue not in ("apt-recommends",):
                    continue
                seen.add(issue)
                yield finding("image.package-cache", subject, inst, msg, data={"issue": issue})


@analyzer(TargetKind.DOCKERFILE, "image.no-unneeded-tools")
@capped
def unneeded_tools(subject: Any, ctx: ScanContext) -> Iterator[Finding]:
    shipped = _shipped(subject)
    removed_at: dict[str, int] = {}  # package -> last shipped RUN that removes it
    for idx, (_insts, inst) in enumerate(shipped):
        for name in removed_packages(run_scripts(inst)):
            removed_at[name] = idx
    for idx, (_insts, inst) in enumerate(shipped):
        tools: list[str] = []
        for install in installs_in(inst):
            if install.manager not in OS_MANAGERS:
                continue
            virtual = _virtual_name(install)
            if virtual and removed_at.get(virtual, -1) >= idx:
                continue
            for p in install.packages:
                name = package_name(p)
                if name in TOOLS and removed_at.get(name, -1) < idx and name not in tools:
                    tools.append(name)
        if tools:
            yield finding(
                "image.no-unneeded-tools",
                subject,
                inst,
                f"the final image installs {', '.join(safe(t, 30) for t in tools)}; tools an intruder "
                "can use. Install them in a build stage, or remove them in the same RUN",
                data={"tools": tools},
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
def production_deps(subject: Any, ctx: ScanContext) -> Iterator[Finding]:
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
                    data={"issue": "npm", "sub": sub},
                )
            elif install.manager == "yarn" and not install.packages and "--production" not in args and not production:
                yield finding(
                    "build.production-deps",
                    subject,
                    inst,
                    "yarn install in the final stage installs devDependencies too; use --production",
                    data={"issue": "yarn"},
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
                            data={"issue": "pip"},
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


def _compiles(inst: Instruction) -> str | None:
    for script in run_scripts(inst):
        for cmd in script.commands:
            name, args, _ = cmd.program()
            name = name.removeprefix("./")
            if name not in COMPILE:
                continue
            subs = COMPILE[name]
            if subs is None:
                return name
            if args and args[0] in subs:
                if name in ("npm", "pnpm") and args[0] == "run" and (len(args) < 2 or "build" not in args[1]):
                    continue
                return f"{name} {args[0]}"
    for install in installs_in(inst):
        if install.manager in OS_MANAGERS:
            tc = [package_name(p) for p in install.packages if package_name(p) in TOOLCHAIN_PACKAGES]
            if tc:
                return "installs " + ", ".join(tc[:3])
    return None


@analyzer(TargetKind.DOCKERFILE, "build.multi-stage")
@capped
def multi_stage(subject: Any, ctx: ScanContext) -> Iterator[Finding]:
    df = subject.dockerfile
    for _insts, inst in _shipped(subject):
        what = _compiles(inst)
        if what is None:
            continue
        where = "this single-stage build" if len(df.stages) == 1 else "the final stage"
        yield finding(
            "build.multi-stage",
            subject,
            inst,
            f"{where} builds software ({safe(what, 60)}), so the toolchain ships in the image; "
            "build in a separate stage and COPY --from it only the result",
        )
        return
