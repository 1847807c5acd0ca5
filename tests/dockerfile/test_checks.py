"""Catches / does-not-catch for every Dockerfile check, on real files through `scan()`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dockerfile.helpers import checks, dockerfile_findings

GOOD_IGNORE = {".dockerignore": ".git\n.env\nsecrets/\n**/*.key\n**/*.pem\n"}

# (check, Dockerfile text, expected line of the first finding)
CATCHES: list[tuple[str, str, int]] = [
    ("image.pinned-tag", "FROM ubuntu\n", 1),
    ("image.pinned-tag", "FROM python:latest\n", 1),
    ("image.pinned-tag", "FROM alpine:3.19\nFROM node:lts AS web\n", 2),
    ("image.pinned-tag", "FROM --platform=$BUILDPLATFORM golang AS build\n", 1),
    ("image.pinned-tag", "ARG IMG=debian\nFROM ${IMG}\n", 2),
    ("image.pinned-tag", "FROM alpine:3.19\nCOPY --from=nginx:edge /etc/nginx /etc/nginx\n", 2),
    ("image.pinned-digest", "FROM alpine:3.19\n", 1),
    ("image.trusted-source", "FROM someuser/tool:1.0\n", 1),
    ("image.trusted-source", "FROM quay.io/acme/base:2\n", 1),
    ("image.minimal-base", "FROM python:3.12\n", 1),
    ("image.minimal-base", "FROM golang:1.22 AS b\nFROM debian:12\n", 2),
    ("image.minimal-base", "FROM ubuntu:22.04 AS base\nFROM base\nRUN true\n", 1),
    ("registry.https", "FROM http://registry.local:5000/app:1\n", 1),
    ("container.non-root", "FROM alpine:3.19\nCMD [\"sh\"]\n", 1),
    ("container.non-root", "FROM alpine:3.19\nUSER app\nUSER root\n", 3),
    ("container.non-root", "FROM alpine:3.19\nUSER 0:0\n", 2),
    ("container.non-root", "FROM scratch\nCOPY app /app\n", 1),
    ("container.non-root", "FROM alpine:3.19 AS b\nUSER app\nFROM debian:12-slim\n", 3),
    ("container.non-root", "FROM alpine:3.19\nARG U=root\nUSER $U\n", 3),
    ("runtime.healthcheck", "FROM alpine:3.19\nUSER app\n", 1),
    ("runtime.healthcheck", "FROM alpine:3.19\nHEALTHCHECK NONE\n", 2),
    ("image.package-cache", "FROM debian:12\nRUN apt-get update && apt-get install -y curl\n", 2),
    ("image.package-cache", "FROM alpine:3.19\nRUN apk add git\n", 2),
    ("image.package-cache", "FROM python:3.12-slim\nRUN pip install flask\n", 2),
    ("image.package-cache", "FROM python:3.12-slim\nRUN python3 -m pip install flask\n", 2),
    ("image.package-cache", "FROM rockylinux:9\nRUN dnf install -y jq\n", 2),
    ("image.package-cache", "FROM node:20-slim\nRUN npm ci\n", 2),
    ("image.package-cache", "FROM opensuse/leap:15\nRUN zypper install -y jq\n", 2),
    ("image.package-cache", "FROM debian:12\nRUN <<EOF\napt-get update\napt-get install -y --no-install-recommends jq\nEOF\n", 4),
    ("image.no-unneeded-tools", "FROM debian:12\nRUN apt-get install -y --no-install-recommends curl vim\n", 2),
    ("image.no-unneeded-tools", "FROM alpine:3.19\nRUN apk add --no-cache openssh-server\n", 2),
    ("image.no-unneeded-tools", "FROM alpine:3.19 AS base\nRUN apk add --no-cache netcat-openbsd\nFROM base\n", 2),
    ("secrets.no-secrets-in-image", "FROM alpine:3.19\nENV DB_PASSWORD=s3cr3tP4ssw0rd\n", 2),
    ("secrets.no-secrets-in-image", "FROM alpine:3.19\nENV AWS_KEY AKIAABCDEFGHIJKLMNOP\n", 2),
    ("secrets.no-secrets-in-image", "FROM alpine:3.19\nARG API_KEY=abcd1234efgh5678\n", 2),
    ("secrets.no-secrets-in-image", "FROM alpine:3.19\nCOPY .env /app/.env\n", 2),
    ("secrets.no-secrets-in-image", "FROM alpine:3.19\nCOPY certs/server.key /etc/ssl/\n", 2),
    ("secrets.no-secrets-in-image", "FROM alpine:3.19\nRUN git clone https://bob:hunter2pass@git.example.com/r.git\n", 2),
    ("secrets.no-secrets-in-image", "FROM alpine:3.19\nRUN aws configure set aws_secret_access_key wJalrXUtnFEMIK7MDENG\n", 2),
    ("secrets.no-secrets-in-image", "FROM alpine:3.19\nARG T\nENV NPM_TOKEN=${T}\n", 3),
    ("secrets.build-secrets", "FROM node:20-slim\nARG NPM_TOKEN\nRUN npm ci\n", 2),
    ("secrets.build-secrets", "FROM node:20-slim\nCOPY .npmrc ./\n", 2),
    ("secrets.build-secrets", "FROM alpine:3.19\nRUN git clone https://$GH_TOKEN@github.com/o/r.git\n", 2),
    ("secrets.build-secrets", "FROM node:20-slim\nRUN npm config set //registry.npmjs.org/:_authToken $TOKEN\n", 2),
    ("secrets.build-secrets", "FROM docker:27\nRUN docker build --build-arg NPM_TOKEN=$NPM_TOKEN .\n", 2),
    ("secrets.no-secrets-in-image", "FROM docker:27\nRUN docker build --build-arg API_KEY=k3yV4lu3xyz .\n", 2),
    ("network.exposed-ports", "FROM alpine:3.19\nEXPOSE 22\n", 2),
    ("network.exposed-ports", "FROM alpine:3.19\nEXPOSE 8080 6379/tcp\n", 2),
    ("network.exposed-ports", "FROM alpine:3.19\nEXPOSE 2370-2380\n", 2),
    ("build.multi-stage", "FROM golang:1.22\nCOPY . .\nRUN go build -o /app\n", 3),
    ("build.multi-stage", "FROM debian:12\nRUN apt-get install -y build-essential\n", 2),
    ("build.copy-not-add", "FROM alpine:3.19\nADD app.py /app/\n", 2),
    ("build.copy-not-add", "FROM alpine:3.19\nADD https://example.com/tool.sh /tool.sh\n", 2),
    ("build.exec-form", "FROM alpine:3.19\nCMD python app.py\n", 2),
    ("build.exec-form", "FROM alpine:3.19\nENTRYPOINT /entry.sh\n", 2),
    ("build.no-sudo", "FROM debian:12\nRUN sudo apt-get update\n", 2),
    ("build.no-sudo", "FROM debian:12\nRUN apt-get install -y --no-install-recommends sudo\n", 2),
    ("build.no-curl-pipe-shell", "FROM alpine:3.19\nRUN curl -fsSL https://get.example.com | sh\n", 2),
    ("build.no-curl-pipe-shell", "FROM alpine:3.19\nRUN wget -qO- https://x.io/i | sudo bash -s --\n", 2),
    ("build.no-curl-pipe-shell", "FROM alpine:3.19\nRUN curl -fsSL https://x.io/i | tee /tmp/i.log | bash\n", 2),
    ("build.no-curl-pipe-shell", "FROM alpine:3.19\nRUN sh -c \"$(curl -fsSL https://x.io/i)\"\n", 2),
    ("build.no-curl-pipe-shell", "FROM alpine:3.19\nRUN <<EOF\ncurl -sL https://x.io/i | bash\nEOF\n", 2),
    ("build.tls-verification", "FROM alpine:3.19\nRUN curl -k -o /x https://x.io/x\n", 2),
    ("build.tls-verification", "FROM alpine:3.19\nRUN curl -fsSLk -o /x https://x.io/x\n", 2),
    ("build.tls-verification", "FROM alpine:3.19\nRUN wget --no-check-certificate https://x.io/x\n", 2),
    ("build.tls-verification", "FROM python:3.12-slim\nRUN pip install --trusted-host pypi.org flask\n", 2),
    ("build.tls-verification", "FROM node:20-slim\nENV NODE_TLS_REJECT_UNAUTHORIZED=0\n", 2),
    ("build.tls-verification", "FROM alpine:3.19\nRUN apk add --allow-untrusted /tmp/x.apk\n", 2),
    ("build.tls-verification", "FROM debian:12\nRUN apt-get install -y --allow-unauthenticated x\n", 2),
    ("build.tls-verification", "FROM rockylinux:9\nRUN dnf install -y --nogpgcheck x\n", 2),
    ("build.tls-verification", "FROM alpine:3.19\nRUN GIT_SSL_NO_VERIFY=1 git clone https://x.io/r\n", 2),
    ("build.production-deps", "FROM node:20-slim\nRUN npm install\n", 2),
    ("build.production-deps", "FROM node:20-slim\nRUN npm ci\n", 2),
    ("build.production-deps", "FROM python:3.12-slim\nRUN pip install -r requirements-dev.txt\n", 2),
    ("build.pinned-packages", "FROM debian:12\nRUN apt-get install -y --no-install-recommends curl\n", 2),
    ("build.package-update", "FROM alpine:3.19\nRUN apk update\nRUN apk add --no-cache curl=8.5.0-r0\n", 2),
    ("build.shell-safety", "FROM debian:12\nRUN curl -fsSL https://x.io/a.tgz | tar -xz\n", 2),
    ("build.system-paths", "FROM alpine:3.19\nVOLUME /etc\n", 2),
]

# (check, Dockerfile text): none of these may be reported by that check.
DOES_NOT_CATCH: list[tuple[str, str]] = [
    ("image.pinned-tag", "FROM alpine:3.19\n"),
    ("image.pinned-tag", "FROM alpine@sha256:" + "a" * 64 + "\n"),
    ("image.pinned-tag", "FROM scratch\nCOPY a /a\n"),
    ("image.pinned-tag", "FROM golang:1.22 AS build\nFROM build\n"),
    ("image.pinned-tag", "FROM golang:1.22 AS Build\nFROM alpine:3.19\nCOPY --from=build /a /a\n"),
    ("image.pinned-tag", "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n"),
    ("image.pinned-tag", "ARG V=3.19\nFROM alpine:${V}\n"),
    ("image.pinned-tag", "ARG IMAGE\nFROM $IMAGE\n"),
    ("image.pinned-tag", "FROM alpine:3.19\nCOPY --from=0 /a /a\n"),
    ("image.pinned-tag", "FROM localhost:5000/app:1.2\n"),
    ("image.pinned-digest", "FROM alpine:3.19@sha256:" + "b" * 64 + "\nFROM scratch\n"),
    ("image.trusted-source", "FROM alpine:3.19\n"),
    ("image.trusted-source", "FROM library/alpine:3.19\n"),
    ("image.trusted-source", "FROM docker.io/library/alpine:3.19\n"),
    ("image.trusted-source", "FROM gcr.io/distroless/static-debian12:nonroot\n"),
    ("image.trusted-source", "FROM golang:1.22 AS build\nFROM build\n"),
    ("image.minimal-base", "FROM python:3.12-slim\n"),
    ("image.minimal-base", "FROM golang:1.22 AS build\nFROM alpine:3.19\n"),
    ("image.minimal-base", "FROM golang:1.22 AS build\nFROM gcr.io/distroless/static-debian12\n"),
    ("image.minimal-base", "FROM node:20-alpine\n"),
    ("image.minimal-base", "FROM golang:1.22 AS build\nFROM scratch\n"),
    ("image.minimal-base", "FROM myorg/runtime:1.0\n"),
    ("registry.https", "FROM registry.local:5000/app:1\n"),
    ("container.non-root", "FROM alpine:3.19\nUSER app\n"),
    ("container.non-root", "FROM alpine:3.19 AS build\nUSER root\nRUN true\nFROM alpine:3.19\nUSER 10001:10001\n"),
    ("container.non-root", "FROM alpine:3.19 AS base\nUSER app\nFROM base\nRUN true\n"),
    ("container.non-root", "FROM gcr.io/distroless/static-debian12:nonroot\n"),
    ("container.non-root", "FROM alpine:3.19\nARG UID=10001\nUSER ${UID}\n"),
    ("container.non-root", "FROM alpine:3.19\nUSER $APP_USER\n"),
    ("runtime.healthcheck", "FROM alpine:3.19\nHEALTHCHECK CMD wget -qO- http://localhost/ || exit 1\n"),
    ("runtime.healthcheck", "FROM alpine:3.19 AS b\nHEALTHCHECK NONE\nFROM alpine:3.19\nHEALTHCHECK CMD true\n"),
    ("image.package-cache", "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends jq && rm -rf /var/lib/apt/lists/*\n"),
    ("image.package-cache", "FROM alpine:3.19\nRUN apk add --no-cache git\n"),
    ("image.package-cache", "FROM python:3.12-slim\nRUN pip install --no-cache-dir flask\n"),
    ("image.package-cache", "FROM python:3.12-slim\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask\n"),
    ("image.package-cache", "FROM python:3.12-slim\nRUN --mount=type=cache,target=/root/.cache/pip pip install flask\n"),
    ("image.package-cache", "FROM debian:12\nRUN --mount=type=cache,target=/var/cache/apt --mount=type=cache,target=/var/lib/apt apt-get update && apt-get install -y --no-install-recommends jq\n"),
    ("image.package-cache", "FROM debian:12 AS build\nRUN apt-get install -y gcc\nFROM debian:12-slim\n"),
    ("image.package-cache", "FROM rockylinux:9\nRUN dnf install -y jq && dnf clean all\n"),
    ("image.package-cache", "FROM node:20-slim\nRUN npm ci --omit=dev && npm cache clean --force\n"),
    ("image.package-cache", "FROM debian:12\nRUN echo apt-get install -y foo > /notes.txt\n"),
    ("image.no-unneeded-tools", "FROM debian:12 AS build\nRUN apt-get install -y curl git gcc\nFROM debian:12-slim\n"),
    ("image.no-unneeded-tools", "FROM debian:12\nRUN apt-get install -y curl && curl -o /x https://x && apt-get purge -y curl\n"),
    ("image.no-unneeded-tools", "FROM alpine:3.19\nRUN apk add --no-cache --virtual .deps gcc make && make && apk del .deps\n"),
    ("image.no-unneeded-tools", "FROM python:3.12-slim\nRUN pip install --no-cache-dir httpie\n"),
    ("secrets.no-secrets-in-image", "FROM alpine:3.19\nENV DB_PASSWORD_FILE=/run/secrets/db\n"),
    ("secrets.no-secrets-in-image", "FROM alpine:3.19\nENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D\n"),
    ("secrets.no-secrets-in-image", "FROM alpine:3.19\nENV PASSWORD=${PASSWORD}\n"),
    ("secrets.no-secrets-in-image", "FROM alpine:3.19\nENV TOKEN_URL=https://auth.example.com/token\n"),
    ("secrets.no-secrets-in-image", "FROM alpine:3.19\nCOPY .env.example /app/\nCOPY server.pub /keys/\n"),
    ("secrets.no-secrets-in-image", "FROM alpine:3.19\nRUN --mount=type=secret,id=npm NPM_TOKEN=$(cat /run/secrets/npm) npm ci\n"),
    ("secrets.no-secrets-in-image", "FROM alpine:3.19\nCOPY --from=builder /app/.env.prod /x\n"),
    ("secrets.build-secrets", "FROM node:20-slim\nRUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci\n"),
    ("secrets.build-secrets", "FROM alpine:3.19\nARG VERSION=1.0\nARG TOKEN_TYPE=bearer\n"),
    ("secrets.build-secrets", "FROM alpine:3.19\nRUN --mount=type=secret,id=gh git clone https://$(cat /run/secrets/gh)@github.com/o/r.git\n"),
    ("network.exposed-ports", "FROM alpine:3.19\nEXPOSE 80 443 8080/tcp\n"),
    ("network.exposed-ports", "FROM postgres:16\nEXPOSE 5432\n"),
    ("network.exposed-ports", "FROM alpine:3.19\nEXPOSE $PORT\n"),
    ("build.multi-stage", "FROM golang:1.22 AS build\nRUN go build -o /app\nFROM scratch\nCOPY --from=build /app /app\n"),
    ("build.multi-stage", "FROM python:3.12-slim\nRUN pip install --no-cache-dir flask\n"),
    ("build.copy-not-add", "FROM alpine:3.19\nADD rootfs.tar.gz /\n"),
    ("build.copy-not-add", "FROM alpine:3.19\nCOPY app.py /app/\n"),
    ("build.copy-not-add", "FROM alpine:3.19\nADD --checksum=sha256:" + "c" * 64 + " https://x.io/a.bin /a.bin\n"),
    ("build.exec-form", "FROM alpine:3.19\nCMD [\"python\", \"app.py\"]\nENTRYPOINT [\"/entry.sh\"]\n"),
    ("build.exec-form", "FROM alpine:3.19 AS build\nCMD make test\nFROM alpine:3.19\nCMD [\"/app\"]\n"),
    ("build.no-sudo", "FROM debian:12\nRUN echo sudo is not used here\n"),
    ("build.no-sudo", "FROM debian:12 AS b\nRUN apt-get install -y sudo\nFROM debian:12-slim\n"),
    ("build.no-curl-pipe-shell", "FROM alpine:3.19\nRUN curl -fsSLo /tmp/i.sh https://x.io/i && sha256sum -c sums && sh /tmp/i.sh\n"),
    ("build.no-curl-pipe-shell", "FROM alpine:3.19\nRUN curl -fsSL https://x.io/a.tgz | tar xz\n"),
    ("build.tls-verification", "FROM alpine:3.19\nRUN curl -fsSL -o /x https://x.io/x\n"),
    ("build.tls-verification", "FROM alpine:3.19\nRUN tar -k -xf a.tar\n"),
    ("build.tls-verification", "FROM node:20-slim\nENV NODE_TLS_REJECT_UNAUTHORIZED=1\n"),
    ("build.production-deps", "FROM node:20-slim\nRUN npm ci --omit=dev\n"),
    ("build.production-deps", "FROM node:20-slim\nENV NODE_ENV=production\nRUN npm ci\n"),
    ("build.production-deps", "FROM node:20 AS build\nRUN npm ci && npm run build\nFROM node:20-slim\nRUN npm ci --omit=dev\n"),
    ("build.production-deps", "FROM node:20-slim\nRUN npm install -g pm2\n"),
    ("build.production-deps", "FROM python:3.12-slim\nRUN pip install -r requirements.txt\n"),
    ("build.pinned-packages", "FROM debian:12\nRUN apt-get install -y --no-install-recommends curl=7.88.1-10\n"),
    ("build.package-update", "FROM alpine:3.19\nRUN apk update && apk add --no-cache curl=8.5.0-r0\n"),
    ("build.shell-safety", "FROM debian:12\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN cd /x && curl -fsSL https://x.io/a | tar -x\n"),
    ("build.system-paths", "FROM alpine:3.19\nWORKDIR /app\nVOLUME /app/data\n"),
]


@pytest.mark.parametrize(("check", "text", "line"), CATCHES, ids=lambda v: v if isinstance(v, str) and "." in v and "\n" not in v else None)
def test_catches(tmp_path: Path, check: str, text: str, line: int) -> None:
    found = checks(dockerfile_findings(tmp_path, text, GOOD_IGNORE), check)
    assert found, f"{check} missed:\n{text}"
    assert found[0].location.line == line
    assert found[0].location.path == "Dockerfile"
    assert found[0].location.end_line is not None and found[0].location.end_line >= line


@pytest.mark.parametrize(("check", "text"), DOES_NOT_CATCH, ids=lambda v: v if isinstance(v, str) and "." in v and "\n" not in v else None)
def test_does_not_catch(tmp_path: Path, check: str, text: str) -> None:
    found = checks(dockerfile_findings(tmp_path, text, GOOD_IGNORE), check)
    assert not found, [f.message for f in found]


def test_every_dockerfile_check_has_cases() -> None:
    from lockdock import checks as catalogue

    dockerfile_checks = {c.id for c in catalogue.CHECKS if "D" in c.where}
    assert dockerfile_checks - {"build.dockerignore"} <= {c for c, _, _ in CATCHES}
    assert dockerfile_checks - {"build.dockerignore", "image.pinned-digest"} <= {c for c, _ in DOES_NOT_CATCH}


def test_multiline_instruction_reports_subcommand_line_and_end_line(tmp_path: Path) -> None:
    """Issue 13: a finding on a long RUN starts at the offending sub-command's line."""
    text = "FROM debian:12\nRUN apt-get update && \\\n    apt-get install -y \\\n      curl\n"
    found = checks(dockerfile_findings(tmp_path, text, GOOD_IGNORE), "image.package-cache")
    assert {(f.location.line, f.location.end_line) for f in found} == {(3, 4)}
    assert all(f.evidence.startswith("apt-get install") for f in found)
    assert all(f.scope_lines == (2,) for f in found)


