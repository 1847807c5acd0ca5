"""`verify_fixes` against the real engine and Debian's docker-compose, on busybox stacks.

Fixes here are made by hand (text edits), so what is tested is the verification: the
baseline run, the comparison, the bisection, "not verified" reasons and the teardown.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lockdock.fixing import stacks
from lockdock.fixing.verify import HELD_BACK, NOT_VERIFIED, VERIFIED, verify_fixes
from tests.fixers.verifykit import STACK, insert_fix, leftovers, replace_fix

pytestmark = pytest.mark.engine
SECONDS = 2.0


@pytest.fixture(scope="module")
def engine(docker_api: Any) -> Iterator[Any]:
    from lockdock.engine.connect import connect

    e = connect()
    yield e
    e.close()


@pytest.fixture(scope="module")
def compose_cli() -> list[str]:
    cli = stacks.find_compose_cli()
    if cli is None:
        pytest.skip("no compose CLI installed")
    return cli


def _verdicts(report: Any) -> dict[str, tuple[str, str]]:
    return {v.fix.title: (v.verdict, v.reason) for v in report.fixes}


def test_breaking_fix_is_found_by_bisection_and_the_others_are_verified(
    engine: Any, compose_cli: list[str], busybox_image: str, tmp_path: Path, docker_api: Any
) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text(STACK.format(image=busybox_image))
    before = compose.read_bytes()
    fixes = [
        insert_fix(compose, "- \"127.0.0.1::8080\"", "    read_only: true\n", "web read-only"),
        insert_fix(compose, "command: [\"sleep\"", "    read_only: true\n", "worker read-only"),
        insert_fix(compose, "    image:", "    cap_drop: [ALL]\n", "web cap_drop", "container.capabilities"),
    ]
    report = verify_fixes(tmp_path, fixes, engine, SECONDS, cwd=tmp_path, compose=compose_cli)
    got = _verdicts(report)
    assert got["web read-only"][0] == HELD_BACK
    assert "web" in got["web read-only"][1] and "exited" in got["web read-only"][1]
    assert got["worker read-only"] == (VERIFIED, "")
    assert got["web cap_drop"] == (VERIFIED, "")
    rows = {r.service: r for r in report.services}
    assert rows["web"].verdict == "works" and rows["worker"].verdict == "works"  # with the verified fixes
    assert rows["web"].before.ports == {"8080/tcp": True} and rows["web"].after.ports == {"8080/tcp": True}
    assert compose.read_bytes() == before  # verification never touches the real files
    assert not report.problems and not leftovers(docker_api)
    text = "\n".join(report.text())
    assert "held back: web read-only" in text and "verified: worker read-only" in text


def test_all_good_fixes_are_verified_in_one_trial(
    engine: Any, compose_cli: list[str], busybox_image: str, tmp_path: Path, docker_api: Any
) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text(STACK.format(image=busybox_image))
    fixes = [
        insert_fix(compose, "command: [\"sleep\"", "    read_only: true\n", "worker read-only"),
        insert_fix(compose, "    image:", "    cap_drop: [ALL]\n", "web cap_drop", "container.capabilities"),
    ]
    report = verify_fixes(tmp_path, fixes, engine, SECONDS, cwd=tmp_path, compose=compose_cli)
    assert [v.verdict for v in report.fixes] == [VERIFIED, VERIFIED]
    assert report.runs == 2  # the baseline and one fixed run: no bisection needed
    assert not leftovers(docker_api)


def test_a_port_that_stops_answering_is_a_broken_service(
    engine: Any, compose_cli: list[str], busybox_image: str, tmp_path: Path
) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text(STACK.format(image=busybox_image))
    fix = replace_fix(compose, "httpd -f -p 8080", "httpd -f -p 8081", "move the port")
    report = verify_fixes(tmp_path, [fix], engine, SECONDS, cwd=tmp_path, compose=compose_cli)
    verdict, reason = _verdicts(report)["move the port"]
    assert verdict == HELD_BACK and "8080/tcp" in reason and "not answering" in reason


def test_a_fix_whose_healthcheck_never_passes_is_held_back(
    engine: Any, compose_cli: list[str], busybox_image: str, tmp_path: Path
) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text(STACK.format(image=busybox_image))
    hc = '    healthcheck:\n      test: ["CMD", "false"]\n      interval: 1s\n      retries: 1\n'
    fix = insert_fix(compose, "command: [\"sleep\"", hc, "add healthcheck", "runtime.healthcheck")
    report = verify_fixes(tmp_path, [fix], engine, SECONDS, cwd=tmp_path, compose=compose_cli)
    verdict, reason = _verdicts(report)["add healthcheck"]
    assert verdict == HELD_BACK and "worker" in reason and "health" in reason


def test_a_stack_that_never_gets_healthy_is_not_verified_within_the_bound(
    engine: Any, compose_cli: list[str], busybox_image: str, tmp_path: Path, docker_api: Any
) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text(
        f"services:\n  app:\n    image: {busybox_image}\n    command: [\"sleep\", \"3600\"]\n"
        "    healthcheck:\n      test: [\"CMD\", \"false\"]\n      interval: 30s\n      start_period: 60s\n"
    )
    fix = insert_fix(compose, "command:", "    cap_drop: [ALL]\n", "cap_drop", "container.capabilities")
    t0 = time.monotonic()
    report = verify_fixes(tmp_path, [fix], engine, SECONDS, cwd=tmp_path, compose=compose_cli)
    assert time.monotonic() - t0 < 60
    verdict, reason = _verdicts(report)["cap_drop"]
    assert verdict == NOT_VERIFIED and "no service works before the fixes" in reason
    (row,) = report.services
    assert row.before.health == "starting" and row.verdict == NOT_VERIFIED
    assert not leftovers(docker_api)


def test_an_image_that_is_not_local_is_not_verified_and_nothing_is_pulled(
    engine: Any, compose_cli: list[str], tmp_path: Path, docker_api: Any
) -> None:
    compose = tmp_path / "compose.yml"
    missing = "registry.invalid/lockdock-missing/app:1"
    compose.write_text(f"services:\n  app:\n    image: {missing}\n    command: [\"sleep\", \"3600\"]\n")
    fix = insert_fix(compose, "command:", "    read_only: true\n", "ro")
    report = verify_fixes(tmp_path, [fix], engine, SECONDS, cwd=tmp_path, compose=compose_cli)
    verdict, reason = _verdicts(report)["ro"]
    assert verdict == NOT_VERIFIED and "is not local" in reason and "nothing is pulled" in reason
    assert report.runs == 1 and not docker_api.images(name="registry.invalid/lockdock-missing/app")


def test_without_a_compose_cli_it_says_so_and_verifies_nothing(
    engine: Any, busybox_image: str, tmp_path: Path
) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text(STACK.format(image=busybox_image))
    fix = insert_fix(compose, "command: [\"sleep\"", "    read_only: true\n", "worker read-only")
    report = verify_fixes(tmp_path, [fix], engine, SECONDS, cwd=tmp_path, compose=None)
    verdict, reason = _verdicts(report)["worker read-only"]
    assert verdict == NOT_VERIFIED and "no compose CLI" in reason
    assert report.compose_cli is None and "no compose CLI" in report.text()[0]


def test_a_build_that_fails_before_the_fixes_is_not_verified(
    engine: Any, compose_cli: list[str], busybox_image: str, tmp_path: Path, docker_api: Any
) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(
        f"FROM {busybox_image}\nRUN DB_PASSWORD=s3cr3t-Value-42 false\nCMD [\"sleep\", \"3600\"]\n"
    )
    compose = tmp_path / "compose.yml"
    compose.write_text("services:\n  app:\n    build: ./app\n    command: [\"sleep\", \"3600\"]\n")
    fix = insert_fix(compose, "command:", "    read_only: true\n", "ro")
    report = verify_fixes(tmp_path, [fix], engine, SECONDS, cwd=tmp_path, compose=compose_cli)
    assert _verdicts(report)["ro"][0] == NOT_VERIFIED
    (row,) = report.services
    assert row.before.built is False and "build failed" in row.before.works()[1]
    assert "returned a non-zero code" in row.before.detail
    shown = "\n".join(report.text()) + json.dumps(report.to_json())
    assert "s3cr3t-Value-42" not in shown and "DB_PASSWORD=" in shown  # the value is masked
    assert not leftovers(docker_api)


def test_dockerfile_only_fixes_build_and_run_the_image(
    engine: Any, busybox_image: str, tmp_path: Path, docker_api: Any
) -> None:
    df = tmp_path / "Dockerfile"
    df.write_text(f"FROM {busybox_image}\nRUN mkdir /data\nCMD [\"sh\", \"-c\", \"echo x > /data/log && exec sleep 3600\"]\n")
    user = insert_fix(df, "RUN mkdir", "USER 65534:65534\n", "run as nobody", "container.non-root")
    label = insert_fix(df, "FROM ", "LABEL org.opencontainers.image.title=demo\n", "add a label", "image.labels")
    report = verify_fixes(tmp_path, [user, label], engine, SECONDS, cwd=tmp_path, compose=None)
    got = _verdicts(report)
    assert got["run as nobody"][0] == HELD_BACK and "exited with code" in got["run as nobody"][1]
    assert got["add a label"] == (VERIFIED, "")
    assert not leftovers(docker_api)
    assert not docker_api.containers(all=True, filters={"label": stacks.LABEL})


def test_interrupt_during_a_run_removes_everything(
    engine: Any, compose_cli: list[str], busybox_image: str, tmp_path: Path, docker_api: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text(STACK.format(image=busybox_image) + "    volumes:\n      - data:/data\nvolumes:\n  data: {}\n")
    fix = insert_fix(compose, "command: [\"sleep\"", "    read_only: true\n", "worker read-only")
    real: Callable[..., Any] = stacks.observe
    seen: list[str] = []
    mine = "lockdock-verify-" + os.environ["LOCKDOCK_VERIFY_TAG"]  # not a parallel session's runs

    def observe_then_interrupt(api: Any, find: Any, names: Any, seconds: float) -> Any:
        seen.extend(c["Labels"]["com.docker.compose.project"]
                    for c in api.containers(all=True, filters={"label": "com.docker.compose.project"})
                    if c["Labels"]["com.docker.compose.project"].startswith(mine))
        assert seen, "the stack should be up while it is observed"
        raise KeyboardInterrupt

    monkeypatch.setattr(stacks, "observe", observe_then_interrupt)
    report = verify_fixes(tmp_path, [fix], engine, SECONDS, cwd=tmp_path, compose=compose_cli)
    monkeypatch.setattr(stacks, "observe", real)
    assert report.interrupted and [v.verdict for v in report.fixes] == [NOT_VERIFIED]
    assert not leftovers(docker_api, set(seen)) and not leftovers(docker_api)


def test_cap_drop_all_on_a_chown_then_drop_entrypoint_is_held_back(
    engine: Any, compose_cli: list[str], busybox_image: str, tmp_path: Path
) -> None:
    # The postgres pattern: start as root and chown the data directory (then drop to a user).
    compose = tmp_path / "compose.yml"
    compose.write_text(
        f"services:\n  db:\n    image: {busybox_image}\n"
        "    command: [\"sh\", \"-c\", \"mkdir -p /data && chown 65534:65534 /data && exec sleep 3600\"]\n"
    )
    fix = insert_fix(compose, "command:", "    cap_drop: [ALL]\n", "drop all capabilities", "container.capabilities")
    report = verify_fixes(tmp_path, [fix], engine, SECONDS, cwd=tmp_path, compose=compose_cli)
    verdict, reason = _verdicts(report)["drop all capabilities"]
    assert verdict == HELD_BACK and "service db exited with code" in reason


def test_an_image_that_cannot_be_started_is_not_verified_without_a_traceback(
    engine: Any, tmp_path: Path, docker_api: Any
) -> None:
    import shutil

    shutil.copy2("/bin/busybox", tmp_path / "busybox")
    df = tmp_path / "Dockerfile"
    df.write_text("FROM scratch\nCOPY busybox /bin/busybox\n")  # no CMD: the engine refuses to create it
    fix = insert_fix(df, "FROM", "LABEL org.opencontainers.image.title=demo\n", "add a label", "image.labels")
    report = verify_fixes(tmp_path, [fix], engine, SECONDS, cwd=tmp_path, compose=None)
    verdict, reason = _verdicts(report)["add a label"]
    assert verdict == NOT_VERIFIED and "could not run it" in reason
    assert not leftovers(docker_api)
