"""What one image layer adds, removes and carries, learned from its tar entries.

The save-stream reader feeds every entry of a layer through `LayerScanner.entry`; only
the entries that matter for the checklist are remembered (secret files, setuid/setgid
files, package caches, tools, os-release), so the facts stay small whatever the layer
size and can be cached as JSON.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from lockdock.engine.tarstream import TarEntry
from lockdock.secrets import secret_file
from lockdock.text import safe

BIN_DIRS = frozenset(
    {"bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin"}
)
# Tools an intruder would use, by executable name.
TOOLS = frozenset(
    {"curl", "wget", "git", "ssh", "sshd", "scp", "nc", "netcat", "ncat", "socat", "telnet",
     "sudo", "doas", "vim", "nano"}
)
# Toolchains that have no place in a final image (build.multi-stage).
COMPILERS = frozenset({"gcc", "cc", "g++", "c++", "clang", "make", "rustc", "cargo", "javac"})
PACKAGE_MANAGERS = frozenset(
    {"apt", "apt-get", "dpkg", "apk", "yum", "dnf", "microdnf", "rpm", "zypper", "pacman"}
)
# Build-context files that .dockerignore should have kept out (build.dockerignore, I side):
# VCS and credential directories, and the build definitions themselves.
CONTEXT_DIRS = frozenset({".git", ".aws", ".ssh"})
CONTEXT_FILES = re.compile(
    r"(?i)^(dockerfile|containerfile|dockerfile\.[a-z0-9_.-]+|[a-z0-9_.-]+\.dockerfile|"
    r"(docker-)?compose(\.[a-z0-9_-]+)?\.ya?ml)$"
)
SSH_ACCOUNT_FILES = frozenset({"known_hosts", "known_hosts.old", "config", "authorized_keys", "environment"})
# Trees where such names belong to installed software, not to a copied build context.
NOT_CONTEXT = re.compile(r"(^|/)(node_modules|site-packages|dist-packages|vendor|pkg/mod|\.cargo|\.npm|\.cache)/|^usr/(share|lib|lib64|include)/|^(opt/)?conda/pkgs/")
# Shells whose presence decides fixes (SHELL ["/bin/bash", "-o", "pipefail", "-c"]).
SHELLS = frozenset({"bash"})
OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")
MAX_OS_RELEASE = 8192
# Account files: read while streaming, kept only as the few entries a check needs.
ACCOUNT_PATHS = ("etc/passwd", "etc/shadow")
MAX_ACCOUNT_FILE = 256 * 1024
MAX_ACCOUNTS = 50  # remembered entries per file (root-equivalent or passwordless ones)
MAX_CONTENT = max(MAX_OS_RELEASE, MAX_ACCOUNT_FILE)  # largest file content ever read
MAX_FACTS_PER_KIND = 200  # per layer; a layer of 10,000 keys is summarised, not listed
MAX_ODD = 20

# Package caches: (kind, pattern on the normalised path). Files under these directories.
CACHE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("apt lists", re.compile(r"^var/lib/apt/lists/(?!lock$|partial/?$|auxfiles/?$)[^/]+$")),
    ("apt archives", re.compile(r"^var/cache/apt/archives/[^/]+\.deb$")),
    ("apt cache", re.compile(r"^var/cache/apt/[^/]+\.bin$")),
    ("apk cache", re.compile(r"^(var/cache/apk|etc/apk/cache)/[^/]+$")),
    ("yum/dnf cache", re.compile(r"^var/cache/(yum|dnf)/.+\.(rpm|sqlite|xml\.gz|solv)$")),
    ("pip cache", re.compile(r"^(root|home/[^/]+)/\.cache/pip/.+[^/]$")),
    ("npm cache", re.compile(r"^(root|home/[^/]+)/\.npm/_cacache/.+[^/]$")),
    ("yarn cache", re.compile(r"^(usr/local/share/\.cache/yarn|(root|home/[^/]+)/\.cache/yarn)/.+[^/]$")),
)
# Every CACHE_PATTERNS path starts with one of these: other paths skip the patterns.
CACHE_ROOTS = ("var/", "etc/apk/", "root/", "home/", "usr/local/share/")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_REGULAR = frozenset({b"0", b"\0", b"7"})  # TarEntry.isreg


def _secret_name(path: str) -> bool:
    """`secret_file("/" + path)`, asking the full question only of paths whose last two
    parts pass it. Every secret-file pattern is anchored at the end and spans at most one
    `/` (backslashes count as `/` in both), so a secret name is found in those two parts;
    and what the not-a-secret patterns find in them (a suffix starting after a `/`), they
    find in the whole path too. So a path whose tail fails cannot pass."""
    cut = path.rfind("/", 0, max(path.rfind("/"), 0))
    if cut > 0 and not secret_file(path[cut + 1 :]):
        return False
    return secret_file("/" + path)


@dataclass
class FileFact:
    """An entry worth a finding: `kind` is secret, setuid, setgid, tool, compiler, pkgmgr, shell,
    context (a .git/.aws/.ssh directory, a Dockerfile or compose file copied from a build context)."""

    kind: str
    path: str  # normalised, no leading slash; may contain untrusted text (sanitise to show)
    size: int = 0
    detail: str = ""


@dataclass
class CacheFact:
    kind: str
    count: int = 0
    size: int = 0
    example: str = ""


@dataclass
class LayerFacts:
    """Everything lockdock remembers about one layer (JSON-serialisable)."""

    name: str  # member name in the save archive
    entries: int = 0
    bytes_read: int = 0
    compression: str = "none"
    stopped: str | None = None  # why the analysis of this layer stopped early
    files: list[FileFact] = field(default_factory=list)
    caches: dict[str, CacheFact] = field(default_factory=dict)
    whiteouts: list[str] = field(default_factory=list)  # paths deleted from lower layers
    opaque: list[str] = field(default_factory=list)  # dirs whose lower contents are hidden
    os_release: dict[str, str] = field(default_factory=dict)  # path -> content
    # etc/passwd, etc/shadow written by this layer -> AccountFile.to_json() (no hashes kept)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    odd: list[str] = field(default_factory=list)  # sanitised descriptions
    dropped_facts: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LayerFacts:
        facts = cls(**{k: v for k, v in data.items() if k not in ("files", "caches")})
        facts.files = [FileFact(**f) for f in data.get("files", [])]
        facts.caches = {k: CacheFact(**v) for k, v in data.get("caches", {}).items()}
        return facts


def normalise(name: str) -> tuple[str, str | None]:
    """A tar member name as a relative path, plus why it is odd (absolute, `..`, ...)."""
    if (
        0 < len(name) <= 255  # then no part is overlong either
        and name[0] != "/"
        and name[-1] not in "/."  # no trailing empty, `.` or `..` part
        and "//" not in name
        and "./" not in name  # no inner `.` or `..` part
        and (name.isprintable() or not _CONTROL.search(name))  # Cc is never printable
    ):
        return name, None  # already normal: the common case, answered without splitting
    odd = None
    if _CONTROL.search(name):
        odd = "control characters in name"
    if name.startswith("/"):
        odd = odd or "absolute path"
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        return "", "path with '..'"
    if len(name) > 4096 or any(len(p) > 255 for p in parts):
        odd = odd or "overlong name"
    return "/".join(parts), odd


class LayerScanner:
    """Accumulates `LayerFacts` from a layer's tar entries (one instance per layer)."""

    def __init__(self, name: str) -> None:
        self.facts = LayerFacts(name=name)
        self._counts: dict[str, int] = {}
        self._context_dirs: set[str] = set()
        self._last: tuple[TarEntry, str, str | None] | None = None  # the entry seen last

    def _odd(self, text: str) -> None:
        if len(self.facts.odd) < MAX_ODD:
            self.facts.odd.append(safe(text, 200))

    def _add(self, fact: FileFact) -> None:
        n = self._counts.get(fact.kind, 0)
        if n >= MAX_FACTS_PER_KIND:
            self.facts.dropped_facts += 1
            return
        self._counts[fact.kind] = n + 1
        self.facts.files.append(fact)

    def wants_content(self, info: TarEntry) -> str | None:
        """The normalised path when this regular file's content is read (os-release,
        account files), within a size cap per kind."""
        if not info.isreg():
            return None
        if self._last is not None and self._last[0] is info:  # `entry` normalised it just now
            path, odd = self._last[1], self._last[2]
        else:
            path, odd = normalise(info.name)
        if odd is not None:
            return None
        if path in OS_RELEASE_PATHS and info.size <= MAX_OS_RELEASE:
            return path
        if path in ACCOUNT_PATHS and info.size <= MAX_ACCOUNT_FILE:
            return path
        return None

    def content(self, path: str, data: bytes) -> None:
        if path in ACCOUNT_PATHS:
            text = data[:MAX_ACCOUNT_FILE].decode("utf-8", "replace")
            self.facts.accounts[path] = parse_accounts(path, text).to_json()
            return
        self.facts.os_release[path] = data[:MAX_OS_RELEASE].decode("utf-8", "replace")

    def entry(self, info: TarEntry) -> str | None:
        """Classify one tar entry; nothing is written or opened on disk. Returns what
        `wants_content` would: the normalised path when the entry's content is to be read
        next (os-release, account files), else None."""
        facts = self.facts
        facts.entries += 1
        path, odd = normalise(info.name)
        self._last = (info, path, odd)
        if odd:
            self._odd(f"{odd}: {info.name!r}")
        if not path:
            return None
        kind = info.type
        if kind in (b"3", b"4"):  # character or block device
            self._odd(f"device node: {path!r}")
            return None
        if kind == b"6":  # fifo
            return None
        parent, _, base = path.rpartition("/")  # a normalised path: posixpath's dirname, basename
        if base.startswith(".wh."):
            if base == ".wh..wh..opq":
                facts.opaque.append(parent)
            elif base.startswith(".wh..wh."):
                return None  # AUFS metadata (.wh..wh.plnk and friends), not a deletion
            else:
                facts.whiteouts.append(f"{parent}/{base[4:]}" if parent else base[4:])
            return None
        is_dir = kind == b"5"
        secret = kind != b"2" and _secret_name(path)
        if not secret:
            self._context(path, is_dir)  # a secret file is reported as a secret, once
        if is_dir:
            return None
        is_reg = kind in _REGULAR
        if path in ACCOUNT_PATHS:
            # Written by this layer; `content` fills the entries when the file is read.
            facts.accounts[path] = AccountFile(read=False).to_json()
        size = info.size if is_reg else 0
        if kind == b"1":
            target, _ = normalise(info.linkname)
            detail = f"hard link to {target}"
        elif kind == b"2":
            detail = f"symlink to {info.linkname}"
        else:
            detail = ""
        if secret:
            self._add(FileFact("secret", path, size, detail))
        if (is_reg or kind == b"1") and info.mode & 0o6000:
            if info.mode & 0o4000:
                self._add(FileFact("setuid", path, size, f"mode {info.mode & 0o7777:04o}"))
            else:
                self._add(FileFact("setgid", path, size, f"mode {info.mode & 0o7777:04o}"))
        if parent in BIN_DIRS:
            if base in TOOLS:
                self._add(FileFact("tool", path, size, detail))
            elif base in COMPILERS or re.fullmatch(r"(gcc|g\+\+|clang)-[0-9.]+", base):
                self._add(FileFact("compiler", path, size, detail))
            elif base in PACKAGE_MANAGERS:
                self._add(FileFact("pkgmgr", path, size, detail))
            elif base in SHELLS:
                self._add(FileFact("shell", path, size, detail))
        if not is_reg:
            return None
        if path.startswith(CACHE_ROOTS):
            for cache_kind, pattern in CACHE_PATTERNS:
                if pattern.match(path):
                    cache = facts.caches.setdefault(cache_kind, CacheFact(cache_kind, example=path))
                    cache.count += 1
                    cache.size += size
                    break
        if odd is None and (
            (path in OS_RELEASE_PATHS and size <= MAX_OS_RELEASE)
            or (path in ACCOUNT_PATHS and size <= MAX_ACCOUNT_FILE)
        ):
            return path
        return None

    def _context(self, path: str, is_dir: bool) -> None:
        """Record a build-context leftover once: the directory for .git/.aws/.ssh, the file
        for Dockerfiles and compose files; software trees (node_modules, /usr/share...) are not."""
        if path.isascii() and ".git" not in path and ".aws" not in path and ".ssh" not in path:
            low = path.lower()  # ASCII: what (?i) of CONTEXT_FILES folds, no more
            if "dockerfile" not in low and "containerfile" not in low and "compose" not in low:
                return  # no part can be a context directory, no name a build definition
        if NOT_CONTEXT.search(path):
            return
        parts = path.split("/")
        for i, part in enumerate(parts):
            if part in CONTEXT_DIRS and (i + 1 < len(parts) or (is_dir and part != ".ssh")):
                top = "/".join(parts[: i + 1])
                if part == ".ssh" and (is_dir or parts[-1] in SSH_ACCOUNT_FILES):
                    return  # ssh-keyscan's known_hosts and the like belong to the account
                if top not in self._context_dirs:
                    self._context_dirs.add(top)
                    self._add(FileFact("context", top, 0, part + "/"))
                return
        if not is_dir and CONTEXT_FILES.match(parts[-1]):
            self._add(FileFact("context", path, 0, "build definition"))


