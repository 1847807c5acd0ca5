"""What the app knows about the scan, kept apart from the widgets that show it.

Pure Python (no textual) so the grouping, counting and filtering rules can be tested on
their own and the widgets only draw.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lockdock import checks
from lockdock.model import LAYER_ORDER, ChecklistLayer, Finding, ScanError, Severity, TargetKind
from lockdock.scan import TargetResult, level_reached, severity_of

# The project's own files first, then the engine's objects.
SECTIONS: tuple[str, ...] = ("Compose", "Dockerfiles", "Repository", "Host", "Images", "Containers", "Swarm services")
PROJECT_SECTIONS = frozenset({"Compose", "Dockerfiles", "Repository"})
SORTS: tuple[str, ...] = ("severity", "name", "kind")
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
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


def short_name(tr: TargetResult) -> str:
    """The inventory name without its engine (the engine is the row it sits under)."""
    return _plain_name(tr)


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
    if target.kind is TargetKind.REPO:
        root = getattr(tr.subject, "root", None)
        if root is None and target.key.startswith("repo:"):
            root = target.key[5:]
        if root is not None and name in (".", ""):
            folder = str(root).rstrip("/").rsplit("/", 1)[-1]
            return f"{folder or name} (repository)"
    return name


def labels_of(tr: TargetResult) -> dict[str, str]:
    """An image's or container's labels (empty for files and the host)."""
    labels = getattr(tr.subject, "labels", None)
    if not isinstance(labels, dict):
        return {}
    return {str(k): str(v) for k, v in labels.items()}


def levels_to_next(findings: Iterable[Finding]) -> tuple[int, int] | None:
    """(next level, distinct failing checks that stand in its way), or None at level 4.

    Level N is reached when no check of level <= N fails (`lockdock.scan.level_reached`),
    so the next level needs every failing check of level <= N+1 fixed or ignored."""
    active = [f for f in findings if f.suppressed is None]
    level = level_reached(active)
    if level >= 4:
        return None
    nxt = level + 1
    blocking = {f.check for f in active if checks.get(f.check).level <= nxt}
    return nxt, len(blocking)


def next_level_words(findings: Iterable[Finding]) -> str:
    """'2 checks to L2', or 'L4: every check passes'."""
    got = levels_to_next(findings)
    if got is None:
        return "L4: every check passes"
    nxt, n = got
    return f"{n} check{'s' if n != 1 else ''} to L{nxt}"


LEVEL_HELP: tuple[tuple[str, str], ...] = (
    ("L0", "a level-1 (Basic) check fails"),
    ("L1", "Basic: every level-1 check passes"),
    ("L2", "Standard: every check of level 1-2 passes"),
    ("L3", "Advanced: every check of level 1-3 passes"),
    ("L4", "Enterprise: every check passes (ignored findings do not count)"),
)

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
    """Findings by checklist layer, the layer with the worst active finding first (ties in
    checklist order); most severe first inside each layer, ignored findings last."""
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

    def worst(group: tuple[ChecklistLayer, list[Finding]]) -> int:
        sev = [int(severity_of(f)) for f in group[1] if f.suppressed is None]
        return max(sev) if sev else -1

    out.sort(key=lambda g: (-worst(g), LAYER_ORDER.index(g[0])))
    return out


def layer_counts(items: Iterable[Finding]) -> str:
    """'3: 1 crit 2 high' for a group header (active findings; ignored ones counted apart)."""
    counts: Counter[Severity] = Counter()
    ignored = 0
    for f in items:
        if f.suppressed is not None:
            ignored += 1
        else:
            counts[severity_of(f)] += 1
    words = [f"{counts[s]} {SHORT_SEVERITY[s]}" for s in sorted(Severity, reverse=True) if counts.get(s)]
    text = f"{sum(counts.values())}" + (": " + " ".join(words) if words else "")
    if ignored:
        text += f", {ignored} ignored"
    return text


SHORT_SEVERITY = {Severity.CRITICAL: "crit", Severity.HIGH: "high", Severity.MEDIUM: "med",
                  Severity.LOW: "low", Severity.INFO: "info"}


def in_scope(tr: TargetResult, scope: str) -> bool:
    """Scopes: 'all', 'project' (files), 'engine' (images, containers, host),
    'label:KEY' or 'label:KEY=VALUE' (images and containers carrying it), and
    'compose:NAME' (containers of that compose project, and the project's compose files)."""
    section = section_of(tr.target.kind)
    if scope in ("", "all"):
        return True
    if scope == "project":
        return section in PROJECT_SECTIONS
    if scope == "engine":
        return section not in PROJECT_SECTIONS
    if scope.startswith("label:"):
        key, _, value = scope[6:].partition("=")
        labels = labels_of(tr)
        return key in labels and (not value or labels[key] == value)
    if scope.startswith("compose:"):
        name = scope[8:]
        if tr.target.kind in (TargetKind.COMPOSE_FILE, TargetKind.COMPOSE_SERVICE):
            return True
        return labels_of(tr).get(COMPOSE_PROJECT_LABEL) == name
    return True


def compose_projects(results: Iterable[TargetResult]) -> list[str]:
    """Compose project names found on containers (for the scope picker)."""
    return sorted({p for tr in results if (p := labels_of(tr).get(COMPOSE_PROJECT_LABEL))})


def target_matches(tr: TargetResult, query: str) -> bool:
    """Inventory search: every word appears in the name, kind, path or a label."""
    hay = " ".join([display_name(tr), tr.target.kind.value, tr.target.path or "",
                     " ".join(f"{k}={v}" for k, v in labels_of(tr).items())]).lower()
    return all(word in hay for word in query.lower().split())


@dataclass(frozen=True)
class Rollup:
    """What the inventory shows for a target: a parent (compose file) shows the worst of
    itself and its children (a file is only as strong as its weakest service)."""

    level: int
    worst: Severity | None
    active: int


def own_rollup(tr: TargetResult) -> tuple[Rollup, Counter[Severity]]:
    """`tr`'s own level, worst severity and active count, and its active findings per
    severity, in one pass over its findings (`TargetResult.level`, `.worst` and `.active`
    each walk them again)."""
    active = tr.active
    sevs = [severity_of(f) for f in active]
    return Rollup(level_reached(active), max(sevs) if sevs else None, len(active)), Counter(sevs)


# key -> (the result, `own_rollup` of it): a result is told apart by identity (the entry
# holds it, so its id is never reused while compared); results are replaced, never
# changed, once the app has them.
OwnCache = dict[str, tuple[TargetResult, Rollup, Counter[Severity]]]


def cached_own(tr: TargetResult, cache: OwnCache | None) -> tuple[Rollup, Counter[Severity]]:
    """`own_rollup(tr)`, from `cache` when it holds this very result (kept there)."""
    key = tr.target.key
    hit = cache.get(key) if cache is not None else None
    if hit is not None and hit[0] is tr:
        return hit[1], hit[2]
    roll, counts = own_rollup(tr)
    if cache is not None:
        cache[key] = (tr, roll, counts)
    return roll, counts


def rollups(results: Iterable[TargetResult], cache: OwnCache | None = None) -> dict[str, Rollup]:
    """Each target's `Rollup`: its own (`own_rollup`, kept in `cache` when given), folded
    with those of its children (a compose file's services)."""
    items = list(results)
    own: dict[str, Rollup] = {}
    children: dict[str, list[str]] = {}
    for tr in items:
        own[tr.target.key] = cached_own(tr, cache)[0]
        if tr.target.parent:
            children.setdefault(tr.target.parent, []).append(tr.target.key)
    out: dict[str, Rollup] = {}
    for tr in items:
        key = tr.target.key
        kids = children.get(key)
        if not kids:
            out[key] = own[key]
            continue
        family = [own[key], *(own[k] for k in kids)]
        worst = [r.worst for r in family if r.worst is not None]
        out[key] = Rollup(min(r.level for r in family), max(worst) if worst else None,
                          sum(r.active for r in family))
    return out


def _sort_key(tr: TargetResult, roll: Rollup, sort: str) -> tuple[object, ...]:
    name = display_name(tr).lower()
    worst = -1 if roll.worst is None else int(roll.worst)
    if sort == "name":
        return (name,)
    if sort == "kind":
        return (tr.target.kind.value, -worst, name)
    return (-worst, roll.level, -roll.active, name)


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


ENGINE_STATES = ("connecting", "scanning", "up", "down", "timeout")


@dataclass
class EngineRow:
    """One engine of a several-engine session (`lockdock tui --context/--host`).

    `name` is the context name or host URL (`Target.engine` of its targets); `scheme` the
    endpoint kind (unix, tcp, ssh); `state` one of `ENGINE_STATES`; `reason` why it is
    down or timed out (plain text from the engine or the connection, shown escaped);
    `host_note` where its daemon settings were read from (`lockdock.fleethost`)."""

    name: str
    scheme: str
    state: str = "connecting"
    reason: str | None = None
    version: str | None = None
    host_note: str | None = None
    live: bool = False  # its event stream is open


@dataclass
class AppState:
    targets: dict[str, TargetResult] = field(default_factory=dict)
    errors: list[ScanError] = field(default_factory=list)
    progress: Progress = field(default_factory=Progress)
    engine: EngineStatus = field(default_factory=EngineStatus)
    # Several engines: one row each, in command-line order (empty for one engine).
    engines: dict[str, EngineRow] = field(default_factory=dict)
    _totals: tuple[tuple[TargetResult, ...], tuple[int | None, Counter[Severity]]] | None = field(
        default=None, repr=False, compare=False)
    _own: OwnCache = field(default_factory=dict, repr=False, compare=False)  # `rollups` cache

    @property
    def fleet(self) -> bool:
        """True when the inventory's top level is the engines (more than one)."""
        return len(self.engines) > 1

    def add(self, tr: TargetResult) -> None:
        self.targets[tr.target.key] = tr
        kind = tr.target.kind
        if kind is TargetKind.IMAGE:
            self.progress.images_done += 1
        elif kind is TargetKind.CONTAINER:
            self.progress.containers_done += 1
        self.progress.targets_done += 1

    def totals(self) -> tuple[int | None, Counter[Severity]]:
        """(`overall_level`, `severity_counts`) of every target, in one pass over the
        findings; kept until a target result is added, replaced or removed (the status
        line asks on every redraw). Results are told apart by identity: the kept tuple
        holds them, so an id is never reused while it is compared."""
        results = tuple(self.targets.values())
        kept = self._totals
        if kept is not None and len(kept[0]) == len(results) and all(
                a is b for a, b in zip(kept[0], results, strict=True)):
            return kept[1]
        counts: Counter[Severity] = Counter()
        level: int | None = None
        for tr in results:
            roll, sevs = cached_own(tr, self._own)
            counts.update(sevs)
            level = roll.level if level is None else min(level, roll.level)
        self._totals = (results, (level, counts))
        return level, counts

    def remove(self, key: str) -> TargetResult | None:
        return self.targets.pop(key, None)

    def by_section(self, sort: str = "severity", scope: str = "all", query: str = "",
                   engine: str | bool | None = True,
                   rolls: dict[str, Rollup] | None = None) -> dict[str, list[TargetResult]]:
        """Targets per section, in `SORTS` order `sort`, limited to `scope` and `query`,
        and to the targets of `engine` (a name; None: the files, which have no engine;
        True: every target).

        A child (compose service) follows its parent; a parent stays when only a child
        matches the search, so the tree keeps its shape. `rolls`: `rollups()` of these
        targets when the caller has them already."""
        if rolls is None:
            rolls = rollups(self.targets.values())
        out: dict[str, list[TargetResult]] = {s: [] for s in SECTIONS}
        for section in SECTIONS:
            items = [tr for tr in self.targets.values()
                     if section_of(tr.target.kind) == section and in_scope(tr, scope)
                     and (engine is True or tr.target.engine == engine)]
            keys = {tr.target.key for tr in items}
            kids: dict[str, list[TargetResult]] = {}
            tops: list[TargetResult] = []
            for tr in items:
                if tr.target.parent in keys:
                    kids.setdefault(tr.target.parent or "", []).append(tr)
                else:
                    tops.append(tr)
            tops.sort(key=lambda t: _sort_key(t, rolls[t.target.key], sort))
            for top in tops:
                family = sorted(kids.get(top.target.key, []),
                                key=lambda t: _sort_key(t, rolls[t.target.key], sort))
                if query:
                    family = [t for t in family if target_matches(t, query)]
                    if not family and not target_matches(top, query):
                        continue
                out[section].append(top)
                out[section].extend(family)
        return out

    def rollups(self) -> dict[str, Rollup]:
        if len(self._own) > 2 * len(self.targets) + 64:  # drop removed targets' entries
            self._own = {k: v for k, v in self._own.items() if k in self.targets}
        return rollups(self.targets.values(), self._own)

    def worst_key(self, keys: Iterable[str] | None = None) -> str | None:
        """The target to open on: worst severity, then lowest level (files before engine
        objects on a tie); None when nothing was scanned."""
        order = {s: i for i, s in enumerate(SECTIONS)}
        pool = [k for k in (keys if keys is not None else self.targets) if k in self.targets]
        if not pool:
            return None

        def rank(k: str) -> tuple[int, int, int]:
            tr = self.targets[k]
            roll = cached_own(tr, self._own)[0]
            return (-1 if roll.worst is None else -int(roll.worst), roll.level, order[section_of(tr.target.kind)])

        return min(pool, key=rank)

    def finding_count(self) -> int:
        return sum(len(tr.active) for tr in self.targets.values())

    def subject_of(self, key: str) -> Any:
        tr = self.targets.get(key)
        return tr.subject if tr else None
