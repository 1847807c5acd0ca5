"""Dockerfile parsing that agrees with BuildKit, with positions for findings and fixes."""

from __future__ import annotations

from pathlib import Path

from lockdock.dockerfile.model import Dockerfile, DockerfileError, Heredoc, Instruction, Stage
from lockdock.dockerfile.parser import parse
from lockdock.dockerfile.stages import build_stages, expand
from lockdock.files import TextFile, read_text

__all__ = [
    "Dockerfile",
    "DockerfileError",
    "Heredoc",
    "Instruction",
    "Stage",
    "dump",
    "expand",
    "load",
    "parse_dockerfile",
]


def parse_dockerfile(
    text: str, path: Path | None = None, textfile: TextFile | None = None
) -> Dockerfile:
    """Parse decoded Dockerfile text; raises `DockerfileError` where BuildKit would fail."""
    result = parse(text)
    if not result.instructions:
        raise DockerfileError("file with no instructions")
    stages, global_args = build_stages(result.instructions, result.escape)
    return Dockerfile(
        path=path,
        text=text,
        textfile=textfile,
        directives=result.directives,
        escape=result.escape,
        instructions=result.instructions,
        stages=stages,
        global_args=global_args,
        warnings=result.warnings,
    )


def load(path: Path) -> Dockerfile:
    """Read and parse a file; raises `FileProblem` or `DockerfileError`."""
    tf = read_text(path)
    return parse_dockerfile(tf.text, path, tf)


def dump(df: Dockerfile) -> str:
    """BuildKit's test dump: one `(instruction ...)` line per instruction."""
    return "".join(f"({inst.dump()})\n" for inst in df.instructions)
