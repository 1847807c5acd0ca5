"""A content-hash cache of per-Dockerfile results, so a repeated scan of an unchanged tree
(pre-commit, CI re-runs) skips the analysis, in the manner of ruff's cache.

Where: `$XDG_CACHE_HOME/lockdock/v2/` (default `~/.cache/lockdock/v2/`), one file per
result, mode 0600 in 0700 directories; `lockdock scan --no-cache` or `LOCKDOCK_NO_CACHE=1`
bypass it. A result is found by a key and then re-validated:

- key: the scan salt (lockdock's version and a fingerprint of its own code, the config,
  the check selection, the working directory, `LOCKDOCK_*` variables, the ShellCheck
  binary in use, the Python version (the file format is `marshal`'s), and the engine's facts: the id and names of every local image, or "no
  engine"), the target kind, the file's absolute path and the sha256 of its bytes;
- dependencies, checked on every hit: every other file the analysis read through
  `lockdock.files.read_text` (sha256 of its bytes, or "unreadable") and the listing (names,
  kinds, symlink targets) of the folders that hold the file and those reads, and of its `secrets/`
  folder (a `.dockerignore` or a secret file appearing beside a Dockerfile changes its
  result without being read before).

Each result also holds its file's load record (lockdock.sources.dockerfiles): the
warnings and errors its load said, so a warm scan says them again without parsing the
file; a file that did not parse has its load record alone under the same key.

The stored form is compact: plain tuples of strings and numbers written with `marshal`
(the fields the reports read: check, target, message, location, evidence, severity, the
fix's title and applicability, the suppression), not pickled objects. A finding served
from the cache has no `payload`, no `scope_lines` and a fix without changes: the cache
serves `lockdock scan`'s reports only; whoever fixes scans uncached (a fix parses and
analyses its file anyway). Decoding and rebuilding 14,700 cached findings so takes ~35 ms
instead of ~0.11 s of unpickling dataclasses (1,000 generated Dockerfiles).

Only Dockerfiles are cached: a compose project's findings depend on each other (an env
file shared by several services is reported once) and repository checks on the whole
tree. A cache file that cannot be read, is not ours (other owner, writable by others) or
does not decode to the expected shape is ignored and rewritten; the cache never makes a
scan fail.

Size: at most once an hour (`PRUNE_EVERY`), opening the cache checks the folder's size;
past `LOCKDOCK_CACHE_MAX_MB` (default 512; 0: no cap) the least recently used files go
until three quarters of the cap are left (`prune`). A removed result is only a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import shutil
import stat
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lockdock
from lockdock.model import (
    Applicability,
    Finding,
    Fix,
    ImageLayerRef,
    Location,
    ScanError,
    Severity,
    Suppression,
    Target,
    TargetKind,
)

if TYPE_CHECKING:
    from lockdock.context import ScanContext

FORMAT = "v2"  # the folder name: v1 held pickles
CACHED_KINDS = frozenset({TargetKind.DOCKERFILE})


MAX_MB = 512  # the cache folder's size cap (LOCKDOCK_CACHE_MAX_MB overrides; 0: no cap)
PRUNE_EVERY = 3600.0  # seconds between two size checks of one cache folder
_STAMP = ".pruned"  # in the cache folder: its mtime is the last size check


def max_bytes() -> int:
    """The cache folder's size cap in bytes (0: none): `LOCKDOCK_CACHE_MAX_MB`, else MAX_MB."""
    raw = os.environ.get("LOCKDOCK_CACHE_MAX_MB", "").strip()
    try:
        mb = float(raw) if raw else float(MAX_MB)
    except ValueError:
        mb = float(MAX_MB)
    return max(0, int(mb * 1024 * 1024))


