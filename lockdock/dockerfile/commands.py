"""Facts about the shell commands of a RUN that analyzers and fixers share.

`sudo_word` (build.no-sudo) and `cache_issues` (image.package-cache): each reads one parsed
`Command` or `Install`. The TLS tables of build.tls-verification live in `dockerfile.tls`.
"""

from __future__ import annotations

import re

from lockdock.dockerfile.facts import Install, has_cache_mount
from lockdock.dockerfile.model import Instruction
from lockdock.dockerfile.shell import Command, Script, Word

_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
LEADING = frozenset({"then", "do", "else", "if", "elif", "!", "{", "while", "until", "exec", "time"})


def sudo_word(cmd: Command) -> Word | None:
    """The `sudo` word when the command runs through sudo."""
    for w in cmd.words:
        if _ASSIGN.match(w.value) or w.value in LEADING:
            continue
        return w if w.value.rsplit("/", 1)[-1] == "sudo" else None
    return None


_HOME = ("/root/", "~/", "$HOME/", "${HOME}/")


def _rm_targets(scripts: list[Script]) -> list[str]:
    """Paths a RUN deletes: `rm` operands and `find DIR ... -delete` starting points,
    with `~`/`$HOME` spelled as /root/ (the build runs as root unless USER says otherwise)."""
    out = []
    for s in scripts:
        for c in s.commands:
            name, args, _ = c.program()
            if name == "rm":
                out += [a for a in args if not a.startswith("-")]
            elif name == "find" and ("-delete" in args or "rm" in args):
                out += [a for a in args[:1] if a.startswith(("/", "~", "$HOME", "${HOME}"))]
    return [_home(a) for a in out]


def _home(path: str) -> str:
    for h in _HOME[1:]:
        if path.startswith(h):
            return "/root/" + path[len(h) :]
    return path


def _cleared(rms: list[str], *dirs: str) -> bool:
    """True when one of the deleted paths is one of `dirs`, a parent of one, or inside one
    (`rm -rf /var/lib/apt/lists/*`, `rm -rf /var/lib/apt/lists`, `rm -rf /root/.cache`)."""
    for deleted in rms:
        r = deleted.rstrip("/")
        if r.endswith("/*"):
            r = r[:-2]
        if not r.startswith("/"):
            continue
        inside = "*" in r  # `rm -rf /var/lib/apt/lists/*.lz4` yes, `.../lists/partial` no
        if any(r == d or d.startswith(r + "/") or (inside and r.startswith(d + "/")) for d in dirs):
            return True
    return False


def _command_index(inst: Instruction, scripts: list[Script]) -> dict[str, set[str]]:
    """program -> its first three arguments, over every command of the RUN (computed once)."""
    index = inst.cache.get("command_index")
    if index is None:
        index = {}
        for s in scripts:
            for c in s.commands:
                name, args, _ = c.program()
                index.setdefault(name, set()).update(args[:3])
        inst.cache["command_index"] = index
    return index


def _has_cmd(inst: Instruction, scripts: list[Script], program: str | frozenset[str], *subs: str) -> bool:
    programs = {program} if isinstance(program, str) else program
    for prog in programs:
        args = _command_index(inst, scripts).get(prog)
        if args is not None and (not subs or any(s in args for s in subs)):
            return True
    return False


APT_LISTS = "/var/lib/apt/lists"
APK_CACHES = ("/var/cache/apk", "/etc/apk/cache")
PIP_CACHES = ("/root/.cache/pip",)
NPM_CACHES = ("/root/.npm/_cacache",)
PNPM_CACHES = ("/root/.local/share/pnpm/store", "/root/.cache/pnpm")
YARN_CACHES = ("/usr/local/share/.cache/yarn", "/root/.cache/yarn")
RPM_CACHES = ("/var/cache/yum", "/var/cache/dnf", "/var/cache/libdnf5")
ZYPPER_CACHES = ("/var/cache/zypp",)
RPM_MANAGERS = frozenset({"yum", "dnf", "microdnf", "tdnf"})
APT_MANAGERS = frozenset({"apt-get", "apt"})


