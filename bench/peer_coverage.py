"""Per-peer coverage of lockdock, rule by rule (issue 12's measure).

Runs the rows of tests/peers (every rule of hadolint, Trivy's Dockerfile checks, checkov,
compose-lint, KICS Dockerfile and docker-compose queries, dockle, docker-bench-security
sections 2, 4 and 5) through the real `lockdock scan` and prints, per peer, the security
rules caught / in scope and the rules judged out of scope with the reason. Image and
container rows need the local Docker engine; without one (or with --no-engine) they show
as `not run`. Exits 1 when an in-scope rule is missed. Not a test: tests/peers asserts the
same rows.

    python bench/peer_coverage.py [--no-engine] [--verbose]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.peers.catalogue import ALL_ROWS
from tests.peers.harness import EngineWorld, scan_files, scan_hosts
from tests.peers.table import MISSED, outcome, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-engine", action="store_true", help="skip the image and container rows")
    parser.add_argument("--verbose", action="store_true", help="list every caught rule with its check id")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lockdock-peers-") as tmp:
        root = Path(tmp)
        # Like the tests: a private HOME and XDG dirs, so no user config or cache counts.
        for key in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "DOCKER_CONFIG"):
            (root / key.lower()).mkdir()
            os.environ[key] = str(root / key.lower())
        fired, _ = scan_files(ALL_ROWS, root)
        fired.update(scan_hosts(ALL_ROWS, root)[0])
        if not args.no_engine:
            try:
                import docker

                api = docker.APIClient(base_url=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
                                       version="auto", timeout=60)
                api.ping()
            except Exception as exc:  # noqa: BLE001  # any failure to reach the engine
                print(f"no Docker engine ({exc}): image and container rows not run", file=sys.stderr)
            else:
                world = EngineWorld(ALL_ROWS, api, root)
                try:
                    world.build()
                    fired.update(world.scan()[0])
                finally:
                    world.close()
    print(render(fired, verbose=args.verbose))
    print(f"({time.monotonic() - started:.1f} s)")
    return 1 if any(outcome(row, fired) == MISSED for row in ALL_ROWS) else 0


if __name__ == "__main__":
    sys.exit(main())