def prune(base: Path, cap: int) -> tuple[int, int]:
    """Keep the cache folder `base` under `cap` bytes: when it holds more, remove its least
    recently used files (the later of their access and modification times: a hit reads
    its file) until it holds at most three quarters of `cap`. Returns (files removed, bytes
    freed). Only this cache's own files are touched (`*.bin` one folder deep, and the scan
    records); a file another scan removes meanwhile is skipped; a removed file is a miss."""
    files: list[tuple[float, int, str]] = []
    total = 0
    try:
        folders = [e.path for e in os.scandir(base) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return 0, 0
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            if not e.name.endswith(".bin"):
                continue
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            total += st.st_size
            files.append((max(st.st_atime, st.st_mtime), st.st_size, e.path))
    if cap <= 0 or total <= cap:
        return 0, 0
    files.sort()
    goal = cap * 3 // 4
    removed = freed = 0
    for _when, size, path in files:
        if total - freed <= goal:
            break
        try:
            os.unlink(path)
        except OSError:
            continue
        removed += 1
        freed += size
    return removed, freed


def _prune_if_due(base: Path) -> None:
    """`prune` at most once per PRUNE_EVERY seconds per cache folder (the stamp file's mtime
    says when; it is renewed first, so concurrent scans do not all walk the folder)."""
    cap = max_bytes()
    if cap <= 0:
        return
    stamp = base / _STAMP
    try:
        if time.time() - stamp.stat().st_mtime < PRUNE_EVERY:
            return
    except FileNotFoundError:
        pass
    except OSError:
        return
    try:
        fd = os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        os.utime(stamp)
    except OSError:
        return
    prune(base, cap)


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/lockdock` (an absolute XDG_CACHE_HOME only), else ~/.cache/lockdock."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "lockdock"


def disabled_by_env() -> bool:
    """True when LOCKDOCK_NO_CACHE is set to anything but "", "0" or "false"."""
    return os.environ.get("LOCKDOCK_NO_CACHE", "").strip().lower() not in ("", "0", "false", "no")


def _code_fingerprint() -> str:
    """Names, sizes and mtimes of lockdock's own modules: an edited checkout (editable
    install, same version number) never reuses results of the code before the edit."""
    h = hashlib.sha256(lockdock.__version__.encode())
    roots = {Path(lockdock.__file__).parent}
    for pkg in ("lockdock.analyzers", "lockdock.fixers"):
        with contextlib.suppress(ImportError):
            mod = __import__(pkg, fromlist=["_"])
            roots.add(Path(mod.__file__).parent)  # type: ignore[arg-type]
    for root in sorted(roots):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", "demo"))
            for name in sorted(filenames):
                if name.endswith(".py"):
                    st = os.stat(os.path.join(dirpath, name))
                    h.update(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def engine_facts(ctx: ScanContext) -> str | None:
    """A digest of the local images (ids, tags, digests), "no-engine" without an engine, None
    when the engine does not answer (then nothing is cached: the facts are unknown)."""
    if ctx.engine is None:
        return "no-engine"
    try:
        images = ctx.engine.api.images(all=True)
    except Exception:  # noqa: BLE001 - any engine trouble: run uncached
        return None
    rows = sorted(
        f"{i.get('Id')}|{','.join(sorted(i.get('RepoTags') or []))}|{','.join(sorted(i.get('RepoDigests') or []))}"
        for i in images if isinstance(i, dict)
    )
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def scan_salt(ctx: ScanContext, selection: str, facts: str) -> str:
    """The part of every key that is the same for the whole scan."""
    exe = shutil.which("shellcheck")
    sc = ""
    if exe is not None:
        with contextlib.suppress(OSError):
            st = os.stat(exe)
            sc = f"{os.path.realpath(exe)}:{st.st_size}:{st.st_mtime_ns}"
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("LOCKDOCK_") and k != "LOCKDOCK_CACHE_MAX_MB")
    parts = [
        FORMAT, f"{sys.version_info[:3]}:{marshal.version}", lockdock.__version__, _code_fingerprint(), repr(ctx.config), selection,
        str(ctx.cwd), repr(env), sc, facts, repr(ctx.daemon_json), repr(ctx.images),
    ]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


@dataclass
class LoadRecord:
    """What loading one Dockerfile said (template, build-error and parse warnings) and
    whether it parsed: said again on a later load of the same bytes, which skips the parse."""

    errors: list[ScanError]
    parsed: bool


@dataclass
class Entry:
    """One cached result: what the analysis produced and what it depended on."""

    findings: list[Finding]
    errors: list[ScanError]
    reads: list[tuple[str, str | None]]  # (path, sha256 or None when unreadable)
    folders: list[tuple[str, str]]  # (folder, digest of its listing)
    load: LoadRecord | None = None  # what loading the file said (None: not recorded)


# -- the stored form: marshal-able rows --------------------------------------------------
# A cache file holds `(load, result)`: load is None or (error rows, parsed); result is None
# or (finding rows, target rows, error rows, reads, folders). Rows are tuples of str, int,
# bool and None only, so `marshal` writes and reads them without running any code.

_SEVERITIES = tuple(Severity)
_APPLICABILITY = {a.value: a for a in Applicability}
_KINDS = {k.value: k for k in TargetKind}


def _error_rows(errors: list[ScanError]) -> tuple[tuple[Any, ...], ...]:
    return tuple((str(e.path) if e.path is not None else None, str(e.message), e.target, str(e.kind))
                 for e in errors)


def _errors_of(rows: Any) -> list[ScanError]:
    return [ScanError(path, message, target, kind) for path, message, target, kind in rows]


def _target_row(t: Target) -> tuple[Any, ...]:
    return (t.kind.value, str(t.name), t.path, str(t.key), t.parent, t.engine)


def _finding_row(f: Finding, targets: dict[tuple[Any, ...], int]) -> tuple[Any, ...]:
    """One finding as plain values; its target is an index into the entry's target rows."""
    t = _target_row(f.target)
    index = targets.setdefault(t, len(targets))
    loc, fix, sup = f.location, f.fix, f.suppressed
    layer = loc.image_layer
    return (
        str(f.check), index, str(f.message),
        loc.path, loc.line, loc.end_line, loc.column,
        None if layer is None else (layer.index, layer.created_by, layer.digest, layer.size),
        f.evidence, None if f.severity is None else int(f.severity),
        None if fix is None else (str(fix.title), fix.applicability.value, fix.check, fix.target, fix.note,
                                  bool(fix.pending), tuple(fix.reveals)),
        None if sup is None else (str(sup.reason), str(sup.source)),
    )


def _findings_of(rows: Any, target_rows: Any) -> list[Finding]:
    """Findings rebuilt from their rows: what the reports read, no payload, fixes without
    changes (see the module docstring)."""
    targets = [Target(_KINDS[kind], name, path, key, parent, engine)
               for kind, name, path, key, parent, engine in target_rows]
    out = []
    for check, ti, message, path, line, end_line, column, layer, evidence, severity, fix, sup in rows:
        out.append(Finding(
            check, targets[ti], message,
            Location(path, line, end_line, column, None if layer is None else ImageLayerRef(*layer)),
            evidence,
            None if severity is None else _SEVERITIES[severity],
            None if fix is None else Fix(fix[0], _APPLICABILITY[fix[1]], [], check=fix[2], target=fix[3],
                                         note=fix[4], pending=fix[5], reveals=tuple(fix[6])),
            None if sup is None else Suppression(sup[0], sup[1]),
        ))
    return out


def _load_rows(record: LoadRecord | None) -> tuple[Any, ...] | None:
    return None if record is None else (_error_rows(record.errors), bool(record.parsed))


def _load_of(rows: Any) -> LoadRecord | None:
    if rows is None:
        return None
    errors, parsed = rows
    return LoadRecord(_errors_of(errors), bool(parsed))


def file_digest(path: Path | str) -> str | None:
    """sha256 (hex) of the bytes of the regular file `path`; None when it is not one or
    cannot be read. Opened non-blocking: a FIFO put in a file's place must not hang."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        h = hashlib.sha256()
        want = min(st.st_size + 1, 1 << 20)  # a small file in one read that also meets its end
        while chunk := os.read(fd, want):
            h.update(chunk)
            if len(chunk) < want and want <= st.st_size + 1:
                break
            want = 1 << 20
        return h.hexdigest()
    except OSError:
        return None
    finally:
        os.close(fd)


@dataclass
class ResultCache:
    """The cache of one scan (see the module docstring); `open()` makes one."""

    root: Path
    salt: str
    hits: int = 0
    misses: int = 0
    unsettled: bool = False  # a dependency changed while analysed (lockdock.scanrecord keeps no record)
    _listing: dict[str, str] = field(default_factory=dict)
    _file: dict[str, str | None] = field(default_factory=dict)
    _read: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # cache files, read once per scan
    _loads: dict[str, LoadRecord] = field(default_factory=dict)  # stored with the result

    def __post_init__(self) -> None:
        self._root = str(self.root)

    @classmethod
    def open(cls, ctx: ScanContext, *, selection: str = "", root: Path | None = None) -> ResultCache | None:
        """The cache for this scan, None when it cannot be used (no engine answer, no dir)."""
        facts = engine_facts(ctx)
        if facts is None:
            return None
        base = (root or cache_dir()) / FORMAT
        try:
            base.mkdir(parents=True, exist_ok=True, mode=0o700)
            st = base.stat()
            if st.st_uid != os.getuid() or st.st_mode & 0o022:
                return None  # not ours, or others may write into it: never load from it
        except OSError:
            return None
        _prune_if_due(base)
        return cls(base, scan_salt(ctx, selection, facts))

    # -- keys and dependencies -------------------------------------------------------

    def _key(self, subject: Any) -> str | None:
        path = getattr(subject, "path", None)
        if subject.target.kind not in CACHED_KINDS or not isinstance(path, Path):
            return None
        digest = self.file_digest(path)
        if digest is None:
            return None
        return self._key_of(subject.target.kind, path, digest)

    def _key_of(self, kind: TargetKind, path: Path, digest: str) -> str:
        raw = f"{self.salt}\0{kind.value}\0{path}\0{digest}"
        return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()

    def file_digest(self, path: Path | str) -> str | None:
        """sha256 of the file's bytes (None: not a readable regular file), once per scan."""
        key = str(path)
        if key not in self._file:
            self._file[key] = file_digest(path)
        return self._file[key]

    def listing_digest(self, folder: Path | str) -> str:
        """Digest of the names and kinds in `folder`, with a symlink's target ("<unreadable>"
        when it cannot be listed). Not sizes or mtimes: a Dockerfile's result reads the content
        of a file beside it only through `read_text` (a dependency by content), and otherwise
        asks which names exist (secret files, `.dockerignore`, COPY sources), so editing one
        of 1,000 Dockerfiles in a folder leaves the other 999 results valid."""
        key = str(folder)
        if key not in self._listing:
            rows = []
            try:
                with os.scandir(folder) as entries:
                    for e in entries:
                        try:
                            kind = "l" if e.is_symlink() else "d" if e.is_dir(follow_symlinks=False) else \
                                "f" if e.is_file(follow_symlinks=False) else "o"
                            if kind == "l":
                                kind += os.readlink(e.path)
                        except OSError:
                            continue
                        rows.append(f"{e.name}\0{kind}")
            except OSError:
                rows = ["<unreadable>"]
            rows.sort()
            self._listing[key] = hashlib.sha256("\n".join(rows).encode("utf-8", "surrogateescape")).hexdigest()
        return self._listing[key]

    def _folders(self, subject_path: Path, reads: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
        folders = {subject_path.parent, subject_path.parent / "secrets"}
        folders.update(Path(p).parent for p, _ in reads)
        return [(str(f), self.listing_digest(f)) for f in sorted(folders)]

    def _valid(self, reads: Any, folders: Any) -> bool:
        """True when every file read and every folder listing is as it was when stored."""
        for path, digest in reads:
            if self.file_digest(path) != digest:
                return False
        return all(self.listing_digest(f) == d for f, d in folders)

    # -- load and store --------------------------------------------------------------

    def _path(self, key: str) -> str:
        return os.path.join(self._root, key[:2], f"{key}.bin")

    def get_load(self, path: Path, digest: str) -> tuple[list[ScanError], bool] | None:
        """The load record of the Dockerfile `path` whose bytes have sha256 `digest`: (the
        warnings and errors its load said, whether it parsed), None on a miss. It is kept in
        the file of the result (or alone for a file that did not parse). Also makes `digest`
        the file's digest for this scan, so its key needs no second read."""
        self._file.setdefault(str(path), digest)
        key = self._key_of(TargetKind.DOCKERFILE, path, digest)
        try:
            record = _load_of(self._cached(key)[0])
        except Exception:  # noqa: BLE001 - a file of another shape: a miss
            record = None
        if record is None:
            return None
        self._loads[key] = record  # kept when a stale result is analysed and stored again
        return list(record.errors), record.parsed

    def put_load(self, path: Path, digest: str, errors: list[ScanError], parsed: bool) -> None:
        """Record what loading `path` (bytes of sha256 `digest`) said and whether it parsed:
        stored with its result by `put`, or now when it did not parse (no result follows)."""
        self._file.setdefault(str(path), digest)
        key = self._key_of(TargetKind.DOCKERFILE, path, digest)
        record = LoadRecord(list(errors), parsed)
        self._loads[key] = record
        if not parsed:
            self._store(self._path(key), (_load_rows(record), None))

    def _cached(self, key: str) -> tuple[Any, Any]:
        """The (load, result) rows in the cache file of `key` ((None, None) when absent or
        not of that shape), read once per scan."""
        if key not in self._read:
            got = self._load(self._path(key))
            self._read[key] = got if isinstance(got, tuple) and len(got) == 2 else (None, None)
        return self._read[key]

    def _load(self, path: str) -> Any:
        """The decoded file at `path`, None when missing, not ours or unreadable."""
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                if st.st_uid != os.getuid() or st.st_mode & 0o022:
                    return None
                return marshal.loads(fh.read())
        except Exception:  # noqa: BLE001 - missing, truncated or corrupt: a miss
            return None

    def _store(self, path: str, rows: Any) -> None:
        """Write `rows` to `path` atomically (a reader sees the old file or the new); any
        failure (a value marshal cannot write, full disk) only leaves it uncached."""
        try:
            data = marshal.dumps(rows)
            folder = os.path.dirname(path)
            with contextlib.suppress(FileExistsError):
                os.mkdir(folder, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except Exception:  # noqa: BLE001 - unmarshallable value, full disk...: just not cached
            return

    def get(self, subject: Any) -> Entry | None:
        """The cached result of `subject`, None on a miss (or anything unexpected)."""
        key = self._key(subject)
        if key is None:
            return None
        entry = None
        try:
            load, result = self._cached(key)
            if result is not None:
                finding_rows, target_rows, error_rows, reads, folders = result
                if self._valid(reads, folders):
                    entry = Entry(_findings_of(finding_rows, target_rows), _errors_of(error_rows),
                                  list(reads), list(folders), _load_of(load))
        except Exception:  # noqa: BLE001 - a file of another shape: a miss
            entry = None
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    def put(self, subject: Any, findings: list[Finding], errors: list[ScanError],
            reads: list[tuple[Path, str | None]]) -> None:
        """Store the result of `subject` (atomically: a reader sees the old file or the new)."""
        key = self._key(subject)
        if key is None:
            return
        own = str(subject.path)
        deps = sorted({(str(p), d) for p, d in reads if str(p) != own}, key=lambda r: (r[0], r[1] or ""))
        # A dependency changed while it was analysed: its recorded digest is stale; don't store.
        if any(self.file_digest(p) != d for p, d in deps):
            self.unsettled = True
            return
        targets: dict[tuple[Any, ...], int] = {}
        try:
            finding_rows = tuple(_finding_row(f, targets) for f in findings)
        except Exception:  # noqa: BLE001 - a finding of an unexpected shape: not cached
            return
        result = (finding_rows, tuple(targets), _error_rows(errors), tuple(deps),
                  tuple(self._folders(subject.path, deps)))
        rows = (_load_rows(self._loads.get(key)), result)
        self._read[key] = rows
        self._store(self._path(key), rows)
