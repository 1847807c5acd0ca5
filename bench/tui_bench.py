"""Benchmark the TUI on a busy host: 100 images, 500 containers (all made locally).

    python bench/tui_bench.py [--images 100] [--containers 500] [--keep]

Measures, in one run:
- time to first screen: from the start of a fresh Python process (imports included) to
  the app's first mounted screen;
- time until every container is analysed, and until the whole scan is done;
- peak memory (max RSS) of that process;
- the floor: `docker inspect` of all those containers (one CLI call), timed in the same run.
Everything created carries the label io.lockdock.bench=tui-<pid> and is removed at the end.
Not a test: it prints numbers (and JSON with --json).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

LABEL = "io.lockdock.bench"
# This run's label value and name prefix: a benchmark run by someone else on the same engine
# (image_bench, fleet_bench, another tui_bench) keeps its objects when this one cleans up.
RUN = f"tui-{os.getpid()}"
PREFIX = f"lockdock-bench-{RUN}"


def _tar(files: dict[str, tuple[bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 1767225600
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def images_archive(count: int) -> bytes:
    """One `docker load` archive with `count` distinct images sharing a busybox layer."""
    busybox = Path("/bin/busybox").read_bytes()
    base = _tar({"bin/busybox": (busybox, 0o755)})
    base_id = "sha256:" + hashlib.sha256(base).hexdigest()
    out = io.BytesIO()
    manifest = []
    with tarfile.open(fileobj=out, mode="w") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add("base/layer.tar", base)
        for i in range(count):
            app = _tar({"app/id": (f"image {i}\n".encode(), 0o644)})
            cfg = json.dumps({
                "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
                "config": {"Cmd": ["/bin/busybox", "sleep", "3600"], "Labels": {LABEL: RUN}},
                "rootfs": {"type": "layers", "diff_ids": [base_id, "sha256:" + hashlib.sha256(app).hexdigest()]},
                "history": [{"created_by": "COPY busybox /bin/"}, {"created_by": f"COPY app{i} /app/"}],
            }).encode()
            cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
            add(cfg_name, cfg)
            add(f"app{i}/layer.tar", app)
            manifest.append({"Config": cfg_name, "RepoTags": [f"{PREFIX}/img{i}:1.0"],
                             "Layers": ["base/layer.tar", f"app{i}/layer.tar"]})
        add("manifest.json", json.dumps(manifest).encode())
    return out.getvalue()


def cleanup(api: Any) -> None:
    """Remove this run's containers and images (label io.lockdock.bench=RUN), best effort."""
    for c in api.containers(all=True, filters={"label": f"{LABEL}={RUN}"}):
        with contextlib.suppress(Exception):  # best effort
            api.remove_container(c["Id"], force=True)
    for img in api.images(filters={"label": f"{LABEL}={RUN}"}):
        with contextlib.suppress(Exception):
            api.remove_image(img["Id"], force=True)


def setup(api: Any, images: int, containers: int) -> list[str]:
    t = time.perf_counter()
    for _ in api.load_image(images_archive(images)):
        pass
    print(f"loaded {images} images in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    t = time.perf_counter()

    def create(i: int) -> str:
        return api.create_container(
            f"{PREFIX}/img{i % images}:1.0", name=f"{PREFIX}-{i}", labels={LABEL: RUN},
            host_config=api.create_host_config(privileged=(i % 7 == 0)),
        )["Id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(containers)))
    print(f"created {containers} containers in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    return ids


def floor(ids: list[str]) -> float:
    """`docker inspect` of every container in one call: what any tool has to wait for."""
    t = time.perf_counter()
    subprocess.run(["docker", "inspect", *ids], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


CHILD = r'''
import time, sys
T0 = time.perf_counter()
import asyncio, resource, json
from lockdock.tui import create_app
from lockdock.model import TargetKind

async def main():
    app = create_app([sys.argv[1]], use_engine=True, head_start=True)  # as `lockdock tui` does
    out = {}
    async with app.run_test(size=(120, 36)) as pilot:
        out["first_screen"] = time.perf_counter() - T0
        want = int(sys.argv[2])
        while True:
            await pilot.pause(0.02)
            done = sum(1 for k in app.state.targets.values() if k.target.kind is TargetKind.CONTAINER)
            if "containers_done" not in out and done >= want:
                out["containers_done"] = time.perf_counter() - T0
            if not app.state.progress.running and app.state.progress.elapsed is not None:
                out["scan_done"] = time.perf_counter() - T0
                out.setdefault("containers_done", out["scan_done"])
                break
        out["targets"] = len(app.state.targets)
        out["containers"] = sum(1 for k in app.state.targets.values() if k.target.kind is TargetKind.CONTAINER)
        out["images"] = sum(1 for k in app.state.targets.values() if k.target.kind is TargetKind.IMAGE)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))

asyncio.run(main())
'''


PYCACHE = Path(tempfile.gettempdir()) / f"lockdock-bench-pycache-{os.getuid()}"


def run_app(containers_total: int, *, warm: bool = True) -> dict[str, Any]:
    """Time the TUI in a fresh process (the second of two runs when `warm`: bytecode and the
    image layer cache filled, as on any run after the first)."""
    with tempfile.TemporaryDirectory() as empty:
        # As installed software runs: bytecode cached (outside the source tree), warmed by a first run.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(XDG_STATE_HOME=str(Path(empty) / "state"),
                   PYTHONPYCACHEPREFIX=os.environ.get("PYTHONPYCACHEPREFIX") or str(PYCACHE))
        for _ in range(2 if warm else 1):
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, empty, str(containers_total)],
                capture_output=True, text=True, env=env, timeout=1800, check=False,
            )
    if proc.returncode != 0:
        raise SystemExit(f"app run failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    import docker

    parser = argparse.ArgumentParser(description="lockdock TUI benchmark")
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--containers", type=int, default=500)
    parser.add_argument("--keep", action="store_true", help="keep the images and containers")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    api = docker.APIClient(version="auto", timeout=300)
    cleanup(api)
    try:
        ids = setup(api, args.images, args.containers)
        total_containers = len(api.containers(all=True, quiet=True))
        inspect_floor = floor([c["Id"] for c in api.containers(all=True, quiet=True)])
        app = run_app(total_containers)
        result = {
            "images_created": args.images,
            "containers_created": len(ids),
            "containers_on_host": total_containers,
            "docker_inspect_all_s": round(inspect_floor, 3),
            **{k: round(v, 3) if isinstance(v, float) else v for k, v in app.items()},
        }
        after_screen = result["containers_done"] - result["first_screen"]
        result["containers_after_first_screen_s"] = round(after_screen, 3)
        result["containers_vs_floor"] = round(after_screen / inspect_floor, 2)
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            for k, v in result.items():
                print(f"{k:>24}: {v}")
    finally:
        if not args.keep:
            cleanup(api)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
