"""The bundled demo project: a deliberately insecure app that `lockdock demo` scans.

The project ships as package data. Wheels do not keep file modes, and the demo depends on
them (the secret files must be readable by others for `secrets.file-permissions` to fire),
so `copy_demo` writes every file itself and sets the intended mode explicitly.
"""

from __future__ import annotations

import os
import tempfile
import time
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

PROJECT_DIR = "project"

# Relative path -> mode for files whose mode is part of the demo; the rest get FILE_MODE.
SPECIAL_MODES: dict[str, int] = {
    ".env": 0o644,  # a secret file readable by everyone: on purpose
    "certs/server.key": 0o644,  # same for the (fake) private key
    "app/start.sh": 0o755,
}
SECRET_FILES: tuple[str, ...] = (".env", "certs/server.key")
FILE_MODE = 0o644
DIR_MODE = 0o755
# The secret files are back-dated so `secrets.rotation` has something to show as well.
SECRET_AGE_DAYS = 200

_SKIP = ("__pycache__", ".pyc")


def _source() -> Traversable:
    return resources.files(__name__).joinpath(PROJECT_DIR)


def demo_source() -> Path:
    """Where the bundled project lives on disk (installed packages are plain directories)."""
    source = _source()
    if not isinstance(source, Path):
        raise RuntimeError("the lockdock demo project is not available as a directory")
    return source


def copy_demo(dest: Path | None = None) -> Path:
    """Copy the demo project to `dest` (a new temp dir when None) and return the copy's path.

    `dest` must not exist or be an empty directory: the demo never writes over user files.
    """
    if dest is None:
        target = Path(tempfile.mkdtemp(prefix="lockdock-demo-"))
    else:
        target = Path(dest)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise FileExistsError(f"{target}: exists and is not an empty directory")
        target.mkdir(parents=True, exist_ok=True)
    _copy_tree(_source(), target, "")
    old = time.time() - SECRET_AGE_DAYS * 86400
    for rel in SECRET_FILES:
        path = target / rel
        if path.is_file():
            os.utime(path, (old, old))
    return target


def _copy_tree(src: Traversable, dst: Path, rel: str) -> None:
    for entry in sorted(src.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(_SKIP):
            continue
        entry_rel = f"{rel}{entry.name}"
        out = dst / entry.name
        if entry.is_dir():
            out.mkdir(exist_ok=True)
            out.chmod(DIR_MODE)
            _copy_tree(entry, out, entry_rel + "/")
        else:
            out.write_bytes(entry.read_bytes())
            out.chmod(SPECIAL_MODES.get(entry_rel, FILE_MODE))
