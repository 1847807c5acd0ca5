"""Payloads of repository findings (`lockdock.payloads` says what a payload is). Missing
ignore-file patterns use `MissingIgnoreEntries` from `lockdock.payloads`."""

from __future__ import annotations

from dataclasses import dataclass

from lockdock.model import Payload


@dataclass(frozen=True)
class TrackedSecret(Payload):
    """secrets.gitignore: git tracks the secret file `path` (relative to the git root).
    No automatic fix: `git rm --cached` and rotating what it held are the user's call."""

    path: str


@dataclass(frozen=True)
class SecretFileMode(Payload):
    """secrets.file-permissions: the secret file `path` (absolute) has permission bits
    `mode` (st_mode & 0o7777) that let group or others in."""

    path: str
    mode: int


@dataclass(frozen=True)
class SecretFileAge(Payload):
    """secrets.rotation: the secret file `path` (absolute) was last modified `age_days`
    whole days ago."""

    path: str
    age_days: int
