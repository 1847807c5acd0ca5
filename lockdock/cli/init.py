"""`lockdock init`: write a starter `.lockdock.toml` that names every key the config accepts.

Every setting is commented out at its default, so the file changes nothing until a line is
uncommented. An existing file is never overwritten without `--force`; the file is written
through a temporary file and renamed, so it is never half-written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from lockdock.cli.options import EXIT_OK, EXIT_USAGE
from lockdock.text import sanitize

STARTER = """\
# lockdock configuration (https://github.com/lockdock/lockdock#configuration).
# Every setting below is commented out at its default: uncomment what you need.
# This file wins over ~/.config/lockdock/config.toml; `lockdock checks` lists the check ids.

# Checks (ids or layer names: image, container, secrets, network, runtime, build, registry)
# that are not reported anywhere in this project.
# ignore = ["image.pinned-digest"]

# Exit 1 when a finding is at or above this severity (critical, high, medium, low, info).
# fail-on = "high"

# Registries whose images count as trusted (registry.trusted-source).
# trusted-registries = ["registry.example.com"]

# Days after which a base image counts as stale (image.fresh-base).
# freshness-days = 90

# Days after which a secret file should have been rotated (secrets.rotation).
# rotation-days = { password = 30, key = 90 }

# TUI key bindings: binding id = key (ids: `?` in the TUI lists them).
# keys = { rescan = "f5" }

# Checks ignored only under some paths (glob = [ids or layers]).
# [per-path-ignores]
# "legacy/*" = ["build.exec-form"]

# Checks ignored only for an image name ("repo/name" for every tag, "repo/name:tag" for one):
# images of that name and the containers created from it.
# [per-image-ignores]
# "registry.example.com/shop/api" = ["image.pinned-digest"]

# Severity overrides: check id (or layer) = severity.
# [severity]
# "runtime.healthcheck" = "medium"

# [scan]
# Seconds a whole scan may take, engine calls included (--timeout and LOCKDOCK_TIMEOUT win).
# timeout = 600
# Only containers carrying every one of these labels ("key" or "key=value").
# container-labels = ["com.docker.compose.project=shop"]
# An engine that cannot be reached fails the scan with exit 2 (--require-engine).
# require-engine = false
"""


def add_init_parser(sub: argparse._SubParsersAction) -> None:
    """Register `init` on the subcommand parser `sub`."""
    p = sub.add_parser("init", help="write a starter .lockdock.toml (every key, commented out)")
    p.add_argument("directory", nargs="?", type=Path, default=Path("."),
                   help="where to write .lockdock.toml (default: .)")
    p.add_argument("--force", action="store_true", help="overwrite an existing .lockdock.toml")


def run_init(args: argparse.Namespace) -> int:
    """Write `.lockdock.toml`; returns 0, or 2 when it exists (without --force) or cannot be
    written."""
    target = args.directory / ".lockdock.toml"
    if not args.directory.is_dir():
        print(f"lockdock init: {sanitize(args.directory)}: not a directory", file=sys.stderr)
        return EXIT_USAGE
    if os.path.lexists(target) and not args.force:
        print(f"lockdock init: {sanitize(target)} exists; not overwritten (use --force)", file=sys.stderr)
        return EXIT_USAGE
    try:
        fd, tmp = tempfile.mkstemp(prefix=".lockdock-init-", dir=args.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(STARTER)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        print(f"lockdock init: cannot write {sanitize(target)}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"lockdock init: wrote {sanitize(target)}; every setting is commented out at its default")
    return EXIT_OK
