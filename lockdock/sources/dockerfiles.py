"""Source: one subject per discovered Dockerfile, parsed the way BuildKit parses it.

A file that cannot be read or parsed becomes an `errors` entry (with the reason BuildKit
would give) and the scan goes on with the other files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lockdock.context import ScanContext
from lockdock.discovery import Discovery
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
    for line, problem in problems(df.instructions)[:5]:
        ctx.warn(path, f"line {line}: {problem} (docker build would fail here)")
    rel = ctx.rel(path) or str(path)
    return DockerfileSubject(Target(TargetKind.DOCKERFILE, name=rel, path=rel), df, path)


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
