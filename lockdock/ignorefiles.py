"""Matching paths against .gitignore and .dockerignore patterns.

Both formats are judged with the same small engine; the differences that matter here are
handled: gitignore patterns without a slash match at any depth, dockerignore patterns are
anchored at the context root (`**/` widens them), `!` re-includes, a trailing `/` means
directories only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    pattern: str
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def _translate(pattern: str) -> str:
    """Glob (with `**`) to a regular expression over a slash-separated relative path."""
    i, out = 0, []
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = j
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


class IgnoreRules:
    """Parsed ignore file; `ignored(path)` answers for a path relative to its directory."""

    def __init__(self, text: str, flavour: str = "git") -> None:
        self.flavour = flavour
        self.rules: list[Rule] = []
        self.patterns: list[str] = []
        for raw in text.splitlines():
            line = raw.rstrip() if not raw.rstrip().endswith("\\ ") else raw
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            line = line.strip()
            self.patterns.append(line)
            negate = line.startswith("!")
            if negate:
                line = line[1:]
            if flavour == "docker":
                line = line.lstrip("/")
                if line.startswith("./"):
                    line = line[2:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            if not line:
                continue
            anchored = flavour == "docker" or "/" in line
            body = _translate(line.lstrip("/"))
            prefix = "" if anchored else "(?:.*/)?"
            # A matching directory ignores everything below it.
            regex = re.compile(f"^{prefix}{body}(?:/.*)?$")
            self.rules.append(Rule(line, regex, negate, dir_only))

    def ignored(self, path: str, is_dir: bool = False) -> bool:
        path = path.strip("/")
        result = False
        for rule in self.rules:
            if rule.dir_only and not is_dir and not _matches_parent(rule, path):
                continue
            if rule.regex.match(path):
                result = not rule.negate
        return result


def _matches_parent(rule: Rule, path: str) -> bool:
    """A directory-only rule matches a file when it matches one of its parent dirs."""
    parts = path.split("/")
    return any(rule.regex.match("/".join(parts[:n])) for n in range(1, len(parts)))


# Patterns the repository checks require, shared by secrets.gitignore/secrets.dockerignore and
# their fixers: (pattern to add, sample path it must match, sample is a directory).
# What a repository's .gitignore must cover: (pattern to add, sample path, is_dir).
GITIGNORE_NEEDS: tuple[tuple[str, str, bool], ...] = (
    (".env", ".env", False),
    ("secrets/", "secrets/token.txt", False),
    ("*.key", "server.key", False),
    ("*.pem", "server.pem", False),
)
# What a build context's .dockerignore must exclude.
DOCKERIGNORE_NEEDS: tuple[tuple[str, str, bool], ...] = (
    (".git", ".git", True),
    (".env", ".env", False),
    ("secrets/", "secrets/token.txt", False),
    ("**/*.key", "server.key", False),
    ("**/*.pem", "server.pem", False),
)
