"""What the commands share: exit codes, usage errors, check selectors, the config lookup."""

from __future__ import annotations

import argparse
from pathlib import Path

from lockdock import checks
from lockdock.config import Config, load_config

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments discovered after parsing (unknown check id, bad severity)."""


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
