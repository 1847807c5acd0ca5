"""What the commands share: exit codes, usage errors, the options `scan` and `fix` both take
(one definition, the same names and help in both), check selectors, the config lookup.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from lockdock import checks
from lockdock.config import Config, load_config
from lockdock.model import Severity

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

SEVERITY_WORDS = ", ".join(s.label for s in sorted(Severity, reverse=True))


class UsageError(Exception):
    """Bad arguments discovered after parsing (unknown check id, bad severity)."""


def _seconds(text: str) -> float:
    """argparse type of `--timeout`: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def add_common_options(p: argparse.ArgumentParser, *, command: str) -> None:
    """The options `scan` and `fix` share, registered on `p` under the same names.

    `command` ("scan" or "fix") only changes the help wording. Dests: select, ignore, config,
    no_engine, require_engine, image, daemon_json, timeout, severity.
    """
    from lockdock.context import DEFAULT_SCAN_TIMEOUT

    what = "findings" if command == "scan" else "fixes of the findings"
    p.add_argument("paths", nargs="*", type=Path,
                   help="files or directories (default: . unless --image is given)")
    p.add_argument("--select", action="append", metavar="IDS",
                   help=f"only {what} of these check ids or layers (comma-separated, repeatable)")
    p.add_argument("--ignore", action="append", metavar="IDS",
                   help=f"leave out {what} of these check ids or layers (comma-separated, repeatable)")
    p.add_argument("--severity", metavar="LEVEL",
                   help=f"only {what} at or above LEVEL ({SEVERITY_WORDS}); "
                   + ("display only: --fail-on still decides the exit code" if command == "scan" else ""))
    p.add_argument("--config", type=Path, metavar="FILE", help="use this config file instead of the usual lookup")
    p.add_argument("--no-engine", action="store_true",
                   help="files only: do not contact the Docker engine or read this machine's settings")
    p.add_argument("--require-engine", action="store_true",
                   help="an engine that cannot be reached, or answers with errors, is an error (exit 2) "
                   "instead of a note in the summary (config: [scan] require-engine = true)")
    p.add_argument("--image", action="append", default=[], metavar="REF",
                   help="scan this local image (and the containers running it) instead of the engine's "
                   "whole inventory and the current directory; give paths too to scan files as well "
                   "(repeatable; a REF not found locally is an error)")
    p.add_argument("--daemon-json", type=Path, metavar="PATH",
                   help="daemon.json to check (default /etc/docker/daemon.json)")
    p.add_argument("--timeout", type=_seconds, metavar="SECONDS",
                   help=f"bound for the whole scan; each engine call also waits at most what is left "
                   f"(default {DEFAULT_SCAN_TIMEOUT:g}, or LOCKDOCK_TIMEOUT, or [scan] timeout); engine "
                   "objects not reached in time are reported as not scanned")


def parse_severity(text: str | None, option: str) -> Severity | None:
    """`Severity` named by an option value, None when absent; raises `UsageError`."""
    if text is None:
        return None
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def selectors(values: list[str] | None) -> set[str]:
    """Check ids named by `--select`/`--ignore`/`--check` values (ids or layers, comma-separated).

    Raises `UsageError` for a word that is neither a check id nor a layer.
    """
    ids: set[str] = set()
    for value in values or []:
        for word in value.split(","):
            if not word.strip():
                continue
            try:
                ids |= checks.resolve_selector(word)
            except KeyError:
                raise UsageError(f"unknown check id or layer: {word.strip()!r} (see `lockdock checks`)") from None
    return ids


def config_for(args: argparse.Namespace, start: Path) -> Config:
    """The config named by `--config`, else the one found from `start` upwards."""
    return load_config(start, getattr(args, "config", None))


def write_report(text: str, output: Path | None) -> bool:
    """Write a rendered report to `output` (a file, replaced) or to stdout when None.
    Returns False, after saying why on stderr, when the file cannot be written."""
    import sys

    from lockdock.text import sanitize

    if output is None:
        sys.stdout.write(text)
        return True
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"lockdock: cannot write {sanitize(output)}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True
