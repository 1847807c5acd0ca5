"""Several real engines in one `lockdock scan`: contexts, --host, ssh://, Swarm, Podman, failures."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lockdock.checks import CHECKS
from lockdock.context import ScanContext
from lockdock.engine.contexts import host_endpoint
from lockdock.fleet import scan_fleet
from tests.conftest import SESSION, TEST_LABEL
from tests.fleet.conftest import BB_TAG, SERVICE_SECRET

pytestmark = pytest.mark.engine
MAIN = "unix:///var/run/docker.sock"


def lockdock(*args: str, cwd: Path, path_first: Path | None = None, timeout: float = 300,
             docker_config: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if docker_config is not None:
        env["DOCKER_CONFIG"] = str(docker_config)
    if path_first is not None:
        env["PATH"] = f"{path_first}:{env['PATH']}"
    return subprocess.run([sys.executable, "-m", "lockdock", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout, check=False)


def make_context(name: str, host: str, docker_config: Path) -> None:
    """A real docker context, made by the docker CLI in its own DOCKER_CONFIG directory."""
    subprocess.run(["docker", "context", "create", name, "--docker", f"host={host}"], check=True,
                   capture_output=True, timeout=30, env={**os.environ, "DOCKER_CONFIG": str(docker_config)})


@pytest.fixture(scope="module")
def two_engine_report(second_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One JSON report over the main engine (--host) and the second one (its context)."""
    work = tmp_path_factory.mktemp("fleet-two")
    (work / "compose.yaml").write_text(  # the file `docker stack deploy -c compose.yaml shop` would use
        "services:\n  web:\n    image: someorg/tool:1.0\n    deploy:\n      replicas: 1\n")
    cfg = work / "docker-config"
    make_context("second", second_engine.host, cfg)
    done = lockdock("scan", "--format", "json", "--context", "second", "--host", MAIN, "--engine-timeout", "240",
                    str(work), cwd=work, docker_config=cfg)
    assert "Traceback" not in done.stderr
    data = json.loads(done.stdout)
    data["_text"] = lockdock("scan", "--context", "second", "--host", MAIN, str(work), cwd=work,
                             docker_config=cfg).stdout
    data["_sarif"] = json.loads(lockdock("scan", "--format", "sarif", "--context", "second", "--host", MAIN,
                                         str(work), cwd=work, docker_config=cfg).stdout)
    data["_all"] = json.loads(lockdock("scan", "--format", "json", "--all-contexts", str(work), cwd=work,
                                       docker_config=cfg).stdout)
    return data


def test_both_engines_in_one_report_each_finding_tagged(two_engine_report: dict[str, Any]) -> None:
    data = two_engine_report
    engines = {e["name"]: e for e in data["engines"]}
    assert set(engines) == {"second", MAIN}
    assert all(e["error"] is None for e in engines.values())
    engine_kinds = {"image", "container", "host", "swarm-service"}
    by_engine = Counter(f["target"].get("engine") for f in data["findings"] if f["target"]["kind"] in engine_kinds)
    assert by_engine["second"] > 0 and by_engine[MAIN] > 0
    assert None not in by_engine
    # the files of the run (the stack's compose.yaml) are scanned once, without an engine
    assert {f["target"].get("engine") for f in data["findings"] if f["target"]["kind"] not in engine_kinds} == {None}
    priv = [f for f in data["findings"] if f["check"] == "container.not-privileged" and f["target"]["name"] == "fleet-priv"]
    assert priv and all(f["target"]["engine"] == "second" for f in priv)
    hosts = [t for t in data["targets"] if t["kind"] == "host"]
    assert {t["engine"] for t in hosts} == {"second", MAIN}
    assert engines["second"]["swarm_manager"] is True and engines[MAIN]["swarm_manager"] is False
    # the second dockerd's own command line was found by its socket (not the main one's)
    assert "read on this machine" in engines["second"]["host_settings"]


def test_all_contexts_scans_default_and_second(two_engine_report: dict[str, Any]) -> None:
    assert {e["name"] for e in two_engine_report["_all"]["engines"]} == {"default", "second"}
    assert all(e["error"] is None for e in two_engine_report["_all"]["engines"])


def test_text_and_sarif_name_the_engine(two_engine_report: dict[str, Any]) -> None:
    text = two_engine_report["_text"]
    assert "container fleet-priv on second" in text
    assert "engine second: docker" in text
    results = two_engine_report["_sarif"]["runs"][0]["results"]
    tagged = [r for r in results if r["properties"].get("engine") == "second"]
    assert tagged
    assert all(r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].startswith("second/") for r in tagged)


