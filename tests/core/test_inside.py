"""files.Inside answers as files.within does, for every shape of path a scan meets."""

from __future__ import annotations

import os
from pathlib import Path

from lockdock.files import Inside, within


def _tree(tmp_path: Path) -> tuple[Path, list[Path]]:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "Dockerfile").write_text("FROM scratch\n")
    (root / "sub" / "Dockerfile").write_text("FROM scratch\n")
    (root / "Dockerfile").write_text("FROM scratch\n")
    os.symlink(outside / "Dockerfile", root / "escape.Dockerfile")  # a file link leaving root
    os.symlink(outside, root / "linked")  # a folder link leaving root
    os.symlink(root / "sub", root / "alias")  # a folder link staying inside
    os.symlink(root / "sub" / "Dockerfile", root / "inner.Dockerfile")
    paths = [
        root / "Dockerfile",
        root / "sub" / "Dockerfile",
        root / "escape.Dockerfile",
        root / "linked" / "Dockerfile",
        root / "alias" / "Dockerfile",
        root / "inner.Dockerfile",
        root / "linked" / ".." / "Dockerfile",  # `..` after a link: resolved in full
        root / "sub" / ".." / "Dockerfile",
        outside / "Dockerfile",
        root,
        root / "missing" / "Dockerfile",
        tmp_path / "root2" / "Dockerfile",  # a sibling whose name starts like the root's
    ]
    return root, paths


def test_inside_answers_as_within_for_links_dots_and_siblings(tmp_path: Path) -> None:
    root, paths = _tree(tmp_path)
    inside = Inside(root)
    got = {str(p): inside(p) for p in paths}
    assert got == {str(p): within(p, root) for p in paths}
    # and the answers are the expected ones, not merely equal
    assert got[str(root / "escape.Dockerfile")] is False
    assert got[str(root / "linked" / "Dockerfile")] is False
    assert got[str(root / "alias" / "Dockerfile")] is True
    assert got[str(tmp_path / "root2" / "Dockerfile")] is False


def test_inside_resolves_a_relative_path_and_a_linked_root(tmp_path: Path, monkeypatch) -> None:
    root, paths = _tree(tmp_path)
    os.symlink(root, tmp_path / "via")
    monkeypatch.chdir(root)
    relative = [Path("Dockerfile"), Path("sub/Dockerfile"), Path("linked/Dockerfile"), Path("escape.Dockerfile")]
    for base in (root, tmp_path / "via", Path(".")):
        inside = Inside(base)
        for p in relative + paths:
            assert inside(p) == within(p, base), (base, p)
