"""Targets read back from JSON reports (`lockdock tui --from REPORT.json...`), browsed read-only.

Runs only when the scan context names report files (`ctx.cache["report-files"]`, a list of
paths); the subjects carry their findings (`ReportSubject.report_findings`), so no analyzer
runs on them. A report that cannot be read is one error; the others are shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lockdock.context import ScanContext
from lockdock.discovery import Discovery
from lockdock.registry import source
from lockdock.reportfile import ReportError, ReportSubject, host_name, load, subjects

REPORT_FILES = "report-files"


@source("reports", order=1)
def reports(discovery: Discovery, ctx: ScanContext) -> Iterator[ReportSubject]:
    paths = ctx.cache.get(REPORT_FILES) or []
    taken: set[str] = set()
    for path in paths:
        try:
            data = load(Path(path))
        except ReportError as exc:
            ctx.error(None, str(exc))
            continue
        found: list = []
        yield from subjects(data, host_name(Path(path), data, taken), found)
        for e in found:
            ctx.error(e.path, e.message, kind=e.kind)