def test_heredoc_instruction_end_line_is_the_terminator(tmp_path: Path) -> None:
    text = "FROM alpine:3.19\nRUN <<EOF\napk add git\nEOF\nUSER app\n"
    (f,) = checks(dockerfile_findings(tmp_path, text, GOOD_IGNORE), "image.package-cache")
    assert (f.location.line, f.location.end_line) == (3, 4)


def test_secret_values_are_masked_everywhere(tmp_path: Path) -> None:
    raw = "ghp_" + "Z" * 36
    text = f"FROM alpine:3.19\nENV GITHUB_TOKEN={raw}\nRUN curl -H 'Authorization: Bearer {raw}' https://api.github.com\n"
    found = dockerfile_findings(tmp_path, text, GOOD_IGNORE)
    secret = checks(found, "secrets.no-secrets-in-image")
    assert len(secret) >= 2
    for f in found:
        assert raw not in f.message and raw not in (f.evidence or "")


def test_windows_style_file_with_escape_directive(tmp_path: Path) -> None:
    text = "# escape=`\r\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\r\nRUN powershell -Command `\r\n    Invoke-WebRequest https://x.io/a.exe\r\nUSER ContainerUser\r\nCMD [\"app.exe\"]\r\n"
    found = dockerfile_findings(tmp_path, text, GOOD_IGNORE)
    assert not checks(found, "image.trusted-source")
    assert not checks(found, "container.non-root")


