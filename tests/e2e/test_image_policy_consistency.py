"""One image reference gets one verdict, whether a Dockerfile or a compose file names it."""

from __future__ import annotations

import pytest

from tests.conftest import scan_json

REFS = {
    "bitnami/redis:7.2.4": {"trusted": True, "moving": False},
    "registry.access.redhat.com/ubi9/ubi-minimal:9.4": {"trusted": True, "moving": False},
    "someuser/app:dev": {"trusted": False, "moving": True},
    "ghcr.io/acme/api:canary": {"trusted": False, "moving": True},
    "nginx:1.27.0": {"trusted": True, "moving": False},
}


@pytest.mark.parametrize("ref", sorted(REFS))
def test_dockerfile_and_compose_agree(tmp_path, run_lockdock, ref):
    df_dir, compose_dir = tmp_path / "df", tmp_path / "compose"
    df_dir.mkdir()
    compose_dir.mkdir()
    (df_dir / "Dockerfile").write_text(f"FROM {ref}\nUSER 1000\n")
    (compose_dir / "compose.yaml").write_text(f"services:\n  app:\n    image: {ref}\n")
    verdicts = []
    for d in (df_dir, compose_dir):
        report = scan_json(run_lockdock, "--no-engine", ".", cwd=d)
        checks = {f["check"] for f in report["findings"] if f["target"]["kind"] in ("dockerfile", "compose-service")}
        verdicts.append({"trusted": "image.trusted-source" not in checks, "moving": "image.pinned-tag" in checks})
    assert verdicts[0] == verdicts[1] == REFS[ref]
