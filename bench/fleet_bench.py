"""Benchmark: a fleet scan of N engines costs about the slowest engine, not the sum; merging
100 host reports takes well under a second.

Starts 4 extra local dockerds (tests/fleet/dockerd.py: own socket, data-root, exec-root and
bridge; stopped by pid afterwards), gives each the same number of images (generated
layers, `docker load`) and stopped containers, then for several rounds times each engine
scanned alone and the engines scanned together (`lockdock.fleet.scan_fleet`, in process)
for N = 2 and 4. Prints per-engine times, the fleet time, and fleet/max and fleet/sum.
Every timed scan starts with an empty layer cache (its own XDG_CACHE_HOME), so each
engine's images are really read. `--latency-ms` puts each engine behind a unix-socket
relay that delays every request by that much, as a remote engine over SSH or TCP would
(0: local sockets, where the work is mostly Python on this machine's cores).
Then times `lockdock merge` (a new process each time: start-up, read, parse, combine,
render) of 100 copies of one engine's JSON report, as JSON, text and SARIF. Needs root and
dockerd. Not a test.

    python bench/fleet_bench.py [--images 6] [--containers 20] [--rounds 3] [--latency-ms 0]
    python bench/fleet_bench.py --merge-only REPORT.json   # merge timing only
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lockdock.context import ScanContext  # noqa: E402
from lockdock.engine.contexts import host_endpoint  # noqa: E402
from lockdock.fleet import scan_fleet  # noqa: E402
from tests.fleet.dockerd import ExtraDockerd, load_busybox, start_dockerd  # noqa: E402

LABEL = "io.lockdock.bench=fleet"


def image_tar(i: int, tag: str) -> bytes:
    """A loadable image with a few files (a shell, a key, a setuid binary) in 3 layers."""
    import hashlib

    def layer(files: dict[str, bytes]) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o4755 if name.endswith("su") else 0o644
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    blobs = [layer({f"etc/app{i}/conf{j}": (b"x" * 2000) + str(j).encode() for j in range(40)}),
             layer({"bin/su": b"\x7fELF" + bytes(5000), "root/.ssh/id_rsa": b"-----BEGIN RSA PRIVATE KEY-----\n"}),
             layer({f"usr/share/doc{i}/f{j}": bytes(1000) for j in range(200)})]
    diff_ids = ["sha256:" + hashlib.sha256(b).hexdigest() for b in blobs]
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "created": "2025-01-01T00:00:00Z",
                      "config": {"User": "", "Labels": {"io.lockdock.bench": "fleet"}, "Env": [f"APP={i}"]},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids},
                      "history": [{"created": "2025-01-01T00:00:00Z", "created_by": f"step {k}"} for k in range(3)]}).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        cname = hashlib.sha256(cfg).hexdigest() + ".json"
        add(cname, cfg)
        for k, b in enumerate(blobs):
            add(f"l{k}/layer.tar", b)
        add("manifest.json", json.dumps([{"Config": cname, "RepoTags": [tag],
                                          "Layers": [f"l{k}/layer.tar" for k in range(3)]}]).encode())
    return out.getvalue()


def populate(engine: ExtraDockerd, n: int, images: int, containers: int) -> None:
    load_busybox(engine, "bench-bb:1.0", {"io.lockdock.bench": "fleet"})
    for i in range(images):
        # Different content per engine: no analysis is shared, every engine does full work.
        subprocess.run(["docker", "-H", engine.host, "load"], input=image_tar(i * 10 + n, f"bench-img{i}:1.0"),
                       capture_output=True, check=True, timeout=300)
    for c in range(containers):
        engine.docker("create", "--label", LABEL, "--cap-add", "SYS_ADMIN", "-p", f"{20000 + c}:80",
                      "bench-bb:1.0", timeout=120)


class Relay:
    """A unix socket that forwards to `target`, delaying each client send by `delay` s."""

    def __init__(self, path: Path, target: str, delay: float) -> None:
        self.path, self.target, self.delay = path, target, delay
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(str(path))
        self.srv.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.srv.accept()
            except OSError:
                return
            up = socket.socket(socket.AF_UNIX)
            up.connect(self.target)
            threading.Thread(target=self._pump, args=(client, up, self.delay), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, client, 0.0), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, delay: float) -> None:
        try:
            while data := src.recv(65536):
                if delay:
                    time.sleep(delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def timed(hosts: list[str], workdir: Path) -> tuple[float, dict[str, float]]:
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="fleet-bench-cache-", dir=workdir.parent)
    ctx = ScanContext(cwd=workdir)
    start = time.perf_counter()
    result = scan_fleet([workdir], ctx, [host_endpoint(h) for h in hosts], engine_timeout=600)
    total = time.perf_counter() - start
    bad = [e for e in result.engines if e["error"]]
    if bad:
        raise SystemExit(f"engine failed: {bad}")
    return total, {e["name"]: e["seconds"] for e in result.engines}


def engine_report(workdir: Path, host: str) -> str:
    """One engine's JSON report as `lockdock scan --format json` writes it on that host."""
    from lockdock.reports import json_report
    from lockdock.scan import Severity

    ctx = ScanContext(cwd=workdir)
    result = scan_fleet([workdir], ctx, [host_endpoint(host)], engine_timeout=600)
    for tr in result.targets.values():  # a plain one-host report: merge names it by file
        tr.target = dataclasses.replace(tr.target, engine=None)
        for f in tr.findings:
            f.target = tr.target
    return json_report.render(result, Severity.HIGH, pretty=False)


