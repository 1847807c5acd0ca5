"""The data every part of lockdock speaks: targets, findings, fixes.

Kept free of any I/O and of textual so the headless CLI, the analyzers, the
fixers and the TUI can all share it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """Ordered so that comparisons (>= fail-on) read naturally."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown severity {text!r} (expected one of: "
                + ", ".join(s.label for s in cls)
                + ")"
            ) from None


class ChecklistLayer(enum.StrEnum):
    """The checklist layers, in the order the checklist presents them."""

    IMAGE = "image"
    CONTAINER = "container"
    SECRETS = "secrets"
    NETWORK = "network"
    RUNTIME = "runtime"
    BUILD = "build"
    REGISTRY = "registry"


LAYER_ORDER: tuple[ChecklistLayer, ...] = tuple(ChecklistLayer)


class TargetKind(enum.StrEnum):
    """What a finding is about; the values are the JSON `target.kind` strings."""

    DOCKERFILE = "dockerfile"
    COMPOSE_FILE = "compose-file"
    COMPOSE_SERVICE = "compose-service"
    IMAGE = "image"
    CONTAINER = "container"
    HOST = "host"
    REPO = "repo"
    SWARM_SERVICE = "swarm-service"


# Checklist "Where" letters -> target kinds.
WHERE_KINDS: dict[str, tuple[TargetKind, ...]] = {
    "D": (TargetKind.DOCKERFILE,),
    "C": (TargetKind.COMPOSE_FILE, TargetKind.COMPOSE_SERVICE),
    "I": (TargetKind.IMAGE,),
    # A Swarm service's task template is a container spec: the container checks apply to it.
    "K": (TargetKind.CONTAINER, TargetKind.SWARM_SERVICE),
    "H": (TargetKind.HOST,),
    "R": (TargetKind.REPO,),
}


class Applicability(enum.StrEnum):
    """ruff's split: safe fixes keep behaviour, unsafe ones need an explicit opt-in."""

    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True)
class Target:
    """One thing that is scanned. `key` is unique within a scan (paths, ids)."""

    kind: TargetKind
    name: str
    path: str | None = None
    key: str = ""
    parent: str | None = None  # key of the enclosing target (compose file of a service)
    # The engine an engine object lives on (docker context name or host URL) when a scan
    # covers several engines (`lockdock.fleet`); None for files and single-engine scans.
    engine: str | None = None

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", f"{self.kind.value}:{self.path or ''}:{self.name}")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind.value, "name": self.name, "path": self.path}
        if self.engine is not None:
            data["engine"] = self.engine
        return data


@dataclass(frozen=True)
class ImageLayerRef:
    """Which layer of an image brought a finding in (as `docker history` shows it)."""

    index: int  # position in the image history, 0 = oldest
    created_by: str = ""
    digest: str | None = None  # diff id / layer digest; None for empty layers
    size: int | None = None


@dataclass(frozen=True)
class Location:
    path: str | None = None
    line: int | None = None  # 1-based
    end_line: int | None = None
    column: int | None = None  # 1-based
    image_layer: ImageLayerRef | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": self.path,
            "line": self.line,
            "end_line": self.end_line if self.end_line is not None else self.line,
            "column": self.column,
            "image_layer": self.image_layer.index if self.image_layer else None,
        }
        if self.image_layer:
            data["image_layer_detail"] = {
                "index": self.image_layer.index,
                "created_by": self.image_layer.created_by,
                "digest": self.image_layer.digest,
                "size": self.image_layer.size,
            }
        return data


# --------------------------------------------------------------------------- fixes


@dataclass(frozen=True)
class TextEdit:
    """Replace text[start:end] (character offsets in the decoded file) with `text`."""

    start: int
    end: int
    text: str = field(repr=False)  # may carry a secret being moved (never in logs or repr)


@dataclass
class FileEdit:
    """Edits to an existing file. `expected_sha256` is the hash of the bytes analysed."""

    path: str
    edits: list[TextEdit]
    expected_sha256: str | None = None


@dataclass
class NewFile:
    """A file a fix creates. `content` may hold a secret moved out of another file (a
    compose secrets file): it is kept out of `repr()` so logs never show it."""

    path: str
    content: str = field(repr=False)
    mode: int = 0o644


@dataclass
class ModeChange:
    path: str
    old_mode: int
    new_mode: int
    expected_sha256: str | None = None


@dataclass
class EngineAction:
    """A change made through the engine, e.g. `docker update` of a container."""

    action: str  # "container.update"
    object_id: str
    object_name: str
    current: dict[str, Any]
    new: dict[str, Any]
    # The engine that owns the object in a multi-engine run (context name or host URL,
    # `Target.engine`); None: the scan's one engine.
    engine: str | None = None


Change = FileEdit | NewFile | ModeChange | EngineAction


@dataclass
class Fix:
    title: str
    applicability: Applicability
    changes: list[Change] = field(default_factory=list)
    check: str | None = None
    note: str | None = None  # e.g. "edits anchor &base: services web, worker change"
    target: str | None = None  # key of the target whose finding this fix answers
    # True: a placeholder with no changes yet; its fixer measures the engine, so it runs on
    # demand only (`lockdock.fixing.apply.materialize`) before a preview or an apply.
    pending: bool = False
    # Checks this fix makes visible without changing what is exposed (a host-network
    # service's low port, now published explicitly): the rescan does not count them as new.
    reveals: tuple[str, ...] = ()

    def summary_json(self) -> dict[str, Any]:
        return {"title": self.title, "applicability": self.applicability.value}


# --------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Payload:
    """What an analyzer hands to the fixer of its finding: the facts the fix is decided from.

    One small frozen subclass per finding kind, defined in `lockdock.payloads` (never in
    `analyzers/` or `fixers/`, which do not import each other). A fixer narrows it with
    `isinstance` and offers no fix when the payload is not the kind it expects. A payload
    stays in memory (the result cache stores only what reports read): it is never shown or
    serialised to a report, so it may hold file positions, parsed nodes and variable names.
    """


@dataclass
class Suppression:
    reason: str
    source: str = ""  # "pragma", "config", "label"


@dataclass
class Finding:
    """One checklist violation. `evidence` is already masked; raw secrets never live here."""

    check: str
    target: Target
    message: str
    location: Location = field(default_factory=Location)
    evidence: str | None = None
    severity: Severity | None = None  # None -> catalogue default (config may override)
    fix: Fix | None = None
    suppressed: Suppression | None = None
    # What the fixer of this finding needs (node, offsets, names); never serialised.
    payload: Payload | None = field(default=None, repr=False, compare=False)
    # More 1-based lines of `location.path` whose ignore pragma also covers this finding (the
    # first line of a multi-line instruction, a compose service's key line).
    scope_lines: tuple[int, ...] = field(default=(), repr=False, compare=False)

    @property
    def layer(self) -> ChecklistLayer:
        return ChecklistLayer(self.check.split(".", 1)[0])


@dataclass
class ScanError:
    """A problem reading or analysing something; the scan goes on."""

    path: str | None
    message: str
    target: str | None = None  # target key, when the error belongs to one
    kind: str = "error"  # "error" or "warning"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "message": self.message, "kind": self.kind}
