"""Benchmark the TUI on a busy host: 100 images, 500 containers (all made locally).

    python bench/tui_bench.py [--images 100] [--containers 500] [--rounds 3] [--keep]

Measures, in one run (medians of `--rounds` fresh processes, after one warm-up run):
- time to first screen: from the start of a fresh Python process (imports included) to
  the app's first mounted screen, the app built as `lockdock tui` builds it (the engine
  read starts before Textual is imported: `create_app(..., head_start=True)`);
- time until every container is analysed, and until the whole scan is done;
- CPU time (user + system) and peak memory (max RSS) of that process, its CPU time before
  the first screen, and the CPU time of its engine scan child (`lockdock.tui.childscan`,
  reaped when its results are in; 0 without one, e.g. with LOCKDOCK_JOBS=1);
- the floor: `docker inspect` of every container and `docker image inspect` of every
  image on the host (one CLI call each), timed in the same run;
- the tool's own floor: `python -c "import textual"`, and an empty Textual app's first
  frame (import included), in fresh processes.
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
import statistics
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


def cleanup_stale(api: Any) -> int:
    """Remove containers and images that an earlier bench run left behind when it was killed:
    label io.lockdock.bench=tui-PID where no process PID lives any more (a run still going,
    another engineer's included, keeps its objects). Returns how many containers went."""
    def stale(value: str) -> bool:
        if not value.startswith("tui-") or not value[4:].isdigit():
            return False
        return not os.path.exists(f"/proc/{value[4:]}")

    gone = 0
    for c in api.containers(all=True, filters={"label": LABEL}):
        if stale((c.get("Labels") or {}).get(LABEL, "")):
            with contextlib.suppress(Exception):  # best effort
                api.remove_container(c["Id"], force=True)
                gone += 1
    for img in api.images(filters={"label": LABEL}):
        if stale((img.get("Labels") or {}).get(LABEL, "")):
            with contextlib.suppress(Exception):
                api.remove_image(img["Id"], force=True)
    return gone


def setup(api: Any, images: int, containers: int) -> list[str]:
    t = time.perf_counter()
    for _ in api.load_image(images_archive(images)):
        pass
    print(f"loaded {images} images in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    return add_containers(api, images, 0, containers)


def add_containers(api: Any, images: int, first: int, stop: int) -> list[str]:
    """Create this run's containers number `first` to `stop - 1` (one image of `setup`
    each, every 7th privileged); returns their ids."""
    t = time.perf_counter()

    def create(i: int) -> str:
        return api.create_container(
            f"{PREFIX}/img{i % images}:1.0", name=f"{PREFIX}-{i}", labels={LABEL: RUN},
            host_config=api.create_host_config(privileged=(i % 7 == 0)),
        )["Id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(first, stop)))
    print(f"created {stop - first} containers in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    return ids


def floor(ids: list[str], images: list[str] | None = None) -> float:
    """`docker inspect` of every container in one call, and `docker image inspect` of
    every image in another: what any tool has to wait for. (Not checked: on a shared
    engine an object may vanish meanwhile; the others are inspected all the same.)"""
    t = time.perf_counter()
    subprocess.run(["docker", "inspect", *ids], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if images:
        subprocess.run(["docker", "image", "inspect", *images], check=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def host_ids(api: Any) -> tuple[list[str], list[str]]:
    """Every container id and every image id on the host (the TUI scans them all)."""
    containers = [c["Id"] for c in api.containers(all=True, quiet=True)]
    images = sorted({i["Id"] for i in api.images(quiet=False)})
    return containers, images


CHILD = r'''
import time, sys
T0 = time.perf_counter()
import asyncio, resource, json
from lockdock.tui import create_app
from lockdock.model import TargetKind

app = create_app([sys.argv[1]], use_engine=True, head_start=True)  # as `lockdock tui` does

async def main():
    out = {}
    async with app.run_test(size=(120, 36)) as pilot:
        out["first_screen"] = time.perf_counter() - T0
        out["first_screen_cpu_s"] = time.process_time()  # this process, every thread
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
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_s"] = usage.ru_utime + usage.ru_stime
    out["peak_rss_mb"] = usage.ru_maxrss / 1024
    # The engine scan's child process (`lockdock.tui.childscan`), reaped when its results are in.
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    out["child_cpu_s"] = kids.ru_utime + kids.ru_stime
    out["total_cpu_s"] = out["cpu_s"] + out["child_cpu_s"]
    print(json.dumps(out))

asyncio.run(main())
'''


PYCACHE = Path(tempfile.gettempdir()) / f"lockdock-bench-pycache-{os.getuid()}"


EMPTY_APP = r'''
import time
T0 = time.perf_counter()
import asyncio, json, resource
from textual.app import App

async def main():
    async with App().run_test(size=(120, 36)):
        first = time.perf_counter() - T0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"first_frame": first, "cpu_s": usage.ru_utime + usage.ru_stime}))

asyncio.run(main())
'''


def _env(empty: str) -> dict[str, str]:
    # As installed software runs: bytecode cached (outside the source tree), warmed by a first run.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(XDG_STATE_HOME=str(Path(empty) / "state"),
               PYTHONPYCACHEPREFIX=os.environ.get("PYTHONPYCACHEPREFIX") or str(PYCACHE))
    return env


def _child(code: str, *args: str, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=1800, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"run failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        out[key] = statistics.median(r[key] for r in runs) if isinstance(value, float) else value
    return out


def run_app(containers_total: int, *, warm: bool = True, rounds: int = 1) -> dict[str, Any]:
    """Time the TUI in fresh processes: medians of `rounds` runs, after a first run when
    `warm` (bytecode and the image layer cache filled, as on any run after the first)."""
    with tempfile.TemporaryDirectory() as empty:
        env = _env(empty)
        if warm:
            _child(CHILD, empty, str(containers_total), env=env)
        return _medians([_child(CHILD, empty, str(containers_total), env=env) for _ in range(max(1, rounds))])


def tool_floor(rounds: int = 3) -> dict[str, float]:
    """What Textual costs before lockdock does anything, in fresh processes (medians):
    `import textual` alone, and an empty `App`'s first frame (imports included)."""
    with tempfile.TemporaryDirectory() as empty:
        env = _env(empty)
        imports, frames, cpus = [], [], []
        _child(EMPTY_APP, env=env)  # warm the bytecode
        for _ in range(max(1, rounds)):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import textual.app"], env=env, check=True)
            imports.append(time.perf_counter() - t)
            got = _child(EMPTY_APP, env=env)
            frames.append(got["first_frame"])
            cpus.append(got["cpu_s"])
    return {"import_textual_s": statistics.median(imports), "empty_app_first_frame_s": statistics.median(frames),
            "empty_app_cpu_s": statistics.median(cpus)}


def main(argv: list[str] | None = None) -> int:
    import docker

    parser = argparse.ArgumentParser(description="lockdock TUI benchmark")
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--containers", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="fresh app processes timed (medians)")
    parser.add_argument("--keep", action="store_true", help="keep the images and containers")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    api = docker.APIClient(version="auto", timeout=300)
    cleanup(api)
    try:
        ids = setup(api, args.images, args.containers)
        containers, images = host_ids(api)
        floor(containers, images)  # warm the daemon's caches as the app's warm-up run does
        inspect_floor = statistics.median(floor(containers, images) for _ in range(max(1, args.rounds)))
        app = run_app(len(containers), rounds=args.rounds)
        result = {
            "images_created": args.images,
            "containers_created": len(ids),
            "containers_on_host": len(containers),
            "images_on_host": len(images),
            "docker_inspect_all_s": round(inspect_floor, 3),
            **{k: round(v, 3) if isinstance(v, float) else v for k, v in app.items()},
            **{k: round(v, 3) for k, v in tool_floor(args.rounds).items()},
            "load_average": round(os.getloadavg()[0], 1),
        }
        after_screen = result["containers_done"] - result["first_screen"]
        result["containers_after_first_screen_s"] = round(after_screen, 3)
        result["all_analysed_vs_floor"] = round(result["scan_done"] / inspect_floor, 2)
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
