"""End to end through `python -m lockdock scan --no-engine --format json`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lockdock import checks as catalogue
from tests.dockerfile.helpers import write_cases
from tests.dockerfile.test_checks import CATCHES, GOOD_IGNORE

SECRET = "ghp_" + "Q" * 36

BAD = f"""# syntax=docker/dockerfile:1
ARG NPM_TOKEN
FROM node:20 AS build
RUN npm ci && npm run build

FROM ubuntu:latest
COPY --from=http://registry.local:5000/team/tools:1 /bin/tool /bin/tool
ENV GITHUB_TOKEN={SECRET}
RUN sudo apt-get update && apt-get install -y curl gcc
RUN curl -k https://get.example.com/install.sh | sh
ADD app.js /app/
RUN npm install
RUN apt-get dist-upgrade -y
VOLUME /etc
COPY . /app
EXPOSE 22
USER root
CMD node /app/app.js
"""

GOOD = """# syntax=docker/dockerfile:1
FROM golang:1.22-alpine@sha256:{d} AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build go build -o /out/app ./cmd/app

FROM gcr.io/distroless/static-debian12:nonroot@sha256:{d}
COPY --from=build /out/app /app
USER 65532:65532
EXPOSE 8080
HEALTHCHECK CMD ["/app", "-health"]
ENTRYPOINT ["/app"]
""".format(d="e" * 64)

IGNORE = ".git\n.env\nsecrets/\n**/*.key\n**/*.pem\n"

# The Dockerfile ids BAD holds (every one when this file was written). A newer Dockerfile
# check is covered through the CLI by its cases in test_checks.py (test_cli_catches_every_case).
BAD_CHECKS = {
    "build.copy-not-add",
    "build.dockerignore",
    "build.exec-form",
    "build.multi-stage",
    "build.no-curl-pipe-shell",
    "build.no-sudo",
    "build.package-update",
    "build.pinned-packages",
    "build.production-deps",
    "build.shell-safety",
    "build.system-paths",
    "build.tls-verification",
    "container.non-root",
    "image.minimal-base",
    "image.no-unneeded-tools",
    "image.package-cache",
    "image.pinned-digest",
    "image.pinned-tag",
    "image.trusted-source",
    "network.exposed-ports",
    "registry.https",
    "runtime.healthcheck",
    "secrets.build-secrets",
    "secrets.no-secrets-in-image",
}


def _scan(path: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "lockdock", "scan", "--no-engine", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=path,
    )
    assert proc.stdout, proc.stderr
    assert SECRET not in proc.stdout and SECRET not in proc.stderr
    return json.loads(proc.stdout)


def test_cli_reports_every_dockerfile_check(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "Dockerfile").write_text(BAD)
    (bad / "Dockerfile.broken").write_bytes(b"FROM alpine\nRUN <<EOF\nno end\n")
    data = _scan(tmp_path)
    found = {f["check"] for f in data["findings"] if f["target"]["kind"] == "dockerfile"}
    assert found >= BAD_CHECKS, BAD_CHECKS - found
    for f in data["findings"]:
        if f["target"]["kind"] == "dockerfile":
            assert f["location"]["path"] == "bad/Dockerfile"
            assert f["location"]["line"] >= 1
    assert any(e["path"] == "bad/Dockerfile.broken" and "heredoc" in e["message"] for e in data["errors"])


def test_cli_catches_every_case(tmp_path: Path) -> None:
    """Every Dockerfile id's catching cases, each in its own folder, through one CLI scan."""
    cases = write_cases(tmp_path, CATCHES, GOOD_IGNORE)
    data = _scan(tmp_path)
    for path, (check, line) in cases.items():
        lines = {f["location"]["line"] for f in data["findings"] if f["check"] == check and f["location"]["path"] == path}
        assert line in lines, (path, check, sorted(lines))
    expected = {c.id for c in catalogue.CHECKS if "D" in c.where} - {"build.dockerignore"}
    assert expected <= {check for check, _ in cases.values()}


def test_cli_hardened_dockerfile_is_clean(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(GOOD)
    (tmp_path / ".dockerignore").write_text(IGNORE)
    data = _scan(tmp_path)
    found = [f for f in data["findings"] if f["target"]["kind"] == "dockerfile"]
    assert found == [], [(f["check"], f["message"]) for f in found]
    assert data["errors"] == []
