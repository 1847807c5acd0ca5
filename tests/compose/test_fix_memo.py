"""The compose editor's per-project memos (`Editor._insertion_points`, `services_sharing`)
change no fix: every fix a scan offers, built with the memos its earlier fixes filled, is
the fix built again on an empty memo (same title, note, applicability and edits), and the
fixes that were refused stay refused."""

from __future__ import annotations

import importlib.util
import sys
from copy import copy
from pathlib import Path
from typing import Any

import pytest

from lockdock import scan as scan_mod
from lockdock.compose.edit import Editor, EditRefused, services_sharing
from lockdock.compose.project import load_project, project_file_sets
from lockdock.context import ScanContext

from .fixkit import write_files

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("compose_bench", ROOT / "bench" / "compose_bench.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("compose_bench", mod)  # its dataclass looks its module up
    spec.loader.exec_module(sys.modules["compose_bench"])
    return sys.modules["compose_bench"]


ANCHORS = """x-base: &base
  restart: always
  logging: {driver: none}
x-flow: &flow {read_only: false}
services:
  a:
    <<: *base
    image: nginx:1.25
  b:
    <<: *base
    image: redis:7
    cap_add: [NET_ADMIN]
  c: *base
  d:
    <<: *flow
    image: "postgres:16"
    security_opt: []
  e: {image: busybox, privileged: true}
  f:
    image: alpine
    deploy:
      resources: {}
    environment: {PASSWORD: hunter2hunter2}
"""


def _fix_view(fix: Any) -> Any:
    if fix is None:
        return None
    return (fix.title, fix.applicability, fix.note, fix.check, fix.target, repr(fix.changes))


def _rebuilt_on_empty_memo(root: Path) -> tuple[int, list[tuple[Any, Any]]]:
    ctx = ScanContext(cwd=root, use_engine=False)
    result = scan_mod.scan([root], ctx)
    offered = 0
    differ = []
    for tr in result.targets.values():
        project = getattr(tr.subject, "project", None)
        if project is None:
            continue
        for f in tr.findings:
            offered += f.fix is not None
            again = copy(f)
            again.fix = None
            project.memo.clear()
            rebuilt = scan_mod.fix_summary(again, tr.subject, ctx)
            if _fix_view(rebuilt) != _fix_view(f.fix):
                differ.append((_fix_view(f.fix), _fix_view(rebuilt)))
    return offered, differ


def test_fixes_of_a_generated_corpus_are_those_of_an_empty_memo(tmp_path: Path) -> None:
    _bench().build_corpus(tmp_path, 40, seed=11)
    offered, differ = _rebuilt_on_empty_memo(tmp_path)
    assert offered > 300  # the corpus gives fixes of every compose fixer, anchors included
    assert differ == []


def test_fixes_through_anchors_and_flow_maps_are_those_of_an_empty_memo(tmp_path: Path) -> None:
    write_files(tmp_path, {"compose.yaml": ANCHORS})
    offered, differ = _rebuilt_on_empty_memo(tmp_path)
    assert offered > 10
    assert differ == []


def _project(root: Path, text: str) -> Any:
    write_files(root, {"compose.yaml": text})
    ctx = ScanContext(cwd=root, use_engine=False)
    files, env = project_file_sets([root / "compose.yaml"], ctx)[0]
    return load_project(files, ctx, env)


def test_insertion_points_refuse_again_and_answer_each_mapping(tmp_path: Path) -> None:
    project = _project(tmp_path, "services:\n  a:\n    image: x\n    deploy: {}\n  b:\n    image: y\n")
    a, b = project.services["a"].decls[0], project.services["b"].decls[0]
    for _ in range(2):  # the second time from the memo
        ed = Editor(project)
        ed.insert_entries(a, ["user: nobody"])
        ed.insert_entries(b, ["user: nobody"], inside=True)
        ed.insert_entries(b, ["read_only: true"])
        text = (tmp_path / "compose.yaml").read_text()
        assert [(e.start, e.end) for e in ed.edits[str(tmp_path / "compose.yaml")]] == [
            (text.index("  b:"), text.index("  b:")), (len(text), len(text)), (len(text), len(text))]
        with pytest.raises(EditRefused):
            Editor(project).insert_entries(a.value["deploy"], ["resources: {}", "x: 1"])


def test_services_sharing_is_a_fresh_list_each_time(tmp_path: Path) -> None:
    project = _project(tmp_path, ANCHORS)
    restart = project.services["a"].node.value["restart"]
    first = services_sharing(project, restart)
    assert first == ["a", "b", "c"]
    first.append("z")
    assert services_sharing(project, restart) == ["a", "b", "c"]
