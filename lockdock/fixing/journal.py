"""The undo journal: what each apply changed, kept in the user's state directory.

One entry per apply pass (one fix in the TUI; all fixes of a `lockdock fix --apply` pass,
and a run may take several passes when fixes overlap: `run` ties them together). Every
entry names its project (the git repository holding the scan root, else the scan root):
undo and `entries_for` stay inside one project unless an entry is named by id. An
entry holds the original bytes and mode of every file written, the hash of what lockdock
wrote (undo refuses when the user changed the file since), created files, mode changes
and the previous engine values of `docker update`, with the engine holding each container
(context name or host URL) when a multi-engine run named it. Entries are private (0600): original
bytes can hold the user's secrets.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdock.engine.update import (
    EngineActionFailed,
    Engines,
    as_engines,
    update_container_verified,
)
from lockdock.files import sha256_bytes
from lockdock.fixing import writer
from lockdock.text import safe


def journal_dir() -> Path:
    return writer.state_dir() / "journal"


@dataclass
class FileRecord:
    path: str  # absolute path written
    written_sha256: str
    original: bytes | None = None  # None: lockdock created the file
    mode: int = 0o644
    uid: int = -1
    gid: int = -1


@dataclass
class ModeRecord:
    path: str
    old_mode: int
    new_mode: int
    sha256: str


@dataclass
class EngineRecord:
    object_id: str
    object_name: str
    previous: dict[str, Any]
    new: dict[str, Any]
    # The engine holding the object: a docker context name or host URL (a multi-engine
    # `lockdock fix`), None for the one engine of a plain run. Undo reconnects to it.
    engine: str | None = None

    def shown(self) -> str:
        """`container NAME` plus `on ENGINE` when the record names one (plain text)."""
        where = f" on {safe(self.engine, 120)}" if self.engine else ""
        return f"container {safe(self.object_name, 80)}{where}"


@dataclass
class Entry:
    titles: list[str]
    root: str
    files: list[FileRecord] = field(default_factory=list)
    modes: list[ModeRecord] = field(default_factory=list)
    engine: list[EngineRecord] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)  # directories created for new files
    created_at: float = field(default_factory=time.time)
    id: str = ""
    run: str = ""  # entries of one `lockdock fix --apply` run share it; undo takes them all
    project: str = ""  # project_of(root) when empty

    def __post_init__(self) -> None:
        if not self.project:
            self.project = str(project_of(Path(self.root)))

    @property
    def empty(self) -> bool:
        return not (self.files or self.modes or self.engine)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "id": self.id,
            "run": self.run,
            "created_at": self.created_at,
            "titles": self.titles,
            "root": self.root,
            "project": self.project,
            "files": [
                {
                    "path": f.path,
                    "written_sha256": f.written_sha256,
                    "original_b64": None
                    if f.original is None
                    else base64.b64encode(f.original).decode("ascii"),
                    "mode": f.mode,
                    "uid": f.uid,
                    "gid": f.gid,
                }
                for f in self.files
            ],
            "modes": [m.__dict__ for m in self.modes],
            "engine": [e.__dict__ for e in self.engine],
            "dirs": self.dirs,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        entry = cls(
            titles=list(data.get("titles", [])),
            root=str(data.get("root", "/")),
            project=str(data.get("project") or ""),
        )
        entry.id = str(data.get("id", ""))
        entry.run = str(data.get("run", ""))
        entry.created_at = float(data.get("created_at", 0))
        for f in data.get("files", []):
            orig = f.get("original_b64")
            entry.files.append(
                FileRecord(
                    f["path"],
                    f["written_sha256"],
                    None if orig is None else base64.b64decode(orig),
                    int(f.get("mode", 0o644)),
                    int(f.get("uid", -1)),
                    int(f.get("gid", -1)),
                )
            )
        entry.modes = [ModeRecord(**m) for m in data.get("modes", [])]
        entry.engine = [EngineRecord(**e) for e in data.get("engine", [])]
        entry.dirs = [str(d) for d in data.get("dirs", [])]
        return entry


def project_of(path: Path) -> Path:
    """The project a path belongs to: the nearest directory at or above it holding `.git`
    (a repository, also a worktree's `.git` file), else the directory itself (a file's
    parent). Absolute, symlinks resolved."""
    p = Path(os.path.realpath(path))
    if not p.is_dir():
        p = p.parent
    for d in (p, *p.parents):
        if os.path.lexists(d / ".git"):
            return d
    return p


def _inside(path: str, project: Path) -> bool:
    try:
        Path(path).relative_to(project)
    except ValueError:
        return False
    return True


class UndoRefused(Exception):
    """Undo cannot restore the state byte for byte (the user changed things since)."""


def save(entry: Entry) -> Path:
    """Write the entry atomically with private permissions; returns its path."""
    d = journal_dir()
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not entry.id:
        entry.id = f"{time.time_ns():020d}-{os.getpid()}"
    path = d / f"{entry.id}.json"
    tmp = d / f".{entry.id}.tmp"
    data = json.dumps(entry.to_json()).encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        writer._write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    prune(protect=entry.run)
    return path


MAX_ENTRIES = 200


def prune(keep: int = MAX_ENTRIES, protect: str = "") -> None:
    """Forget the oldest entries: they hold original bytes (maybe secrets) and undo only
    ever reaches the newest ones. Entries of the run `protect` (the one being written)
    are kept whatever their number, so a long run stays undoable as a whole."""
    items = entries()
    for old in items[: max(0, len(items) - keep)]:
        if protect:
            try:
                if load(old).run == protect:
                    continue
            except (OSError, ValueError, KeyError, TypeError):
                pass
        with contextlib.suppress(OSError):
            os.unlink(old)


def entries() -> list[Path]:
    """Journal entries, oldest first."""
    d = journal_dir()
    try:
        names = sorted(n for n in os.listdir(d) if n.endswith(".json"))
    except FileNotFoundError:
        return []
    return [d / n for n in names]


def load(path: Path) -> Entry:
    return Entry.from_json(json.loads(path.read_text(encoding="utf-8")))


def last() -> tuple[Path, Entry] | None:
    items = entries()
    if not items:
        return None
    return items[-1], load(items[-1])


def discard(entry: Entry) -> None:
    """Forget an entry (it was rolled back or undone)."""
    if not entry.id:
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(journal_dir() / f"{entry.id}.json")


def _current_sha(path: str) -> str | None:
    try:
        _real, _via, raw, _st = writer.check_existing(path, "/", None, need_write=False)
    except (writer.WriteRefused, OSError):
        return None
    return sha256_bytes(raw)


def _file_state(f: FileRecord) -> str:
    """"written" (lockdock's bytes are there), "untouched" (the write never happened:
    the journal is written ahead of every change), or "changed" (someone edited it)."""
    cur = _current_sha(f.path)
    if f.original is None:
        if not os.path.lexists(f.path):
            return "untouched"
        return "written" if cur == f.written_sha256 else "changed"
    if cur == f.written_sha256:
        return "written"
    if cur is not None and cur == sha256_bytes(f.original):
        return "untouched"
    return "changed"


def _mode_state(m: ModeRecord) -> str:
    try:
        mode = os.stat(m.path).st_mode & 0o7777
    except OSError:
        return "changed"
    if _current_sha(m.path) != m.sha256:
        return "changed"
    if mode == m.new_mode:
        return "written"
    return "untouched" if mode == m.old_mode else "changed"


def check_restorable(entry: Entry) -> None:
    """Refuse before touching anything when any file is not what lockdock left there."""
    for f in entry.files:
        if _file_state(f) == "changed":
            raise UndoRefused(
                f"{safe(f.path)}: changed since lockdock wrote it; undo refused "
                "(the file is not what lockdock wrote)"
            )
    for m in entry.modes:
        if _mode_state(m) == "changed":
            raise UndoRefused(f"{safe(m.path)}: changed since lockdock changed its mode; undo refused")


def engines_needed(entries: list[Entry]) -> list[str | None]:
    """The engines `restore` needs for `entries`, in first-seen order (None: the default)."""
    out: list[str | None] = []
    for entry in entries:
        for e in entry.engine:
            if e.engine not in out:
                out.append(e.engine)
    return out


def restore(entry: Entry, engine: Any = None) -> list[str]:
    """Put back everything `entry` changed; returns what was done (one line each).

    `engine` is one connected engine or an `Engines` (each container record goes to the
    engine it names). Files are restored in reverse order of writing; engine values are
    set back through `docker update` and verified by inspecting the container. Changes the
    journal announced but that never happened (an interrupted run) are skipped. Raises
    `UndoRefused` before changing anything when a file changed or an engine is missing.
    """
    check_restorable(entry)
    engines: Engines = as_engines(engine)
    for name in engines_needed([entry]):
        if engines.get(name) is None:
            if name is None:
                raise UndoRefused("this fix changed containers; undo needs the engine (drop --no-engine)")
            raise UndoRefused(f"this fix changed containers on engine {safe(name, 120)}, which is not connected; "
                              "nothing undone")
    for d in {os.path.dirname(f.path) for f in entry.files}:
        writer.clean_stray_temps(d)  # left by the interrupted run this entry may come from
    done: list[str] = []
    for f in reversed(entry.files):
        if _file_state(f) != "written":
            continue
        if f.original is None:
            writer.remove_created(f.path, f.written_sha256, root="/")
            done.append(f"removed {safe(f.path)} (created by the fix)")
        else:
            writer.write_file(
                f.path, f.original, root="/", expected_sha256=f.written_sha256, mode=f.mode
            )
            done.append(f"restored {safe(f.path)}")
    for d in reversed(entry.dirs):
        try:
            os.rmdir(d)
            done.append(f"removed directory {safe(d)} (created by the fix)")
        except OSError:
            done.append(f"kept directory {safe(d)} (not empty)")
    for m in reversed(entry.modes):
        if _mode_state(m) != "written":
            continue
        writer.change_mode(m.path, m.new_mode, m.old_mode, root="/", expected_sha256=m.sha256)
        done.append(f"mode {safe(m.path)}: {m.new_mode:04o} -> {m.old_mode:04o}")
    for e in reversed(entry.engine):
        try:
            notes = update_container_verified(engines.require(e.engine), e.object_id, e.previous)
        except EngineActionFailed as exc:
            raise UndoRefused(f"{e.shown()}: {exc}") from None
        done.append(f"{e.shown()}: restored {', '.join(sorted(e.previous))}")
        done += [f"{e.shown()}: {n}" for n in notes]
    return done


@dataclass
class EntrySummary:
    """One undoable run as `lockdock undo --list` and the TUI show it (newest first).

    `id` names the run's newest entry (give it to `undo_last(entry_id=...)`); `files` are
    absolute paths written or created, `modes` paths whose mode changed, `containers`
    container names updated (`NAME on ENGINE` when a multi-engine run named the engine); `created_at` is seconds since the epoch (the run's last
    pass); `journal` is the directory holding the entries (private, 0700/0600: they keep
    the original bytes, secrets included).
    """

    id: str
    run: str
    created_at: float
    project: str
    root: str
    titles: list[str]
    files: list[str]
    modes: list[str]
    containers: list[str]
    journal: str


def _runs() -> list[list[tuple[Path, Entry]]]:
    """Every run in the journal, newest first; each run's entries newest first. An entry
    that cannot be read is left out (it is named by `--entry` only)."""
    by_run: dict[str, list[tuple[Path, Entry]]] = {}
    for path in reversed(entries()):
        try:
            entry = load(path)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        by_run.setdefault(entry.run or f"entry:{entry.id}", []).append((path, entry))
    return list(by_run.values())


def _summary(run: list[tuple[Path, Entry]]) -> EntrySummary:
    newest = run[0][1]
    oldest_first = [e for _p, e in reversed(run)]
    files: list[str] = []
    for e in oldest_first:
        files += [f.path for f in e.files if f.path not in files]
    return EntrySummary(
        id=newest.id,
        run=newest.run,
        created_at=newest.created_at,
        project=newest.project,
        root=newest.root,
        titles=[t for e in oldest_first for t in e.titles],
        files=files,
        modes=[m.path for e in oldest_first for m in e.modes],
        containers=[c.object_name + (f" on {c.engine}" if c.engine else "") for e in oldest_first for c in e.engine],
        journal=str(journal_dir()),
    )


def entries_for(project_root: Path | None) -> list[EntrySummary]:
    """The undoable runs of one project, newest first (every run when `project_root` is
    None). A run belongs to the project when its project (see `project_of`) is
    `project_of(project_root)` or lies inside it."""
    project = None if project_root is None else project_of(project_root)
    return [
        _summary(run) for run in _runs() if project is None or _inside(run[0][1].project, project)
    ]


def find_run(project: Path | None, entry_id: str | None) -> list[tuple[Path, Entry]]:
    """The run `undo_last` would revert, as (journal file, entry) pairs, newest first:
    the one holding `entry_id`, else the newest of `project`, else the newest of all.
    Raises `UndoRefused` with what to do when there is none."""
    runs = _runs()
    if entry_id is not None:
        for run in runs:
            if any(e.id == entry_id for _p, e in run) or run[0][1].run == entry_id:
                return run
        raise UndoRefused(f"no journal entry {safe(entry_id, 80)} (see lockdock undo --list --all)")
    if not runs:
        raise UndoRefused("nothing to undo (the journal is empty)")
    if project is None:
        return runs[0]
    mine = project_of(project)
    for run in runs:
        if _inside(run[0][1].project, mine):
            return run
    others = len(runs)
    raise UndoRefused(
        f"nothing to undo in {safe(mine)}: the journal holds {others} run(s) of other projects "
        "(lockdock undo --list --all shows them; name one with --entry ID)"
    )


def undo_last(
    engine: Any = None, project: Path | None = None, entry_id: str | None = None
) -> tuple[Entry, list[str]]:
    """Undo the newest run of `project` (all its passes, newest first), or the run holding
    the entry `entry_id`; with neither, the newest run of the whole journal.

    Raises `UndoRefused` when that run's newest entry cannot be restored exactly (then
    nothing is changed) or when the project has nothing to undo. Returns the oldest entry
    undone (its titles name the run) and what was done.
    """
    run = find_run(project, entry_id)
    _path, entry = run[0]
    done = restore(entry, engine)
    discard(entry)
    titles = list(entry.titles)
    for _p, earlier in run[1:]:
        try:
            done = restore(earlier, engine) + done
        except UndoRefused as exc:
            done.append(f"earlier pass of this run not undone: {exc}")
            break
        discard(earlier)
        titles = earlier.titles + titles
        entry = earlier
    entry.titles = titles
    return entry, done