def cache_issues(install: Install, scripts: list[Script], env_before: dict[str, str | None]) -> list[tuple[str, str]]:
    """(issue id, message) for one package install command.

    A cache counts as cleared when the same RUN deletes it (`rm`, `find -delete`, the
    manager's own clean command: `apt-get dist-clean`, `pip cache purge`, `npm cache
    clean`, `yum/dnf clean all`, `zypper clean`) or keeps it out of the layer with a
    `--mount=type=cache` or tmpfs mount on that directory.
    """
    args = [w.value for w in install.command.words]
    inst = install.inst
    rms = inst.cache.get("rm_targets")
    if rms is None:
        rms = inst.cache["rm_targets"] = _rm_targets(scripts)
    issues: list[tuple[str, str]] = []
    m = install.manager

    def kept(*dirs: str) -> bool:
        return not _cleared(rms, *dirs) and not has_cache_mount(inst, *dirs)

    if m in APT_MANAGERS:
        if "--no-install-recommends" not in args and not any(
            "Install-Recommends=false" in a or "Install-Recommends=0" in a for a in args
        ):
            issues.append(("apt-recommends", f"{m} install without --no-install-recommends pulls in extra packages"))
        # APT 2.7+ `dist-clean` (also spelled distclean) deletes the lists as well as the archives.
        if kept(APT_LISTS) and not _has_cmd(inst, scripts, APT_MANAGERS, "dist-clean", "distclean"):
            issues.append(("apt-lists", f"{m} install leaves /var/lib/apt/lists in the layer; add `&& rm -rf /var/lib/apt/lists/*` to the same RUN"))
    elif m == "apk":
        # --no-network reads only what is already there: no index is fetched into the layer
        if "--no-cache" not in args and "--no-network" not in args and kept(*APK_CACHES):
            issues.append(("apk-cache", "apk add without --no-cache leaves the package index in the layer"))
    elif m == "pip":
        no_cache = env_before.get("PIP_NO_CACHE_DIR") or dict((k, v) for k, v, _ in install.command.assignments).get("PIP_NO_CACHE_DIR")
        if (
            "--no-cache-dir" not in args
            and not no_cache
            and kept(*PIP_CACHES)
            and not _has_cmd(inst, scripts, frozenset({"pip", "pip3"}), "purge")
        ):
            issues.append(("pip-cache", "pip install without --no-cache-dir keeps the wheel cache in the layer"))
    elif m in ("npm", "pnpm"):
        caches = NPM_CACHES if m == "npm" else PNPM_CACHES
        if (
            not _has_cmd(inst, scripts, m, "cache", "store")
            and not any(a.startswith("--cache") for a in args)
            and kept(*caches)
        ):
            sub = install.command.program()[1][0] if install.command.program()[1] else "install"
            clean = "npm cache clean --force" if m == "npm" else "pnpm store prune"
            issues.append(("npm-cache", f"{m} {sub} leaves its cache in the layer; add `&& {clean}`"))
    elif m == "yarn":
        if not _has_cmd(inst, scripts, "yarn", "cache") and kept(*YARN_CACHES):
            issues.append(("yarn-cache", "yarn install leaves its cache in the layer; add `&& yarn cache clean`"))
    elif m in RPM_MANAGERS:
        if not _has_cmd(inst, scripts, RPM_MANAGERS, "clean") and kept(*RPM_CACHES):
            issues.append(("rpm-cache", f"{m} install without `{m} clean all` leaves metadata in the layer"))
    elif m == "zypper" and not _has_cmd(inst, scripts, "zypper", "clean", "cc") and kept(*ZYPPER_CACHES):
        issues.append(("zypper-cache", "zypper install without `zypper clean` leaves its cache in the layer"))
    return issues


