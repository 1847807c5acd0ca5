"""`build_contexts(files, ctx)` takes what the scan's loader read (`LoadedFile.build_refs`)
instead of reading and parsing every compose file again, and gives what reading them gives:
the same contexts in the same order, interpolation, includes, extends, broken and v1 files
included."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockdock import files as files_mod
from lockdock.compose import project as project_mod
from lockdock.compose.project import build_contexts, scan_projects
from lockdock.context import ScanContext
from lockdock.discovery import discover

from .fixkit import write_files

TREE = {
    "a/compose.yaml": "services:\n  web:\n    build: ./web\n  api:\n    build:\n      context: ./api\n"
                      "  ctx:\n    build: ${CTX:-./web}\n  remote:\n    build: https://example.com/r.git\n"
                      "  ssh:\n    build: git@example.com:r.git\n  num:\n    build: 123\n  img:\n    image: x\n",
    "a/.env": "CTX=./api\n",
    "a/web/Dockerfile": "FROM scratch\n",
    "a/api/Dockerfile": "FROM scratch\n",
    "a/123/Dockerfile": "FROM scratch\n",
    "a/compose.override.yaml": "services:\n  web:\n    build: {context: ./api}\n",
    "b/docker-compose.yml": "include:\n  - ../c/compose.yaml\nservices:\n  b:\n    extends:\n"
                            "      file: ./base.yml\n      service: base\n",
    "b/base.yml": "services:\n  base:\n    build: ./img\n",
    "b/img/Dockerfile": "FROM scratch\n",
    "c/compose.yaml": "services:\n  c:\n    build: ./ctx\n",
    "c/ctx/Dockerfile": "FROM scratch\n",
    "d/compose.yaml": "services:\n  a: [unclosed\n  b:\n    build: ./x\n",
    "d/x/Dockerfile": "FROM scratch\n",
    "e/compose.yaml": "version: '1'\nweb:\n  build: ./w\n",
    "e/w/Dockerfile": "FROM scratch\n",
    "f/compose.yaml": "x-b: &b\n  build: ./m\nservices:\n  m:\n    <<: *b\n  n: *b\n",
    "f/m/Dockerfile": "FROM scratch\n",
    "g/compose.yaml": "services:\n  g:\n    image: busybox\n",
}


def _scanned(root: Path) -> tuple[list[Path], ScanContext]:
    ctx = ScanContext(cwd=root, use_engine=False)
    found = discover([root], ctx)
    scan_projects(found.compose_files, ctx)
    return found.compose_files, ctx


def test_contexts_from_the_loader_are_those_of_a_fresh_parse(tmp_path: Path) -> None:
    write_files(tmp_path, TREE)
    files, ctx = _scanned(tmp_path)
    fresh = build_contexts(files)
    assert fresh == build_contexts(files, ctx)
    # As written: `${CTX:-./web}` names no folder, 123 is a number, URLs are not local,
    # the unparsable and the v1 files give none; b/base.yml is no compose file name discovery finds.
    assert sorted(p.relative_to(tmp_path).as_posix() for p in fresh) == ["a/api", "a/web", "c/ctx", "f/m"]


def test_loaded_files_are_not_read_or_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(tmp_path, TREE)
    files, ctx = _scanned(tmp_path)
    expected = build_contexts(files)
    reads: list[Path] = []
    real_read = files_mod.read_text

    def counting(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(Path(path))
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(project_mod, "read_text", counting)
    assert build_contexts(files, ctx) == expected
    assert reads == []  # every discovered file is in a project the scan kept
    build_contexts(files)
    assert len(reads) == len(files)  # without the scan's context each is read again


def test_a_generated_corpus_gives_the_same_contexts(tmp_path: Path) -> None:
    from .test_fix_memo import _bench

    _bench().build_corpus(tmp_path, 60, seed=5)
    files, ctx = _scanned(tmp_path)
    fresh = build_contexts(files)
    assert len(fresh) > 3
    assert build_contexts(files, ctx) == fresh
