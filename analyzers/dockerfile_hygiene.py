"""Build hygiene in Dockerfiles: pinned package versions, index refreshes kept with their
install, RUN commands that stop on failure, and no VOLUME/WORKDIR on a system path.

Every stage is judged, not only the ones that ship: an unpinned or silently failing
build step makes the result unreproducible whichever stage it is in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lockdock.context import ScanContext
from lockdock.dockerfile.buildrules import (
    MAX_LISTED,
    lone_updates,
    system_path,
    unpinned_installs,
    upgrades,
)
from lockdock.dockerfile.facts import capped, evidence, finding
from lockdock.dockerfile.model import Instruction
from lockdock.dockerfile.shellcheck import binary, prefetch, run_shellcheck
from lockdock.dockerfile.shellsafety import pipefail_shell, shell_issues, shells_by_run
from lockdock.dockerfile.stages import expand
from lockdock.files import read_text, within
from lockdock.model import Finding, Location, Severity, TargetKind
from lockdock.payloads import PackageUpdate, SystemPath
from lockdock.payloads.dockerfile import ShellIssue, UnpinnedPackages
from lockdock.registry import analyzer, before_batch
from lockdock.sources import DockerfileSubject
from lockdock.text import safe


def _runs(subject: DockerfileSubject) -> Iterator[Instruction]:
    for st in subject.dockerfile.stages:
        for inst in st.instructions:
            if inst.cmd == "run":
                yield inst


def _context_reader(subject: DockerfileSubject):
    root = Path(subject.path).parent

    def read(rel: str) -> str | None:
        p = (root / rel.lstrip("/")).resolve() if not rel.startswith("/") else None
        if p is None or not within(p, root.resolve()) or not p.is_file():
            return None
        try:
            return read_text(p, max_bytes=1 << 20).text
        except (OSError, ValueError):
            return None

    return read


@analyzer(TargetKind.DOCKERFILE, "build.pinned-packages")
@capped
def pinned_packages(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    read = _context_reader(subject)
    for inst in _runs(subject):
        loose = unpinned_installs(inst, read)
        if not loose:
            continue
        by_manager: dict[str, list[str]] = {}
        for u in loose:
            by_manager.setdefault(u.manager, []).append(u.what)
        for manager, items in by_manager.items():
            shown = ", ".join(evidence(i, 60) for i in items[:MAX_LISTED]) + (" ..." if len(items) > MAX_LISTED else "")
            hint = next(u.hint for u in loose if u.manager == manager)
            yield finding(
                "build.pinned-packages",
                subject,
                inst,
                f"{safe(manager, 20)} installs without a pinned version: {shown}; pin as "
                f"`{evidence(hint, 80)}` so rebuilds get the same packages",
                payload=UnpinnedPackages(manager, tuple(evidence(i, 120) for i in items[:50])),
            )


@analyzer(TargetKind.DOCKERFILE, "build.package-update")
@capped
def package_update(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    for inst in _runs(subject):
        for u in lone_updates(inst):
            yield finding(
                "build.package-update",
                subject,
                inst,
                f"`{u.manager} {u.sub}` runs without an install after it in the same RUN: its "
                "index is cached in its own layer and a later install uses a stale one",
                payload=PackageUpdate("lone-update", u.manager),
            )
        for u, dist in upgrades(inst):
            if dist:
                msg = (f"`{u.manager} {u.sub}` upgrades the whole distribution inside the image; "
                       "use a newer base image instead")
            else:
                msg = (f"`{u.manager} {u.sub}` upgrades every installed package at build time; "
                       "prefer a patched base image and upgrade only the packages you need")
            yield finding(
                "build.package-update",
                subject,
                inst,
                msg,
                severity=None if dist else Severity.LOW,
                payload=PackageUpdate("dist-upgrade" if dist else "upgrade", u.manager),
            )


_SHELL_MESSAGES = {
    "cd": "`cd {d}` is not guarded: if it fails the next commands run in the wrong directory; "
          "use WORKDIR, or `cd {d} && ...` / `cd {d} || exit 1`",
    "rm-var": "recursive rm on a path built from ${d}: if the variable is empty this deletes from /; "
              "write \"${{{d}:?}}/...\" so an empty value stops the build",
}


@analyzer(TargetKind.DOCKERFILE, "build.shell-safety")
@capped
def shell_safety(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    df = subject.dockerfile
    shells = shells_by_run(df)
    own: set[tuple[int, str]] = set()
    bash_memo: dict[int, tuple[str | None, str]] = {}
    for inst in _runs(subject):
        reported: set[str] = set()
        for issue in shell_issues(df, inst):
            own.add((id(inst), issue.kind))
            if issue.kind == "pipe":
                if "pipe" in reported:
                    continue
                info = shells.get(id(inst))
                if inst.json:
                    extra = "; an exec-form RUN ignores SHELL: run it as [\"bash\", \"-o\", \"pipefail\", \"-c\", ...]"
                elif info is not None and not info.supports_pipefail:
                    extra = (f"; {info.name} has no pipefail option (dash does not), so switch to bash "
                             "with SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]")
                else:
                    extra = "; set SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"] or `set -o pipefail` first"
                msg = f"a pipe from `{evidence(issue.detail, 40)}` hides its failure (only the last command's status counts){extra}"
                _, why = _bash_known(subject, inst, ctx, bash_memo) if not inst.json else (None, "")
                if why:
                    msg += f"; no automatic fix: {why}"
            else:
                msg = _SHELL_MESSAGES[issue.kind].format(d=evidence(issue.detail, 60))
            reported.add(issue.kind)
            yield finding("build.shell-safety", subject, inst, msg, payload=ShellIssue(issue.kind))
    yield from _shellcheck_findings(subject, ctx, own)


def _bash_known(subject: DockerfileSubject, inst: Instruction, ctx: ScanContext, memo: dict[int, tuple[str | None, str]]) -> tuple[str | None, str]:
    st = subject.dockerfile.stage_of(inst)
    key = st.index if st is not None else -1
    if key not in memo:
        _, path, why = pipefail_shell(subject.dockerfile, inst, ctx)
        memo[key] = (path, why)
    return memo[key]


def _line(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


@before_batch(TargetKind.DOCKERFILE)
def shellcheck_batch(subjects: list[DockerfileSubject], ctx: ScanContext) -> None:
    """One ShellCheck run (a process per CPU) for the RUN scripts of a batch of Dockerfiles."""
    exe = binary()
    if exe is not None and len(subjects) > 1:
        prefetch([s.dockerfile for s in subjects if getattr(s, "dockerfile", None) is not None], exe)


def _shellcheck_findings(subject: DockerfileSubject, ctx: ScanContext, own: set[tuple[int, str]]) -> Iterator[Finding]:
    exe = binary()
    if exe is None:
        return
    hits, error = run_shellcheck(subject.dockerfile, exe)
    if error:
        ctx.warn(subject.path, error)
    seen: set[tuple[int, int, int]] = set()
    for h in hits:
        if (id(h.inst), h.kind) in own or (h.code, h.line, h.column) in seen:
            continue  # lockdock's own detection already reported it for this RUN
        if h.program == "rm" and (id(h.inst), "rm-var") in own:
            continue  # the unquoted variable of an rm already reported as rm-var
        seen.add((h.code, h.line, h.column))
        yield Finding(
            check="build.shell-safety",
            target=subject.target,
            message=f"ShellCheck SC{h.code}: {safe(h.message, 200)}"
            + (f" (on {safe(h.program, 20)}, which changes files)" if h.kind == "target" else ""),
            location=Location(path=subject.target.path, line=h.line, end_line=h.line, column=h.column),
            evidence=evidence(_line(subject.dockerfile.text, h.line)),
            payload=ShellIssue("shellcheck", f"SC{h.code}"),
        )


def _volume_paths(inst: Instruction) -> list[str]:
    return [a for a in inst.args if a.startswith("/") or a in (".",)]


@analyzer(TargetKind.DOCKERFILE, "build.system-paths")
@capped
def system_paths(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    df = subject.dockerfile
    for st in df.stages:
        workdir = "/"
        for inst in st.instructions:
            if inst.cmd == "workdir" and inst.args:
                raw = inst.args[0]
                value, _ = expand(raw, {}, df.escape)
                if "$" in value:
                    continue
                workdir = value if value.startswith("/") else workdir.rstrip("/") + "/" + value
                hit = system_path(workdir)
                if hit is not None and hit != "/":  # WORKDIR / only resets; a VOLUME / is judged
                    yield finding(
                        "build.system-paths",
                        subject,
                        inst,
                        f"WORKDIR {safe(workdir, 80)} is a system directory ({hit}): files the "
                        "app writes land among the system's own; use an app directory such as /app",
                        payload=SystemPath("workdir", safe(workdir, 200)),
                    )
            elif inst.cmd == "volume":
                for path in _volume_paths(inst):
                    hit = system_path(path)
                    if hit is not None and "$" not in path:
                        yield finding(
                            "build.system-paths",
                            subject,
                            inst,
                            f"VOLUME {safe(path, 80)} is a system directory ({hit}): a volume there "
                            "hides or shares the system's files; declare a data directory instead",
                            payload=SystemPath("volume", safe(path, 200)),
                        )
