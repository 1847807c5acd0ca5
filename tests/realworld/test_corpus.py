"""Real-world corpus regression: not run in CI (skips when the corpus folder is absent).

Point LOCKDOCK_REALWORLD_CORPUS at a folder of checked-out projects (bench/realworld.py's
docstring says how to make one; the default is /tmp/rw/corpus). Each project is scanned
headless the way the bench does it, and the false-positive classes the judged samples
found must stay gone: no scan errors, no recursive-rm finding on a lone `"$VAR"`, no
EXPOSE finding on an image that runs that data store, no missing-key finding on a compose
override fragment, no password finding on a hashing-scheme name.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(os.environ.get("LOCKDOCK_REALWORLD_CORPUS", "/tmp/rw/corpus"))


def _projects() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.iterdir() if p.is_dir())


pytestmark = pytest.mark.skipif(not _projects(), reason=f"no real-world corpus at {CORPUS}")


def _scan(project: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "lockdock", "scan", "--no-engine", "--format", "json", "."],
                          cwd=project, capture_output=True, text=True, timeout=1800, check=False)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("project", _projects(), ids=lambda p: p.name)
def test_no_known_false_positive_class(project: Path) -> None:
    report = _scan(project)
    assert not [e for e in report.get("errors", []) if e.get("kind") == "error"]
    wrong = []
    for f in report["findings"]:
        msg = f["message"]
        if f["check"] == "build.shell-safety" and "recursive rm" in msg:
            var = re.escape(msg.split("$", 1)[1].split(":", 1)[0])
            text = (project / f["location"]["path"]).read_text(errors="replace")
            if not re.search(rf"\$(?:{var}|\{{{var}\}})[\"']?/", text):
                wrong.append(f)  # the flagged variable must start a longer path in the file
        elif f["check"] == "network.exposed-ports" and msg.startswith("EXPOSE"):
            path = project / f["location"]["path"]
            text = path.read_text(errors="replace")
            if any(s in text for s in ('CMD ["postgres"]', 'CMD ["redis-server"]')):
                wrong.append(f)
        elif "override.yml.d/" in (f["location"]["path"] or "") and f["target"]["kind"] == "compose-service":
            if " sets no " in msg:  # a key the fragment leaves to the base file
                wrong.append(f)
        elif "_PASS_SCHEME" in msg:
            wrong.append(f)
    assert not wrong, [(f["check"], f["location"], f["message"][:120]) for f in wrong]
