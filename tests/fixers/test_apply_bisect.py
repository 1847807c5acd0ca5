"""One bad fix among many in one file: the others are kept, found by halving the batch,
not by one write-and-rescan per fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockdock.context import ScanContext
from lockdock.files import read_text
from lockdock.fixing import apply as apply_mod
from lockdock.fixing.apply import apply_fixes
from lockdock.model import Applicability, FileEdit, Fix, TextEdit
from lockdock.scan import scan


def _services(n: int) -> str:
    return "services:\n" + "".join(
        f"  web{i}:\n    image: nginx:1.25\n    ports:\n      - \"{8000 + i}:80\"\n" for i in range(n))


@pytest.mark.timeout(600)
def test_one_bad_fix_costs_log_attempts_not_one_per_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    compose = root / "compose.yaml"
    compose.write_text(_services(12))
    ctx = ScanContext(cwd=root, use_engine=False)
    offered = [f.fix for f in scan([root], ctx).findings if f.fix is not None and f.fix.changes and f.suppressed is None]
    tf = read_text(compose)
    bad = Fix("Break the file", Applicability.SAFE,
              [FileEdit(str(compose), [TextEdit(len(tf.text), len(tf.text), "\tbroken: [\n")], tf.sha256)],
              check=offered[0].check)
    fixes = [*offered[: len(offered) // 2], bad, *offered[len(offered) // 2 :]]
    attempts: list[int] = []
    real_attempt = apply_mod._Plan.attempt

    def counting(self, batch, *a, **k):
        attempts.append(len(batch))
        return real_attempt(self, batch, *a, **k)

    monkeypatch.setattr(apply_mod._Plan, "attempt", counting)
    report = apply_fixes(fixes, ctx, root=root, allow_unsafe=True)
    assert [s.fix for s in report.skipped if s.fix is bad] == [bad]
    assert any("no longer reads cleanly" in e for e in report.errors)
    assert bad not in report.applied
    assert len(report.applied) >= len(offered) // 2  # the good ones (overlaps come in later passes)
    assert "broken" not in compose.read_text()
    assert not [e for e in scan([root], ctx).errors if e.kind == "error"]
    first_pass = len([n for n in attempts if n <= len(fixes)])
    assert len(fixes) >= 30, len(fixes)
    assert first_pass <= 2 * (len(fixes).bit_length() + 2), attempts  # one per fix would be >= len(fixes)
