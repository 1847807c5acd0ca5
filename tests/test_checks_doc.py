"""docs/checks.md is generated from the records in lockdock/checks/ and must be kept current."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from lockdock import checks as catalogue
from lockdock.checks import doc_for

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gen_checks_doc.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_checks_doc", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_file_is_up_to_date() -> None:
    committed = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
    assert committed == _load().generate(), "run: python scripts/gen_checks_doc.py"


def test_every_check_has_a_section_with_its_doc() -> None:
    text = _load().generate()
    for check in catalogue.CHECKS:
        assert f"\n### {check.id}\n" in text
        assert doc_for(check.id).why in text
        assert doc_for(check.id).example_bad in text
    assert text.count("\n### ") == len(catalogue.CHECKS)


def test_code_fences_are_balanced_and_labelled() -> None:
    module = _load()
    text = module.generate()
    fences = [line for line in text.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0 and len(fences) == 4 * len(catalogue.CHECKS)
    openers = fences[::2]
    assert all(f != "```" for f in openers)
    assert module._language('{\n  "icc": false\n}') == "json"
    assert module._language("services:\n  a: {}") == "yaml"
    assert module._language("FROM a:1") == "dockerfile"
    assert module._language("$ ls -l .env") == "console"


def test_check_mode_detects_a_stale_file(tmp_path: Path, monkeypatch) -> None:
    module = _load()
    stale = tmp_path / "checks.md"
    stale.write_text("old\n")
    monkeypatch.setattr(module, "OUTPUT", stale)
    assert module.main(["--check"]) == 1
    assert module.main([]) == 0
    assert module.main(["--check"]) == 0


def test_script_runs_from_the_command_line() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