def bench_merge(workdir: Path, one: str, copies: int = 100) -> tuple[int, dict[str, tuple[float, float]]]:
    """`lockdock merge` of `copies` copies of the report `one`, run as the user runs it (a
    new process, so start-up and imports count), per output format: (findings, {format:
    (median wall seconds, median CPU seconds)}); CPU time is steadier on a loaded machine."""
    reports = []
    for i in range(copies):
        p = workdir / f"host{i:03}.json"
        p.write_text(one)
        reports.append(str(p))
    times: dict[str, tuple[float, float]] = {}
    findings = 0
    for fmt in ("json", "text", "sarif"):
        runs, cpu = [], []
        for _ in range(5):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "lockdock", "merge", "--format", fmt, "-o",
                                   str(workdir / f"merged.{fmt}"), *reports], capture_output=True, check=False)
            runs.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            if done.returncode not in (0, 1):
                raise SystemExit(f"merge failed: {done.stderr.decode(errors='replace')[-500:]}")
        times[fmt] = (statistics.median(runs), statistics.median(cpu))
        if fmt == "json":
            findings = len(json.loads((workdir / "merged.json").read_text())["findings"])
    return findings, times


def print_merge(findings: int, times: dict[str, tuple[float, float]]) -> None:
    print(f"lockdock merge of 100 host reports ({findings} findings), new process each, median of 5: "
          + ", ".join(f"{fmt} {wall:.2f}s wall / {cpu:.2f}s CPU" for fmt, (wall, cpu) in times.items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--containers", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--merge-only", type=Path, metavar="REPORT.json",
                    help="only time `lockdock merge` of 100 copies of this report (no dockerd needed)")
    args = ap.parse_args()
    if args.merge_only is not None:
        with tempfile.TemporaryDirectory(prefix="lockdock-merge-bench-") as tmp:
            findings, merge_times = bench_merge(Path(tmp), args.merge_only.read_text())
        print_merge(findings, merge_times)
        return 0
    base = Path(tempfile.mkdtemp(prefix="lockdock-fleet-bench-"))
    work = base / "empty"
    work.mkdir()
    engines: list[ExtraDockerd] = []
    try:
        for n in range(4):
            engines.append(start_dockerd(base / f"engine{n}"))
            populate(engines[-1], n, args.images, args.containers)
        hosts = [e.host for e in engines]
        if args.latency_ms:
            relays = [Relay(base / f"relay{n}.sock", str(e.socket), args.latency_ms / 1000) for n, e in enumerate(engines)]
            hosts = [f"unix://{r.path}" for r in relays]
        print(f"4 extra dockerds, each {args.images} images + busybox, {args.containers} containers, "
              f"{args.latency_ms:g} ms added per request")
        for n in (2, 4):
            ratios_max, ratios_sum = [], []
            for r in range(args.rounds):
                alone = {h: timed([h], work)[0] for h in hosts[:n]}
                together, _per = timed(hosts[:n], work)
                worst, total = max(alone.values()), sum(alone.values())
                ratios_max.append(together / worst)
                ratios_sum.append(together / total)
                print(f"N={n} round {r + 1}: alone " + ", ".join(f"{v:.2f}s" for v in alone.values())
                      + f"; together {together:.2f}s (fleet/max {together / worst:.2f}, fleet/sum {together / total:.2f})")
            print(f"N={n} median: fleet/max {statistics.median(ratios_max):.2f}, "
                  f"fleet/sum {statistics.median(ratios_sum):.2f}")
        findings, merge_times = bench_merge(work, engine_report(work, hosts[0]))
        print_merge(findings, merge_times)
    finally:
        for e in engines:
            e.stop()
        subprocess.run(["rm", "-rf", str(base)], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
