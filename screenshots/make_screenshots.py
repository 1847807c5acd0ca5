"""Drive the real app on the demo project and save screenshots (SVG and PNG).

    python screenshots/make_screenshots.py [--no-engine] [--out screenshots/]
    python screenshots/make_screenshots.py --engines --host unix:///PATH/docker.sock [--host URL...]

The demo project is copied to a temporary directory (as `lockdock demo` does). When a
Docker engine answers, a small demo image (a FROM-scratch style archive made here, with
a fake key added in one layer and deleted in the next) and a compose-labelled container
are created so the image layer view has something to show; both are removed afterwards.
PNGs are made with `rsvg-convert` (Debian: librsvg2-bin).

`--engines` shoots only the several-engine inventory (`engines-*.png`): the local engine
(context `default`) and every `--host`; the demo image and container are made on each
engine that answers (an unreachable one shows as down, with its reason).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

DEMO_TAG = "lockdock-demo/shop:1.4"
DEMO_CONTAINER = "lockdock-demo-shop-web-1"
LABEL = "io.lockdock.demo"
SIZES = {"120x36": (120, 36), "80x24": (80, 24)}
FAKE_KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nZmFrZS1kZW1vLWtleS1ub3QtcmVhbA==\n-----END OPENSSH PRIVATE KEY-----\n"


def _layer(files: dict[str, tuple[bytes, int] | None]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, spec in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1767225600
            if spec is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                continue
            info.size, info.mode = len(spec[0]), spec[1]
            tar.addfile(info, io.BytesIO(spec[0]))
    return buf.getvalue()


def demo_image_archive() -> bytes:
    """A `docker load` archive: base files, an app, a key added then deleted, a config."""
    busybox = Path("/bin/busybox").read_bytes() if Path("/bin/busybox").is_file() else b"#!/bin/sh\n"
    layers = [
        _layer({"bin/": None, "bin/busybox": (busybox, 0o755), "etc/": None,
                "etc/os-release": (b'ID=demo\nNAME="lockdock demo base"\n', 0o644)}),
        _layer({"root/": None, "root/.ssh/": None, "root/.ssh/id_rsa": (FAKE_KEY, 0o600)}),
        _layer({"app/": None, "app/server.sh": (b"#!/bin/sh\nbusybox httpd -f -p 8080\n", 0o755)}),
        _layer({"root/.ssh/.wh.id_rsa": (b"", 0o644)}),
    ]
    history = [
        {"created": "2026-01-01T00:00:00Z", "created_by": "ADD rootfs.tar /"},
        {"created": "2026-01-01T00:00:00Z", "created_by": "COPY deploy_key /root/.ssh/id_rsa # buildkit"},
        {"created": "2026-01-01T00:00:00Z", "created_by": "COPY app/ /app/ # buildkit"},
        {"created": "2026-01-01T00:00:00Z", "created_by": "RUN rm /root/.ssh/id_rsa # buildkit"},
        {"created": "2026-01-01T00:00:00Z", "created_by": "CMD [\"/app/server.sh\"]", "empty_layer": True},
    ]
    diff_ids = ["sha256:" + hashlib.sha256(b).hexdigest() for b in layers]
    cfg = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["/app/server.sh"], "Env": ["PATH=/bin"], "ExposedPorts": {"8080/tcp": {}},
                   "Labels": {LABEL: "1"}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
        add(cfg_name, cfg)
        names = []
        for i, blob in enumerate(layers):
            add(f"l{i}/layer.tar", blob)
            names.append(f"l{i}/layer.tar")
        add("manifest.json", json.dumps([{"Config": cfg_name, "RepoTags": [DEMO_TAG], "Layers": names}]).encode())
    return out.getvalue()


def engine_api() -> Any | None:
    try:
        import docker

        api = docker.APIClient(version="auto", timeout=60)
        api.ping()
        return api
    except Exception:  # noqa: BLE001 - no engine: file-only screenshots
        return None


def engine_api_at(host: str) -> Any | None:
    """A client for `host` (unix:// or tcp://), or None when it does not answer."""
    try:
        import docker

        api = docker.APIClient(base_url=host, version="auto", timeout=20)
        api.ping()
        return api
    except Exception:  # noqa: BLE001 - shown as a down engine in the screenshot
        return None


def create_demo_objects(api: Any, project: Path) -> None:
    for _ in api.load_image(demo_image_archive()):
        pass
    labels = {
        LABEL: "1",
        "com.docker.compose.project": "shop",
        "com.docker.compose.service": "web",
        "com.docker.compose.project.config_files": str(project / "compose.yaml"),
    }
    host_config = api.create_host_config(privileged=True, port_bindings={8080: 8080})
    api.create_container(DEMO_TAG, name=DEMO_CONTAINER, labels=labels, host_config=host_config,
                         ports=[8080])


def remove_demo_objects(api: Any) -> None:
    with contextlib.suppress(Exception):
        api.remove_container(DEMO_CONTAINER, force=True)
    with contextlib.suppress(Exception):
        api.remove_image(DEMO_TAG, force=True)


def to_png(svg: Path) -> Path:
    """rsvg draws U+00A0 narrower than a cell: give it plain spaces kept as they are."""
    png = svg.with_suffix(".png")
    text = svg.read_text(encoding="utf-8").replace("&#160;", " ")
    text = text.replace("<svg ", '<svg xml:space="preserve" ', 1)
    with tempfile.NamedTemporaryFile("w", suffix=".svg", delete=False, encoding="utf-8") as tmp:
        tmp.write(text)
    try:
        subprocess.run(["rsvg-convert", tmp.name, "-o", str(png)], check=True)
    finally:
        Path(tmp.name).unlink()
    return png


async def shoot(project: Path, use_engine: bool, size: tuple[int, int], tag: str, out: Path) -> list[Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from lockdock.config import Config
    from lockdock.model import TargetKind
    from lockdock.tui import create_app
    from lockdock.tui.findings import FindingsList
    from lockdock.tui.inventory import Inventory

    # Only the demo's own container: other containers on this host are not the demo's business.
    app = create_app([project], use_engine=use_engine, config=Config(container_labels=[LABEL]))
    if use_engine:
        app.ctx.images = [DEMO_TAG]
    saved: list[Path] = []

    def save(name: str) -> None:
        path = out / f"{name}-{tag}.svg"
        app.save_screenshot(filename=path.name, path=str(out))
        saved.append(path)

    async with app.run_test(size=size) as pilot:
        for _ in range(600):
            await pilot.pause(0.1)
            if not app.state.progress.running:
                break
        await pilot.pause(0.5)
        inv = app.query_one(Inventory)

        def key_of(kind: TargetKind, name: str = "") -> str | None:
            return next((k for k, tr in app.state.targets.items()
                         if tr.target.kind is kind and name in tr.target.name), None)

        # Main screen as it opens: on the worst target, its worst layer group first.
        web = key_of(TargetKind.COMPOSE_SERVICE, "web")
        await pilot.pause(0.4)
        save("main")

        # Image layers of the demo image.
        image = key_of(TargetKind.IMAGE, DEMO_TAG.split(":", maxsplit=1)[0])
        if image:
            inv.focus()
            inv.select_key(image)
            await pilot.pause(0.3)
            await pilot.press("4")
            from lockdock.tui.layers import LayersView

            view = app.query_one(LayersView)
            for _ in range(200):  # the file tree is read from docker save in a worker
                if view.files is not None or view.files_error:
                    break
                await pilot.pause(0.05)
            await pilot.pause(0.4)
            save("layers")
            await pilot.press("1")

        # The container's inspect JSON (masked), as reached from one of its findings.
        container = key_of(TargetKind.CONTAINER, DEMO_CONTAINER)
        if container:
            inv.focus()
            inv.select_key(container)
            await pilot.pause(0.3)
            await pilot.press("2")
            await pilot.press("I")
            await pilot.pause(0.8)
            save("inspect")
            await pilot.press("escape")
            await pilot.pause(0.2)

        # Diff preview of a fix that changes behaviour, at its second confirmation.
        if web:
            inv.focus()
            inv.select_key(web)
            await pilot.pause(0.3)
            fl = app.query_one(FindingsList)
            pick = next((f for f in fl.shown if f.check == "container.not-privileged" and f.fix), None)
            if pick:
                fl.focus()
                fl.select_finding(pick)
                await pilot.pause(0.2)
                await pilot.press("f")
                await pilot.pause(0.5)
                await pilot.press("y")
                await pilot.pause(0.3)
                save("diff")
                await pilot.press("escape")
                await pilot.pause(0.2)

        await pilot.press("question_mark")
        await pilot.pause(0.4)
        save("help")
        await pilot.press("escape")
    return saved


async def shoot_engines(project: Path, hosts: list[str], size: tuple[int, int], tag: str, out: Path) -> list[Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from lockdock.config import Config
    from lockdock.engine.contexts import resolve
    from lockdock.tui import create_app
    from lockdock.tui.inventory import Inventory

    endpoints, problems = resolve(["default"], hosts, False)
    app = create_app([project], config=Config(container_labels=[LABEL]), endpoints=endpoints,
                     fleet_problems=problems, engine_timeout=60)
    app.ctx.images = [DEMO_TAG]
    async with app.run_test(size=size) as pilot:
        for _ in range(900):
            await pilot.pause(0.1)
            if not app.state.progress.running and all(
                    r.live or r.state != "up" for r in app.state.engines.values()):
                break
        await pilot.pause(0.5)
        inv = app.query_one(Inventory)
        inv.focus()
        demo = [k for k, tr in app.state.targets.items() if tr.target.engine and DEMO_CONTAINER in tr.target.name]
        if demo:
            inv.select_key(sorted(demo)[-1])
        await pilot.pause(0.6)
        path = out / f"engines-{tag}.svg"
        app.save_screenshot(filename=path.name, path=str(out))
    return [path]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-engine", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--engines", action="store_true", help="only the several-engine inventory")
    parser.add_argument("--host", action="append", default=[], metavar="URL",
                        help="--engines: another engine next to the local one (repeatable)")
    args = parser.parse_args(argv)
    if shutil.which("rsvg-convert") is None:
        print("rsvg-convert not found (Debian: apt-get install librsvg2-bin)", file=sys.stderr)
        return 1
    from lockdock.demo import copy_demo

    project = copy_demo(Path(tempfile.mkdtemp(prefix="lockdock-demo-")))
    api = None if args.no_engine else engine_api()
    others: list[Any] = []
    try:
        if api is not None:
            remove_demo_objects(api)
            create_demo_objects(api, project)
        args.out.mkdir(parents=True, exist_ok=True)
        others += [engine_api_at(h) for h in args.host] if args.engines else []
        for other in others:
            if other is not None:
                remove_demo_objects(other)
                create_demo_objects(other, project)
        for tag, size in SIZES.items():
            shots = (asyncio.run(shoot_engines(project, args.host, size, tag, args.out)) if args.engines
                     else asyncio.run(shoot(project, api is not None, size, tag, args.out)))
            for svg in shots:
                print(f"wrote {svg.relative_to(args.out.parent) if args.out.parent in svg.parents else svg}")
                print(f"wrote {to_png(svg).name}")
    finally:
        for one in [api, *others]:
            if one is not None:
                remove_demo_objects(one)
        shutil.rmtree(project, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
