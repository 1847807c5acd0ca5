"""build.dockerignore for a Dockerfile's build context: create the ignore file or append
the missing patterns (safe: it only keeps files out of the build context)."""

from __future__ import annotations

from pathlib import Path

from lockdock.context import ScanContext
from lockdock.fixers.repo_ignorefiles import append_patterns
from lockdock.model import Applicability, Finding, Fix, TargetKind
from lockdock.payloads import MissingIgnoreEntries
from lockdock.registry import fixer
from lockdock.sources import DockerfileSubject


@fixer("build.dockerignore", TargetKind.DOCKERFILE, title="Exclude secrets and VCS data from the build context", applicability=Applicability.SAFE)
def dockerignore(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    entries = finding.payload
    if not isinstance(entries, MissingIgnoreEntries):
        return None
    return append_patterns(Path(entries.path), list(entries.missing), "Exclude secrets and VCS data from the build context", ctx)
