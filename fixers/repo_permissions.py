"""Repository fix: secret files readable by group or others become owner-only (0600)."""

from __future__ import annotations

import os
from typing import Any

from lockdock.context import ScanContext
from lockdock.model import Applicability, Finding, Fix, ModeChange, TargetKind
from lockdock.registry import fixer


@fixer("secrets.file-permissions", TargetKind.REPO, title="chmod 600 the secret file", applicability=Applicability.SAFE)
def owner_only(finding: Finding, _subject: Any, _ctx: ScanContext) -> Fix | None:
    path = finding.data.get("path")
    mode = finding.data.get("mode")
    if not isinstance(path, str) or not isinstance(mode, int) or not mode & 0o077:
        return None
    name = os.path.basename(path)
    return Fix(f"chmod 600 {name}", Applicability.SAFE, [ModeChange(path, mode, 0o600)])
