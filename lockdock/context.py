"""What every analyzer, source and fixer may consult during one scan."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockdock.config import Config
from lockdock.model import ScanError
from lockdock.text import safe

if TYPE_CHECKING:
    from lockdock.engine.connect import Engine


@dataclass
class ScanContext:
    cwd: Path
    config: Config = field(default_factory=Config)
    engine: Engine | None = None
    engine_error: str | None = None  # why there is no engine (said once, plainly)
    use_engine: bool = True
    daemon_json: Path | None = None  # --daemon-json; None means /etc/docker/daemon.json
    images: list[str] = field(default_factory=list)  # --image REF: only these images
    errors: list[ScanError] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def rel(self, path: Path | str | None) -> str | None:
        """A path as reports show it: relative to the current directory when inside it."""
        if path is None:
            return None
        p = os.path.abspath(str(path))
        cwd = os.path.abspath(str(self.cwd))
        if p == cwd:
            return "."
        if p.startswith(cwd.rstrip(os.sep) + os.sep):
            return os.path.relpath(p, cwd).replace(os.sep, "/")
        return p

    def error(
        self,
        path: Path | str | None,
        message: str,
        *,
        target: str | None = None,
        kind: str = "error",
    ) -> None:
        """Record a problem; the message is sanitised (it may quote untrusted text)."""
        with self._lock:
            self.errors.append(
                ScanError(self.rel(path) if path is not None else None, safe(message, 500), target, kind)
            )

    def warn(self, path: Path | str | None, message: str, *, target: str | None = None) -> None:
        self.error(path, message, target=target, kind="warning")

    def local_image(self, ref: str) -> dict[str, Any] | None:
        """`docker image inspect` of a local image by reference, cached; None without engine."""
        if self.engine is None or not ref:
            return None
        key = f"image-inspect:{ref}"
        with self._lock:
            if key in self.cache:
                return self.cache[key]
        try:
            data = self.engine.api.inspect_image(ref)
        except Exception:  # noqa: BLE001 - not present locally, or engine trouble
            data = None
        with self._lock:
            self.cache[key] = data
        return data
