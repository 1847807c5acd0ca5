"""Benchmark: `lockdock scan --no-engine` against compose-lint over the same compose corpus.

Generates a corpus of varied compose projects (anchors and merge keys, overrides, `.env`
interpolation, long and short syntax, many services), then times, in the same run and for
several rounds, one `lockdock scan --no-engine --format json CORPUS` against one
`compose-lint check --format json FILES...` over the same files. Prints per-round times,
medians, the ratio and how many findings each tool reported. Not a test.

    python bench/compose_bench.py [--files 300] [--rounds 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

IMAGES = ["nginx:latest", "nginx:1.25.3", "postgres:16", "redis", "python:3.12", "node:20-alpine",
          "someuser/app:dev", "ghcr.io/acme/api:1.4.2", "mysql:8.0", "busybox:1.36", "traefik:v3.0",
          "grafana/grafana:10.4.2", "mongo:7", "${IMAGE:-alpine:latest}", "elasticsearch:8.13.0"]
SNIPPETS = [
    "privileged: true", "privileged: no", "read_only: yes", "read_only: false", "user: root",
    'user: "1000:1000"', "network_mode: host", "pid: host", "restart: always", "restart: unless-stopped",
    "cap_drop: [ALL]", "cap_add: [SYS_ADMIN]", "cap_add: [NET_BIND_SERVICE]",
    "security_opt: [no-new-privileges:true]", "security_opt:\n  - seccomp:unconfined",
    "mem_limit: 512m", "cpus: 0.5", "pids_limit: 100",
    "deploy:\n  resources:\n    limits:\n      memory: 256M\n      cpus: '0.25'",
    "healthcheck:\n  test: [CMD, wget, -q, localhost]\n  interval: 30s",
    "healthcheck:\n  disable: true",
    "logging:\n  driver: json-file\n  options:\n    max-size: 10m\n    max-file: '3'",
    "logging:\n  driver: none",
    "volumes:\n  - /var/run/docker.sock:/var/run/docker.sock\n  - ./data:/data",
    "volumes:\n  - type: bind\n    source: /etc\n    target: /host/etc",
    "volumes:\n  - dbdata:/var/lib/data\n  - /srv/app:/app:ro",
    "devices:\n  - /dev/fuse",
    "environment:\n  DB_PASSWORD: hunter2hunter2\n  LOG_LEVEL: debug",
    "environment:\n  - API_TOKEN=${API_TOKEN}\n  - DATABASE_URL=postgres://u:pw12345@db/app",
    "environment:\n  SECRET_KEY_FILE: /run/secrets/key",
    "ports:\n  - '8080:80'\n  - '127.0.0.1:5432:5432'",
    "ports:\n  - target: 6379\n    published: 6379",
    "ports: ['22:22', '0.0.0.0:443:443']",
    "networks: [back]",
    "tmpfs: [/tmp]",
]


def _indent(block: str, n: int) -> str:
    return "".join(" " * n + line + "\n" for line in block.splitlines())


def make_project(rng: random.Random, d: Path, i: int) -> list[Path]:
    """One compose project (returns its compose files, main first)."""
    d.mkdir(parents=True)
    n_services = rng.randint(1, 12)
    lines: list[str] = []
    if i % 4 == 0:
        lines.append("x-common: &common\n  restart: unless-stopped\n  read_only: true\n"
                     "  logging:\n    driver: json-file\n    options:\n      max-size: 10m\n")
    lines.append("services:")
    for s in range(n_services):
        lines.append(f"  svc{s}:")
        if i % 4 == 0 and s % 2 == 0:
            lines.append("    <<: *common")
        if i % 9 == 0 and s == 0:
            lines.append("    build: .")
            (d / "Dockerfile").write_text("FROM alpine:3.19\nUSER 1000\n")
        else:
            lines.append(f"    image: {rng.choice(IMAGES)}")
        used = {"image", "build", "<<"}
        for snip in rng.sample(SNIPPETS, rng.randint(2, 9)):
            key = snip.split(":", 1)[0]
            if key in used or (i % 4 == 0 and s % 2 == 0 and key in ("restart", "read_only", "logging")):
                continue  # valid compose: one value per key
            used.add(key)
            lines.append(_indent(snip, 4).rstrip("\n"))
    lines.append("networks:\n  back:\n    internal: true")
    lines.append("volumes:\n  dbdata: {}")
    main = d / "compose.yaml"
    main.write_text("\n".join(lines) + "\n")
    files = [main]
    if i % 5 == 0:
        over = d / "compose.override.yaml"
        over.write_text("services:\n  svc0:\n    privileged: true\n    ports: ['9000:9000']\n")
        files.append(over)
    if i % 3 == 0:
        (d / ".env").write_text("IMAGE=alpine:3.19\nAPI_TOKEN=x\n")
    return files


def build_corpus(root: Path, count: int, seed: int = 7) -> list[list[Path]]:
    rng = random.Random(seed)
    return [make_project(rng, root / f"p{i:04d}", i) for i in range(count)]


@dataclass
class Timing:
    wall: float
    cpu: float  # user + system time of the child: steadier than wall time on a shared machine


def bench_env(root: Path) -> dict[str, str]:
    """Both tools run as installed software would: bytecode cached (outside the source tree)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    return env