def test_swarm_service_checked_with_container_rules(two_engine_report: dict[str, Any]) -> None:
    svc = [f for f in two_engine_report["findings"] if f["target"]["kind"] == "swarm-service"]
    checks = {f["check"] for f in svc}
    assert {"container.capabilities", "container.docker-socket", "container.non-root",
            "network.bind-localhost", "container.resource-limits"} <= checks
    assert all(f["target"]["engine"] == "second" and f["target"]["name"] == "shop_web" for f in svc)
    assert all("Swarm stack 'shop'" in f["message"] for f in svc)
    # linked to the compose service of the stack: the fix goes into that file
    assert all("compose service 'web'" in f["message"] and f["location"]["path"] == "compose.yaml" for f in svc)
    assert not any(f["check"] == "container.not-privileged" for f in svc)  # Swarm has no privileged services


def test_same_image_on_two_engines_is_two_targets_one_analysis(second_engine: Any, tmp_path: Path, docker_api: Any) -> None:
    # The same bytes on both engines (docker save | docker load keeps the content address).
    tag = f"lockdock-fleet-same-{SESSION}:1.0"
    second_engine.docker("tag", BB_TAG, tag)
    saved = subprocess.run(["docker", "-H", second_engine.host, "save", tag], capture_output=True, check=True, timeout=120)
    subprocess.run(["docker", "load"], input=saved.stdout, capture_output=True, check=True, timeout=120)
    # Same tags too: tags are not content-addressed, and image.pinned-tag reads them.
    subprocess.run(["docker", "tag", tag, BB_TAG], capture_output=True, check=True, timeout=60)
    try:
        ctx = ScanContext(cwd=tmp_path, images=[tag])
        result = scan_fleet([tmp_path], ctx, [host_endpoint(second_engine.host), host_endpoint(MAIN)],
                            engine_timeout=240)
        images = [t for t in result.targets.values() if t.target.kind.value == "image"]
        assert sorted(t.target.engine for t in images) == sorted([second_engine.host, MAIN])
        assert len({t.target.key for t in images}) == 2
        assert sum(e["reused_image_analyses"] for e in result.engines) == 1
        a, b = images
        assert sorted(f.check for f in a.findings) == sorted(f.check for f in b.findings)
        assert all(f.target is a.target for f in a.findings) and all(f.target is b.target for f in b.findings)
    finally:
        subprocess.run(["docker", "rmi", tag, BB_TAG], capture_output=True, timeout=60, check=False)


def test_engine_down_is_reported_and_the_other_goes_on(tmp_path: Path) -> None:
    done = lockdock("scan", "--format", "json", "--host", "unix:///nonexistent/lockdock.sock", "--host", MAIN,
                    "--context", "no-such-context", str(tmp_path), cwd=tmp_path)
    data = json.loads(done.stdout)
    msgs = [e["message"] for e in data["errors"]]
    assert any("unix:///nonexistent/lockdock.sock" in m and "socket does not exist" in m for m in msgs)
    assert any("no-such-context" in m and "not found" in m for m in msgs)
    assert any(t["kind"] == "host" and t["engine"] == MAIN for t in data["targets"])
    assert done.returncode in (0, 1)


def test_slow_engine_times_out_alone(tmp_path: Path) -> None:
    """An engine that accepts and never answers costs its own timeout, not the scan."""
    path = tmp_path / "silent.sock"
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        started = time.monotonic()
        done = lockdock("scan", "--format", "json", "--host", f"unix://{path}", "--host", MAIN,
                        "--engine-timeout", "4", str(tmp_path), cwd=tmp_path)
        elapsed = time.monotonic() - started
        data = json.loads(done.stdout)
        assert any(f"unix://{path}" in e["message"] and "no answer" in e["message"] for e in data["errors"])
        assert any(t["kind"] == "host" and t["engine"] == MAIN for t in data["targets"])
        assert elapsed < 60
    finally:
        stop.set()
        t.join(5)
        for c in held:
            c.close()
        srv.close()


