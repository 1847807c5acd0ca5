"""Facts about the shell commands of a RUN that analyzers and fixers share.

`sudo_word` (build.no-sudo), `tls_problems` and `disables_tls` (build.tls-verification), and
`cache_issues` (image.package-cache): each reads one parsed `Command` or `Install`.
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


# (program or None for any, flag, message, removable by the fixer)
TLS_FLAGS: tuple[tuple[frozenset[str] | None, str, str], ...] = (
    (frozenset({"curl"}), "-k", "curl -k skips TLS certificate verification"),
    (frozenset({"curl"}), "--insecure", "curl --insecure skips TLS certificate verification"),
    (frozenset({"wget"}), "--no-check-certificate", "wget --no-check-certificate skips TLS verification"),
    (frozenset({"pip", "pip3"}), "--trusted-host", "pip --trusted-host accepts plain HTTP / unverified TLS for a host"),
    (frozenset({"apk"}), "--allow-untrusted", "apk --allow-untrusted installs unsigned packages"),
    (frozenset({"apt-get", "apt"}), "--allow-unauthenticated", "apt --allow-unauthenticated installs unsigned packages"),
    (frozenset({"apt-get", "apt"}), "--force-yes", "apt --force-yes overrides signature checks"),
    (frozenset({"apt-get", "apt"}), "--allow-insecure-repositories", "apt accepts unsigned repositories"),
    (frozenset({"yum", "dnf", "microdnf", "tdnf", "zypper", "rpm"}), "--nogpgcheck", "--nogpgcheck installs unsigned packages"),
    (frozenset({"rpm"}), "--nosignature", "rpm --nosignature skips signature checks"),
    (frozenset({"zypper"}), "--no-gpg-checks", "zypper --no-gpg-checks installs unsigned packages"),
)
TLS_ENV = {
    "NODE_TLS_REJECT_UNAUTHORIZED": ("0",),
    "GIT_SSL_NO_VERIFY": ("1", "true", "yes"),
    "PYTHONHTTPSVERIFY": ("0",),
    "CURL_CA_BUNDLE": ("",),
    "PIP_TRUSTED_HOST": None,
}


def disables_tls(name: str, value: str) -> bool:
    """Whether setting environment variable `name` to `value` turns TLS verification off."""
    if name not in TLS_ENV:
        return False
    bad = TLS_ENV[name]
    v = value.strip().strip("'\"").lower()
    return (bad is None and v != "") or (bad is not None and v in bad)


def tls_problems(cmd: Command) -> list[tuple[str, str]]:
    """(flag as written, message) for verification-disabling options of one command."""
    name, args, _ = cmd.program()
    pip = name.startswith("pip") or (name.startswith("python") and args[:2] == ["-m", "pip"])
    out: list[tuple[str, str]] = []
    for progs, flag, msg in TLS_FLAGS:
        if progs is not None and name not in progs and not ("pip" in progs and pip):
            continue
        for a in args:
            if a == flag or a.startswith(flag + "=") or (flag == "-k" and re.fullmatch(r"-[a-zA-Z]*k[a-zA-Z]*", a) and len(a) > 2):
                out.append((a, msg))
    if name == "git" and any(re.fullmatch(r"(?i)http\.sslverify(=false)?", a) for a in args) and any(
        a.lower() in ("false", "0", "http.sslverify=false") for a in args
    ):
        out.append(("http.sslVerify", "git http.sslVerify=false skips TLS verification"))
    if name in ("npm", "yarn", "pnpm") and "strict-ssl" in args and "false" in args:
        out.append(("strict-ssl", f"{name} strict-ssl false skips TLS verification"))
    for var, value, _w in cmd.assignments:
        if disables_tls(var, value):
            out.append((f"{var}={value}", f"{var}={value} turns TLS verification off"))
    if name == "export":
        for a in args:
            var, eq, value = a.partition("=")
            if eq and disables_tls(var, value):
                out.append((a, f"{a} turns TLS verification off"))
    return out


def _rm_targets(scripts: list[Script]) -> list[str]:
    out = []
    for s in scripts:
        for c in s.commands:
            name, args, _ = c.program()
            if name == "rm":
                out += [a for a in args if not a.startswith("-")]
    return out


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


def _has_cmd(inst: Instruction, scripts: list[Script], program: str, *subs: str) -> bool:
    args = _command_index(inst, scripts).get(program)
    return args is not None and (not subs or any(s in args for s in subs))


def cache_issues(install: Install, scripts: list[Script], env_before: dict[str, str | None]) -> list[tuple[str, str]]:
    """(issue id, message) for one package install command."""
    args = [w.value for w in install.command.words]
    inst = install.inst
    rms = inst.cache.get("rm_targets")
    if rms is None:
        rms = inst.cache["rm_targets"] = _rm_targets(scripts)
    issues: list[tuple[str, str]] = []
    m = install.manager
    if m in ("apt-get", "apt"):
        if "--no-install-recommends" not in args and not any(
            "Install-Recommends=false" in a or "Install-Recommends=0" in a for a in args
        ):
            issues.append(("apt-recommends", f"{m} install without --no-install-recommends pulls in extra packages"))
        if not any(r.startswith("/var/lib/apt/lists") for r in rms) and not has_cache_mount(inst, "/var/lib/apt/lists"):
            issues.append(("apt-lists", f"{m} install leaves /var/lib/apt/lists in the layer; add `&& rm -rf /var/lib/apt/lists/*` to the same RUN"))
    elif m == "apk":
        if "--no-cache" not in args and not any(r.startswith("/var/cache/apk") for r in rms) and not has_cache_mount(inst, "/var/cache/apk"):
            issues.append(("apk-cache", "apk add without --no-cache leaves the package index in the layer"))
    elif m == "pip":
        no_cache = env_before.get("PIP_NO_CACHE_DIR") or dict((k, v) for k, v, _ in install.command.assignments).get("PIP_NO_CACHE_DIR")
        if (
            "--no-cache-dir" not in args
            and not no_cache
            and not any(r.startswith(("/root/.cache", "~/.cache")) for r in rms)
            and not has_cache_mount(inst, "/root/.cache/pip")
        ):
            issues.append(("pip-cache", "pip install without --no-cache-dir keeps the wheel cache in the layer"))
    elif m in ("npm", "pnpm"):
        if (
            not _has_cmd(inst, scripts, m, "cache", "store")
            and not any(a.startswith("--cache") for a in args)
            and not any(r.startswith(("/root/.npm", "~/.npm")) for r in rms)
            and not has_cache_mount(inst, "/root/.npm", "/root/.local/share/pnpm")
        ):
            issues.append(("npm-cache", f"{m} {install.command.program()[1][0] if install.command.program()[1] else 'install'} leaves its cache in the layer; add `&& {m} cache clean --force`"))
    elif m == "yarn":
        if not _has_cmd(inst, scripts, "yarn", "cache") and not has_cache_mount(inst, "/usr/local/share/.cache/yarn"):
            issues.append(("yarn-cache", "yarn install leaves its cache in the layer; add `&& yarn cache clean`"))
    elif m in ("yum", "dnf", "microdnf", "tdnf"):
        if not _has_cmd(inst, scripts, m, "clean") and not any(r.startswith(("/var/cache/yum", "/var/cache/dnf")) for r in rms) and not has_cache_mount(inst, f"/var/cache/{'yum' if m == 'yum' else 'dnf'}"):
            issues.append(("rpm-cache", f"{m} install without `{m} clean all` leaves metadata in the layer"))
    elif m == "zypper" and not _has_cmd(inst, scripts, "zypper", "clean", "cc"):
        issues.append(("zypper-cache", "zypper install without `zypper clean` leaves its cache in the layer"))
    return issues
