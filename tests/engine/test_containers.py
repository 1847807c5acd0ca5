"""Container checks against containers made with `docker create` on the real engine."""

from __future__ import annotations

import contextlib
import json
import subprocess
import uuid
from typing import Any

import pytest

from lockdock import registry
from lockdock.context import ScanContext
from lockdock.engine.connect import connect
from lockdock.engine.containers import iter_containers
from lockdock.scan import analyze_subject

pytestmark = pytest.mark.engine
LABEL = ["--label", "io.lockdock.test=1"]
DB_SECRET = "pg-Pa55w0rd-for-tests-only"
HARDENED = [
    "--user", "1000:1000", "--read-only", "--tmpfs", "/tmp", "--memory", "64m", "--memory-swap", "64m",
    "--cpus", "0.5", "--pids-limit", "100", "--security-opt", "no-new-privileges", "--cap-drop", "ALL",
    "--restart", "unless-stopped", "--log-opt", "max-size=1m", "--log-opt", "max-file=2",
    "--health-cmd", "true",
]
RISKY = {
    "privileged": (["--privileged"], "container.not-privileged"),
    "socket": (["-v", "/var/run/docker.sock:/var/run/docker.sock"], "container.docker-socket"),
    "pidhost": (["--pid", "host"], "container.host-namespaces"),
    "nethost": (["--network", "host"], "container.host-namespaces"),
    "sysadmin": (["--cap-add", "SYS_ADMIN"], "container.capabilities"),
    "postgres": (["-p", "0.0.0.0:5432:5432"], "network.exposed-ports"),
    "etc": (["-v", "/etc:/host-etc"], "container.sensitive-mounts"),
    "seccomp": (["--security-opt", "seccomp=unconfined"], "container.security-profiles"),
    "device": (["--device", "/dev/null:/dev/xnull"], "container.host-devices"),
    "envsecret": (["-e", f"DB_PASSWORD={DB_SECRET}"], "secrets.no-secrets-in-env"),
    "root": (["--user", "0"], "container.non-root"),
    "writable": (["--read-only=false"], "container.read-only-rootfs"),
    "nolimits": (["--memory", "0"], "container.resource-limits"),
    "norestart": (["--restart", "no"], "runtime.restart-policy"),
    "nolog": (["--log-driver", "none"], "runtime.log-rotation"),
    "nohealth": (["--no-healthcheck"], "runtime.healthcheck"),
    "bridge": (["--network", "bridge"], "network.isolation"),
    "nonnp": (["--security-opt", "label=level:s0"], "container.no-new-privileges"),
}


