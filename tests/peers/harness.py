"""Materialise the peer rows as real inputs and run the real `lockdock scan` over them.

Shapes: `scan_files(rows, root)` and `scan_hosts(rows, root)` return {row slug: set of check
ids reported on that row's target} plus {"skeleton-<kind>": ...} for the skeletons; the
engine side (`EngineWorld`) loads one image per image row and creates one container per
container row in the real Docker engine, then scans them all in one run. Everything
created carries the test labels and is removed by `EngineWorld.close()`.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.conftest import SESSION, SESSION_LABEL, STARTED, STARTED_LABEL, TEST_LABEL, image_tarball
from tests.peers.rows import DAEMON_JSON, DOCKERFILE_SKELETON, HOST_ENV, Row, compose, h

FILE_KINDS = {"dockerfile": "D", "compose-service": "C", "compose-file": "C"}


def run_scan(args: list[str], cwd: Path, env_changes: dict[str, str | None] | None = None, timeout: float = 600) -> dict[str, Any]:
    """`lockdock scan --format json ARGS` in a subprocess; the parsed report (raises on a crash)."""
    env = dict(os.environ)
    for key, value in (env_changes or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    proc = subprocess.run([sys.executable, "-m", "lockdock", "scan", "--format", "json", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)
    if proc.returncode not in (0, 1) or "Traceback" in proc.stderr:
        raise RuntimeError(f"lockdock scan exited {proc.returncode}: {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout)
    report["_raw"] = proc.stdout
    return report


def _write_row(folder: Path, kind: str, spec: Any) -> None:
    folder.mkdir(parents=True)
    if kind == "D":
        (folder / "Dockerfile").write_text(spec)
        (folder / "app.sh").write_text("#!/bin/sh\nexec true\n")
        (folder / ".dockerignore").write_text(".git\n.env\nsecrets/\n*.key\n*.pem\n")
    else:
        # JSON is YAML: compose reads it as written, and no YAML emitter choice is in the way.
        (folder / "compose.yaml").write_text(json.dumps(spec, indent=2) + "\n")


def scan_files(rows: Iterable[Row], root: Path) -> tuple[dict[str, set[str]], dict[str, Any]]:
    """One `lockdock scan --no-engine` over a folder per Dockerfile/compose row (and one per
    skeleton); returns ({slug: check ids on its D/C targets}, the report)."""
    files = root / "files"
    slugs = {"skeleton-d": "D", "skeleton-c": "C"}
    _write_row(files / "skeleton-d", "D", DOCKERFILE_SKELETON)
    _write_row(files / "skeleton-c", "C", compose())
    for row in rows:
        if row.kind in ("D", "C"):
            _write_row(files / row.slug, row.kind, row.spec)
            slugs[row.slug] = row.kind
    report = run_scan(["--no-engine", "files"], cwd=root)

    def slug_of(target: dict[str, Any]) -> str | None:
        if target["kind"] not in FILE_KINDS:
            return None
        return next((part for part in Path(target.get("path") or "").parts if part in slugs), None)

    # Only targets the scan reports as scanned get a key, so "no finding" means scanned clean.
    fired: dict[str, set[str]] = {slug: set() for slug in map(slug_of, report["targets"]) if slug}
    for finding in report["findings"]:
        slug = slug_of(finding["target"])
        if slug:
            fired.setdefault(slug, set()).add(finding["check"])
    return fired, report


def _host_scan(root: Path, slug: str, spec: dict[str, Any]) -> tuple[str, set[str], str]:
    folder = root / "hosts" / slug
    folder.mkdir(parents=True)
    daemon = folder / "daemon.json"
    daemon.write_text(json.dumps(spec["daemon"], indent=2))
    report = run_scan(["--no-engine", "--daemon-json", str(daemon), str(folder)], cwd=folder, env_changes=spec["env"])
    if not any(t["kind"] == "host" for t in report["targets"]):
        raise RuntimeError(f"the scan of {daemon} reported no host target")
    return slug, {f["check"] for f in report["findings"] if f["target"]["kind"] == "host"}, report["_raw"]


def scan_hosts(rows: Iterable[Row], root: Path, workers: int = 3) -> tuple[dict[str, set[str]], list[str]]:
    """One scan per host row (a daemon.json and client environment each) plus the skeleton;
    returns ({slug: host check ids}, the raw reports)."""
    jobs = {"skeleton-h": {"daemon": dict(DAEMON_JSON), "env": dict(HOST_ENV)}}
    jobs.update({row.slug: row.spec for row in rows if row.kind == "H"})
    fired: dict[str, set[str]] = {}
    raws: list[str] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for slug, ids, raw in pool.map(lambda item: _host_scan(root, *item), jobs.items()):
            fired[slug] = ids
            raws.append(raw)
    return fired, raws


# -- engine --------------------------------------------------------------------------------

LABELS = {TEST_LABEL: "1", SESSION_LABEL: SESSION, STARTED_LABEL: STARTED}
SKELETON_PASSWD = b"root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/app:/sbin/nologin\n"
SKELETON_SHADOW = b"root:*:19000:0:99999:7:::\napp:!:19000:0:99999:7:::\n"
OS_RELEASE = b'ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n'
SKELETON_CONFIG: dict[str, Any] = {
    "User": "10001:10001",
    "Env": ["PATH=/usr/bin:/bin"],
    "Cmd": ["/app/app.sh"],
    "Healthcheck": {"Test": ["CMD", "/app/app.sh", "health"]},
    "ExposedPorts": {"8080/tcp": {}},
}


def skeleton_flags(network: str) -> dict[str, Any]:
    return {
        "--user": "10001:10001",
        "--read-only": True,
        "--tmpfs": "/tmp",
        "--cap-drop": "ALL",
        "--security-opt": ["no-new-privileges"],
        "--memory": "64m",
        "--memory-swap": "64m",
        "--cpus": "0.5",
        "--pids-limit": "100",
        "--restart": "unless-stopped",
        "--health-cmd": "/app/app.sh health",
        "--log-opt": ["max-size=10m", "max-file=3"],
        "--network": network,
        "--label": [f"{key}={value}" for key, value in LABELS.items()],
    }


def flag_args(flags: dict[str, Any]) -> list[str]:
    """docker CLI arguments: True is a bare flag, a list repeats the option, None drops it."""
    args: list[str] = []
    for key, value in flags.items():
        if value is None or value is False:
            continue
        if value is True:
            args.append(key)
        elif isinstance(value, list):
            for item in value:
                args += [key, str(item)]
        else:
            args += [key, str(value)]
    return args


def image_archive(tag: str, spec: dict[str, Any] | None = None) -> bytes:
    """The skeleton image (an Alpine-looking root with an `app` user) plus a row's changes."""
    spec = spec or {"files": {}, "config": {}, "history": [], "created": None}
    base_layer: dict[str, Any] = {
        "etc/": None, "etc/os-release": OS_RELEASE, "etc/passwd": SKELETON_PASSWD,
        "etc/shadow": (SKELETON_SHADOW, 0o640), "app/": None, "app/app.sh": (b"#!/bin/sh\nexec true\n", 0o755),
    }
    layers = [base_layer]
    when = spec.get("created") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    history = [{"created": when, "created_by": "/bin/sh -c #(nop) COPY dir:skeleton in / "}]
    if spec["files"]:
        layers.append(spec["files"])
        history.append({"created": when, "created_by": "/bin/sh -c #(nop) COPY dir:row in / "})
    history += [{"created": when, "created_by": line, "empty_layer": True} for line in spec["history"]]
    # A label per row: images with equal content share one id, and lockdock scans an id once.
    config = {**SKELETON_CONFIG, "Labels": {"io.lockdock.test-row": tag}}
    for key, value in spec["config"].items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    data = image_tarball(layers, tag=tag, config=config, history=history)
    # image_tarball stamps a fixed build date; the skeleton is built now, a row may be old.
    return data.replace(b'"created": "2026-01-01T00:00:00Z"', f'"created": "{when}"'.encode(), 1)


