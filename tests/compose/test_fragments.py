"""Compose override fragments (a file whose services name no image, build or extends, such
as the samples in mailcow's `docker-compose.override.yml.d/`): what the fragment writes is
checked, what it leaves out is not reported; complete services and real override pairs keep
every finding."""

from __future__ import annotations

from pathlib import Path

from tests.compose.test_compose_checks import run_scan

FRAGMENT = """services:
  php-fpm:
    dns:
      - 192.0.2.53
  postfix:
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
    ports:
      - "25:25"
"""


def _checks(found: list, service: str) -> set[str]:
    return {f.check for f in found if f.target.name == service}


def test_fragment_reports_only_written_values(tmp_path: Path) -> None:
    found, _ = run_scan(tmp_path, {"samples/dns/docker-compose.override.yml": FRAGMENT})
    assert _checks(found, "php-fpm") == set()
    post = _checks(found, "postfix")
    assert "container.docker-socket" in post  # written by the fragment
    assert "network.bind-localhost" in post
    for absent in ("container.resource-limits", "runtime.restart-policy", "runtime.log-rotation",
                   "container.no-new-privileges", "container.read-only-rootfs", "runtime.healthcheck"):
        assert absent not in post


def test_complete_service_keeps_missing_key_findings(tmp_path: Path) -> None:
    found, _ = run_scan(tmp_path, {"compose.yaml": "services:\n  web:\n    image: nginx:1.27.0\n"})
    got = _checks(found, "web")
    assert {"container.resource-limits", "runtime.restart-policy", "container.no-new-privileges"} <= got


def test_override_beside_its_base_is_merged_not_a_fragment(tmp_path: Path) -> None:
    found, _ = run_scan(tmp_path, {
        "compose.yaml": "services:\n  web:\n    image: nginx:1.27.0\n",
        "compose.override.yaml": "services:\n  web:\n    dns:\n      - 192.0.2.53\n",
    })
    assert "runtime.restart-policy" in _checks(found, "web")


def test_extends_service_is_not_a_fragment(tmp_path: Path) -> None:
    found, _ = run_scan(tmp_path, {
        "compose.yaml": ("services:\n  base:\n    image: nginx:1.27.0\n"
                         "  web:\n    extends:\n      service: base\n"),
    })
    assert "runtime.restart-policy" in _checks(found, "web")


def test_lone_override_file_is_a_fragment_even_with_build(tmp_path: Path) -> None:
    # mailcow's BUILD_FLAGS sample: switches services to local builds, nothing more
    found, _ = run_scan(tmp_path, {
        "samples/build/docker-compose.override.yml": "services:\n  web:\n    build: ./web\n    privileged: true\n"})
    got = _checks(found, "web")
    assert "container.not-privileged" in got
    assert not got & {"runtime.restart-policy", "container.resource-limits", "container.read-only-rootfs"}


def test_lone_ordinary_file_with_build_is_complete(tmp_path: Path) -> None:
    found, _ = run_scan(tmp_path, {"app/docker-compose.dev.yml": "services:\n  web:\n    build: ./web\n"})
    assert "runtime.restart-policy" in _checks(found, "web")
