"""Engine faults: down, permission denied, hangs, garbage, HTTP 500, cut bodies, cut save streams."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from lockdock import registry
from lockdock.context import ScanContext
from lockdock.engine.connect import EngineUnavailable, connect
from lockdock.engine.containers import iter_containers
from lockdock.engine.images import iter_images
from lockdock.scan import analyze_subject

from .fakeengine import HANG, TRUNCATE, FakeEngine, Reply, ok, silent_socket
from .tarkit import file, layer, legacy_save

INSPECT = {
    "Id": "b" * 64, "Name": "/web", "Image": "sha256:" + "c" * 64,
    "Config": {"Image": "web:1.0", "User": "app", "Env": [], "Labels": {}},
    "HostConfig": {"Privileged": True}, "State": {"Running": False}, "Mounts": [],
}


@pytest.fixture
def sockdir(tmp_path_factory) -> Path:
    d = Path(f"/tmp/lockdock-sock-{os.getpid()}-{time.monotonic_ns()}")
    d.mkdir(mode=0o755)
    yield d
    for p in d.iterdir():
        p.unlink()
    d.rmdir()


def fake_ctx(sock: Path, tmp_path: Path, monkeypatch, timeout: float = 3) -> ScanContext:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    registry.load_plugins()
    return ScanContext(cwd=tmp_path, engine=connect(timeout=timeout), daemon_json=tmp_path / "none.json")


def test_engine_down_is_one_plain_line_and_files_still_scan(tmp_path, run_lockdock):
    (tmp_path / "daemon.json").write_text('{"live-restore": false}')
    (tmp_path / "p").mkdir()
    proc = run_lockdock("scan", "--format", "json", "--daemon-json", "daemon.json", "p", cwd=tmp_path,
                        env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert "Traceback" not in proc.stderr
    assert "engine not reachable at unix:///nonexistent.sock" in proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert any(f["check"] == "runtime.live-restore" for f in report["findings"])


def test_permission_denied_says_so(sockdir, monkeypatch):
    # Import the SDK's whole connect path as root: the unprivileged child cannot read site-packages.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sockdir}/absent.sock")
    with pytest.raises(EngineUnavailable):
        connect(timeout=1)
    sock = sockdir / "engine.sock"
    listener = silent_socket(sock)
    os.chmod(sock, 0)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop root, then try the socket
        try:
            os.setgid(65534)
            os.setuid(65534)
            os.environ["DOCKER_HOST"] = f"unix://{sock}"
            try:
                connect(timeout=3)
                msg = "connected"
            except EngineUnavailable as exc:
                msg = str(exc)
            os.write(w, msg.encode())
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    msg = os.read(r, 4096).decode()
    listener.close()
    assert "permission denied on the socket" in msg, msg
    assert "docker' group" in msg


def test_engine_that_never_answers_times_out_in_seconds(sockdir, monkeypatch):
    sock = sockdir / "hang.sock"
    listener = silent_socket(sock)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    start = time.monotonic()
    with pytest.raises(EngineUnavailable) as exc:
        connect(timeout=2)
    listener.close()
    assert time.monotonic() - start < 10
    assert "no answer within the timeout" in str(exc.value)


def test_garbage_reply_on_connect(sockdir, monkeypatch):
    with FakeEngine(sockdir / "g.sock", {"/_ping": Reply(200, b"\x00\xffgarbage"), "/version": Reply(200, b"<html>not json"), "/info": Reply(200, b"][")}):
        monkeypatch.setenv("DOCKER_HOST", f"unix://{sockdir / 'g.sock'}")
        with pytest.raises(EngineUnavailable) as exc:
            connect(timeout=3)
    assert "engine not reachable" in str(exc.value)


def test_http_500_on_container_list_is_an_error_entry(sockdir, tmp_path, monkeypatch):
    with FakeEngine(sockdir / "e.sock", {"/containers/json": Reply(500, b'{"message": "boom"}')}):
        ctx = fake_ctx(sockdir / "e.sock", tmp_path, monkeypatch)
        assert iter_containers(ctx) == []
    assert any("cannot list containers" in e.message and "500" in e.message for e in ctx.errors)


def test_one_bad_inspect_does_not_stop_the_others(sockdir, tmp_path, monkeypatch):
    routes = {
        "/containers/json": ok([{"Id": "a" * 64}, {"Id": "b" * 64}, {"Id": "d" * 64}]),
        "/containers/a+/json": Reply(200, b"{garbage"),
        "/containers/b+/json": ok(INSPECT),
        "/containers/d+/json": Reply(404, b'{"message": "No such container"}'),
    }
    with FakeEngine(sockdir / "c.sock", routes):
        ctx = fake_ctx(sockdir / "c.sock", tmp_path, monkeypatch)
        subjects = iter_containers(ctx)
        assert [s.name for s in subjects] == ["web"]
        findings = analyze_subject(subjects[0], ctx).findings
    assert "container.not-privileged" in {f.check for f in findings}
    errors = [e.message for e in ctx.errors]
    assert len(errors) == 1 and "aaaaaaaaaaaa could not be inspected" in errors[0]  # 404 = vanished: quiet


def test_container_without_config_is_analysed(sockdir, tmp_path, monkeypatch):
    bare = {"Id": "b" * 64, "Name": "/bare", "Config": None, "HostConfig": None}
    routes = {"/containers/json": ok([{"Id": "b" * 64}]), "/containers/b+/json": ok(bare)}
    with FakeEngine(sockdir / "n.sock", routes):
        ctx = fake_ctx(sockdir / "n.sock", tmp_path, monkeypatch)
        (subject,) = iter_containers(ctx)
        analyze_subject(subject, ctx)
    assert [e for e in ctx.errors if "internal error" in e.message] == []


def test_truncated_body_and_hang_mid_scan(sockdir, tmp_path, monkeypatch):
    routes = {
        "/images/json": Reply(200, b'[{"Id": "sha256:' + b"e" * 64 + b'"}, {"Id"', mode=TRUNCATE),
        "/containers/json": ok([{"Id": "f" * 64}]),
        "/containers/f+/json": Reply(mode=HANG),
    }
    with FakeEngine(sockdir / "t.sock", routes):
        ctx = fake_ctx(sockdir / "t.sock", tmp_path, monkeypatch, timeout=2)
        assert iter_images(ctx) == []
        start = time.monotonic()
        assert iter_containers(ctx) == []
        assert time.monotonic() - start < 15
    messages = " ".join(e.message for e in ctx.errors)
    assert "cannot list images" in messages
    assert "ffffffffffff could not be inspected" in messages


def _image_routes(save: bytes, mode: str = "ok") -> dict[str, Reply]:
    import hashlib

    blob = layer([file("usr/bin/curl")])
    image_id = "sha256:" + "9" * 64
    inspect = {
        "Id": image_id, "RepoTags": ["app:1.0"], "Created": "2099-01-01T00:00:00Z",
        "Config": {"User": "app", "Healthcheck": {"Test": ["CMD", "true"]}},
        "RootFS": {"Type": "layers", "Layers": ["sha256:" + hashlib.sha256(blob).hexdigest()]},
    }
    return {
        "/images/json": ok([{"Id": image_id}]),
        "/images/[^/]+/json": ok(inspect),
        "/images/[^/]+/history": ok([{"CreatedBy": "COPY curl /usr/bin/curl", "Size": 10, "Created": 0}]),
        "/images/[^/]+/get": Reply(200, save, mode=mode, content_type="application/x-tar"),
    }, blob


def test_cut_save_stream_is_flagged_partial(sockdir, tmp_path, monkeypatch):
    routes, blob = _image_routes(b"")
    save = legacy_save([blob], "app:1.0")
    routes["/images/[^/]+/get"] = Reply(200, save[: len(save) // 3], mode=TRUNCATE, content_type="application/x-tar")
    with FakeEngine(sockdir / "s.sock", routes):
        ctx = fake_ctx(sockdir / "s.sock", tmp_path, monkeypatch)
        (subject,) = iter_images(ctx)
        findings = analyze_subject(subject, ctx).findings
    warnings = " ".join(e.message for e in ctx.errors)
    assert "truncated" in warnings and "partial" in warnings
    assert not (tmp_path / "cache" / "lockdock" / "images" / ("9" * 64 + ".json")).exists()
    assert all(f.location.image_layer is not None for f in findings if f.check != "image.vulnerability-scan")


def test_garbage_save_stream_keeps_config_checks(sockdir, tmp_path, monkeypatch):
    routes, _blob = _image_routes(b"")
    routes["/images/[^/]+/get"] = Reply(200, b"\x00garbage" * 300, content_type="application/x-tar")
    routes["/images/[^/]+/json"].body = routes["/images/[^/]+/json"].body.replace(b'"User": "app"', b'"User": ""')
    with FakeEngine(sockdir / "z.sock", routes):
        ctx = fake_ctx(sockdir / "z.sock", tmp_path, monkeypatch)
        (subject,) = iter_images(ctx)
        findings = analyze_subject(subject, ctx).findings
    assert "container.non-root" in {f.check for f in findings}
    assert any("image app:1.0" in e.message for e in ctx.errors)


def test_many_containers_are_inspected_in_parallel(sockdir, tmp_path, monkeypatch):
    """600 containers whose inspect each takes 20 ms: several inspects are in flight at once,
    and the order is kept. (The speed goal lives in bench/engine_bench.py.)"""
    import copy
    import threading

    ids = [f"{i:064x}" for i in range(600)]
    routes = {"/containers/json": ok([{"Id": i} for i in ids])}
    lock = threading.Lock()
    flight = {"now": 0, "max": 0}
    with FakeEngine(sockdir / "m.sock", routes) as engine:
        real = engine.reply_for

        def reply_for(path: str) -> Reply:
            if path.startswith("/containers/") and path.endswith("/json") and path != "/containers/json":
                with lock:
                    flight["now"] += 1
                    flight["max"] = max(flight["max"], flight["now"])
                time.sleep(0.02)
                with lock:
                    flight["now"] -= 1
                data = copy.deepcopy(INSPECT)
                data["Id"] = path.split("/")[2]
                data["Name"] = "/c" + data["Id"][-4:]
                return ok(data)
            return real(path)

        engine.reply_for = reply_for
        ctx = fake_ctx(sockdir / "m.sock", tmp_path, monkeypatch)
        subjects = iter_containers(ctx)
    assert len(subjects) == 600 and [s.id for s in subjects] == ids
    assert flight["max"] >= 2, flight  # inspected in parallel, not one after another


def test_with_image_only_the_containers_of_that_image_are_inspected(sockdir, tmp_path, monkeypatch):
    """`--image REF`: the container list's ImageID says which containers run it; the others
    are not inspected (an entry without ImageID still is, and the source checks it)."""
    import copy

    from lockdock.engine.containers import list_container_ids, stream_containers

    image = "sha256:" + "a" * 64
    listed = [{"Id": "1" * 64, "ImageID": image}, {"Id": "2" * 64, "ImageID": "sha256:" + "e" * 64},
              {"Id": "3" * 64}, {"Id": "4" * 64, "ImageID": image}]
    routes = {"/containers/json": ok(listed), "/images/app:1.0/json": ok({"Id": image, "RepoTags": ["app:1.0"]})}
    asked: list[str] = []
    with FakeEngine(sockdir / "i.sock", routes) as engine:
        real = engine.reply_for

        def reply_for(path: str) -> Reply:
            if path.startswith("/containers/") and path != "/containers/json":
                asked.append(path.split("/")[2])
                data = copy.deepcopy(INSPECT)
                data["Id"], data["Image"] = path.split("/")[2], image
                return ok(data)
            return real(path)

        engine.reply_for = reply_for
        ctx = fake_ctx(sockdir / "i.sock", tmp_path, monkeypatch)
        ctx.images = ["app:1.0"]
        assert list_container_ids(ctx) == ["1" * 64, "3" * 64, "4" * 64]
        got = [s.id for s in stream_containers(ctx)]
    assert got == ["1" * 64, "3" * 64, "4" * 64]
    assert "2" * 64 not in asked
