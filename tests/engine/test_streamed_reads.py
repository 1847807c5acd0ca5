"""Engine reads for a scan: subjects come as soon as they are read, in list order; image
ties are listed in a fixed order; the CVE scanner is looked up once; an engine-only scan
imports none of the compose, YAML or Dockerfile-rule code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lockdock.context import ScanContext
from lockdock.engine import containers, images
from lockdock.engine.connect import Engine

WAIT = 5.0  # seconds a fake reply waits for the consumer before giving up


def _inspect(cid: str) -> dict[str, Any]:
    return {"Id": cid, "Name": f"/{cid}", "Image": "sha256:" + "0" * 64,
            "Config": {"Image": "busybox", "Labels": {}}, "HostConfig": {}, "State": {"Running": True}}


class SlowLastContainer:
    """A fake engine client whose last container inspect answers only once the scan has
    taken the first container (or after WAIT seconds)."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.first_taken = threading.Event()
        self.waited_for_consumer: bool | None = None

    def containers(self, all: bool = False, filters: Any = None) -> list[dict[str, Any]]:  # noqa: A002 - SDK name
        return [{"Id": cid} for cid in self.ids]

    def inspect_container(self, cid: str) -> dict[str, Any]:
        if cid == self.ids[-1]:
            self.waited_for_consumer = self.first_taken.wait(WAIT)
        return _inspect(cid)


def _ctx(api: Any) -> ScanContext:
    return ScanContext(cwd=Path("."), engine=Engine(api=api, endpoint="fake", version="1", info={}))


def test_containers_stream_in_list_order_before_the_last_is_read() -> None:
    api = SlowLastContainer([f"c{i}" for i in range(12)])
    stream = containers.stream_containers(_ctx(api))
    first = next(stream)
    api.first_taken.set()
    rest = list(stream)
    assert [s.id for s in [first, *rest]] == api.ids
    assert api.waited_for_consumer is True  # the first came while the last was still unanswered


def test_iter_containers_is_the_whole_stream() -> None:
    api = SlowLastContainer([f"c{i}" for i in range(5)])
    api.first_taken.set()
    assert [s.id for s in containers.iter_containers(_ctx(api))] == api.ids


class FakeImages:
    """Images listed by the engine newest first, several created in the same second."""

    def __init__(self, listed: list[dict[str, Any]]) -> None:
        self.listed = listed
        self.first_taken = threading.Event()
        self.waited_for_consumer: bool | None = None

    def images(self) -> list[dict[str, Any]]:
        return self.listed

    def inspect_image(self, ref: str) -> dict[str, Any]:
        if ref == self.listed[-1]["Id"]:
            self.waited_for_consumer = self.first_taken.wait(WAIT)
        return {"Id": ref, "RepoTags": [f"t/{ref[-4:]}:1"], "Config": {}, "RootFS": {"Layers": []}}

    def history(self, ref: str) -> list[dict[str, Any]]:
        return []


def _image_id(n: int) -> str:
    return "sha256:" + f"{n:x}".rjust(64, "a")


def test_same_second_images_are_listed_by_id_newest_first() -> None:
    listed = [{"Id": _image_id(3), "Created": 200}, {"Id": _image_id(9), "Created": 100},
              {"Id": _image_id(1), "Created": 100}, {"Id": _image_id(5), "Created": 100},
              {"Id": _image_id(7), "Created": "odd"}]
    order = images.list_image_ids(FakeImages(listed), [], _ctx(None))
    assert order == [_image_id(3), _image_id(1), _image_id(5), _image_id(9), _image_id(7)]
    assert images.list_image_ids(FakeImages(list(reversed(listed))), [], _ctx(None)) == order


def test_images_stream_before_the_last_is_read() -> None:
    api = FakeImages([{"Id": _image_id(i), "Created": 100} for i in range(8)])
    stream = images.stream_images(_ctx(api))
    first = next(stream)
    api.first_taken.set()
    got = [first.id, *(s.id for s in stream)]
    assert got == sorted(got) and len(got) == 8
    assert api.waited_for_consumer is True


def test_cve_scanner_is_looked_up_once_per_scan_and_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from lockdock.analyzers import image_vulnscan

    asked: list[str] = []
    monkeypatch.setattr(image_vulnscan, "shutil", SimpleNamespace(which=asked.append))
    ctx = _ctx(None)
    assert image_vulnscan.scanner_for(ctx) is None
    assert image_vulnscan.scanner_for(ctx) is None
    assert asked == ["trivy", "grype"]
    monkeypatch.setenv("PATH", os.environ.get("PATH", "") + ":/opt/scanners/bin")
    assert image_vulnscan.scanner_for(ctx) is None
    assert asked == ["trivy", "grype"] * 2  # another PATH: looked up again
    assert image_vulnscan.scanner_for(_ctx(None)) is None
    assert len(asked) == 6  # another scan: looked up again


@pytest.mark.engine
def test_engine_only_scan_imports_no_compose_yaml_or_dockerfile_rules(tmp_path: Path, busybox_image: str,
                                                                        docker_api: Any) -> None:
    cid = docker_api.create_container(busybox_image, command=["sh"], labels={"io.lockdock.test": "streamed"})["Id"]
    probe = (
        "import sys\nfrom lockdock.cli.entry import main\n"
        "main(sys.argv[1:])\n"
        "print('MODULES:' + ','.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    try:
        runs = [subprocess.run([sys.executable, "-c", probe, "scan", "--format", "json", "--image", busybox_image, "."],
                               cwd=tmp_path, capture_output=True, text=True, timeout=300,
                               env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}) for _ in range(2)]
    finally:
        docker_api.remove_container(cid, force=True)
    proc = runs[0]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    kinds = {t["kind"] for t in report["targets"]}
    assert {"image", "container"} <= kinds
    assert runs[1].stdout == proc.stdout  # an unchanged engine: the same report
    modules = set(next(x for x in proc.stderr.splitlines() if x.startswith("MODULES:"))[8:].split(","))
    assert "lockdock.analyzers.image_history" in modules and "lockdock.analyzers.container_security" in modules
    unwanted = ("yaml", "ruamel", "lockdock.compose", "lockdock.payloads.compose", "lockdock.sources.compose",
                "lockdock.analyzers.compose_", "lockdock.fixers.compose_", "lockdock.fixers.servicefacts",
                "lockdock.analyzers.dockerfile_", "lockdock.fixers.dockerfile_", "lockdock.sources.dockerfiles",
                "lockdock.payloads.dockerfile", "lockdock.dockerfile.shellcheck", "lockdock.tui", "textual",
                "lockdock.cli.fix", "lockdock.cli.merge", "lockdock.reports.baseline")
    assert sorted(m for m in modules if m.startswith(unwanted)) == []


def test_scan_hands_the_interpreter_lock_over_sooner_and_restores_it() -> None:
    from lockdock.cli.scan import SCAN_SWITCH_INTERVAL, prompt_readers

    before = sys.getswitchinterval()
    with prompt_readers():
        assert sys.getswitchinterval() == pytest.approx(min(before, SCAN_SWITCH_INTERVAL), rel=0.05)
    assert sys.getswitchinterval() == before
    sys.setswitchinterval(0.0001)
    try:
        with prompt_readers():  # an already shorter interval is kept
            assert sys.getswitchinterval() == pytest.approx(0.0001, rel=0.05)
    finally:
        sys.setswitchinterval(before)
