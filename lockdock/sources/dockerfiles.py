"""Source: one subject per discovered Dockerfile, parsed the way BuildKit parses it.

A file that cannot be read or parsed becomes an `errors` entry (with the reason BuildKit
would give) and the scan goes on with the other files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lockdock.context import ScanContext
from lockdock.discovery import TEMPLATE_SYNTAX, Discovery, is_template
from lockdock.dockerfile import Dockerfile, DockerfileError, parse_dockerfile
from lockdock.dockerfile.stages import problems
from lockdock.files import FileProblem, read_text
from lockdock.model import Target, TargetKind
from lockdock.registry import source


@dataclass
class DockerfileSubject:
    target: Target
    dockerfile: Dockerfile
    path: Path  # absolute

    @property
    def context_dir(self) -> Path:
        """The build context judged for .dockerignore: the Dockerfile's directory."""
        return self.path.parent


def load_subject(path: Path, ctx: ScanContext) -> DockerfileSubject | None:
    """Read and parse one Dockerfile; problems go to `ctx.error` and give None."""
    try:
        tf = read_text(path)
    except FileProblem as exc:
        ctx.error(path, str(exc))
        return None
    try:
        df = parse_dockerfile(tf.text, path, tf)
    except DockerfileError as exc:
        ctx.error(path, f"not a valid Dockerfile: {exc}")
        return None
    except RecursionError:
        ctx.error(path, "not a valid Dockerfile: nesting too deep")
        return None
    template_lines = _template_lines(df)
    if template_lines or is_template(path.name):
        for st in df.stages:
            if TEMPLATE_SYNTAX.search(st.from_instruction.original):
                st.resolved = False  # `FROM debian:{{ env.variant }}`: no image to judge
                st.base_raw = st.from_instruction.rest.strip()[:200] or st.base_raw
        shown = ", ".join(str(n) for n in template_lines[:5]) + (", ..." if len(template_lines) > 5 else "")
        ctx.warn(path, "looks like a Dockerfile template" + (f" (template syntax on line {shown})" if shown else "")
                 + ": scanned as written, with image checks skipped where FROM holds template syntax; "
                 "scan the Dockerfile generated from it for a full result")
    for line, problem in problems(df.instructions)[:5]:
        if line in template_lines:
            continue
        ctx.warn(path, f"line {line}: {problem} (docker build would fail here)")
    rel = ctx.rel(path) or str(path)
    return DockerfileSubject(Target(TargetKind.DOCKERFILE, name=rel, path=rel), df, path)


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