def test_dockerignore_per_build_context(tmp_path: Path) -> None:
    text = "FROM alpine:3.19\nCOPY . /app\nUSER app\n"
    found = checks(dockerfile_findings(tmp_path, text), "build.dockerignore")
    assert len(found) == 1 and "no .dockerignore" in found[0].message and found[0].location.line == 2
    sub = tmp_path / "svc"
    sub.mkdir()
    (sub / "Dockerfile").write_text(text)
    (sub / ".dockerignore").write_text(".git\n.env\n")
    found = checks(dockerfile_findings(tmp_path, text), "build.dockerignore")
    by_path = {f.location.path: f for f in found}
    assert set(by_path) == {"Dockerfile", "svc/Dockerfile"}
    assert "**/*.key" in by_path["svc/Dockerfile"].message and ".git," not in by_path["svc/Dockerfile"].message


def test_dockerignore_not_reported_when_context_is_covered_or_unused(tmp_path: Path) -> None:
    assert not checks(dockerfile_findings(tmp_path, "FROM alpine:3.19\nCOPY . /app\n", GOOD_IGNORE), "build.dockerignore")
    other = tmp_path / "other"
    other.mkdir()
    assert not checks(dockerfile_findings(other, "FROM alpine:3.19\nCOPY --from=b /a /a\nRUN true\n"), "build.dockerignore")


