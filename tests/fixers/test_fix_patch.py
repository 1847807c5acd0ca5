"""`lockdock fix` output is a patch `git apply` accepts: CRLF kept, tabs kept, secrets
masked only where they are (said in a header), `--unmasked-diff` for a raw patch."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

COMPOSE_CRLF = b'services:\r\n  web:\r\n    image: nginx:1.25\r\n    ports:\r\n      - "8080:80"\r\n'
DOCKERFILE_TABS = b"FROM debian:12\nRUN apt-get update && \\\n\tapt-get install -y curl\nCMD [\"curl\"]\n"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lockdock", *args], cwd=cwd, capture_output=True, timeout=120)


def _git_apply_check(root: Path, diff: bytes, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "fix.diff").write_bytes(diff)
    return subprocess.run(["git", "apply", "--check", "-v", str(tmp_path / "fix.diff")], cwd=root,
                          capture_output=True, text=True)


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def test_crlf_and_tab_files_diff_applies_with_git(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "compose.yaml").write_bytes(COMPOSE_CRLF)
    (root / "Dockerfile").write_bytes(DOCKERFILE_TABS)
    r = _cli("fix", "--no-engine", "--unsafe", ".", cwd=root)
    assert r.returncode == 0, r.stderr
    assert b"+++ b/compose.yaml" in r.stdout and b"\r\n" in r.stdout  # the CRLF file's lines keep \r
    assert b"\tapt-get" in r.stdout  # a tab stays a tab
    assert b"masked" not in r.stdout  # no secret: no masking header
    check = _git_apply_check(root, r.stdout, tmp_path)
    assert check.returncode == 0, check.stderr
    subprocess.run(["git", "apply", str(tmp_path / "fix.diff")], cwd=root, check=True)
    compose = (root / "compose.yaml").read_bytes()
    assert compose != COMPOSE_CRLF and b"127.0.0.1:8080:80" in compose
    assert b"\n" not in compose.replace(b"\r\n", b"")  # every line still ends in CRLF
    assert (root / "Dockerfile").read_bytes() != DOCKERFILE_TABS


SECRET = "sk_live_51HqLyjWDarjtT1zdp7dcXYZabcdef12"


def _secret_project(tmp_path: Path) -> Path:
    root = _repo(tmp_path)
    (root / "compose.yaml").write_text(
        "services:\n  api:\n    image: nginx:1.25\n    environment:\n"
        f"      STRIPE_SECRET_KEY: {SECRET}\n    ports:\n      - \"8080:80\"\n"
    )
    return root


def test_masked_diff_says_so_and_never_shows_the_value(tmp_path: Path) -> None:
    root = _secret_project(tmp_path)
    r = _cli("fix", "--no-engine", "--unsafe", ".", cwd=root)
    assert r.returncode in (0, 1), r.stderr
    assert SECRET.encode() not in r.stdout and SECRET.encode() not in r.stderr
    assert r.stdout.startswith(b"# lockdock: secret values are masked on ")


def test_unmasked_diff_to_a_pipe_applies_and_warns(tmp_path: Path) -> None:
    root = _secret_project(tmp_path)
    r = _cli("fix", "--no-engine", "--unsafe", "--unmasked-diff", ".", cwd=root)
    assert r.returncode in (0, 1), r.stderr
    assert SECRET.encode() in r.stdout and b"masked" not in r.stdout
    assert b"warning: --unmasked-diff" in r.stderr and SECRET.encode() not in r.stderr
    check = _git_apply_check(root, r.stdout, tmp_path)
    assert check.returncode == 0, check.stderr


def test_unmasked_diff_refused_on_a_terminal(tmp_path: Path) -> None:
    root = _secret_project(tmp_path)
    main, sub = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "lockdock", "fix", "--no-engine", "--unmasked-diff", "."],
                              cwd=root, stdout=sub, stderr=subprocess.PIPE, timeout=120)
        os.close(sub)
        shown = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(main)
    assert proc.returncode == 2
    assert b"--unmasked-diff refused" in proc.stderr and SECRET.encode() not in shown
