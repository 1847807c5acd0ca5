"""Benchmark: `lockdock fix --apply --unsafe --no-engine` over many small compose projects.

Builds the corpus of shared case fixes/17 (N projects with a web and a db service, plus a
second compose file in p1), optionally with ONE fix that always fails its rescan (a plugin
fixer registered in the child process that breaks p1's YAML), and times the command in a
fresh process with its own journal. Then times a second run, which must change nothing.
Prints one line per size: seconds for the first and the second run, fixes applied,
skipped, and whether the second run applied anything. Not a test (timings depend on the
machine); exits 1 when a second run still applies fixes.

    python bench/fix_bench.py [--sizes 20,100,250] [--bad] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WEB_DB = 'services:\n  web:\n    image: nginx:1.25\n    ports:\n      - "8080:80"\n  db:\n    image: postgres:16\n'
SECOND = "services:\n  nginx:\n    image: nginx:1.25\n    ports:\n    - '80:80'\n    depends_on:\n    - web\n  web:\n    image: nginx:1.25\n"

# The child process: register a fixer that offers, for p1's `db` service only, an edit that
# breaks the file (a tab where YAML forbids one), then run the CLI. Its rescan always fails.
_CHILD = r"""
import os
import sys
from lockdock import registry
from lockdock.model import Applicability, FileEdit, Fix, TargetKind, TextEdit
from lockdock.files import read_text
from pathlib import Path
registry.load_plugins()

def broken(finding, subject, ctx):
    path = os.path.abspath(finding.location.path or "")
    if "/p1/compose.yaml" not in path.replace("\\", "/") or "db" not in finding.target.name:
        return None
    tf = read_text(Path(path))
    at = tf.text.index("  db:")
    return Fix("Break the file (benchmark)", Applicability.UNSAFE, [FileEdit(path, [TextEdit(at, at, "\tx: [\n")], tf.sha256)])

registry.FIXERS.insert(0, registry.Fixer("runtime.restart-policy", (TargetKind.COMPOSE_SERVICE,), broken,
                                         "Break", Applicability.UNSAFE, False, "bench.broken"))
from lockdock.cli.entry import main
sys.exit(main(sys.argv[1:]))
"""


def make_corpus(root: Path, n: int) -> None:
    """N projects p1..pN, as in ../shared/cases/fixes/17-*/make.sh."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        d = root / f"p{i}"
        d.mkdir()
        (d / "compose.yaml").write_text(WEB_DB)
    (root / "p1" / "docker-compose.yml").write_text(SECOND)


def run(corpus: Path, state: Path, bad: bool) -> tuple[float, str]:
    env = dict(os.environ, LOCKDOCK_STATE_DIR=str(state))
    cmd = [sys.executable, "-c", _CHILD] if bad else [sys.executable, "-m", "lockdock"]
    start = time.perf_counter()
    proc = subprocess.run([*cmd, "fix", "--apply", "--unsafe", "--no-engine", str(corpus)],
                          capture_output=True, text=True, env=env, timeout=3600, check=False)
    return time.perf_counter() - start, proc.stdout


def counts(out: str) -> tuple[int, int]:
    m = re.search(r"(\d+) applied, (\d+) skipped", out)
    return (int(m.group(1)), int(m.group(2))) if m else (-1, -1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="20,100,250", help="comma-separated project counts")
    ap.add_argument("--bad", action="store_true", help="add one fix that always fails its rescan")
    ap.add_argument("--keep", type=Path, help="build the corpora here and keep them")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="lockdock-fixbench-"))
    converged = True
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            corpus = base / f"n{n}{'-bad' if args.bad else ''}"
            shutil.rmtree(corpus, ignore_errors=True)
            make_corpus(corpus, n)
            state = base / f"state-{n}"
            first, out1 = run(corpus, state, args.bad)
            second, out2 = run(corpus, state, args.bad)
            a1, s1 = counts(out1)
            a2, _s2 = counts(out2)
            converged &= a2 == 0
            print(f"N={n:4d} bad={'yes' if args.bad else 'no ':3s} first run {first:6.1f} s "
                  f"({a1} applied, {s1} skipped)  second run {second:5.1f} s ({a2} applied)", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0 if converged else 1


if __name__ == "__main__":
    sys.exit(main())