def test_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    files = {"app.Dockerfile.dockerignore": GOOD_IGNORE[".dockerignore"]}
    found = dockerfile_findings(tmp_path, "FROM alpine:3.19\nCOPY . /app\n", files, name="app.Dockerfile")
    assert not checks(found, "build.dockerignore")


def test_dockerignore_wants_node_modules_for_node_projects(tmp_path: Path) -> None:
    found = dockerfile_findings(tmp_path, "FROM node:20-slim\nCOPY . .\n", {**GOOD_IGNORE, "package.json": "{}"})
    (f,) = checks(found, "build.dockerignore")
    assert "node_modules" in f.message


def test_registry_https_uses_daemon_insecure_registries(tmp_path: Path) -> None:
    from lockdock.context import ScanContext

    class FakeEngine:
        info = {"RegistryConfig": {"IndexConfigs": {"reg.internal:5000": {"Secure": False}, "docker.io": {"Secure": True}}}}
        endpoint = "fake"

        class api:  # noqa: N801 - stands in for docker.APIClient
            @staticmethod
            def inspect_image(ref: str) -> dict:
                raise LookupError(ref)

    from lockdock.registry import load_plugins
    from lockdock.scan import analyze_subject
    from lockdock.sources.dockerfiles import load_subject

    load_plugins()
    ctx = ScanContext(cwd=tmp_path, use_engine=True, engine=FakeEngine())  # type: ignore[arg-type]
    (tmp_path / "Dockerfile").write_text("FROM reg.internal:5000/team/app:1.0\nFROM alpine:3.19\n")
    subject = load_subject(tmp_path / "Dockerfile", ctx)
    found = checks(analyze_subject(subject, ctx).findings, "registry.https")
    assert [f.location.line for f in found] == [1]
    assert "insecure registry" in found[0].message