def _create(args: list[str], image: str, name: str) -> str:
    proc = subprocess.run(["docker", "create", *LABEL, "--name", name, *args, image, "sh"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _without(base: list[str], override: list[str]) -> list[str]:
    """The hardened flags with the option pairs that `override` replaces removed."""
    replaced = {a.split("=")[0] for a in override if a.startswith("-")}
    if "--user" in replaced or "--read-only=false" in override:
        replaced |= {"--user"} if "--user" in replaced else {"--read-only", "--tmpfs"}
    if "--log-driver" in replaced:
        replaced.add("--log-opt")
    if "--no-healthcheck" in replaced:
        replaced.add("--health-cmd")
    if "--memory" in replaced:
        replaced.add("--memory-swap")
    if "--security-opt" in replaced:
        replaced.add("--security-opt")
    out, i = [], 0
    flags_with_value = {"--user", "--tmpfs", "--memory", "--memory-swap", "--cpus", "--pids-limit", "--security-opt",
                        "--cap-drop", "--restart", "--log-opt", "--health-cmd"}
    while i < len(base):
        a = base[i]
        takes = a in flags_with_value
        if a in replaced:
            i += 2 if takes else 1
            continue
        out.append(a)
        if takes:
            out.append(base[i + 1])
        i += 2 if takes else 1
    return out + override


@pytest.fixture(scope="module")
def net(docker_api: Any) -> str:
    name = f"lockdock-test-net-{uuid.uuid4().hex[:8]}"
    docker_api.create_network(name, labels={"io.lockdock.test": "1"})
    yield name
    with contextlib.suppress(Exception):
        for c in docker_api.containers(all=True, filters={"network": name}):
            docker_api.remove_container(c["Id"], force=True)
    with contextlib.suppress(Exception):
        docker_api.remove_network(name)


@pytest.fixture(scope="module")
def created(docker_api: Any, busybox_image: str, net: str) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    names = {}
    base = [*HARDENED, "--network", net]
    for key, (args, _check) in RISKY.items():
        flags = _without(base, args) if key not in ("nethost", "bridge") else _without(HARDENED, args)
        names[key] = f"lockdock-test-{key}-{suffix}"
        _create(flags, busybox_image, names[key])
    names["hardened"] = f"lockdock-test-hardened-{suffix}"
    _create(base, busybox_image, names["hardened"])
    names["compose"] = f"lockdock-test-compose-{suffix}"
    _create([*base, "--privileged", "--label", "com.docker.compose.project=demo", "--label", "com.docker.compose.service=web",
             "--label", "com.docker.compose.project.config_files=/srv/demo/compose.yaml",
             "--label", "com.docker.compose.project.working_dir=/srv/demo"], busybox_image, names["compose"])
    yield names
    for n in names.values():  # only what this module made: other sessions share the engine
        with contextlib.suppress(Exception):
            docker_api.remove_container(n, force=True)


def scan_containers(tmp_path, daemon: dict | None = None) -> tuple[dict[str, list[Any]], ScanContext]:
    registry.load_plugins()
    dj = tmp_path / "daemon.json"
    dj.write_text(json.dumps(daemon or {}))
    ctx = ScanContext(cwd=tmp_path, engine=connect(), daemon_json=dj)
    out = {}
    for subject in iter_containers(ctx):
        out[subject.name] = analyze_subject(subject, ctx).findings
    return out, ctx


@pytest.mark.parametrize("key", sorted(RISKY))
def test_each_risky_setting_is_caught(created, tmp_path, key):
    results, _ctx = scan_containers(tmp_path)
    findings = results[created[key]]
    _args, check = RISKY[key]
    assert check in {f.check for f in findings}, [f.message for f in findings]


def test_hardened_container_passes(created, tmp_path):
    results, ctx = scan_containers(tmp_path)
    assert [(f.check, f.message) for f in results[created["hardened"]]] == []


def test_only_the_planted_problem_is_reported(created, tmp_path):
    results, _ctx = scan_containers(tmp_path)
    assert {f.check for f in results[created["sysadmin"]]} == {"container.capabilities"}
    assert {f.check for f in results[created["postgres"]]} == {"network.exposed-ports", "network.bind-localhost"}


def test_env_secret_masked(created, tmp_path):
    results, _ctx = scan_containers(tmp_path)
    (f,) = [f for f in results[created["envsecret"]] if f.check == "secrets.no-secrets-in-env"]
    assert "DB_PASSWORD" in f.message and DB_SECRET not in f.message + (f.evidence or "")


def test_daemon_default_satisfies_no_new_privileges(created, tmp_path):
    results, _ctx = scan_containers(tmp_path, {"no-new-privileges": True})
    assert "container.no-new-privileges" not in {f.check for f in results[created["nonnp"]]}


def test_compose_container_names_service_and_file(created, tmp_path):
    results, _ctx = scan_containers(tmp_path)
    (f,) = [f for f in results[created["compose"]] if f.check == "container.not-privileged"]
    assert "compose service 'web'" in f.message and "/srv/demo/compose.yaml" in f.message
    assert f.location.path == "/srv/demo/compose.yaml"


def test_container_removed_between_list_and_inspect_is_skipped(docker_api, busybox_image, tmp_path, monkeypatch):
    name = f"lockdock-test-vanish-{uuid.uuid4().hex[:6]}"
    cid = _create([], busybox_image, name)
    import docker

    from lockdock.engine.rawapi import LocalAPI

    def list_then_remove(real):
        def containers(self, *a, **k):
            listed = real(self, *a, **k)
            with contextlib.suppress(docker.errors.NotFound):  # once, whichever client lists
                docker_api.remove_container(cid, force=True)
            return listed

        return containers

    # Both clients: the SDK's (remote engines) and the SDK-free one of a local socket.
    monkeypatch.setattr(docker.APIClient, "containers", list_then_remove(docker.APIClient.containers))
    monkeypatch.setattr(LocalAPI, "containers", list_then_remove(LocalAPI.containers))
    results, ctx = scan_containers(tmp_path)
    monkeypatch.undo()
    assert name not in results
    assert ctx.errors == []


def test_end_to_end_containers_masked(created, run_lockdock, tmp_path):
    (tmp_path / "daemon.json").write_text("{}")
    (tmp_path / "p").mkdir()
    proc = run_lockdock("scan", "--daemon-json", "daemon.json", "--format", "json", "p", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert DB_SECRET not in proc.stdout
    report = json.loads(proc.stdout)
    names = {f["target"]["name"] for f in report["findings"] if f["target"]["kind"] == "container"}
    assert created["privileged"] in names and created["hardened"] not in names
