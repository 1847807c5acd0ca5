"""Which engines `connect()` reads without the docker SDK, and how the SDK-free client fails."""

from __future__ import annotations

import json

import pytest

from lockdock.engine import connect as conn
from lockdock.engine.rawapi import (
    EngineAPIError,
    EngineNotFound,
    LocalAPI,
    decode_json,
    filters_param,
)

from .fakeengine import FakeEngine, Reply, ok


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for key in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dockercfg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_local_socket_only_for_unix_hosts_and_the_default_context(clean_env, monkeypatch):
    assert conn.local_socket_path() == "/var/run/docker.sock"  # no config at all: the default context
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")
    assert conn.local_socket_path() == "/run/user/1000/docker.sock"
    for host in ("tcp://10.0.0.5:2376", "ssh://admin@build", "unix://relative.sock"):
        monkeypatch.setenv("DOCKER_HOST", host)
        assert conn.local_socket_path() is None, host
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    assert conn.local_socket_path() is None  # TLS settings: the SDK decides
    monkeypatch.delenv("DOCKER_TLS_VERIFY")
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setenv("DOCKER_CONTEXT", "remote-prod")
    assert conn.local_socket_path() is None
    monkeypatch.delenv("DOCKER_CONTEXT")
    cfg = clean_env / "dockercfg"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps({"currentContext": "desktop-linux"}))
    assert conn.local_socket_path() is None
    (cfg / "config.json").write_text(json.dumps({"currentContext": "default", "auths": {}}))
    assert conn.local_socket_path() == "/var/run/docker.sock"
    (cfg / "config.json").write_text("{not json")
    assert conn.local_socket_path() is None  # unreadable: left to the SDK


def test_filters_are_encoded_as_the_engine_api_wants():
    assert json.loads(filters_param({"label": ["a=1", "b"], "dangling": True, "id": "abc"})) == {
        "label": ["a=1", "b"], "dangling": ["true"], "id": ["abc"]}


def test_statuses_and_garbage_become_plain_errors(sock, clean_env, monkeypatch):
    routes = {
        "/containers/gone/json": Reply(404, b'{"message": "No such container: gone"}'),
        "/containers/boom/json": Reply(500, b'{"message": "storage exploded"}'),
        "/containers/junk/json": Reply(200, b"\x00not json"),
        "/containers/ok/json": ok({"Id": "ok"}),
    }
    with FakeEngine(sock, routes):
        monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
        engine = conn.connect(timeout=3)
        api = engine.api
        assert isinstance(api, LocalAPI) and api.api_version == "1.41" and engine.version == "20.10.99"
        with pytest.raises(EngineNotFound) as gone:
            api.inspect_container("gone")
        assert gone.value.status == 404 and "No such container" in str(gone.value)
        with pytest.raises(EngineAPIError) as boom:
            api.inspect_container("boom")
        assert not isinstance(boom.value, EngineNotFound) and str(boom.value) == "500 Server Error: storage exploded"
        with pytest.raises(EngineAPIError):
            api.inspect_container("junk")
        for _ in range(3):  # the keep-alive connection stays usable after errors
            assert api.inspect_container("ok") == {"Id": "ok"}
        engine.close()


def test_missing_socket_is_said_plainly(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    with pytest.raises(conn.EngineUnavailable) as err:
        conn.connect(timeout=1)
    assert "the socket does not exist" in str(err.value)


@pytest.mark.parametrize("body", [
    b'{"Id": "x", "Size": 18446744073709551615, "Min": -9223372036854775808}',
    b'{"Big": 123456789012345678901234567890, "Neg": -98765432109876543210}',  # beyond 64 bits: exact
    b'{"a": 1, "a": 2}', b'[1.5, 2.0e-3, 1e400, "x\\u00e9\\ud800"]', b'\xef\xbb\xbf{"bom": 1}',
    '{"utf16": 1}'.encode("utf-16"), b'{"NaN": NaN, "Inf": -Infinity}',
])
def test_engine_json_decodes_to_the_standard_library_s_value(body):
    want, got = json.loads(body), decode_json(body)
    assert repr(got) == repr(want)  # repr: NaN equals itself, 1 and 1.0 differ


@pytest.mark.parametrize("body", [b"", b'{"a": 1', b"\xff\xfe\xfd", b"\x00not json"])
def test_engine_json_that_is_not_json_raises_value_error(body):
    with pytest.raises(ValueError):
        decode_json(body)


@pytest.mark.parametrize(("route", "said"), [("/version", "version gone"), ("/info", "info gone")])
def test_version_and_info_asked_at_once_still_say_which_failed(sock, clean_env, monkeypatch, route, said):
    with FakeEngine(sock, {route: Reply(500, b'{"message": "%s"}' % said.encode())}):
        monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
        with pytest.raises(conn.EngineUnavailable) as exc:
            conn.connect(timeout=3)
        assert said in str(exc.value)
