"""What a container's start command does, read from its text (no execution).

The text is a compose `command:`/`entrypoint:`, an image's Entrypoint/Cmd, or the
entrypoint script an image runs. The patterns are those of the official images'
entrypoints (postgres, mysql, redis, nginx...): start as root, `chown` the data
directory, then drop to a user with gosu, su-exec, setpriv, su, runuser, chroot
--userspec, s6-setuidgid or a supervisor (s6-overlay, supervisord), and read a secret from
`$X_FILE` (the `file_env X` helper of docker-library). Everything here is a regular
expression over untrusted text; nothing is run, and results hold only names and paths.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lockdock.engine.imagefacts import ImageFacts

# Tools that start as root and switch to another user (their names in the text).
_DROP = re.compile(
    r"(?:^|[\s;&|(`'\"/])(gosu|su-exec|setpriv|runuser|s6-setuidgid|setuidgid|chpst|"
    r"su(?=\s+(?:-|[a-z_][\w-]*\b)))(?=\s|$)|chroot\s+--userspec|start-stop-daemon[^\n]*--chuid|"
    r"(?:^|[\s/])(supervisord|s6-svscan|/init)(?=\s|$|['\"])",
    re.M,
)
_CHOWN = re.compile(r"(?:^|[\s;&|(`])chown\s+((?:-\S+\s+)*)(\S+)\s+([^;&|\n]+)", re.M)
_FILE_ENV = re.compile(r"\bfile_env\s+['\"]?([A-Za-z_][A-Za-z0-9_]*)")
_FILE_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*?)_FILE\b")
_REDIRECT = re.compile(r"(?<![0-9&<>])\d?>>?\s*['\"]?(/[^\s'\";|&)<>]+)")
_MKDIR_TOUCH = re.compile(r"(?:^|[\s;&|(`])(mkdir|touch|mkfifo|install\s+-d)\s+([^;&|\n]+)", re.M)
_EXEC_ARGS = re.compile(r"\bexec\s+(?:\"\$@\"|\$@|\"\$\{@\}\")")
_PORT_FLAG = re.compile(r"(?:^|\s)(?:-p|--port|--listen|--bind|-b|--http-port)(?:=|\s+)['\"]?(?:[\w.\[\]:]*:)?(\d{1,5})\b")
SYSTEM_DIRS = ("/dev/", "/proc/", "/sys/")
MAX_TEXT = 256 * 1024


@dataclass
class StartFacts:
    """Facts learned from start text; lists keep first-seen order, no duplicates."""

    drops: list[str] = field(default_factory=list)  # gosu, su, setpriv, s6, supervisord...
    chowns: list[str] = field(default_factory=list)  # absolute paths given to chown
    writes: list[str] = field(default_factory=list)  # absolute paths written or created
    file_env: list[str] = field(default_factory=list)  # X for which $X_FILE is read
    ports: list[int] = field(default_factory=list)  # ports named by -p/--port flags
    execs_args: bool = False  # `exec "$@"`: runs the command it was given

    def merge(self, other: StartFacts) -> None:
        for name in ("drops", "chowns", "writes", "file_env", "ports"):
            mine = getattr(self, name)
            mine.extend(x for x in getattr(other, name) if x not in mine)
        self.execs_args = self.execs_args or other.execs_args

    @property
    def drops_privileges(self) -> bool:
        """Starts as root and switches user itself (needs CHOWN/SETUID/SETGID...)."""
        return bool(self.drops)


def _paths(words: str) -> list[str]:
    try:
        parts = shlex.split(words, comments=True)
    except ValueError:
        parts = words.split()
    return [p for p in parts if p.startswith("/") and not p.startswith(SYSTEM_DIRS) and "$" not in p]


def _add(seq: list, items: list) -> None:
    seq.extend(x for x in items if x not in seq)


def analyze(text: str) -> StartFacts:
    """The facts of one shell text (a command line or a whole script)."""
    text = text[:MAX_TEXT]
    out = StartFacts()
    for m in _DROP.finditer(text):
        tool = next((g for g in m.groups() if g), m.group(0).strip().split()[0])
        tool = {"/init": "s6-overlay", "s6-svscan": "s6-overlay"}.get(tool, tool)
        _add(out.drops, [tool])
    for m in _CHOWN.finditer(text):
        _add(out.chowns, _paths(m.group(3)))
    _add(out.file_env, _FILE_ENV.findall(text))
    _add(out.file_env, [v for v in _FILE_VAR.findall(text) if v])
    _add(out.writes, [p for p in _REDIRECT.findall(text) if not p.startswith(SYSTEM_DIRS) and "$" not in p])
    for m in _MKDIR_TOUCH.finditer(text):
        _add(out.writes, _paths(m.group(2)))
    _add(out.writes, out.chowns)
    _add(out.ports, [int(p) for p in _PORT_FLAG.findall(text) if 0 < int(p) < 65536])
    out.execs_args = bool(_EXEC_ARGS.search(text))
    return out


def command_text(value: object) -> str:
    """A compose/OCI command (string or list) as one text to analyze."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return ""


def service_start(facts: ImageFacts | None, entrypoint: object, command: object) -> StartFacts:
    """What a container does at start: compose entrypoint/command text plus, when they do
    not replace it, the image's entrypoint scripts."""
    out = StartFacts()
    out.merge(analyze(command_text(entrypoint)))
    out.merge(analyze(command_text(command)))
    if facts is not None and (entrypoint is None or command_text(entrypoint) == " ".join(facts.entrypoint)):
        out.merge(facts.start)
    return out
