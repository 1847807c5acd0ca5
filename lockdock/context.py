"""What every analyzer, source and fixer may consult during one scan."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockdock.config import Config
from lockdock.model import ScanError
from lockdock.text import safe

if TYPE_CHECKING:
    from collections.abc import Callable

    from lockdock.engine.connect import Engine
    from lockdock.model import Finding

DEFAULT_SCAN_TIMEOUT = 600.0  # seconds for a whole scan (files, engine calls, layer reads)


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
    # Seconds the whole scan may take. None: env LOCKDOCK_TIMEOUT, else `[scan] timeout` of
    # the config, else DEFAULT_SCAN_TIMEOUT. (The CLI's --timeout sets it explicitly.)
    timeout: float | None = None
    started: float = field(default_factory=time.monotonic)  # time.monotonic() at creation
    # Set when a `docker save` produced no byte in time: later images are not saved again.
    save_unanswered: str | None = None
    # Set by `lockdock scan --format json` for a compact report: gives the encoded report
    # entries of one subject's findings (`reports.json_report.encoded_entries`), which the
    # processes analysing compose subjects in parallel (lockdock.parallel) make as they go,
    # instead of the report after them (`TargetResult.encoded`).
    report_entries: Callable[[list[Finding]], bytes | None] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.timeout is None:
            self.timeout = self._timeout_from_env_or_config()

    def _timeout_from_env_or_config(self) -> float:
        raw = os.environ.get("LOCKDOCK_TIMEOUT", "").strip()
        if raw:
            try:
                value = float(raw)
                if value > 0 and value == value and value != float("inf"):
                    return value
            except ValueError:
                pass
            self.warn(None, f"LOCKDOCK_TIMEOUT={safe(raw, 40)} is not a positive number of seconds; "
                      f"using {self.config.scan_timeout or DEFAULT_SCAN_TIMEOUT:g} s")
        return self.config.scan_timeout or DEFAULT_SCAN_TIMEOUT

    def quiet(self) -> ScanContext:
        """A context with this one's directory, config, engine and cache whose errors and
        warnings go nowhere: for a step that reads what the scan reads elsewhere (and
        reports there), such as loading projects again for a fixer's facts."""
        return ScanContext(cwd=self.cwd, config=self.config, use_engine=self.use_engine, engine=self.engine,
                           cache=self.cache)

    def remaining(self) -> float:
        """Seconds left before the scan's timeout (negative once it has passed)."""
        return float(self.timeout or DEFAULT_SCAN_TIMEOUT) - (time.monotonic() - self.started)

    def out_of_time(self) -> bool:
        return self.remaining() <= 0

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
