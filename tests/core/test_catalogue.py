"""The catalogue is the checklist: same ids, levels, severities and target kinds."""

from __future__ import annotations

import re

from lockdock.checks import CATALOGUE, CHECKS, resolve_selector
from lockdock.model import ChecklistLayer, Severity


def _checklist_rows(shared_dir):
    rows = {}
    for line in (shared_dir / "CHECKLIST.md").read_text(encoding="utf-8").splitlines():
        if re.match(r"^\| [a-z]+\.[a-z-]+ \|", line):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells
    return rows


def test_ids_are_exactly_the_checklist(shared_dir):
    rows = _checklist_rows(shared_dir)
    assert len(rows) >= 40
    assert set(CATALOGUE) == set(rows)


def test_metadata_matches_checklist(shared_dir):
    for cid, cells in _checklist_rows(shared_dir).items():
        check = CATALOGUE[cid]
        assert check.level == int(cells[1]), cid
        assert check.severity == Severity.parse(cells[2]), cid
        assert set(check.where) == set(cells[3].split()), cid
        has_fix = not cells[5].lower().startswith("none")
        assert (check.fix is not None) == has_fix, cid


def test_every_check_belongs_to_a_layer_and_has_a_title():
    for check in CHECKS:
        assert check.layer in ChecklistLayer
        assert check.title and check.references
        assert check.kinds


def test_selectors_expand_layers_and_reject_unknown():
    assert resolve_selector("secrets") == {c.id for c in CHECKS if c.id.startswith("secrets.")}
    assert resolve_selector("build.no-sudo") == {"build.no-sudo"}
    try:
        resolve_selector("nope.nothing")
    except KeyError:
        pass
    else:  # pragma: no cover
        raise AssertionError("unknown selector accepted")
