"""A preview over many files: repeated lines are masked once and shown masked every time,
and a symlink named several ways is planned once."""

from __future__ import annotations

import os

from lockdock.files import read_text
from lockdock.fixing import edits
from lockdock.fixing.preview import build_preview
from lockdock.model import Applicability, FileEdit, Fix, TextEdit

SECRET = "s3cr3t-Value-9f8e7d6c5b4a"


def _fix(path, at: int | None = None) -> Fix:
    """Add a comment line at offset `at` (default: the end, after the secret line)."""
    tf = read_text(path)
    at = len(tf.text) if at is None else at
    return Fix(f"Add a comment to {path.name}", Applicability.SAFE,
               [FileEdit(str(path), [TextEdit(at, at, "# reviewed\n")], tf.sha256)])


def test_a_secret_line_repeated_across_files_is_masked_in_every_diff(tmp_path):
    body = f"services:\n  web:\n    environment:\n      DB_PASSWORD: {SECRET}\n    image: nginx:1.25\n"
    paths = []
    for i in range(5):
        d = tmp_path / f"p{i}"
        d.mkdir()
        (d / "compose.yaml").write_text(body)
        paths.append(d / "compose.yaml")
    preview = build_preview([_fix(p) for p in paths], tmp_path)
    assert SECRET not in preview.text
    assert preview.text.count("DB_PASSWORD: ") == 5  # one context line per file, each masked
    assert preview.masked == 5
    assert preview.text.count("+# reviewed") == 5
    raw = build_preview([_fix(p) for p in paths], tmp_path, unmasked=True)
    assert raw.text.count(SECRET) == 5 and raw.masked == 0


def test_plan_resolves_each_path_once_and_joins_symlinked_names(tmp_path):
    real = tmp_path / "compose.yaml"
    real.write_text("services:\n  web:\n    image: nginx:1.25\n")
    os.symlink(real, tmp_path / "link.yaml")
    calls: list[str] = []

    def canon(path: str) -> str:
        calls.append(path)
        return os.path.realpath(path)

    a = _fix(real)
    b = Fix("Other", Applicability.SAFE, [FileEdit(str(tmp_path / "link.yaml"),
                                                   [TextEdit(10, 10, "x")], a.changes[0].expected_sha256)])
    c = _fix(real, 12)
    batch = edits.plan([a, b, c], canon)
    assert len(batch.files) == 1 and batch.fixes == [a, b, c]
    assert sorted(calls) == sorted({str(real), str(tmp_path / "link.yaml")})
