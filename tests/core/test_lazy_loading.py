"""Start-up of one command: the registry imports sources and rules per kind, the command line
builds only the chosen command's parser, and neither changes what a scan reports."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lockdock import registry
from lockdock.cli.entry import build_parser
from lockdock.model import TargetKind

FILE_RULES = ("lockdock.analyzers.dockerfile_", "lockdock.analyzers.compose_", "lockdock.fixers.dockerfile_",
              "lockdock.fixers.compose_", "lockdock.sources.compose", "lockdock.sources.dockerfiles",
              "lockdock.compose", "lockdock.payloads.compose", "lockdock.payloads.dockerfile",
              "lockdock.dockerfile.shellcheck", "lockdock.fixers.servicefacts", "yaml", "ruamel")
OTHER_COMMANDS = ("lockdock.cli.fix", "lockdock.cli.merge", "lockdock.cli.init", "lockdock.cli.explain",
                  "lockdock.tui", "lockdock.reports.baseline", "textual")


def _modules_after(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[set[str], str]:
    """The modules a fresh `lockdock ARGV` process has imported when it ends, and its stdout."""
    probe = (
        "import sys\nfrom lockdock.cli.entry import main\n"
        "code = main(sys.argv[1:])\n"
        "print('MODULES:' + ','.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe, *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "LOCKDOCK_NO_CACHE": "1", **(env or {})})
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES:"))
    return set(line.removeprefix("MODULES:").split(",")), proc.stdout


def _loaded(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.startswith(prefixes))


def test_scan_of_an_empty_folder_imports_no_file_rules_and_no_other_command(tmp_path: Path) -> None:
    modules, out = _modules_after(["scan", "--no-engine", "--format", "json", "."], tmp_path)
    assert '"nothing_found":true' in out
    assert _loaded(modules, FILE_RULES) == []
    assert _loaded(modules, OTHER_COMMANDS) == []
    assert "lockdock.analyzers.repo" in modules  # the folder is still a repository target


def test_compose_file_loads_the_compose_rules_only(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx:1.25\n    privileged: true\n")
    modules, out = _modules_after(["scan", "--no-engine", "--format", "json", "."], tmp_path)
    assert '"check":"container.not-privileged"' in out
    assert "lockdock.analyzers.compose_privileges" in modules
    assert _loaded(modules, ("lockdock.analyzers.dockerfile_", "lockdock.dockerfile.shellcheck")) == []


def test_load_sources_imports_the_source_modules_of_those_kinds_only(monkeypatch: pytest.MonkeyPatch) -> None:
    registry._plugin_modules()  # the package listing, before imports are watched
    imported: list[str] = []
    monkeypatch.setattr(registry, "importlib", SimpleNamespace(import_module=imported.append))
    monkeypatch.setattr(registry, "_SOURCE_KINDS", set())
    registry.load_sources((TargetKind.DOCKERFILE, TargetKind.REPO))
    assert imported == ["lockdock.sources.dockerfiles", "lockdock.sources.repo", "lockdock.sources.report"]
    imported.clear()
    registry.load_sources((TargetKind.REPO,))  # already loaded: nothing imported again
    assert imported == []


def test_helper_modules_register_nothing() -> None:
    registry.load_plugins()
    names = {a.fn.__module__ for a in registry.ANALYZERS} | {f.fn.__module__ for f in registry.FIXERS} \
        | {s.fn.__module__ for s in registry.SOURCES} | {h.__module__ for _k, h in registry.BATCH_HOOKS}
    assert names & registry.HELPER_MODULES == set()
    assert all(name not in dict(registry._plugin_modules()) for name in registry.HELPER_MODULES)


def _shape(parser: argparse.ArgumentParser, argv: list[str]) -> Any:
    try:
        return vars(parser.parse_args(argv))
    except SystemExit as exc:
        return ("exit", exc.code)


@pytest.mark.parametrize("argv", [
    ["scan", "--no-engine", "--format", "sarif", "-o", "out.sarif", "x", "y"],
    ["scan", "--format", "nope"],
    ["fix", "--apply", "--no-engine", "."],
    ["undo"],
    ["checks"],
    ["explain", "container.privileged"],
    ["merge", "a.json", "b.json"],
    ["init"],
])
def test_one_command_parser_parses_like_the_whole_parser(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    whole = _shape(build_parser(), argv)
    whole_err = capsys.readouterr().err
    alone = _shape(build_parser(argv[0]), argv)
    assert alone == whole
    assert capsys.readouterr().err == whole_err  # the same usage error, word for word


def test_unknown_command_gets_the_whole_parser(capsys: pytest.CaptureFixture[str]) -> None:
    assert _shape(build_parser("bogus"), ["bogus"]) == ("exit", 2)
    err = capsys.readouterr().err
    assert "invalid choice: 'bogus'" in err and "'scan'" in err and "'merge'" in err


def test_json_report_with_shared_parts_is_the_report_of_separate_parts() -> None:
    """render() converts a target or location many findings share once; the text is what
    one conversion per finding gives, in both layouts, also when something must be escaped."""
    import json

    from lockdock.model import Finding as F
    from lockdock.model import ImageLayerRef, Location, Severity, Target
    from lockdock.reports import json_report
    from lockdock.scan import ScanResult, TargetResult

    result = ScanResult(engine_endpoint="unix:///var/run/docker.sock")
    layer = Location(image_layer=ImageLayerRef(index=1, created_by="RUN make \x1b[31m", digest="sha256:" + "b" * 64))
    for n in range(3):
        target = Target(TargetKind.CONTAINER, f"web-{n}", None, key=f"container:{n}")
        findings = [F("container.not-privileged", target, "runs privileged"),
                    F("container.non-root", target, "runs as root", layer, severity=Severity.LOW),
                    F("container.read-only-rootfs", target, "writable root", layer)]
        result.targets[target.key] = TargetResult(target, None, findings)
    for pretty in (True, False):
        kw: dict[str, Any] = {"indent": 2} if pretty else {"separators": (",", ":")}
        separate = json.dumps(json_report.to_json(result, Severity.HIGH), ensure_ascii=False, **kw) + "\n"
        assert json_report.render(result, Severity.HIGH, pretty=pretty) == separate
    assert "\\e[31m" in separate and "\x1b" not in separate
