"""Recognising secrets, and masking them so the raw value never leaves this module.

Shared by every analyzer (Dockerfile ENV/ARG/RUN, compose environment, image config,
container env, layer files). Patterns are linear-time regular expressions and inputs
are capped, so an adversarial 1 MB line finishes quickly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lockdock.model import Severity

MAX_SCAN_CHARS = 64 * 1024  # values longer than this are only scanned in their head


class _LazyPattern:
    """A regular expression compiled on its first use, with the `re.Pattern` methods this
    module calls. Every command imports this module (`lockdock.text` masks with it); most
    use few of its patterns, and compiling them all took a few milliseconds of start-up."""

    __slots__ = ("_compiled", "_flags", "_source")

    def __init__(self, source: str, flags: int = 0) -> None:
        self._source = source
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    def _pattern(self) -> re.Pattern[str]:
        compiled = self._compiled
        if compiled is None:  # two threads may both compile: same result, no harm
            compiled = self._compiled = re.compile(self._source, self._flags)
        return compiled

    def search(self, text: str) -> re.Match[str] | None:
        return self._pattern().search(text)

    def match(self, text: str) -> re.Match[str] | None:
        return self._pattern().match(text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self._pattern().finditer(text)


_lazy = _LazyPattern

# Names that, with a literal value, hold a credential. PASS counts as a whole word of the
# name (DB_PASS, PASS_DB), never inside one (BYPASS, COMPASS); KEY as the last word of a
# longer name (SSH_KEY; a bare `key`, as in `key=FINGERPRINT; gpg --recv-keys "$key"`, is not).
_SECRET_NAME = _lazy(
    r"(?i)(passw(or)?d|passwd|pwd|secret|token|api[_-]?key|apikey|private[_-]?key|"
    r"access[_-]?key|secret[_-]?key|credential|auth[_-]?key|client[_-]?secret|"
    r"connection[_-]?string|database[_-]?url|db[_-]?url|dsn|signing[_-]?key|"
    r"encryption[_-]?key|master[_-]?key|session[_-]?key|bearer|_auth$|^auth$|"
    r"npm_?token|webhook[_-]?url|slack[_-]?webhook|"
    r"(^|[_.-])pass([_.-]|$)|[_.-]key$)"
)

# Names that look secret but hold something public or a pointer (CHECKLIST.md, notes:
# GPG_KEY, *_PUBLIC_KEY, *_KEY_ID, *_KEY_FILE), or a key that is not a credential.
_NOT_SECRET_NAME = _lazy(
    r"(?i)(_file$|_path$|_dir$|_url_file$|^gpg_keys?$|_gpg_key$|gpg_key|_fingerprint$|"
    r"public[_-]?key|_pubkey$|_keyid$|key_?id$|_length$|_len$|_size$|_ttl$|_timeout$|"
    r"_expir|_header$|_name$|_user(name)?$|_host$|_port$|_policy$|_type$|_mode$|_enabled?$|"
    r"_algorithm$|_scheme$|_rotation|_version$|^no_proxy$|_secret_name$|_ref$|_count$|"
    r"_min$|_max$|_format$|_prefix$|_location$|_id$|^(tokenizers?|token_?type)$|"
    r"_sha(1|256|512)?$|_checksum$|_hash$|_digest$|_md5$|_alias$|_keyring$|_keyserver$|"
    r"(^|_)(cache|sort|primary|partition|foreign|hot|shortcut|routing|lookup|map|dict|"
    r"group|index|shard|signing_public|gpg|pgp|sign)_?key$|_key_(server|url|path|name|alias|size|bits)$)"
)

_REFERENCE = _lazy(
    r"^\s*(\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|/run/secrets/\S*|/var/run/secrets/\S*|"
    r"\{\{[^}]*\}\}|%\([^)]*\)s)\s*$"
)
# Values that stand for "no value here": never a credential, whatever the name.
_NO_VALUE = _lazy(
    r"(?i)^(\*+|\.+|-+|_+|\?+|none|null|nil|undefined|true|false|yes|no|on|off|"
    r"empty|unset|\d{1,3})$"
)
# Obvious placeholders: still a literal written where a secret belongs, so still reported,
# one severity lower and saying it looks like a placeholder (CHECKLIST.md, notes).
_PLACEHOLDER = _lazy(
    r"(?i)^(x{3,}|<[^<>]*>|\[[^\[\]]*\]|\{[^{}]*\}|redacted|required|optional|tbd|todo|fixme|"
    r"change[_-]?me[\w.-]*|change[_-]?this[\w.-]*|replace[_-]?me[\w.-]*|replace[_-]?this[\w.-]*|example[\w.-]*|"
    r"[\w.-]*[_-]example|sample[\w.-]*|dummy[\w.-]*|placeholder[\w.-]*|your[_-]?[\w.-]+|my[_-]?(secret|password|token)[\w.-]*|"
    r"(super)?secret|password|passw0rd|token|insert[_-]?[\w.-]+[_-]?here|[\w.-]+[_-]here|fake[\w.-]*|test|"
    r"foo(bar)?|not[_-]?(a[_-]?)?(real|set|secret)[\w.-]*)$"
)
# A value that names a content digest (`sha256:...`): a checksum, not a credential. A bare
# 32+ character hex or base64 value under a secret name IS a credential (an API token).
_DIGEST = _lazy(r"(?i)^sha(1|256|384|512):[0-9a-f]{32,128}$")
_URL_WITHOUT_PASSWORD = _lazy(r"^[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://\S*$")
_PUBLIC_KEY = _lazy(
    r"^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-\S+) [A-Za-z0-9+/=]+|-----BEGIN (PGP )?PUBLIC KEY"
)


@dataclass(frozen=True)
class SecretFormat:
    kind: str
    pattern: _LazyPattern  # a regular expression, compiled on first use
    # Literal text every match contains one of (case as written): a text holding none of
    # them is not searched with `pattern` (a substring test costs far less than a scan).
    needs: tuple[str, ...] = ()


# Value formats that are secrets whatever the name.
FORMATS: tuple[SecretFormat, ...] = (
    SecretFormat("private key", _lazy(r"-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----"), ("PRIVATE KEY",)),
    SecretFormat("AWS access key id", _lazy(r"\b(AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"),
                 ("AKIA", "ASIA", "AGPA", "AIDA", "AROA")),
    SecretFormat("GitHub token", _lazy(r"\b(gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
                 ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    SecretFormat("GitLab token", _lazy(r"\bglpat-[A-Za-z0-9_\-]{20,}\b"), ("glpat-",)),
    SecretFormat("Slack token", _lazy(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"), ("xox",)),
    SecretFormat("Slack webhook", _lazy(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,}"),
                 ("https://hooks.slack.com/services/",)),
    SecretFormat("Stripe key", _lazy(r"\b[rs]k_(live|test)_[A-Za-z0-9]{16,}\b"), ("k_live_", "k_test_")),
    SecretFormat("Google API key", _lazy(r"\bAIza[0-9A-Za-z_\-]{35}\b"), ("AIza",)),
    SecretFormat("npm token", _lazy(r"\bnpm_[A-Za-z0-9]{36}\b"), ("npm_",)),
    SecretFormat("JWT", _lazy(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), ("eyJ",)),
    SecretFormat(
        "URL with password",
        _lazy(r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^\s:/@\"'$]{1,256}:([^\s@/\"'${}]{1,256})@[^\s\"']"),
        ("://",),
    ),
)


@dataclass(frozen=True)
class SecretMatch:
    kind: str  # "AWS access key id", "password (by name)", ...
    masked: str  # safe to show
    start: int = 0  # position of the secret value inside the scanned string
    end: int = 0
    placeholder: bool = False  # the value looks like a placeholder (changeme, <your-token>)


PLACEHOLDER_NOTE = ", which looks like a placeholder"


def lowered(severity: Severity, match: SecretMatch) -> Severity:
    """`severity` one step lower for a placeholder value (never below info)."""
    if not match.placeholder:
        return severity
    return Severity(max(Severity.INFO, severity - 1))


def mask(value: str) -> str:
    """A masked form that tells a user which value is meant, never the value itself."""
    value = value.strip()
    n = len(value)
    if n == 0:
        return "(empty)"
    if n <= 8:
        return "*" * 8
    # Keep two leading characters: enough to recognise 'AK…' or 'gh…', useless to an attacker.
    # Only printable ASCII is kept: a kept ESC or BEL would open a terminal sequence.
    head = value[:2] if all(" " < c < "\x7f" for c in value[:2]) else ""
    return head + "*" * (8 - len(head)) + f" ({n} chars)"


def is_reference(value: str) -> bool:
    """`${VAR}`, `$VAR`, `/run/secrets/...` and templating placeholders are not secrets."""
    return bool(_REFERENCE.match(value))


# `NAME=value`, `NAME: value`, `--name=value` inside free text (history lines, RUN
# commands, messages): the value is judged with `check_assignment`.
_ASSIGNMENT = _lazy(
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_.\-]{0,127})(?P<sep>=|:[ \t]+)"""
    r"""(?P<value>"[^"\n]{1,4096}"|'[^'\n]{1,4096}'|[^\s"';&|)]{1,4096})"""
)
_ALREADY_MASKED = _lazy(r"\*{6}")


