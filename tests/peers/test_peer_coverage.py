"""Issue 12's measure: every security rule of every peer tool, one tiny input each, through
the real `lockdock scan`, must be reported under the checklist id the row names.

Dockerfile and compose rows go through one `--no-engine` scan, host rows one scan each (a
daemon.json and client environment), image and container rows one engine scan of images
`docker load`ed and containers `docker create`d from them. Each kind has a hardened
skeleton that must scan clean of every id the rows built on it expect.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from lockdock.checks import CHECKS
from tests.peers.catalogue import ALL_ROWS, PEERS
from tests.peers.harness import EngineWorld, scan_files, scan_hosts
from tests.peers.table import CAUGHT, MISSED, OUT, outcome, render, skeleton_of

CHECK_WHERE = {c.id: set(c.where) for c in CHECKS}
FILE_ROWS = [r for r in ALL_ROWS if r.kind in ("D", "C")]
HOST_ROWS = [r for r in ALL_ROWS if r.kind == "H"]
ENGINE_ROWS = [r for r in ALL_ROWS if r.kind in ("I", "K")]
# Literal secrets planted by rows: none may appear in any report.
PLANTED = ("peer-table-not-a-secret-1", "peerTableFakeKey0123456789abcdefghijklmn", "peer-table-pw",
           "peer-table-not-a-secret-2", "peerTablePw3", "ghp_" + "c" * 36)


def _ids(rows: list[Any]) -> list[str]:
    return [r.slug for r in rows]


@pytest.fixture(scope="module")
def files_scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, set[str]], dict[str, Any]]:
    return scan_files(ALL_ROWS, tmp_path_factory.mktemp("peer-files"))


@pytest.fixture(scope="module")
def hosts_scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, set[str]], list[str]]:
    return scan_hosts(ALL_ROWS, tmp_path_factory.mktemp("peer-hosts"))


@pytest.fixture(scope="module")
def engine_scan(docker_api: Any, tmp_path_factory: pytest.TempPathFactory):
    world = EngineWorld(ALL_ROWS, docker_api, tmp_path_factory.mktemp("peer-engine"))
    try:
        world.build()
        yield world.scan()
    finally:
        world.close()


def test_rows_are_well_formed() -> None:
    assert not [s for s, n in Counter(_ids(ALL_ROWS)).items() if n > 1]
    for row in ALL_ROWS:
        assert row.summary.strip(), row.slug
        if row.out_of_scope:
            assert row.expect is None and row.spec is None and row.kind == "", row.slug
            continue
        assert row.expect in CHECK_WHERE, f"{row.slug}: {row.expect} is not a checklist id"
        assert row.kind in CHECK_WHERE[row.expect], f"{row.slug}: {row.expect} does not apply to kind {row.kind}"
        assert row.spec is not None, row.slug


def test_every_peer_rule_listed() -> None:
    """The rule lists are complete (counts of the peers' own rule sets, see the row modules)."""
    counts = {heading: len(rows) for heading, rows in PEERS}
    assert counts == {
        "hadolint": 71, "Trivy (Dockerfile misconfigurations)": 28, "checkov (Dockerfile)": 28,
        "compose-lint": 27, "KICS (Dockerfile)": 51, "KICS (docker-compose)": 21, "dockle": 20,
        "docker-bench-security section 2 (daemon)": 18, "docker-bench-security section 4 (images, build)": 12,
        "docker-bench-security section 5 (container runtime)": 32,
    }


def _assert_caught(row: Any, fired: dict[str, set[str]]) -> None:
    assert row.slug in fired, f"{row.slug}: its target was not scanned"
    assert skeleton_of(row) in fired, f"the {row.kind} skeleton was not scanned"
    assert row.expect in fired[row.slug], (
        f"{row.peer} {row.rule} ({row.summary}) not caught as {row.expect}; reported {sorted(fired[row.slug])}")
    if row.on_skeleton:
        assert row.expect not in fired[skeleton_of(row)], f"the {row.kind} skeleton already fails {row.expect}"
    assert outcome(row, fired) == CAUGHT


@pytest.mark.parametrize("row", FILE_ROWS, ids=_ids(FILE_ROWS))
def test_file_rule_caught(files_scan, row) -> None:
    _assert_caught(row, files_scan[0])


@pytest.mark.parametrize("row", HOST_ROWS, ids=_ids(HOST_ROWS))
def test_host_rule_caught(hosts_scan, row) -> None:
    _assert_caught(row, hosts_scan[0])


@pytest.mark.engine
@pytest.mark.parametrize("row", ENGINE_ROWS, ids=_ids(ENGINE_ROWS))
def test_engine_rule_caught(engine_scan, row) -> None:
    _assert_caught(row, engine_scan[0])


def test_file_scan_masks_secrets_and_has_no_errors(files_scan) -> None:
    report = files_scan[1]
    assert [e for e in report["errors"] if e["kind"] == "error"] == []
    for value in PLANTED:
        assert value not in report["_raw"]


def test_host_scans_mask_secrets(hosts_scan) -> None:
    for raw in hosts_scan[1]:
        for value in PLANTED:
            assert value not in raw


@pytest.mark.engine
def test_engine_scan_masks_secrets_and_has_no_errors(engine_scan) -> None:
    report = engine_scan[1]
    assert [e for e in report["errors"] if e["kind"] == "error"] == []
    for value in PLANTED:
        assert value not in report["_raw"]


def test_table_judges_rows() -> None:
    row = FILE_ROWS[0]
    assert outcome(row, {row.slug: {row.expect}, skeleton_of(row): set()}) == CAUGHT
    assert outcome(row, {row.slug: set(), skeleton_of(row): set()}) == MISSED
    assert outcome(row, {row.slug: {row.expect}, skeleton_of(row): {row.expect}}) == MISSED
    assert outcome(next(r for r in ALL_ROWS if r.out_of_scope), {}) == OUT
    text = render({row.slug: {row.expect}, skeleton_of(row): set()})
    assert "hadolint: " in text and "out of scope: DL4000" in text and "not run: " in text


@pytest.mark.engine
def test_table_shows_no_missed_rule(files_scan, hosts_scan, engine_scan) -> None:
    """Issue 12's "done when": the coverage table misses no in-scope rule of any peer."""
    fired = {**files_scan[0], **hosts_scan[0], **engine_scan[0]}
    text = render(fired)
    assert "MISSED" not in text and "not run" not in text, text
