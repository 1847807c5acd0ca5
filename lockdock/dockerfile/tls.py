"""Where builds turn TLS and signature checks off: command flags, environment variables,
config commands and config-file text (yum/dnf repo files, apt.conf, .wgetrc, .curlrc).

One table for Dockerfiles (RUN, ENV, ARG, heredoc bodies) and images (history, config env).
The rules come from checklist row build.tls-verification (checkov CKV2_DOCKER_2..16 and the
tools' own documentation of each option).
"""

from __future__ import annotations

import re

from lockdock.dockerfile.shell import Command

# (programs or None for any, flag, message)
TLS_FLAGS: tuple[tuple[frozenset[str] | None, str, str], ...] = (
    (frozenset({"curl"}), "-k", "curl -k skips TLS certificate verification"),
    (frozenset({"curl"}), "--insecure", "curl --insecure skips TLS certificate verification"),
    (frozenset({"wget"}), "--no-check-certificate", "wget --no-check-certificate skips TLS verification"),
    (frozenset({"pip", "pip3"}), "--trusted-host", "pip --trusted-host accepts plain HTTP or unverified TLS for a host"),
    (frozenset({"apk"}), "--allow-untrusted", "apk --allow-untrusted installs unsigned packages"),
    (frozenset({"apt-get", "apt"}), "--allow-unauthenticated", "apt --allow-unauthenticated installs unsigned packages"),
    (frozenset({"apt-get", "apt"}), "--force-yes", "apt --force-yes overrides signature checks"),
    (frozenset({"apt-get", "apt"}), "--allow-insecure-repositories", "apt accepts unsigned repositories"),
    (frozenset({"yum", "dnf", "microdnf", "tdnf", "zypper", "rpm"}), "--nogpgcheck", "--nogpgcheck installs unsigned packages"),
    (frozenset({"rpm"}), "--nosignature", "rpm --nosignature skips signature checks"),
    (frozenset({"zypper"}), "--no-gpg-checks", "zypper --no-gpg-checks installs unsigned packages"),
)

# name -> values that turn checks off (None: any non-empty value; "*": any value, even empty).
TLS_ENV: dict[str, tuple[str, ...] | str | None] = {
    "NODE_TLS_REJECT_UNAUTHORIZED": ("0",),
    "GIT_SSL_NO_VERIFY": "*",  # git checks only that the variable is set
    "PYTHONHTTPSVERIFY": ("0",),
    "CURL_CA_BUNDLE": ("",),
    "PIP_TRUSTED_HOST": None,
    "NPM_CONFIG_STRICT_SSL": ("false", "0"),
    "YARN_ENABLE_STRICT_SSL": ("false", "0"),
    "YARN_STRICT_SSL": ("false", "0"),
    "GOINSECURE": None,
}