def mask_in_text(text: str) -> str:
    """`text` with every credential-looking span replaced by its masked form.

    Two kinds of spans: a credential format anywhere (`find_in_text`), and the value of a
    `NAME=value` / `NAME: value` pair whose name says it holds a credential
    (`check_assignment`). Already-masked values (six or more `*`) are left as they are.
    Text past `MAX_SCAN_CHARS` is cut, never shown unscanned. This is the masking half of
    `lockdock.text.display`, the one path for showing untrusted text.
    """
    if not text:
        return text
    cut = text[:MAX_SCAN_CHARS]
    spans: list[tuple[int, int, str]] = [(m.start, m.end, m.masked) for m in find_in_text(cut)]
    for m in _ASSIGNMENT.finditer(cut):
        value = m.group("value")
        if _ALREADY_MASKED.search(value):
            continue
        found = check_assignment(m.group("name"), value)
        if found is not None and "(by name" in found.kind:  # formats are masked above
            inner = value.strip("'\"")
            spans.append((m.start("value"), m.end("value"), mask(inner)))
    if not spans:
        return cut
    out: list[str] = []
    pos = 0
    for start, end, masked in sorted(spans):
        if start < pos:  # overlaps a span already masked: extend that one
            pos = max(pos, end)
            continue
        out.append(cut[pos:start])
        out.append(masked)
        pos = end
    out.append(cut[pos:])
    return "".join(out)


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
        if fmt.needs and not any(n in head for n in fmt.needs):
            continue
        for m in fmt.pattern.finditer(head):
            if fmt.kind == "URL with password":
                secret = m.group(1)
                if is_reference(secret) or _PLACEHOLDER.match(secret) or _NO_VALUE.match(secret):
                    continue
                found.append(SecretMatch(fmt.kind, mask(secret), m.start(1), m.end(1)))
            else:
                found.append(SecretMatch(fmt.kind, mask(m.group(0)), m.start(), m.end()))
            if len(found) > 20:
                return found
    return found


