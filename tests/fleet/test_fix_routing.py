"""Routing engine fixes by engine name, without an engine: journal records, refusals, options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lockdock.cli.entry import main
from lockdock.engine.update import EngineActionFailed, Engines, as_engines
from lockdock.files import sha256_bytes
from lockdock.fixing import journal, writer


def test_engine_record_names_its_engine_and_old_entries_still_load(tmp_path: Path) -> None:
    entry = journal.Entry(titles=["t"], root=str(tmp_path))
    entry.engine.append(journal.EngineRecord("abc", "web", {"Memory": 0}, {"Memory": 1}, "prod"))
    data = json.loads(json.dumps(entry.to_json()))
    assert data["engine"][0]["engine"] == "prod"
    assert journal.Entry.from_json(data).engine[0].engine == "prod"
    del data["engine"][0]["engine"]  # written before records named their engine
    assert journal.Entry.from_json(data).engine[0].engine is None


def test_restore_refuses_before_touching_files_when_the_named_engine_is_missing(tmp_path: Path) -> None:
    p = tmp_path / "compose.yaml"
    p.write_bytes(b"a\n")
    res = writer.write_file(p, b"b\n", root=tmp_path, expected_sha256=sha256_bytes(b"a\n"))
    entry = journal.Entry(titles=["t"], root=str(tmp_path))
    entry.files.append(journal.FileRecord(res.real, res.written_sha256, res.original, res.mode, res.uid, res.gid))
    entry.engine.append(journal.EngineRecord("abc", "web", {"RestartPolicy": {"Name": "no"}}, {}, "tcp://10.9.9.9:2376"))
    with pytest.raises(journal.UndoRefused, match=r"engine tcp://10\.9\.9\.9:2376, which is not connected"):
        journal.restore(entry, Engines(default=object()))
    assert p.read_bytes() == b"b\n"  # nothing undone
    assert journal.engines_needed([entry, entry]) == ["tcp://10.9.9.9:2376"]


def test_engines_route_by_name() -> None:
    default, prod = object(), object()
    engines = Engines(default, {"prod": prod})
    assert engines.get(None) is default and engines.require("prod") is prod
    assert engines.get("staging") is None
    with pytest.raises(EngineActionFailed, match="engine staging is not connected"):
        engines.require("staging")
    assert as_engines(engines) is engines and as_engines(default).get(None) is default


def test_undo_names_the_engine_it_cannot_reach(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entry = journal.Entry(titles=["docker update --restart unless-stopped"], root=str(tmp_path))
    entry.engine.append(journal.EngineRecord("abc", "web", {"RestartPolicy": {"Name": "no"}}, {},
                                             "unix:///nonexistent/lockdock-undo.sock"))
    journal.save(entry)
    assert main(["undo", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "engine unix:///nonexistent/lockdock-undo.sock cannot be reached" in err and "nothing undone" in err
    assert journal.entries()  # still there to undo later
    assert main(["undo", "--list", str(tmp_path)]) == 0
    assert "container: web on unix:///nonexistent/lockdock-undo.sock" in capsys.readouterr().out


def test_fix_refuses_no_engine_with_hosts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix", "--no-engine", "--host", "unix:///var/run/docker.sock", str(tmp_path)]) == 2
    assert "--no-engine cannot be combined" in capsys.readouterr().err