def test_engine_killed_mid_scan_keeps_the_others(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    from tests.fleet.conftest import _start
    from tests.fleet.dockerd import load_busybox

    doomed = _start(tmp_path_factory.mktemp("dockerd-doomed"))
    try:
        load_busybox(doomed, BB_TAG, {TEST_LABEL: "1"})
        doomed.docker("create", "--name", "victim", BB_TAG)

        def on_target(tr: Any) -> None:
            if tr.target.engine == doomed.host and tr.target.kind.value == "host":
                doomed.kill()  # the host target comes first: images and containers are next
                doomed.proc.wait(timeout=30)

        ctx = ScanContext(cwd=tmp_path)
        result = scan_fleet([tmp_path], ctx, [host_endpoint(doomed.host), host_endpoint(MAIN)],
                            engine_timeout=60, on_target=on_target)
        main_targets = [t for t in result.targets.values() if t.target.engine == MAIN]
        assert any(t.target.kind.value == "host" for t in main_targets)
        main_run = next(e for e in result.engines if e["name"] == MAIN)
        assert main_run["error"] is None and main_run["targets"] == len(main_targets)
        doomed_errors = [e.message for e in result.errors if doomed.host in e.message]
        assert doomed_errors, [e.message for e in result.errors]
        assert not any(t.target.name == "victim" for t in result.targets.values())
    finally:
        doomed.stop()


def test_ssh_engine_with_remote_host_files(ssh_local: Any, tmp_path: Path) -> None:
    done = lockdock("scan", "--format", "json", "--host", ssh_local.url, "--remote-host-files",
                    "--engine-timeout", "120", str(tmp_path), cwd=tmp_path, path_first=ssh_local.bin_dir)
    assert "Traceback" not in done.stderr
    data = json.loads(done.stdout)
    (run,) = data["engines"]
    assert run["error"] is None, data["errors"]
    assert "read over ssh" in run["host_settings"]
    assert any(t["kind"] == "host" and t["engine"] == ssh_local.url for t in data["targets"])
    assert all(f["fix"] is None for f in data["findings"] if f["target"]["kind"] == "host")


def test_ssh_engine_without_host_files_says_docker_info_only(ssh_local: Any, tmp_path: Path) -> None:
    done = lockdock("scan", "--format", "json", "--host", ssh_local.url, str(tmp_path), cwd=tmp_path,
                    path_first=ssh_local.bin_dir)
    (run,) = json.loads(done.stdout)["engines"]
    assert run["error"] is None
    assert run["host_settings"].startswith("docker info only") and "--remote-host-files" in run["host_settings"]
    assert "runtime.audit-logging" in run["not_judged"]


def test_podman_is_an_engine_and_dockerd_checks_do_not_apply(podman_socket: str, tmp_path: Path) -> None:
    done = lockdock("scan", "--format", "json", "--host", podman_socket, "--host", MAIN, str(tmp_path), cwd=tmp_path)
    data = json.loads(done.stdout)
    pod = next(e for e in data["engines"] if e["name"] == podman_socket)
    assert pod["kind"] == "podman" and pod["error"] is None
    assert "no daemon.json" in pod["host_settings"]
    assert "runtime.live-restore" in pod["not_judged"]
    pod_checks = {f["check"] for f in data["findings"] if f["target"].get("engine") == podman_socket}
    assert not pod_checks & set(pod["not_judged"])
    assert any(t["kind"] == "host" and t["engine"] == podman_socket for t in data["targets"])


# Container checks a Swarm service spec (API 1.41, dockerd 20.10) cannot express: no
# --privileged, --device, --cgroup-parent or seccomp/AppArmor options for services, no
# publish-all; host namespaces only as `--network host`, which excludes published ports.
NOT_EXPRESSIBLE = {"container.not-privileged", "container.host-devices", "container.cgroup-parent",
                   "container.security-profiles", "network.exposed-ports", "container.host-namespaces"}
SWARM_CHECKS = sorted(c.id for c in CHECKS if "K" in c.where and c.id not in NOT_EXPRESSIBLE)


@pytest.mark.parametrize("check", SWARM_CHECKS)
def test_every_container_check_fires_for_the_swarm_service(two_engine_report: dict[str, Any], check: str) -> None:
    """End to end through `lockdock scan --context`: the insecure service of conftest."""
    fired = {f["check"] for f in two_engine_report["findings"]
             if f["target"]["kind"] == "swarm-service" and f["target"]["name"] == "shop_web"}
    assert check in fired, f"{check} did not fire for the Swarm service; fired: {sorted(fired)}"


def test_no_secret_value_in_fleet_reports(two_engine_report: dict[str, Any]) -> None:
    for part in ("findings", "_text", "_sarif", "_all"):
        assert SERVICE_SECRET not in json.dumps(two_engine_report[part])
