"""Shared fixtures: the real Docker engine, images built without a registry, CLI runner.

Engine tests skip with a reason when no engine answers, and fail instead when
LOCKDOCK_REQUIRE_ENGINE=1 (CI sets it). Everything the fixtures create carries the label
io.lockdock.test=1 and is removed at the end of the session.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# The second dockerd, sshd and Podman fixtures, shared by tests/fleet and tests/tui.
pytest_plugins = ["tests.fleet.engines"]

TEST_LABEL = "io.lockdock.test"
SESSION_LABEL = "io.lockdock.test-session"
SESSION = uuid.uuid4().hex[:12]  # what this pytest run created; parallel runs keep theirs
# When the creating run started (unix seconds). Loaded images carry their config's
# "created" date, often far in the past, so staleness is judged by this label.
STARTED_LABEL = "io.lockdock.test-started"
STARTED = str(int(time.time()))
STALE_AFTER = 3600  # objects of other (crashed) runs older than this are removed too
REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
BUSYBOX = Path("/bin/busybox")


# The user's world that a run must not read or write: config, caches, journals, docker
# credentials. DOCKER_HOST is left alone so the engine socket stays reachable.
ISOLATED_DIRS = ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "DOCKER_CONFIG")


@pytest.fixture(scope="session", autouse=True)
def _isolated_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Session-wide: even session fixtures (image builds) run with private dirs."""
    base = tmp_path_factory.mktemp("user-world")
    saved = {k: os.environ.get(k) for k in ISOLATED_DIRS}
    for key in ISOLATED_DIRS:
        (base / key.lower()).mkdir()
        os.environ[key] = str(base / key.lower())
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets fresh HOME, XDG_CONFIG/CACHE/STATE_HOME and DOCKER_CONFIG dirs, so a
    user config, cache or journal neither changes a result nor is written; subprocesses
    (the CLI and TUI helpers) inherit them through os.environ."""
    base = tmp_path_factory.mktemp("home")
    for key in ISOLATED_DIRS:
        (base / key.lower()).mkdir()
        monkeypatch.setenv(key, str(base / key.lower()))
    monkeypatch.delenv("LOCKDOCK_TIMEOUT", raising=False)  # a user's shell setting


def require_engine() -> bool:
    return os.environ.get("LOCKDOCK_REQUIRE_ENGINE") == "1"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (checklist, conformance data); tests that need it skip when absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present beside the repository")
    return SHARED


def _engine_api() -> Any:
    import docker

    api = docker.APIClient(base_url=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"), timeout=60, version="auto")
    api.ping()
    return api


@pytest.fixture(scope="session")
def docker_api() -> Iterator[Any]:
    """A low-level client for the local engine (skips, or fails under LOCKDOCK_REQUIRE_ENGINE=1)."""
    try:
        api = _engine_api()
    except Exception as exc:  # noqa: BLE001
        if require_engine():
            pytest.fail(f"LOCKDOCK_REQUIRE_ENGINE=1 but no Docker engine answers: {exc}")
        pytest.skip(f"no Docker engine: {exc}")
    yield api
    _cleanup(api)
    api.close()


def _ours_or_stale(labels: dict[str, str] | None, created: float) -> bool:
    labels = labels or {}
    if labels.get(SESSION_LABEL) == SESSION:
        return True
    started = labels.get(STARTED_LABEL, "")
    if started.isdigit():
        created = float(started)
    return time.time() - created > STALE_AFTER


def _cleanup(api: Any) -> None:
    for c in api.containers(all=True, filters={"label": TEST_LABEL}):
        if _ours_or_stale(c.get("Labels"), c.get("Created", 0)):
            with contextlib.suppress(Exception):
                api.remove_container(c["Id"], force=True, v=True)
    for img in api.images(filters={"label": TEST_LABEL}):
        if _ours_or_stale(img.get("Labels"), img.get("Created", 0)):
            with contextlib.suppress(Exception):
                api.remove_image(img["Id"], force=True)


def unique_tag(prefix: str = "lockdock-test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}:1.0"


@pytest.fixture(scope="session")
def build_image(docker_api: Any, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    """build_image(dockerfile_text, tag=None, files={name: bytes|str}) -> tag.

    The context always holds the static busybox as `busybox`; images get the test label.
    """
    if not BUSYBOX.exists():
        pytest.fail("/bin/busybox (Debian busybox-static) is missing") if require_engine() else pytest.skip(
            "busybox-static is not installed"
        )

    def build(dockerfile: str, tag: str | None = None, files: dict[str, bytes | str] | None = None) -> str:
        tag = tag or unique_tag()
        ctxdir = tmp_path_factory.mktemp("build")
        shutil.copy2(BUSYBOX, ctxdir / "busybox")
        for name, content in (files or {}).items():
            p = ctxdir / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content.encode() if isinstance(content, str) else content)
        (ctxdir / "Dockerfile").write_text(dockerfile)
        proc = subprocess.run(
            ["docker", "build", "-q", "--label", f"{TEST_LABEL}=1", "--label", f"{SESSION_LABEL}={SESSION}",
             "--label", f"{STARTED_LABEL}={STARTED}",
             "-t", tag, str(ctxdir)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
        if proc.returncode != 0:
            raise RuntimeError(f"docker build failed: {proc.stderr[-2000:]}")
        return tag

    return build


@pytest.fixture(scope="session")
def busybox_image(build_image: Callable[..., str]) -> str:
    """A runnable FROM-scratch image holding only the static busybox."""
    return build_image(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        'CMD ["/bin/sh"]\n',
        tag=unique_tag("lockdock-busybox"),
    )


def layer_tar(files: dict[str, bytes | tuple[bytes, int] | None]) -> bytes:
    """A layer tarball: path -> content, (content, mode), or None for a directory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, spec in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = int(time.time())
            if spec is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
                continue
            content, mode = (spec, 0o644) if isinstance(spec, bytes) else spec
            info.size = len(content)
            info.mode = mode
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def image_tarball(
    layers: list[dict[str, bytes | tuple[bytes, int] | None]],
    *,
    tag: str,
    config: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
) -> bytes:
    """A `docker load`-able archive (legacy layout) with the given layers and config."""
    import hashlib

    blobs = [layer_tar(layer) for layer in layers]
    diff_ids = ["sha256:" + hashlib.sha256(b).hexdigest() for b in blobs]
    cfg = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {"Labels": {TEST_LABEL: "1", SESSION_LABEL: SESSION, STARTED_LABEL: STARTED}, **(config or {})},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history
        or [{"created": "2026-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(len(blobs))],
    }
    if config and "Labels" in config:
        cfg["config"]["Labels"] = {TEST_LABEL: "1", SESSION_LABEL: SESSION, STARTED_LABEL: STARTED, **config["Labels"]}
    cfg_bytes = json.dumps(cfg).encode()
    cfg_name = hashlib.sha256(cfg_bytes).hexdigest() + ".json"
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add(cfg_name, cfg_bytes)
        layer_names = []
        for i, blob in enumerate(blobs):
            name = f"layer{i}/layer.tar"
            add(name, blob)
            layer_names.append(name)
        manifest = [{"Config": cfg_name, "RepoTags": [tag], "Layers": layer_names}]
        add("manifest.json", json.dumps(manifest).encode())
    return out.getvalue()


@pytest.fixture(scope="session")
def load_image_tar(docker_api: Any) -> Callable[[bytes], None]:
    """Load an image archive into the engine (`docker load`)."""

    def load(data: bytes) -> None:
        for _ in docker_api.load_image(data):
            pass

    return load


@pytest.fixture
def run_lockdock(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real CLI in a subprocess: run_lockdock("scan", "--format", "json", cwd=...)."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_STATE_HOME": str(tmp_path / "state"), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "lockdock", *args],
            capture_output=True,
            text=True,
            cwd=cwd or tmp_path,
            env=full_env,
            timeout=timeout,
        )

    return run


def scan_json(run: Callable[..., subprocess.CompletedProcess[str]], *args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """`lockdock scan --format json ARGS` parsed; asserts it did not crash."""
    proc = run("scan", "--format", "json", *args, cwd=cwd, env=env)
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr}"
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)
