"""Source: one subject per discovered Dockerfile, parsed the way BuildKit parses it.

A file that cannot be read or parsed becomes an `errors` entry (with the reason BuildKit
would give) and the scan goes on with the other files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lockdock.context import ScanContext
from lockdock.discovery import TEMPLATE_SYNTAX, Discovery, is_template
from lockdock.dockerfile import Dockerfile, DockerfileError, parse_dockerfile
from lockdock.dockerfile.stages import problems
from lockdock.files import FileProblem, TextFile, read_text
from lockdock.model import Target, TargetKind
from lockdock.registry import source


class DockerfileSubject:
    """One Dockerfile to analyse: `target`, absolute `path`, and `dockerfile`, the parsed
    form (lockdock.dockerfile.Dockerfile). A subject loaded with its result cache's load
    record (lockdock.cache) is parsed on the first use of `dockerfile`, from the bytes read
    at load time; a cached analysis never uses it."""

    __slots__ = ("_dockerfile", "_text", "path", "target")

    def __init__(self, target: Target, dockerfile: Dockerfile | None, path: Path,
                 text: TextFile | None = None) -> None:
        if dockerfile is None and text is None:
            raise ValueError("a DockerfileSubject needs its parsed Dockerfile or its text")
        self.target = target
        self.path = path
        self._dockerfile = dockerfile
        self._text = text

    @property
    def dockerfile(self) -> Dockerfile:
        """The parsed Dockerfile (parsed now when the subject was loaded from a load record)."""
        if self._dockerfile is None:
            assert self._text is not None
            self._dockerfile, _ = _parse(self._text, self.path)
        return self._dockerfile

    @property
    def context_dir(self) -> Path:
        """The build context judged for .dockerignore: the Dockerfile's directory."""
        return self.path.parent


def _parse(tf: TextFile, path: Path) -> tuple[Dockerfile, list[int]]:
    """(the parsed Dockerfile, lines holding template syntax); FROM with template syntax is
    marked unresolved. Raises DockerfileError or RecursionError like `parse_dockerfile`."""
    df = parse_dockerfile(tf.text, path, tf)
    template_lines = _template_lines(df)
    if template_lines or is_template(path.name):
        for st in df.stages:
            if TEMPLATE_SYNTAX.search(st.from_instruction.original):
                st.resolved = False  # `FROM debian:{{ env.variant }}`: no image to judge
                st.base_raw = st.from_instruction.rest.strip()[:200] or st.base_raw
    return df, template_lines


def load_subject(path: Path, ctx: ScanContext) -> DockerfileSubject | None:
    """Read and parse one Dockerfile; problems go to `ctx.error` and give None.

    With a result cache for this scan (`ctx.cache["result_cache"]`, lockdock.cache) whose
    load record for these bytes exists, the warnings and errors of the first load are said
    again, in the same order, and the parse waits until `subject.dockerfile` is used."""
    try:
        tf = read_text(path)
    except FileProblem as exc:
        ctx.error(path, str(exc))
        return None
    rel = ctx.rel(path) or str(path)
    target = Target(TargetKind.DOCKERFILE, name=rel, path=rel)
    cache = ctx.cache.get("result_cache")
    if cache is not None:
        record = cache.get_load(path, tf.sha256)
        if record is not None:
            said, ok = record
            with ctx._lock:
                ctx.errors.extend(said)
            return DockerfileSubject(target, None, path, tf) if ok else None
    first = len(ctx.errors)
    subject = _load_parsed(path, tf, target, ctx)
    if cache is not None:
        cache.put_load(path, tf.sha256, ctx.errors[first:], subject is not None)
    return subject


def _load_parsed(path: Path, tf: TextFile, target: Target, ctx: ScanContext) -> DockerfileSubject | None:
    try:
        df, template_lines = _parse(tf, path)
    except DockerfileError as exc:
        ctx.error(path, f"not a valid Dockerfile: {exc}")
        return None
    except RecursionError:
        ctx.error(path, "not a valid Dockerfile: nesting too deep")
        return None
    if template_lines or is_template(path.name):
        shown = ", ".join(str(n) for n in template_lines[:5]) + (", ..." if len(template_lines) > 5 else "")
        ctx.warn(path, "looks like a Dockerfile template" + (f" (template syntax on line {shown})" if shown else "")
                 + ": scanned as written, with image checks skipped where FROM holds template syntax; "
                 "scan the Dockerfile generated from it for a full result")
    for line, problem in problems(df.instructions)[:5]:
        if line in template_lines:
            continue
        ctx.warn(path, f"line {line}: {problem} (docker build would fail here)")
    return DockerfileSubject(target, df, path)


def _template_lines(df: Dockerfile) -> list[int]:
    """Lines of instructions that hold template syntax ({{ }}, {% %}, %%VAR%%, @VAR@)."""
    return [inst.start_line for inst in df.instructions if TEMPLATE_SYNTAX.search(inst.original)]


@source("dockerfiles", order=10)
def dockerfiles(discovery: Discovery, ctx: ScanContext) -> Iterator[DockerfileSubject]:
    seen: set[Path] = set()
    # The project's Dockerfiles, for fixers that must know who builds FROM whom.
    ctx.cache["dockerfiles"] = [Path(raw).absolute() for raw in discovery.dockerfiles]
    for raw in discovery.dockerfiles:
        path = Path(raw).absolute()
        if path in seen:
            continue
        seen.add(path)
        subject = load_subject(path, ctx)
        if subject is not None:
            yield subject
