"""Endpoints from docker contexts and --host URLs; the remote host-file reply; Swarm service views."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from lockdock.cli import main
from lockdock.engine.contexts import (
    EndpointError,
    check_host_url,
    context_endpoint,
    context_names,
    resolve,
)
from lockdock.fleethost import is_podman, local_dockerd_args
from lockdock.sources.swarm import container_view


def _store(name: str, host: str, *, tls: bool = False, skip_verify: bool = False) -> None:
    base = Path(os.environ["DOCKER_CONFIG"]) / "contexts"
    cid = hashlib.sha256(name.encode()).hexdigest()
    meta = base / "meta" / cid
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Metadata": {}, "Endpoints": {
        "docker": {"Host": host, "SkipTLSVerify": skip_verify}}}))
    if tls:
        folder = base / "tls" / cid / "docker"
        folder.mkdir(parents=True)
        for f in ("ca.pem", "cert.pem", "key.pem"):
            (folder / f).write_text("-----BEGIN CERTIFICATE-----\n")


def test_context_host_and_tls_from_the_store() -> None:
    _store("prod", "tcp://10.0.0.5:2376", tls=True)
    ep = context_endpoint("prod")
    assert (ep.name, ep.host, ep.context) == ("prod", "tcp://10.0.0.5:2376", "prod")
    assert ep.tls is not None and ep.tls.verify is True
    assert ep.tls.cert[0].endswith("cert.pem") and ep.tls.ca_cert.endswith("ca.pem")


def test_skip_tls_verify_is_honoured() -> None:
    _store("lab", "tcp://10.0.0.6:2376", tls=True, skip_verify=True)
    assert context_endpoint("lab").tls.verify is False


def test_default_context_is_docker_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")
    assert context_endpoint("default").host == "unix:///run/user/1000/docker.sock"
    monkeypatch.delenv("DOCKER_HOST")
    assert context_endpoint("default").host == "unix:///var/run/docker.sock"


def test_ssh_context_goes_through_ssh() -> None:
    _store("edge", "ssh://ops@edge-1:2222")
    ep = context_endpoint("edge")
    assert ep.is_ssh and ep.tls is None
    assert ep.ssh_destination() == ("ops@edge-1", "2222")


def test_unknown_broken_and_hostile_contexts_are_one_problem_each() -> None:
    _store("ok", "unix:///var/run/docker.sock")
    bad = Path(os.environ["DOCKER_CONFIG"]) / "contexts" / "meta" / hashlib.sha256(b"bad").hexdigest()
    bad.mkdir(parents=True)
    (bad / "meta.json").write_text("{not json")
    _store("weird", "ftp://x\x1b[31m")
    eps, problems = resolve(["ok", "bad", "nope", "weird"], ["tcp://", "http://x", "ssh://h:notaport"], False)
    assert [e.name for e in eps] == ["ok"]
    assert len(problems) == 6
    assert any("'nope' not found" in p for p in problems)
    assert all("\x1b" not in p for p in problems)


def test_all_contexts_lists_default_first_and_stops_on_a_broken_store() -> None:
    _store("b", "unix:///b.sock")
    _store("a", "unix:///a.sock")
    assert context_names() == ["default", "a", "b"]
    eps, problems = resolve([], ["unix:///a.sock"], True)
    assert [e.name for e in eps] == ["default", "a", "b", "unix:///a.sock"]
    assert problems == []


def test_host_urls() -> None:
    for good in ("unix:///var/run/docker.sock", "tcp://10.1.2.3:2376", "ssh://me@host", "ssh://host:22"):
        assert check_host_url(good) == good
    for bad in ("/var/run/docker.sock", "tcp://", "unix://", "https://x", "ssh://host:99999"):
        with pytest.raises(EndpointError):
            check_host_url(bad)


def test_cli_refuses_nonsense_combinations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--no-engine", "--host", "unix:///x.sock", str(tmp_path)]) == 2
    assert "--no-engine cannot be combined" in capsys.readouterr().err
    assert main(["scan", "--context", "missing", str(tmp_path)]) == 2
    assert "'missing' not found" in capsys.readouterr().err
    assert main(["scan", "--host", "unix:///x.sock", "--engine-timeout", "-1", str(tmp_path)]) == 2


def test_podman_is_recognised_by_its_components() -> None:
    assert is_podman({"Components": [{"Name": "Podman Engine", "Version": "4.3.1"}]})
    assert not is_podman({"Components": [{"Name": "Engine", "Version": "20.10"}]})
    assert not is_podman({"Components": "garbage"})
    assert not is_podman(None)


def test_local_dockerd_found_by_its_socket(tmp_path: Path) -> None:
    def proc(pid: int, *argv: str) -> None:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")

    proc(10, "/usr/sbin/dockerd", "-H", "fd://", "--icc=false")
    proc(11, "dockerd", "--host=unix:///tmp/second.sock", "--data-root", "/tmp/d2")
    proc(12, "bash")
    assert local_dockerd_args("/tmp/second.sock", tmp_path) == ["--host=unix:///tmp/second.sock", "--data-root", "/tmp/d2"]
    assert local_dockerd_args("/var/run/docker.sock", tmp_path) == ["-H", "fd://", "--icc=false"]
    assert local_dockerd_args("/tmp/other.sock", tmp_path) is None


def test_service_spec_as_a_container_view() -> None:
    view = container_view({"ID": "s1", "Spec": {"Name": "web", "TaskTemplate": {
        "ContainerSpec": {"Image": "nginx:1.25@sha256:abc", "User": "0", "CapabilityAdd": ["CAP_NET_ADMIN"],
                          "Privileges": {"NoNewPrivileges": True}, "ReadOnly": True,
                          "Mounts": [{"Type": "bind", "Source": "/", "Target": "/host", "ReadOnly": True}]},
        "Resources": {"Limits": {"MemoryBytes": 1 << 28, "NanoCPUs": 500000000, "Pids": 100}},
        "RestartPolicy": {"Condition": "on-failure", "MaxAttempts": 3}},
        "EndpointSpec": {"Ports": [{"TargetPort": 80, "PublishedPort": 8080, "Protocol": "udp"}]}}})
    hc = view["HostConfig"]
    assert view["Config"]["Image"] == "nginx:1.25" and view["Config"]["User"] == "0"
    assert hc["CapAdd"] == ["CAP_NET_ADMIN"] and hc["SecurityOpt"] == ["no-new-privileges:true"]
    assert hc["ReadonlyRootfs"] and hc["Memory"] == 1 << 28 and hc["NanoCpus"] == 500000000 and hc["PidsLimit"] == 100
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert hc["PortBindings"] == {"80/udp": [{"HostIp": "", "HostPort": "8080"}]}
    assert view["Mounts"][0]["Destination"] == "/host" and view["Mounts"][0]["RW"] is False


def test_garbage_service_spec_does_not_raise() -> None:
    for spec in ({}, {"Spec": "x"}, {"Spec": {"TaskTemplate": {"ContainerSpec": {"Mounts": ["x", None]}}}}):
        assert container_view(spec)["HostConfig"]["Privileged"] is False


def test_remote_host_files_reply() -> None:
    import base64

    from lockdock.fleethost import parse_remote_reply

    argv = base64.b64encode(b"/usr/bin/dockerd\0-H\0fd://\0--icc=false\0").decode()
    daemon = base64.b64encode(b'{"live-restore": true}').decode()
    args, path, text, problem = parse_remote_reply(f"{argv}\n/etc/docker/daemon.json\n{daemon}\n".encode())
    assert args == ["-H", "fd://", "--icc=false"] and text == '{"live-restore": true}' and problem is None
    assert parse_remote_reply(b"\n/etc/docker/daemon.json\nMISSING\n")[2:] == (None, None)
    assert "not readable" in str(parse_remote_reply(b"\n/x.json\nUNREADABLE\n")[3])
    assert parse_remote_reply(b"\x1b]0;evil\x07\n\xff\xfe\n###\n")[3] == "the remote host sent an unexpected reply"
