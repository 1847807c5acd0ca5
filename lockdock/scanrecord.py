"""The scan record: a whole `lockdock scan`'s answer kept in the result cache, so that a
repeated scan of an unchanged tree (the pre-commit case) re-checks what the answer depended
on and says it again, without discovery, loading, analysis or report building.

One record per argument set, stored as `$XDG_CACHE_HOME/lockdock/v2/scans/<key>.bin`
(marshal rows, mode 0600 in 0700 folders, like the per-file results of `lockdock.cache`).

- Key: the result cache's scan salt (`lockdock.cache.scan_salt`: lockdock's version and
  code, the config, the `--select`/`--ignore` ids, the working directory, `LOCKDOCK_*`
  variables, the ShellCheck binary, the Python version, "no engine"), every option of the
  command line, the process environment (but the shell's and terminal's own
  bookkeeping: `VOLATILE_ENV`), whether stdout is a terminal, and the
  absolute paths asked for.
- Dependencies, all re-checked before a record is used:
  - content: the sha256 of every file the scan read (`lockdock.files.read_text`: the
    Dockerfiles, `.dockerignore` and `.gitignore` files, CI configurations, secret files),
    of every file the per-file cache re-validated, of the files named on the command line
    and of those discovery looked into (`Discovery.sniffed`);
  - listings: names, modes, sizes and mtimes (and a symlink's target) in every folder
    discovery walked, the folders the per-file cache checked, the folder of each named
    file and each repository root with its CI folders; a skipped folder (`.git`,
    `node_modules`: `lockdock.discovery.SKIP_DIRS`) counts by name and kind only;
  - the repository: the git top level found above each scanned folder, and the sha256 of
    its index (`git ls-files` reads it).
- Kept: the report's text and the exit code. It is written only for a scan of files only
  (`--no-engine`, no `--daemon-json`, `--image` or fleet options, no baseline) that found
  no compose file (compose results are not cached: `lockdock.cache`), printed nothing on
  stderr, and whose folders show no change from its start on (a file modified while it
  ran, by its mtime, leaves the record unwritten).

A record that is missing, not ours, of another shape or whose dependencies differ is a
miss: the scan runs as usual (its per-file results still serve the unchanged Dockerfiles)
and writes a new record. Reading the record never makes a scan fail.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import stat
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockdock.cache import ResultCache, file_digest
from lockdock.discovery import _CI_DIRS, SKIP_DIRS, find_git_root

if TYPE_CHECKING:
    from lockdock.context import ScanContext
    from lockdock.discovery import Discovery

FORMAT = "scan-record-1"
# Variables left out of the key: set by shells, terminals and sessions, read by no part of a
# files-only scan (the working directory is in the key as itself). Any other variable is in
# it: a change (NO_COLOR, PATH, GIT_DIR, HOME...) is a miss. The output encoding
# (PYTHONIOENCODING, the locale) applies when the kept text is written, so it needs no key.
VOLATILE_ENV = frozenset({
    "_", "PWD", "OLDPWD", "SHLVL", "COLUMNS", "LINES", "PS1", "PS2", "PROMPT_COMMAND",
    "PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE", "TERM_SESSION_ID", "WINDOWID", "SSH_CLIENT",
    "SSH_CONNECTION", "SSH_TTY", "SSH_AUTH_SOCK", "TMUX", "TMUX_PANE", "STY", "XDG_SESSION_ID",
    "DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "GPG_TTY",
    # CI systems' per-run numbers and ids (each job has new ones; no scan reads them), so a
    # CI job that keeps the cache folder between runs replays an unchanged tree's answer.
    "GITHUB_RUN_ID", "GITHUB_RUN_NUMBER", "GITHUB_RUN_ATTEMPT", "GITHUB_JOB", "GITHUB_ACTION",
    "RUNNER_TRACKING_ID", "INVOCATION_ID", "JOURNAL_STREAM", "CI_JOB_ID", "CI_PIPELINE_ID",
    "CI_PIPELINE_IID", "CI_JOB_STARTED_AT", "CI_CONCURRENT_ID", "CI_CONCURRENT_PROJECT_ID",
    "CI_RUNNER_SHORT_TOKEN", "BUILD_ID", "BUILD_NUMBER", "BUILD_TAG", "EXECUTOR_NUMBER",
    "CIRCLE_BUILD_NUM", "CIRCLE_WORKFLOW_ID", "CIRCLE_WORKFLOW_JOB_ID", "BUILDKITE_BUILD_ID",
    "BUILDKITE_JOB_ID", "BUILDKITE_BUILD_NUMBER",
    "LOCKDOCK_CACHE_MAX_MB",  # the cache folder's size cap: no part of any answer
})
RACY_NS = 1_000_000_000  # an mtime this close to the scan's start (or later): changed while it ran


def eligible(args: argparse.Namespace) -> bool:
    """True for a `lockdock scan` whose answer a record can hold: files only, no baseline,
    no fleet options (see the module docstring)."""
    return (bool(args.no_engine) and args.daemon_json is None and not args.image
            and args.baseline is None and args.write_baseline is None
            and not (args.context or args.all_contexts or args.host))


def listing(folder: str) -> tuple[str, int]:
    """(digest of the entries of `folder`: name, mode, size and mtime in ns, a symlink's
    target and its stat; a skipped folder by name and kind only, newest mtime in ns among
    them). "<unreadable>" with 0 when the folder cannot be listed."""
    rows = []
    newest = 0
    try:
        with os.scandir(folder) as entries:
            for e in entries:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    rows.append(f"{e.name}\0?")
                    continue
                if stat.S_ISDIR(st.st_mode) and e.name in SKIP_DIRS:
                    rows.append(f"{e.name}\0dir")
                    continue
                row = f"{e.name}\0{st.st_mode}\0{st.st_size}\0{st.st_mtime_ns}"
                newest = max(newest, st.st_mtime_ns)
                if stat.S_ISLNK(st.st_mode):
                    try:
                        to = os.stat(e.path)
                        row += f"\0{os.path.realpath(e.path)}\0{to.st_mode}\0{to.st_size}\0{to.st_mtime_ns}"
                        newest = max(newest, to.st_mtime_ns)
                    except OSError:
                        row += "\0broken"
                rows.append(row)
    except OSError:
        return "<unreadable>", 0
    rows.sort()
    return hashlib.sha256("\n".join(rows).encode("utf-8", "surrogateescape")).hexdigest(), newest


def _git_index(git_root: Path) -> str | None:
    """The index file of the work tree at `git_root` (`.git/index`, or the one of the
    `gitdir:` a `.git` file names), None when there is none to find."""
    dot = git_root / ".git"
    if dot.is_dir():
        return str(dot / "index")
    try:
        first = dot.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return None
    if not first.startswith("gitdir:"):
        return None
    return str(git_root / first[len("gitdir:"):].strip() / "index")


def _git_rows(starts: list[str]) -> tuple[tuple[str, str], ...]:
    """(start folder, its git top level or "") for each folder the repository checks start from."""
    return tuple((s, str(find_git_root(Path(s)) or "")) for s in starts)


class Recorder:
    """The record of one `lockdock scan` (see the module docstring): `replay()` gives the
    kept answer when it is still valid, `store()` keeps a new one. `cache` is the scan's
    per-file result cache (opened once: the salt is shared)."""

    def __init__(self, cache: ResultCache, key: str, paths: list[Path]) -> None:
        self.cache = cache
        self.path = os.path.join(str(cache.root), "scans", f"{key}.bin")
        self.dirs = [os.path.abspath(p) for p in paths if os.path.isdir(p)]
        self.files = [os.path.abspath(p) for p in paths if not os.path.isdir(p)]
        self.discovery: Discovery | None = None
        self.reads: list[tuple[Path, str | None]] = []  # filled by lockdock.files.recording_reads
        self.started_ns = time.time_ns()

    @classmethod
    def open(cls, args: argparse.Namespace, ctx: ScanContext, paths: list[Path], selection: str) -> Recorder | None:
        """The recorder of this scan, None when the cache cannot be used."""
        cache = ResultCache.open(ctx, selection=selection)
        if cache is None:
            return None
        options = sorted((k, repr(v)) for k, v in vars(args).items()
                         if v is None or isinstance(v, (str, int, float, bool, list, tuple, Path)))
        parts = [FORMAT, cache.salt, repr(options), repr(sorted(kv for kv in os.environ.items() if kv[0] not in VOLATILE_ENV)),
                 str(sys.stdout.isatty()), repr([os.path.abspath(p) for p in paths])]
        key = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()
        return cls(cache, key, paths)

    # -- replay ------------------------------------------------------------------------

    def replay(self) -> tuple[str, int] | None:
        """(the report text, the exit code) kept for this argument set, when every
        dependency is as recorded; None otherwise."""
        rows = self.cache._load(self.path)
        try:
            tag, git, folders, files, (text, code) = rows
            if tag != FORMAT or not isinstance(text, str) or not isinstance(code, int):
                return None
            if _git_rows([s for s, _ in git]) != tuple(git):
                return None
            for folder, digest in folders:
                if listing(folder)[0] != digest:
                    return None
            for path, digest in files:
                if file_digest(path) != digest:
                    return None
        except Exception:  # noqa: BLE001 - no record, or one of another shape: a miss
            return None
        return text, code

    # -- store -------------------------------------------------------------------------

    def store(self, text: str, code: int) -> None:
        """Keep `text` and `code` as this argument set's answer, unless the scan met
        something a record cannot vouch for (see the module docstring)."""
        try:
            rows = self._dependencies()
        except Exception:  # noqa: BLE001 - an unexpected shape: not recorded
            rows = None
        if rows is None:
            return
        git, folders, files = rows
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        self.cache._store(self.path, (FORMAT, git, folders, files, (text, code)))

    def _dependencies(self) -> tuple[Any, Any, Any] | None:
        found, cache = self.discovery, self.cache
        if found is None or found.compose_files or cache.unsettled:
            return None
        starts = sorted({*self.dirs, *(os.path.dirname(f) for f in self.files)})
        git = _git_rows(starts)
        digests: dict[str, str | None] = {}
        unknown: set[str] = set()  # files the scan could not read: their digest is taken now
        for path, digest in [*self.reads, *cache._file.items()]:
            p = str(path)
            if digest is None:
                unknown.add(p)
            elif digests.setdefault(p, digest) != digest:
                return None  # read twice with different bytes: changed while it ran
        unknown.update(self.files, (str(p) for p in found.sniffed))
        # The scanned folders themselves too: one that could not be listed is not walked.
        folders = {str(f) for f in found.folders} | set(cache._listing) | {os.path.dirname(f) for f in self.files}
        folders.update(self.dirs)
        walked = {str(f) for f in found.folders}
        for root in found.repo_roots:  # a named file's repository: its CI folders, not walked
            if str(root) not in walked:
                folders.add(str(root))
                folders.update(str(root / d) for d in (*_CI_DIRS, ".buildkite"))
        for _, top in git:
            if top:
                index = _git_index(Path(top))
                if index is None:
                    return None  # a work tree whose index cannot be found
                unknown.add(index)
        racy = self.started_ns - RACY_NS
        listed = []
        for folder in sorted(folders):
            digest, newest = listing(folder)
            if newest >= racy:
                return None
            listed.append((folder, digest))
        for p in unknown - digests.keys():
            digests[p] = file_digest(p)
            try:
                if os.stat(p).st_mtime_ns >= racy:
                    return None
            except OSError:
                pass
        return git, tuple(listed), tuple(sorted(digests.items(), key=lambda r: r[0]))
