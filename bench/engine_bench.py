"""Benchmark: listing 600 containers whose inspect each takes 20 ms (a fake engine socket).

One after another this costs 12 s; lockdock inspects in parallel batches, and the goal is
under 8 s on a loaded 2-core machine (moved here from tests/engine/test_faults.py, which
asserts the behaviour: several inspects in flight, order kept). Prints the wall time of
each round and the median. Not a test.

    python bench/engine_bench.py [--containers 600] [--delay-ms 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lockdock.context import ScanContext
from lockdock.engine.connect import connect
from lockdock.engine.containers import iter_containers
from tests.engine.fakeengine import FakeEngine, Reply, ok

INSPECT = {
    "Id": "b" * 64, "Name": "/web", "Image": "sha256:" + "c" * 64,
    "Config": {"Image": "web:1.0", "User": "app", "Env": [], "Labels": {}},
    "HostConfig": {"Privileged": True}, "State": {"Running": False}, "Mounts": [],
}
GOAL_SECONDS = 8.0


def one_round(n: int, delay: float) -> float:
    ids = [f"{i:064x}" for i in range(n)]
    with tempfile.TemporaryDirectory(prefix="lockdock-bench-") as d:
        sock = Path(d) / "e.sock"
        with FakeEngine(sock, {"/containers/json": ok([{"Id": i} for i in ids])}) as engine:
            real = engine.reply_for

            def reply_for(path: str) -> Reply:
                if path.startswith("/containers/") and path.endswith("/json") and path != "/containers/json":
                    time.sleep(delay)
                    data = copy.deepcopy(INSPECT)
                    data["Id"] = path.split("/")[2]
                    return ok(data)
                return real(path)

            engine.reply_for = reply_for  # type: ignore[method-assign]
            os.environ["DOCKER_HOST"] = f"unix://{sock}"
            ctx = ScanContext(cwd=Path(d), engine=connect(timeout=10))
            start = time.monotonic()
            subjects = iter_containers(ctx)
            elapsed = time.monotonic() - start
    if len(subjects) != n:
        raise SystemExit(f"listed {len(subjects)} of {n} containers: {[e.message for e in ctx.errors][:3]}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--containers", type=int, default=600)
    ap.add_argument("--delay-ms", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    times = [one_round(args.containers, args.delay_ms / 1000) for _ in range(args.rounds)]
    serial = args.containers * args.delay_ms / 1000
    for i, t in enumerate(times, 1):
        print(f"round {i}: {t:.2f} s")
    med = statistics.median(times)
    print(f"median {med:.2f} s (one after another: {serial:.1f} s; goal < {GOAL_SECONDS:g} s): "
          f"{'met' if med < GOAL_SECONDS else 'MISSED'}")
    return 0 if med < GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
