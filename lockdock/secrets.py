"""Recognising secrets, and masking them so the raw value never leaves this module.

Shared by every analyzer (Dockerfile ENV/ARG/RUN, compose environment, image config,
container env, layer files). Patterns are linear-time regular expressions and inputs
are capped, so an adversarial 1 MB line finishes quickly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SCAN_CHARS = 64 * 1024  # values longer than this are only scanned in their head

# Names that, with a literal value, hold a credential.
_SECRET_NAME = re.compile(
    r"(?i)(passw(or)?d|passwd|pwd|secret|token|api[_-]?key|apikey|private[_-]?key|"
    r"access[_-]?key|secret[_-]?key|credential|auth[_-]?key|client[_-]?secret|"
    r"connection[_-]?string|database[_-]?url|db[_-]?url|dsn|signing[_-]?key|"
    r"encryption[_-]?key|master[_-]?key|session[_-]?key|bearer|_auth$|^auth$|"
    r"npm_?token|webhook[_-]?url|slack[_-]?webhook)"
)

# Names that look secret but hold something public or a pointer.
_NOT_SECRET_NAME = re.compile(
    r"(?i)(_file$|_path$|_dir$|_url_file$|^gpg_keys?$|_gpg_key$|gpg_key|_fingerprint$|"
    r"public[_-]?key|_pubkey$|_keyid$|key_?id$|_length$|_len$|_size$|_ttl$|_timeout$|"
    r"_expir|_header$|_name$|_user(name)?$|_host$|_port$|_policy$|_type$|_mode$|_enabled?$|"
    r"_algorithm$|_rotation|_version$|^no_proxy$|_secret_name$|_ref$|_count$|"
    r"_min$|_max$|_format$|_prefix$|_location$|_id$|^(tokenizers?|token_?type)$)"
)

_REFERENCE = re.compile(
    r"^\s*(\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|/run/secrets/\S*|/var/run/secrets/\S*|"
    r"\{\{[^}]*\}\}|%\([^)]*\)s|<[^<>]+>)\s*$"
)
# Values that stand for "no value here": never a credential, whatever the name. A weak
# literal such as `changeme` or a three-letter password IS reported: it is still a secret
# written into the file, and a weak one at that.
_PLACEHOLDER = re.compile(
    r"(?i)^(x+|\*+|\.+|-+|_+|\?+|none|null|nil|undefined|true|false|yes|no|on|off|"
    r"<[^<>]*>|\[[^\[\]]*\]|redacted|required|optional|empty|unset|tbd|todo|\d{1,3})$"
)
_DIGEST_OR_UUID = re.compile(
    r"(?i)^(sha(256|384|512):)?[0-9a-f]{32,128}$|"
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
_URL_WITHOUT_PASSWORD = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://\S*$")
_PUBLIC_KEY = re.compile(
    r"^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-\S+) [A-Za-z0-9+/=]+|-----BEGIN (PGP )?PUBLIC KEY"
)


@dataclass(frozen=True)
class SecretFormat:
    kind: str
    pattern: re.Pattern[str]


# Value formats that are secrets whatever the name.
FORMATS: tuple[SecretFormat, ...] = (
    SecretFormat("private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----")),
    SecretFormat("AWS access key id", re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b")),
    SecretFormat("GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b")),
    SecretFormat("GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}\b")),
    SecretFormat("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b")),
    SecretFormat("Slack webhook", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,}")),
    SecretFormat("Stripe key", re.compile(r"\b[rs]k_(live|test)_[A-Za-z0-9]{16,}\b")),
    SecretFormat("Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    SecretFormat("npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b")),
    SecretFormat("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    SecretFormat(
        "URL with password",
        re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^\s:/@\"'$]{1,256}:([^\s@/\"'${}]{1,256})@[^\s\"']"),
    ),
)


@dataclass(frozen=True)
class SecretMatch:
    kind: str  # "AWS access key id", "password (by name)", ...
    masked: str  # safe to show
    start: int = 0  # position of the secret value inside the scanned string
    end: int = 0


def mask(value: str) -> str:
    """A masked form that tells a user which value is meant, never the value itself."""
    value = value.strip()
    n = len(value)
    if n == 0:
        return "(empty)"
    if n <= 8:
        return "*" * 8
    # Keep two leading characters: enough to recognise 'AK…' or 'gh…', useless to an attacker.
    return value[:2] + "*" * 6 + f" ({n} chars)"


def is_reference(value: str) -> bool:
    """`${VAR}`, `$VAR`, `/run/secrets/...` and templating placeholders are not secrets."""
    return bool(_REFERENCE.match(value))


def secret_name(name: str) -> bool:
    """True when a variable/key name says it holds a credential."""
    name = name.strip()
    if not name or len(name) > 256:
        return False
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.search(name)


def find_in_text(text: str) -> list[SecretMatch]:
    """Credential formats anywhere in free text (RUN lines, history, file contents)."""
    head = text[:MAX_SCAN_CHARS]
    found: list[SecretMatch] = []
    for fmt in FORMATS:
        for m in fmt.pattern.finditer(head):
            if fmt.kind == "URL with password":
                secret = m.group(1)
                if is_reference(secret) or _PLACEHOLDER.match(secret):
                    continue
                found.append(SecretMatch(fmt.kind, mask(secret), m.start(1), m.end(1)))
            else:
                found.append(SecretMatch(fmt.kind, mask(m.group(0)), m.start(), m.end()))
            if len(found) > 20:
                return found
    return found


def check_assignment(name: str, value: str | None) -> SecretMatch | None:
    """Judge `name=value` (ENV, ARG default, compose environment, container env).

    Returns a match (with a masked value) when the value is a literal credential: by its
    format whatever the name, or by a secret-sounding name with a non-trivial literal.
    """
    if value is None:
        return None
    value = value[:MAX_SCAN_CHARS]
    stripped = value.strip().strip("'\"")
    if not stripped:
        return None
    by_format = find_in_text(stripped)
    if by_format:
        first = by_format[0]
        return SecretMatch(first.kind, first.masked, first.start, first.end)
    if not secret_name(name):
        return None
    if (
        is_reference(stripped)
        or "${" in stripped
        or stripped.startswith("$")
        or _PLACEHOLDER.match(stripped)
        or _DIGEST_OR_UUID.match(stripped)
        or _PUBLIC_KEY.match(stripped)
        or stripped.startswith(("/", "./", "file:"))  # a path to a secret, not the secret
        or _URL_WITHOUT_PASSWORD.match(stripped)  # a URL with a password matched by format above
    ):
        return None
    kind = _name_kind(name)
    return SecretMatch(f"{kind} (by name {name[:64]})", mask(stripped), 0, len(value))


def _name_kind(name: str) -> str:
    n = name.lower()
    for word, kind in (
        ("pass", "password"),
        ("pwd", "password"),
        ("token", "token"),
        ("key", "key"),
        ("secret", "secret"),
        ("credential", "credential"),
        ("url", "connection string"),
        ("dsn", "connection string"),
    ):
        if word in n:
            return kind
    return "secret"


# File names that hold secrets when found on disk, in a build context or an image layer.
_SECRET_FILE = re.compile(
    r"(?i)(^|/)(\.env(\.[a-z0-9_.-]+)?|id_(rsa|dsa|ecdsa|ed25519)|[^/]*\.(pem|key|p12|pfx|jks|keystore|"
    r"ppk|kdbx|asc)|\.npmrc|\.pypirc|\.netrc|\.git-credentials|credentials(\.json|\.ya?ml)?|"
    r"secrets?\.(json|ya?ml|toml|env|txt)|\.htpasswd|\.dockercfg|service[-_]account[^/]*\.json|"
    r"secrets/[^/]+\.txt)$"
)
_NOT_SECRET_FILE = re.compile(
    r"(?i)(\.env\.(example|sample|template|dist|defaults?)$|\.pub$|(^|/)[^/]*public[^/]*\.(pem|key)$|"
    r"(^|/)(ca-certificates?|cacert|ca-bundle|chain|fullchain|cert)\.pem$|(^|/)ssl/certs/|"
    r"(^|/)usr/share/|(^|/)etc/pki/|/python[0-9.]*/site-packages/.*\.pem$|"
    r"(^|/)etc/apt/trusted\.gpg\.d/|(^|/)usr/lib/.*\.(pem|key)$|\.asc$)"
)


def secret_file(path: str) -> bool:
    """True when a file name says it holds credentials (not public certs or examples)."""
    p = path.replace("\\", "/")
    if len(p) > 4096:
        return False
    return bool(_SECRET_FILE.search(p)) and not _NOT_SECRET_FILE.search(p)


class Secret:
    """Holds a raw secret value; repr/str are masked so tracebacks and logs stay clean."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({mask(self._value)!r})"

    __str__ = __repr__


_SECRET_DIRS = frozenset({"secrets", ".secrets", "secret", "private", ".ssh"})


def secret_path(rel: str) -> bool:
    """A repository file that holds secrets: by its name, or by living in a secrets folder."""
    p = rel.replace("\\", "/")
    if secret_file(p):
        return True
    parts = p.split("/")
    name = parts[-1].lower()
    if name in (".gitkeep", ".keep", "readme", "readme.md", ".gitignore", "readme.txt"):
        return False
    return any(part.lower() in _SECRET_DIRS for part in parts[:-1])