class EngineWorld:
    """The image and container rows in the real engine: one image per image row, one
    container per container row (from a skeleton image), a labelled internal network."""

    def __init__(self, rows: Iterable[Row], docker_api: Any, root: Path) -> None:
        self.api = docker_api
        self.root = root
        self.prefix = f"lockdock-peers-{uuid.uuid4().hex[:8]}"
        self.network = self.prefix
        self.images: dict[str, str] = {}  # slug -> tag
        self.containers: dict[str, str] = {}  # slug -> name
        self._tags: list[str] = []
        self.rows = [row for row in rows if row.kind in ("I", "K")]

    def _load(self, tag: str, spec: dict[str, Any] | None = None) -> None:
        for _ in self.api.load_image(image_archive(tag, spec)):
            pass
        self._tags.append(tag)

    def build(self) -> None:
        subprocess.run(["docker", "network", "create", "--internal", *flag_args({"--label": [f"{k}={v}" for k, v in LABELS.items()]}),
                        self.network], check=True, capture_output=True, timeout=120)
        skeleton = f"{self.prefix}/skeleton:1.0"
        self._load(skeleton)
        self._load(f"{self.prefix}/skeleton:latest")
        self.images["skeleton-i"] = skeleton
        # Containers are scanned with the images named on the command line.
        self.images["skeleton-latest"] = f"{self.prefix}/skeleton:latest"
        for row in self.rows:
            if row.kind == "I":
                repo = f"{self.prefix}-elsewhere" if row.spec["untrusted"] else self.prefix
                tag = f"{repo}/{row.slug}:{row.spec['tag']}"
                self._load(tag, row.spec)
                self.images[row.slug] = tag
        for slug, spec in [("skeleton-k", {"flags": {}, "image": "skeleton", "cmd": []})] + [
            (row.slug, row.spec) for row in self.rows if row.kind == "K"
        ]:
            flags = {**skeleton_flags(self.network), **spec["flags"]}
            image = f"{self.prefix}/skeleton:{'latest' if spec['image'] == 'latest' else '1.0'}"
            name = f"{self.prefix}-{slug}"
            proc = subprocess.run(["docker", "create", "--name", name, *flag_args(flags), image, *spec["cmd"]],
                                  capture_output=True, text=True, timeout=120)
            if proc.returncode != 0:
                raise RuntimeError(f"docker create for {slug} failed: {proc.stderr}")
            self.containers[slug] = name

    def scan(self) -> tuple[dict[str, set[str]], dict[str, Any]]:
        """One engine scan of every row image (and all containers); {slug: check ids}."""
        folder = self.root / "engine"
        folder.mkdir(parents=True, exist_ok=True)
        daemon = folder / "daemon.json"
        # Without the daemon-wide no-new-privileges default, so the per-container setting counts.
        daemon.write_text(json.dumps({k: v for k, v in DAEMON_JSON.items() if k != "no-new-privileges"}))
        config = folder / "lockdock.toml"
        config.write_text(f'trusted-registries = ["docker.io/{self.prefix}"]\n')
        args = ["--daemon-json", str(daemon), "--config", str(config)]
        for tag in self.images.values():
            args += ["--image", tag]
        report = run_scan([*args, str(folder)], cwd=folder, env_changes=h("", "", "", "").spec["env"])
        by_image = {tag: slug for slug, tag in self.images.items()}
        by_name = {name: slug for slug, name in self.containers.items()}

        def slug_of(target: dict[str, Any]) -> str | None:
            name = (target.get("name") or "").lstrip("/")
            return by_image.get(name) if target["kind"] == "image" else by_name.get(name) if target["kind"] == "container" else None

        # Only targets the scan reports as scanned get a key, so "no finding" means scanned clean.
        fired: dict[str, set[str]] = {slug: set() for slug in map(slug_of, report["targets"]) if slug}
        for finding in report["findings"]:
            slug = slug_of(finding["target"])
            if slug:
                fired.setdefault(slug, set()).add(finding["check"])
        return fired, report

    def close(self) -> None:
        for name in self.containers.values():
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=120)
        for tag in self._tags:
            with contextlib.suppress(Exception):
                self.api.remove_image(tag, force=True)
        subprocess.run(["docker", "network", "rm", self.network], capture_output=True, timeout=120)