def deleted_by(path: str, layer: LayerFacts) -> bool:
    """True when `layer` removes `path` from the layers below it (whiteout or opaque dir)."""
    for w in layer.whiteouts:
        if path == w or path.startswith(w + "/"):
            return True
    return any(path.startswith(d + "/") for d in layer.opaque if d)


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines of os-release, quotes removed."""
    out: dict[str, str] = {}
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


@dataclass
class AccountFile:
    """What an account file says, reduced to the entries image.accounts reports on.

    `entries` are (name, uid or None, empty password field): accounts with UID 0 and
    accounts whose password field is empty. Password hashes are never kept.
    `read` is False when the file was written but not read (too large, not regular).
    """

    read: bool = True
    entries: list[tuple[str, int | None, bool]] = field(default_factory=list)
    names: int = 0  # accounts in the file

    def to_json(self) -> dict[str, Any]:
        return {"read": self.read, "entries": [list(e) for e in self.entries], "names": self.names}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccountFile:
        entries = [(str(e[0]), e[1] if isinstance(e[1], int) else None, bool(e[2])) for e in data.get("entries", [])]
        return cls(bool(data.get("read")), entries, int(data.get("names", 0)))


def parse_accounts(path: str, text: str) -> AccountFile:
    """passwd(5) or shadow(5) lines: keep UID 0 accounts and empty password fields.

    passwd: `name:password:uid:gid:gecos:home:shell`; shadow: `name:hash:...`. An empty
    second field means no password is needed to log in as that account.
    """
    out = AccountFile()
    shadow = path.endswith("shadow")
    for line in text.splitlines():
        if not line.strip() or line.startswith(("#", "+", "-")):
            continue  # NIS compat lines (+/-) are not local accounts
        fields = line.split(":")
        if len(fields) < 2 or not fields[0]:
            continue
        out.names += 1
        empty = fields[1] == ""
        uid: int | None = None
        if not shadow and len(fields) > 2 and fields[2].strip().isdigit():
            uid = int(fields[2].strip())
        if (empty or uid == 0) and len(out.entries) < MAX_ACCOUNTS:
            out.entries.append((safe(fields[0], 64), uid, empty))
    return out
