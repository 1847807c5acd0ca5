"""`lockdock merge` and `lockdock tui --from`: per-host JSON reports combined, hostile ones contained."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lockdock.cli import main

DOCKERFILE = "FROM nginx:latest\nADD app.py /app/\nUSER root\n"


def _report(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> Path:
    proj = tmp_path / f"proj-{name}"
    proj.mkdir()
    (proj / "Dockerfile").write_text(DOCKERFILE)
    out = tmp_path / f"{name}.json"
    assert main(["scan", "--no-engine", "--format", "json", "-o", str(out), str(proj)]) == 1
    capsys.readouterr()
    return out


def test_merge_tags_each_host_and_keeps_every_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    web, db = _report(tmp_path, "web1", capsys), _report(tmp_path, "db2", capsys)
    one = len(json.loads(web.read_text())["findings"])
    code = main(["merge", "--format", "json", str(web), str(db)])
    data = json.loads(capsys.readouterr().out)
    assert code == 1  # high findings in the merged report
    assert len(data["findings"]) == 2 * one
    assert {f["target"]["engine"] for f in data["findings"]} == {"web1", "db2"}
    assert len(data["targets"]) == len({(t["engine"], t["kind"], t["path"]) for t in data["targets"]})


def test_merge_sarif_names_the_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    web = _report(tmp_path, "web1", capsys)
    main(["merge", "--format", "sarif", str(web)])
    res = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    assert res and all(r["properties"]["engine"] == "web1" for r in res)
    assert all(r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].startswith("web1/") for r in res)
    assert all("physicalLocation" in r["locations"][0] for r in res)


def test_bad_and_hostile_reports_are_one_error_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _report(tmp_path, "web1", capsys)
    (tmp_path / "garbage.json").write_bytes(b"\xff\xfe not json")
    (tmp_path / "other.json").write_text('{"version": 2, "findings": []}')
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    evil = {"version": 1, "targets": [{"kind": "nonsense"}], "findings": [
        {"check": "no.such-check"}, "not an object",
        {"check": "image.pinned-tag", "target": {"kind": "image", "name": "\x1b[2Jevil\x1b]0;pwn\x07", "path": None},
         "message": "m\x1b[31m", "severity": "medium", "location": {"line": "x"}}]}
    (tmp_path / "evil.json").write_text(json.dumps(evil))
    paths = [str(tmp_path / n) for n in ("garbage.json", "other.json", "deep.json", "evil.json", "missing.json")]
    code = main(["merge", str(good), *paths])
    cap = capsys.readouterr()
    assert code == 1
    assert "\x1b" not in cap.out and "\x07" not in cap.out
    assert "\\e[2Jevil" in cap.out  # kept, visibly escaped
    for name in ("garbage.json: not JSON", "other.json: not a lockdock JSON report", "deep.json: not JSON",
                 "missing.json: cannot read", "unknown check id 'no.such-check'", "finding 1 left out"):
        assert name in cap.out
    assert "web1" in cap.out
    assert "Traceback" not in cap.err


def test_no_readable_report_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.json").write_text("{}")
    assert main(["merge", str(tmp_path / "x.json")]) == 2
    assert "no report could be read" in capsys.readouterr().err


def test_hundred_reports_keep_a_host_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    web = _report(tmp_path, "web", capsys)
    paths = []
    for i in range(100):
        p = tmp_path / f"h{i:03}.json"
        p.write_bytes(web.read_bytes())
        paths.append(str(p))
    done = subprocess.run([sys.executable, "-m", "lockdock", "merge", "--format", "json", *paths],
                          capture_output=True, text=True, timeout=120, check=False)
    data = json.loads(done.stdout)
    assert len({f["target"]["engine"] for f in data["findings"]}) == 100


def test_tui_from_reports_browses_them_read_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("textual")
    import asyncio

    from lockdock.tui.cli import report_app

    web, db = _report(tmp_path, "web1", capsys), _report(tmp_path, "db2", capsys)
    (tmp_path / "bad.json").write_text("nope")
    app = report_app([web, db, tmp_path / "bad.json"])

    async def body() -> None:
        async with app.run_test(size=(120, 36)) as pilot:  # type: ignore[attr-defined]
            for _ in range(200):
                await pilot.pause(0.05)
                if not app.state.progress.running:  # type: ignore[attr-defined]
                    break
            targets = app.state.targets  # type: ignore[attr-defined]
            assert {t.target.engine for t in targets.values()} == {"web1", "db2"}
            assert sum(len(t.findings) for t in targets.values()) > 0
            assert app.read_only  # type: ignore[attr-defined]
            assert any("bad.json: not JSON" in e.message for e in app.ctx.errors)  # type: ignore[attr-defined]

    asyncio.run(body())


@pytest.mark.parametrize("pretty", [False, True])
def test_merged_json_is_the_json_report_of_the_merged_result(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             pretty: bool) -> None:
    """`merge --format json` writes what `json_report.render` writes for the same result
    (it only avoids repeating per-finding work): suppressed, layer details, hostile text."""
    from lockdock.model import Severity
    from lockdock.reportfile import merge, render_json
    from lockdock.reports import json_report

    web = _report(tmp_path, "web1", capsys)
    data = json.loads(web.read_text())
    data["findings"][0]["suppressed"] = {"reason": "accepted", "source": "config"}
    data["findings"][1]["location"] = {"path": "Dockerfile", "line": 2, "end_line": None, "column": 1,
                                       "image_layer": 3, "image_layer_detail": {"index": 3, "created_by": "RUN x",
                                                                                "digest": "sha256:ab", "size": 7}}
    data["findings"][2]["severity"] = "critical"
    data["findings"][2]["target"]["engine"] = "prod"
    tricky = tmp_path / "tricky.json"
    tricky.write_text(json.dumps(data))
    hostile = dict(data, findings=[dict(data["findings"][3], message="red \x1b[31m \u202e \ud800")],
                   errors=[{"path": None, "message": "bell\x07", "kind": "warning"}])
    (tmp_path / "hostile.json").write_text(json.dumps(hostile))
    for paths in ([web, tricky], [web, tricky, tmp_path / "hostile.json"]):
        result, read = merge(paths)
        assert read == len(paths)
        assert render_json(result, Severity.HIGH, pretty=pretty) == json_report.render(result, Severity.HIGH,
                                                                                        pretty=pretty)


def test_merge_imports_no_engine_ui_or_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    web = _report(tmp_path, "web1", capsys)
    probe = ("import sys; from lockdock.cli import main; main(['merge', '--format', 'json', '-o', sys.argv[2], "
             "sys.argv[1]]); print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('docker', 'textual', 'analyzers', 'fixers', 'rich'))))")
    done = subprocess.run([sys.executable, "-c", probe, str(web), str(tmp_path / "out.json")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