def check_assignment(name: str, value: str | None, *, dollar_escapes: bool = False) -> SecretMatch | None:
    """Judge `name=value` (ENV, ARG default, compose environment, container env).

    Returns a match (with a masked value) when the value is a literal credential: by its
    format whatever the name, or by a secret-sounding name with a non-trivial literal. A
    placeholder value (`changeme`, `<your-token>`) gives a match with `placeholder=True` and
    a kind that says so. With `dollar_escapes` (compose files), `$$` is a literal `$`, not
    the start of a `${VAR}` reference.
    """
    if value is None:
        return None
    value = value[:MAX_SCAN_CHARS]
    stripped = value.strip().strip("'\"")
    if not stripped:
        return None
    # What decides "is this a reference": with compose escapes, `$$` is no `$` at all.
    refs = stripped.replace("$$", "") if dollar_escapes else stripped
    literal = stripped.replace("$$", "$") if dollar_escapes else stripped
    by_format = find_in_text(literal)
    if by_format:
        first = by_format[0]
        return SecretMatch(first.kind, first.masked, first.start, first.end)
    if not secret_name(name):
        return None
    if (
        (refs and is_reference(refs))
        or (literal.startswith("${") and is_reference(literal))
        or "${" in refs
        or refs.startswith("$")
        or _NO_VALUE.match(literal)
        or _DIGEST.match(literal)
        or _PUBLIC_KEY.match(literal)
        or literal.startswith(("/", "./", "file:"))  # a path to a secret, not the secret
        or _URL_WITHOUT_PASSWORD.match(literal)  # a URL with a password matched by format above
    ):
        return None
    kind = f"{_name_kind(name)} (by name {name[:64]})"
    if _PLACEHOLDER.match(literal):
        return SecretMatch(kind + PLACEHOLDER_NOTE, mask(literal), 0, len(value), placeholder=True)
    return SecretMatch(kind, mask(literal), 0, len(value))


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
_SECRET_FILE = _lazy(
    r"(?i)(^|/)(\.env(\.[a-z0-9_.-]+)?|id_(rsa|dsa|ecdsa|ed25519)|[^/]*\.(pem|key|p12|pfx|jks|keystore|"
    r"ppk|kdbx|asc)|\.npmrc|\.pypirc|\.netrc|\.git-credentials|credentials(\.json|\.ya?ml)?|"
    r"secrets?\.(json|ya?ml|toml|env|txt)|\.htpasswd|\.dockercfg|service[-_]account[^/]*\.json|"
    r"secrets/[^/]+\.txt)$"
)
_NOT_SECRET_FILE = _lazy(
    r"(?i)(\.env\.(example|sample|template|dist|defaults?)$|\.pub$|(^|/)[^/]*public[^/]*\.(pem|key)$|"
    r"(^|/)(ca-certificates?|cacert|ca-bundle|chain|fullchain|cert)\.pem$|(^|/)ssl/certs/|"
    r"(^|/)usr/share/|(^|/)etc/pki/|/python[0-9.]*/site-packages/.*\.pem$|"
    r"(^|/)etc/apt/trusted\.gpg\.d/|(^|/)usr/lib/.*\.(pem|key)$|\.asc$)"
)


_PEM_NAME = _lazy(r"(?i)\.(pem|crt|cer)$")


def public_pem(path: str, text: str) -> bool:
    """True when `path` is a PEM file (by name) whose `text` holds PEM blocks but no private
    key: certificates, DH parameters, public keys, which are published by design. A name that
    is not PEM-like, or text without a PEM block, is judged by the name alone (False)."""
    return bool(_PEM_NAME.search(path)) and "-----BEGIN " in text and "PRIVATE KEY" not in text


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