def test_missing_user_message_says_base_not_inspected(tmp_path: Path) -> None:
    (f,) = checks(dockerfile_findings(tmp_path, "FROM alpine:3.19\n", GOOD_IGNORE), "container.non-root")
    assert "not inspected" in f.message


def test_buildkit_instruction_errors_are_warnings_and_analysis_goes_on(tmp_path: Path) -> None:
    from tests.dockerfile.helpers import scan_dir

    (tmp_path / "Dockerfile").write_text("RUN echo early\nFROM ubuntu\nFORM typo\nFROM\n")
    result = scan_dir(tmp_path)
    warnings = [e.message for e in result.errors if e.path == "Dockerfile"]
    assert any("line 1: RUN before the first FROM" in w for w in warnings)
    assert any("line 3: unknown instruction: FORM" in w for w in warnings)
    assert any("line 4: FROM requires either one or three arguments" in w for w in warnings)
    assert all(e.kind == "warning" for e in result.errors if e.path == "Dockerfile")
    assert any(f.check == "image.pinned-tag" and f.location.line == 2 for f in result.findings)


def test_pragma_above_an_instruction_suppresses_its_finding(tmp_path: Path) -> None:
    text = (
        "FROM alpine:3.19\n"
        "# lockdock: ignore=build.exec-form the wrapper script handles signals\n"
        "CMD /entry.sh\n"
    )
    (f,) = checks(dockerfile_findings(tmp_path, text, GOOD_IGNORE), "build.exec-form")
    assert f.suppressed is not None and "wrapper" in f.suppressed.reason