# Config text that turns checks off, wherever it is written: a word of a command
# (`echo sslverify=0 >> /etc/yum.conf`, `--setopt=sslverify=false`) or a heredoc body line.
CONFIG_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)(?<![^\s.*'\"/;])sslverify\s*=\s*(?:0|false|no|off)\b"), "yum/dnf sslverify=false skips TLS verification"),
    (re.compile(r"(?i)(?<![^\s.*'\"/;])gpgcheck\s*=\s*(?:0|false|no|off)\b"), "yum/dnf gpgcheck=0 installs unsigned packages"),
    (re.compile(r"(?i)Acquire::https?::(?:\S+::)?Verify-(?:Peer|Host)\s*[= ]\s*\"?(?:false|0)"), "apt Acquire::https::Verify-Peer false skips TLS verification"),
    (re.compile(r"(?i)APT::Get::AllowUnauthenticated\s*[= ]\s*\"?(?:true|1)"), "apt AllowUnauthenticated installs unsigned packages"),
    # a local file:/copy: repository built in the same step (the docker-library idiom) is not a download
    (re.compile(r"(?i)\[[^\]]*\btrusted=yes\b[^\]]*\]\s*(?!file:|copy:)\S"), "an apt source marked [trusted=yes] skips signature checks"),
    (re.compile(r"(?im)^\s*check_certificate\s*=\s*off\b"), "wgetrc check_certificate = off skips TLS verification"),
    (re.compile(r"(?im)^\s*-?-?insecure\s*$"), "curlrc insecure skips TLS certificate verification"),
    (re.compile(r"(?im)^\s*strict-ssl\s*=\s*false\b"), "npmrc strict-ssl=false skips TLS verification"),
    (re.compile(r"(?im)^\s*trusted-host\s*=\s*\S"), "pip.conf trusted-host accepts unverified TLS for a host"),
)
CONFIG_FLAG = "config"  # problem "flag" of a config form: nothing a fixer can drop as one word
_K_FLAGS = re.compile(r"-[a-zA-Z]*k[a-zA-Z]*")


def tls_env(name: str, value: str) -> bool:
    """True when ENV/ARG `name=value` turns TLS or signature checks off (names as written;
    npm reads its NPM_CONFIG_* variables in any case)."""
    key = name.upper() if name.upper().startswith(("NPM_CONFIG_", "YARN_")) else name
    if key not in TLS_ENV:
        return False
    bad = TLS_ENV[key]
    v = value.strip().strip("'\"").lower()
    if bad == "*":
        return True
    return (bad is None and v != "") or (isinstance(bad, tuple) and v in bad)


def config_problems(text: str) -> list[tuple[int, str]]:
    """(offset in `text`, message) for config text that disables verification."""
    out = []
    for pattern, msg in CONFIG_PATTERNS:
        m = pattern.search(text)
        if m:
            out.append((m.start(), msg))
    return sorted(out)


def _config_command(name: str, args: list[str]) -> str | None:
    """Config commands that turn verification off, as the user writes their keys."""
    words = [a.lower() for a in args]
    if name in ("npm", "yarn", "pnpm") and "config" in words[:2] and "set" in words[:3]:
        rest = words[words.index("set") + 1 :]
        if (rest[:1] == ["strict-ssl"] and rest[1:2] in (["false"], ["0"])) or rest[:1] in (["strict-ssl=false"], ["strict-ssl=0"]):
            return f"{name} config set strict-ssl false skips TLS verification"
        if rest[:2] == ["enablestrictssl", "false"]:
            return f"{name} config set enableStrictSsl false skips TLS verification"
    pip = name.startswith("pip") or (name.startswith("python") and words[:2] == ["-m", "pip"])
    if pip and "config" in words[:4] and "set" in words:
        at = words.index("set") + 1
        if at < len(words) and re.fullmatch(r"(global|install|user|site)\.trusted-host", words[at]):
            return f"pip config set {args[at]} accepts unverified TLS for a host"
    if name == "git" and any(re.fullmatch(r"http\.(\S+\.)?sslverify(=false)?", w) for w in words) and any(
        w in ("false", "0", "no", "off") or w.endswith("sslverify=false") for w in words
    ):
        return "git http.sslVerify false skips TLS verification"
    if name == "conda" and ("ssl_verify" in words or "--set" in words) and any(w in ("false", "no") for w in words):
        return "conda ssl_verify false skips TLS verification"
    return None


def tls_problems(cmd: Command) -> list[tuple[str, str]]:
    """(flag as written, message) for verification-disabling options of one command.

    A flag the fixer may drop as a word is returned as written; config forms return
    CONFIG_FLAG."""
    name, args, _ = cmd.program()
    pip = name.startswith("pip") or (name.startswith("python") and args[:2] == ["-m", "pip"])
    out: list[tuple[str, str]] = []
    for progs, flag, msg in TLS_FLAGS:
        if progs is not None and name not in progs and not ("pip" in progs and pip):
            continue
        for a in args:
            if a == flag or a.startswith(flag + "=") or (flag == "-k" and _K_FLAGS.fullmatch(a) and len(a) > 2):
                out.append((a, msg))
    config = _config_command(name, args)
    if config:
        out.append((CONFIG_FLAG, config))
    for i, a in enumerate(args):
        if a.startswith("--setopt=") or (i and args[i - 1] == "--setopt"):
            for _, msg in config_problems(a.partition("=")[2] if a.startswith("--setopt=") else a):
                out.append((a if a.startswith("--setopt=") else CONFIG_FLAG, f"--setopt: {msg}"))
        elif (name in ("apt-get", "apt") and i and args[i - 1] in ("-o", "--option")) or (a.startswith("-o") and name in ("apt-get", "apt")):
            out += [(CONFIG_FLAG, f"-o: {msg}") for _, msg in config_problems(a)]
        elif name in ("sed", "perl", "tee") and not a.startswith("-"):
            out += [(CONFIG_FLAG, msg) for _, msg in config_problems(a)]
    if name in ("echo", "printf"):
        # the text echo writes, as one line: `echo check_certificate = off > ~/.wgetrc`
        out += [(CONFIG_FLAG, msg) for _, msg in config_problems(" ".join(a for a in args if not a.startswith("-")))]
    for var, value, _w in cmd.assignments:
        if tls_env(var, value):
            out.append((f"{var}={value}", f"{var}={value} turns TLS verification off"))
    if name == "export":
        for a in args:
            var, eq, value = a.partition("=")
            if eq and tls_env(var, value):
                out.append((a, f"{a} turns TLS verification off"))
    return out
