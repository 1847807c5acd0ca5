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
    from datetime import datetime

    from lockdock.engine.connect import Engine
    from lockdock.model import Finding

DEFAULT_SCAN_TIMEOUT = 600.0  # seconds for a whole scan (files, engine calls, layer reads)
# ctx.cache key: {image id: Unix seconds} of the engine's image list (`GET /images/json`,
# `Created`), stored by whoever listed the images; `ScanContext.image_created` reads it.
LISTED_CREATED = "engine:image-list-created"


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

    def image_created(self, ref: str) -> datetime | None:
        """When local image `ref` (an image id) was created, in whole seconds, UTC; None when
        it is not local, has no creation time, or there is no engine.

        From its inspect when that is cached (`local_image`); else from the engine's image
        list when one was stored (`LISTED_CREATED`): the list's `Created` is the same
        instant as the inspect's (`Created.Unix()` against RFC 3339 with nanoseconds, whose
        fraction `parse_created` drops), so no request is needed. Only times after 1970 are
        taken from the list (an image without a creation time lists the zero time, which
        its inspect gives as no time at all); otherwise `local_image` decides."""
        from lockdock.engine.refs import parse_created

        listed = self.cache.get(LISTED_CREATED)
        if listed is not None and f"image-inspect:{ref}" not in self.cache:
            seconds = listed.get(ref)
            if type(seconds) is int and seconds > 0:
                from datetime import UTC
                from datetime import datetime as _datetime

                try:
                    return _datetime.fromtimestamp(seconds, UTC)
                except (OverflowError, OSError, ValueError):
                    pass
        image = self.local_image(ref)
        if not image:
            return None
        return parse_created(str(image.get("Created") or ""))
