"""What the app knows about the scan, kept apart from the widgets that show it.

Pure Python (no textual) so the grouping, counting and filtering rules can be tested on
their own and the widgets only draw.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lockdock.model import LAYER_ORDER, ChecklistLayer, Finding, ScanError, Severity, TargetKind
from lockdock.scan import TargetResult, severity_of

SECTIONS: tuple[str, ...] = ("Images", "Containers", "Swarm services", "Compose", "Dockerfiles", "Host", "Repository")
_SECTION_OF: dict[TargetKind, str] = {
    TargetKind.IMAGE: "Images",
    TargetKind.CONTAINER: "Containers",
    TargetKind.COMPOSE_FILE: "Compose",
    TargetKind.COMPOSE_SERVICE: "Compose",
    TargetKind.DOCKERFILE: "Dockerfiles",
    TargetKind.HOST: "Host",
    TargetKind.REPO: "Repository",
    TargetKind.SWARM_SERVICE: "Swarm services",
}
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"
COMPOSE_FILES_LABEL = "com.docker.compose.project.config_files"


def section_of(kind: TargetKind) -> str:
    return _SECTION_OF[kind]


def display_name(tr: TargetResult) -> str:
    """The inventory name; containers made by compose also name their service and file."""
    target = tr.target
    name = _plain_name(tr)
    # Several engines (a fleet scan, merged reports): each row names its engine or host.
    return f"{name} @ {target.engine}" if target.engine is not None and target.kind is not TargetKind.HOST else name


def _plain_name(tr: TargetResult) -> str:
    target = tr.target
    name = target.name
    if target.kind is TargetKind.COMPOSE_SERVICE:
        return f"service {name}"
    if target.kind is TargetKind.CONTAINER:
        labels = getattr(tr.subject, "labels", None)
        if isinstance(labels, dict) and isinstance(labels.get(COMPOSE_SERVICE_LABEL), str):
            files = str(labels.get(COMPOSE_FILES_LABEL) or "").split(",")[0]
            base = files.rsplit("/", 1)[-1] if files else ""
            service = labels[COMPOSE_SERVICE_LABEL]
            return f"{name} ({service}" + (f" @ {base})" if base else ")")
    if target.kind in (TargetKind.DOCKERFILE, TargetKind.COMPOSE_FILE) and target.path:
        return target.path
    return name


def severity_counts(results: Iterable[TargetResult]) -> Counter[Severity]:
    counts: Counter[Severity] = Counter()
    for tr in results:
        for f in tr.active:
            counts[severity_of(f)] += 1
    return counts


def overall_level(results: Iterable[TargetResult]) -> int | None:
    """The lowest level reached by any target (the whole setup is as strong as its weakest)."""
    levels = [tr.level for tr in results]
    return min(levels) if levels else None


def group_by_layer(findings: Iterable[Finding]) -> list[tuple[ChecklistLayer, list[Finding]]]:
    """Findings by checklist layer (checklist order), most severe first inside each layer."""
    groups: dict[ChecklistLayer, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.layer, []).append(f)
    out = []
    for layer in LAYER_ORDER:
        if layer in groups:
            items = sorted(
                groups[layer],
                key=lambda f: (f.suppressed is not None, -severity_of(f), f.location.line or 0, f.check),
            )
            out.append((layer, items))
    return out


def matches(finding: Finding, query: str) -> bool:
    """Every word of `query` must appear in the finding's check id, layer, severity, message
    or path (case-insensitive). `sev>=high` style words keep findings at or above a severity."""
    sev = severity_of(finding)
    hay = " ".join(
        [
            finding.check,
            finding.layer.value,
            sev.label,
            finding.message,
            finding.location.path or "",
            "fixable" if finding.fix is not None else "",
            "ignored" if finding.suppressed is not None else "",
        ]
    ).lower()
    for word in query.lower().split():
        if word.startswith(("sev>=", "severity>=")):
            try:
                if sev < Severity.parse(word.split(">=", 1)[1]):
                    return False
            except ValueError:
                return False
            continue
        if word not in hay:
            return False
    return True


@dataclass
class Progress:
    """Scan progress as the header shows it."""

    running: bool = False
    targets_done: int = 0
    images_total: int | None = None
    images_done: int = 0
    containers_total: int | None = None
    containers_done: int = 0
    current: str = ""
    elapsed: float | None = None  # set when finished


@dataclass
class EngineStatus:
    endpoint: str | None = None
    version: str | None = None
    error: str | None = None  # why there is none / why it was lost
    wanted: bool = True
    lost: bool = False


@dataclass
class AppState:
    targets: dict[str, TargetResult] = field(default_factory=dict)
    errors: list[ScanError] = field(default_factory=list)
    progress: Progress = field(default_factory=Progress)
    engine: EngineStatus = field(default_factory=EngineStatus)

    def add(self, tr: TargetResult) -> None:
        self.targets[tr.target.key] = tr
        kind = tr.target.kind
        if kind is TargetKind.IMAGE:
            self.progress.images_done += 1
        elif kind is TargetKind.CONTAINER:
            self.progress.containers_done += 1
        self.progress.targets_done += 1

    def remove(self, key: str) -> TargetResult | None:
        return self.targets.pop(key, None)

    def by_section(self) -> dict[str, list[TargetResult]]:
        out: dict[str, list[TargetResult]] = {s: [] for s in SECTIONS}
        for tr in self.targets.values():
            out[section_of(tr.target.kind)].append(tr)
        for items in out.values():
            items.sort(key=lambda t: (t.target.parent or t.target.key, t.target.kind != TargetKind.COMPOSE_FILE, display_name(t)))
        return out

    def finding_count(self) -> int:
        return sum(len(tr.active) for tr in self.targets.values())

    def subject_of(self, key: str) -> Any:
        tr = self.targets.get(key)
        return tr.subject if tr else None