def timed(cmd: list[str], cwd: Path) -> tuple[Timing, subprocess.CompletedProcess[str]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=1800, env=bench_env(cwd), check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(wall, cpu), proc


def count_lockdock(proc: subprocess.CompletedProcess[str]) -> tuple[int, int]:
    data = json.loads(proc.stdout)
    compose = [f for f in data["findings"] if f["target"]["kind"].startswith("compose")]
    return len(compose), len({f["check"] for f in compose})


def count_compose_lint(proc: subprocess.CompletedProcess[str]) -> tuple[int, int]:
    data = json.loads(proc.stdout)
    findings = data.get("findings", []) if isinstance(data, dict) else data
    return len(findings), len({f.get("rule_id") for f in findings})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=300, help="compose projects to generate")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--keep", type=Path, help="generate the corpus here and keep it")
    args = ap.parse_args(argv)
    compose_lint = shutil.which("compose-lint")
    if compose_lint is None:
        print("compose-lint is not installed: pip install compose-lint", file=sys.stderr)
        return 2
    root = args.keep or Path(tempfile.mkdtemp(prefix="lockdock-bench-"))
    projects = build_corpus(root / "corpus", args.files)
    mains = [str(p[0]) for p in projects]
    n_files = sum(len(p) for p in projects)
    print(f"corpus: {len(projects)} projects, {n_files} compose files under {root / 'corpus'}; "
          f"load average {os.getloadavg()[0]:.1f}")
    lockdock_cmd = [sys.executable, "-m", "lockdock", "scan", "--no-engine", "--format", "json",
                    str(root / "corpus")]
    lint_cmd = [compose_lint, "check", "--format", "json", "--allow-partial-coverage", *mains]
    runs: dict[str, list[Timing]] = {"lockdock": [], "compose-lint": []}
    ld_counts = cl_counts = (0, 0)
    for cmd in (lockdock_cmd, lint_cmd):  # warm-up: bytecode caches, disk cache
        timed(cmd, root)
    for r in range(args.rounds):
        t_ld, p_ld = timed(lockdock_cmd, root)
        t_cl, p_cl = timed(lint_cmd, root)
        if p_ld.returncode not in (0, 1):
            print(p_ld.stderr[-2000:], file=sys.stderr)
            return 1
        ld_counts = count_lockdock(p_ld)
        try:
            cl_counts = count_compose_lint(p_cl)
        except json.JSONDecodeError:
            print(f"compose-lint exit {p_cl.returncode}: {p_cl.stderr[-500:]}", file=sys.stderr)
        for name, t in (("lockdock", t_ld), ("compose-lint", t_cl)):
            runs[name].append(t)
        print(f"round {r + 1}: " + "  ".join(
            f"{name} {t.wall:.2f}s wall/{t.cpu:.2f}s cpu" for name, t in (("lockdock", t_ld), ("compose-lint", t_cl))))
    med = {name: (statistics.median(t.wall for t in ts), statistics.median(t.cpu for t in ts))
           for name, ts in runs.items()}
    cl_wall, cl_cpu = med["compose-lint"]
    for name, (wall, cpu) in med.items():
        print(f"median {name}: {wall:.2f}s wall, {cpu:.2f}s cpu; ratio to compose-lint "
              f"{wall / cl_wall:.2f} wall, {cpu / cl_cpu:.2f} cpu")
    print(f"findings: lockdock {ld_counts[0]} compose findings over {ld_counts[1]} check ids; "
          f"compose-lint {cl_counts[0]} findings over {cl_counts[1]} rules")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
