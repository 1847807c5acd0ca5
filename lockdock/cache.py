"""A content-hash cache of per-Dockerfile results, so a repeated scan of an unchanged tree
(pre-commit, CI re-runs) skips the analysis, in the manner of ruff's cache.

Where: `$XDG_CACHE_HOME/lockdock/v1/` (default `~/.cache/lockdock/v1/`), one file per
result, mode 0600 in 0700 directories; `lockdock scan --no-cache` or `LOCKDOCK_NO_CACHE=1`
bypass it. A result is found by a key and then re-validated:

- key: the scan salt (lockdock's version and a fingerprint of its own code, the config,
  the check selection, the working directory, `LOCKDOCK_*` variables, the ShellCheck
  binary in use, and the engine's facts: the id and names of every local image, or "no
  engine"), the target kind, the file's absolute path and the sha256 of its bytes;
- dependencies, checked on every hit: every other file the analysis read through
  `lockdock.files.read_text` (sha256 of its bytes, or "unreadable") and the listing (names,
  sizes, mtimes) of the folders that hold the file and those reads, and of its `secrets/`
  folder (a `.dockerignore` or a secret file appearing beside a Dockerfile changes its
  result without being read before).

Each result also holds its file's load record (lockdock.sources.dockerfiles): the
warnings and errors its load said, so a warm scan says them again without parsing the
file; a file that did not parse has its load record alone under the same key.

Only Dockerfiles are cached: a compose project's findings depend on each other (an env
file shared by several services is reported once) and repository checks on the whole
tree. A cache file that cannot be read, is not ours (other owner, writable by others) or
does not unpickle is ignored and rewritten; the cache never makes a scan fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lockdock
from lockdock.model import Finding, ScanError, TargetKind

if TYPE_CHECKING:
    from lockdock.context import ScanContext

FORMAT = "v1"
CACHED_KINDS = frozenset({TargetKind.DOCKERFILE})


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
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("LOCKDOCK_"))
    parts = [
        FORMAT, lockdock.__version__, _code_fingerprint(), repr(ctx.config), selection,
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


@dataclass
class ResultCache:
    """The cache of one scan (see the module docstring); `open()` makes one."""

    root: Path
    salt: str
    hits: int = 0
    misses: int = 0
    _listing: dict[str, str] = field(default_factory=dict)
    _file: dict[str, str | None] = field(default_factory=dict)
    _read: dict[str, Any] = field(default_factory=dict)  # cache files read once per scan
    _loads: dict[str, LoadRecord] = field(default_factory=dict)  # stored with the result

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

    def file_digest(self, path: Path) -> str | None:
        """sha256 of the file's bytes (None: not a readable regular file), once per scan."""
        key = str(path)
        if key not in self._file:
            try:
                with open(path, "rb") as fh:
                    self._file[key] = hashlib.file_digest(fh, "sha256").hexdigest()
            except OSError:
                self._file[key] = None
        return self._file[key]

    def listing_digest(self, folder: Path) -> str:
        """Digest of the names, kinds, sizes and mtimes in `folder` ("" when unreadable)."""
        key = str(folder)
        if key not in self._listing:
            rows = []
            try:
                with os.scandir(folder) as entries:
                    for e in entries:
                        try:
                            st = e.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        rows.append(f"{e.name}\0{stat.S_IFMT(st.st_mode)}\0{st.st_size}\0{st.st_mtime_ns}")
            except OSError:
                rows = ["<unreadable>"]
            rows.sort()
            self._listing[key] = hashlib.sha256("\n".join(rows).encode("utf-8", "surrogateescape")).hexdigest()
        return self._listing[key]

    def _folders(self, subject_path: Path, reads: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
        folders = {subject_path.parent, subject_path.parent / "secrets"}
        folders.update(Path(p).parent for p, _ in reads)
        return [(str(f), self.listing_digest(f)) for f in sorted(folders)]

    def _valid(self, entry: Entry) -> bool:
        for path, digest in entry.reads:
            if self.file_digest(Path(path)) != digest:
                return False
        return all(self.listing_digest(Path(f)) == d for f, d in entry.folders)

    # -- load and store --------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.pickle"

    def get_load(self, path: Path, digest: str) -> tuple[list[ScanError], bool] | None:
        """The load record of the Dockerfile `path` whose bytes have sha256 `digest`: (the
        warnings and errors its load said, whether it parsed), None on a miss. It is kept in
        the file of the result (or alone for a file that did not parse). Also makes `digest`
        the file's digest for this scan, so its key needs no second read."""
        self._file.setdefault(str(path), digest)
        key = self._key_of(TargetKind.DOCKERFILE, path, digest)
        got = self._cached(key)
        record = got.load if isinstance(got, Entry) else got
        if not isinstance(record, LoadRecord):
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
            self._store(self._path(key), record)

    def _cached(self, key: str) -> Any:
        """The object in the cache file of `key` (None when absent), read once per scan."""
        if key not in self._read:
            self._read[key] = self._load(self._path(key))
        return self._read[key]

    def _load(self, path: Path) -> Any:
        """The unpickled file at `path`, None when missing, not ours or unreadable."""
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                if st.st_uid != os.getuid() or st.st_mode & 0o022:
                    return None
                return pickle.load(fh)
        except Exception:  # noqa: BLE001 - missing, truncated or corrupt: a miss
            return None

    def _store(self, path: Path, obj: Any) -> None:
        """Write `obj` to `path` atomically (a reader sees the old file or the new); any
        failure (unpicklable, full disk) only leaves it uncached."""
        try:
            data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
            path.parent.mkdir(exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except Exception:  # noqa: BLE001 - unpicklable finding, full disk...: just not cached
            return

    def get(self, subject: Any) -> Entry | None:
        """The cached result of `subject`, None on a miss (or anything unexpected)."""
        key = self._key(subject)
        if key is None:
            return None
        entry = self._cached(key)
        if not isinstance(entry, Entry) or not self._valid(entry):
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
        if any(self.file_digest(Path(p)) != d for p, d in deps):
            return
        entry = Entry(findings, errors, deps, self._folders(subject.path, deps), self._loads.get(key))
        self._read[key] = entry
        self._store(self._path(key), entry)