def test_whole_context_copy_of_secret_files(tmp_path: Path) -> None:
    files = {".dockerignore": ".git\n", ".env": "A=1\n", "secrets/db.txt": "x", ".env.example": "A=\n", "tls.pem": "x"}
    text = "FROM alpine:3.19 AS build\nCOPY . /src\nFROM alpine:3.19\nCOPY . /app\nUSER app\n"
    found = [f for f in checks(dockerfile_findings(tmp_path, text, files), "secrets.no-secrets-in-image")]
    (f,) = found
    assert f.location.line == 4
    assert ".env" in f.message and "secrets/db.txt" in f.message and "tls.pem" in f.message
    assert ".env.example" not in f.message
    assert f.fix is not None and f.fix.applicability.value == "safe"


def test_whole_context_copy_is_fine_when_ignored_or_only_in_a_build_stage(tmp_path: Path) -> None:
    files = {**GOOD_IGNORE, ".env": "A=1\n", "tls.pem": "x"}
    assert not checks(dockerfile_findings(tmp_path, "FROM alpine:3.19\nCOPY . /app\n", files), "secrets.no-secrets-in-image")
    other = tmp_path / "o"
    other.mkdir()
    text = "FROM alpine:3.19 AS build\nCOPY . /src\nFROM alpine:3.19\nCOPY --from=build /src/bin /bin\n"
    found = dockerfile_findings(other, text, {".dockerignore": ".git\n", ".env": "A=1\n"})
    assert not checks(found, "secrets.no-secrets-in-image")


@pytest.mark.parametrize(
    "line",
    [
        "ENV NODE_TLS_REJECT_UNAUTHORIZED=0 DB_PASSWORD=hunter2secret",
        "RUN PGPASSWORD=hunter2secret curl -k https://db.example.com/",
        "ENV DB_PASSWORD hunter2secret",
    ],
)
def test_by_name_secrets_are_masked_in_every_findings_evidence(tmp_path: Path, line: str) -> None:
    found = dockerfile_findings(tmp_path, f"FROM alpine:3.19\n{line}\n", GOOD_IGNORE)
    assert any(f.location.line == 2 for f in found)
    for f in found:
        assert "hunter2secret" not in (f.evidence or "") + f.message, (f.check, f.evidence)
