"""Dockerfile fixes: applied in memory, re-parsed and re-analysed — the finding is gone,
no new finding appears, the file keeps its shape, and the fix is not offered again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lockdock.context import ScanContext
from lockdock.model import Applicability, FileEdit, Finding
from tests.dockerfile.helpers import apply_fix_in_memory, checks, dockerfile_findings

IGNORE = {".dockerignore": ".git\n.env\nsecrets/\n**/*.key\n**/*.pem\n"}


def _counts(findings: list[Finding]) -> Counter[str]:
    return Counter(f.check for f in findings)


def fix_and_rescan(
    tmp_path: Path,
    check: str,
    text: str,
    *,
    files: dict[str, str] | None = None,
    ctx_factory: Any = None,
    applicability: Applicability | None = None,
    nth: int = 0,
) -> str:
    """Fix the `nth` finding of `check`; return the new Dockerfile text."""
    files = IGNORE if files is None else files
    ctx = ctx_factory() if ctx_factory else None
    before = dockerfile_findings(tmp_path, text, files, ctx=ctx)
    target = checks(before, check)[nth]
    fix = target.fix
    assert fix is not None, f"no fix for {check}: {target.message}"
    if applicability is not None:
        assert fix.applicability == applicability
    apply_fix_in_memory(fix, tmp_path)
    new_text = (tmp_path / "Dockerfile").read_bytes().decode("utf-8")
    ctx = ctx_factory() if ctx_factory else None
    after = dockerfile_findings(tmp_path, new_text, {}, ctx=ctx)
    still = [f for f in checks(after, check) if f.message == target.message and f.location.line == target.location.line]
    assert not still, f"{check} still reported after the fix:\n{new_text}"
    new = _counts(after) - _counts(before)
    assert not new, f"the fix introduced findings {new}:\n{new_text}"
    assert len(checks(after, check)) < len(checks(before, check))
    return new_text


CASES: list[tuple[str, str, str, Applicability]] = [
    (
        "image.package-cache",
        "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl\nUSER app\n",
        "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\nUSER app\n",
        Applicability.SAFE,
    ),
    (
        "image.package-cache",
        "FROM debian:12\nRUN apt-get update \\\n  && apt-get install -y jq \\\n  && rm -rf /var/lib/apt/lists/*\n",
        "FROM debian:12\nRUN apt-get update \\\n  && apt-get install --no-install-recommends -y jq \\\n  && rm -rf /var/lib/apt/lists/*\n",
        Applicability.SAFE,
    ),
    (
        "image.package-cache",
        "FROM alpine:3.19\r\nRUN apk add git\r\nUSER app",
        "FROM alpine:3.19\r\nRUN apk add --no-cache git\r\nUSER app",
        Applicability.SAFE,
    ),
    (
        "image.package-cache",
        "FROM python:3.12-slim\nRUN pip install -r requirements.txt\n",
        "FROM python:3.12-slim\nRUN pip install --no-cache-dir -r requirements.txt\n",
        Applicability.SAFE,
    ),
    (
        "image.package-cache",
        "FROM debian:12\nRUN <<EOF\nset -e\napt-get update\napt-get install -y --no-install-recommends jq\nEOF\n",
        "FROM debian:12\nRUN <<EOF\nset -e\napt-get update\napt-get install -y --no-install-recommends jq\nrm -rf /var/lib/apt/lists/*\nEOF\n",
        Applicability.SAFE,
    ),
    (
        "image.package-cache",
        "FROM rockylinux:9-minimal\nRUN microdnf install -y jq\n",
        "FROM rockylinux:9-minimal\nRUN microdnf install -y jq && microdnf clean all\n",
        Applicability.SAFE,
    ),
    (
        "build.copy-not-add",
        "FROM alpine:3.19\nADD --chown=1000:1000 app.py /app/\n",
        "FROM alpine:3.19\nCOPY --chown=1000:1000 app.py /app/\n",
        Applicability.SAFE,
    ),
    (
        "build.exec-form",
        "FROM alpine:3.19\nCMD python  app.py --port 8080\n",
        'FROM alpine:3.19\nCMD ["python", "app.py", "--port", "8080"]\n',
        Applicability.SAFE,
    ),
    (
        "build.exec-form",
        "# escape=`\nFROM alpine:3.19\nENTRYPOINT /usr/bin/app `\n  --serve\n",
        '# escape=`\nFROM alpine:3.19\nENTRYPOINT ["/usr/bin/app", "--serve"]\n',
        Applicability.SAFE,
    ),
    (
        "build.no-sudo",
        "FROM debian:12\nRUN sudo apt-get update && sudo  mkdir /x\n",
        "FROM debian:12\nRUN apt-get update && mkdir /x\n",
        Applicability.SAFE,
    ),
    (
        "build.tls-verification",
        "FROM alpine:3.19\nRUN curl -fsSLk -o /x https://x.io/x && wget --no-check-certificate https://x.io/y\n",
        "FROM alpine:3.19\nRUN curl -fsSL -o /x https://x.io/x && wget https://x.io/y\n",
        Applicability.UNSAFE,
    ),
    (
        "build.tls-verification",
        "FROM python:3.12-slim\nRUN pip install --no-cache-dir --trusted-host pypi.internal flask\n",
        "FROM python:3.12-slim\nRUN pip install --no-cache-dir flask\n",
        Applicability.UNSAFE,
    ),
    (
        "build.tls-verification",
        "FROM node:20-slim\nENV NODE_TLS_REJECT_UNAUTHORIZED=0\nUSER node\n",
        "FROM node:20-slim\nUSER node\n",
        Applicability.UNSAFE,
    ),
    (
        "build.production-deps",
        "FROM node:20-slim\nRUN npm install && npm cache clean --force\n",
        "FROM node:20-slim\nRUN npm ci --omit=dev && npm cache clean --force\n",
        Applicability.UNSAFE,
    ),
    (
        "network.exposed-ports",
        "FROM alpine:3.19\nEXPOSE 8080 22\n",
        "FROM alpine:3.19\nEXPOSE 8080\n",
        Applicability.UNSAFE,
    ),
    (
        "network.exposed-ports",
        "FROM alpine:3.19\nEXPOSE 22\nUSER app",
        "FROM alpine:3.19\nUSER app",
        Applicability.UNSAFE,
    ),
    (
        "container.non-root",
        "# syntax=docker/dockerfile:1\nFROM alpine:3.19\nCOPY app /app\nCMD [\"/app\"]\n",
        "# syntax=docker/dockerfile:1\nFROM alpine:3.19\nCOPY app /app\nRUN addgroup -S app && adduser -S -G app app\nUSER app\nCMD [\"/app\"]\n",
        Applicability.UNSAFE,
    ),
    (
        "container.non-root",
        "FROM golang:1.22 AS build\r\nRUN go build -o /app\r\nFROM debian:12-slim\r\nCOPY --from=build /app /app",
        "FROM golang:1.22 AS build\r\nRUN go build -o /app\r\nFROM debian:12-slim\r\nCOPY --from=build /app /app\r\nRUN groupadd --system app && useradd --system --gid app --no-create-home app\r\nUSER app",
        Applicability.UNSAFE,
    ),
    (
        "container.non-root",
        "FROM node:20-slim\nUSER root\nRUN npm ci --omit=dev && npm cache clean --force\nCMD [\"node\", \"server.js\"]\n",
        "FROM node:20-slim\nUSER root\nRUN npm ci --omit=dev && npm cache clean --force\nUSER node\nCMD [\"node\", \"server.js\"]\n",
        Applicability.UNSAFE,
    ),
    (
        "container.non-root",
        "FROM golang:1.22 AS b\nRUN go build -o /app\nFROM scratch\nCOPY --from=b /app /app\nENTRYPOINT [\"/app\"]\n",
        "FROM golang:1.22 AS b\nRUN go build -o /app\nFROM scratch\nCOPY --from=b /app /app\nUSER 65532:65532\nENTRYPOINT [\"/app\"]\n",
        Applicability.UNSAFE,
    ),
    (
        "secrets.no-secrets-in-image",
        "FROM alpine:3.19\nENV DB_PASSWORD=s3cr3tP4ssw0rd\nUSER app\n",
        "FROM alpine:3.19\nUSER app\n",
        Applicability.UNSAFE,
    ),
    (
        "secrets.build-secrets",
        "FROM alpine:3.19\nARG GH_TOKEN\nRUN git clone https://$GH_TOKEN@github.com/o/r.git /src\n",
        "FROM alpine:3.19\nRUN --mount=type=secret,id=gh-token,env=GH_TOKEN git clone https://$GH_TOKEN@github.com/o/r.git /src\n",
        Applicability.UNSAFE,
    ),
    (
        "secrets.build-secrets",
        "FROM node:20-slim\nWORKDIR /app\nCOPY .npmrc ./\nRUN npm ci --omit=dev && npm cache clean --force\n",
        "FROM node:20-slim\nWORKDIR /app\nRUN --mount=type=secret,id=npmrc,target=/app/.npmrc npm ci --omit=dev && npm cache clean --force\n",
        Applicability.UNSAFE,
    ),
    (
        "secrets.no-secrets-in-image",
        "FROM alpine:3.19\nENV A=1 API_TOKEN=abcdefgh12345678 B=2\nUSER app\n",
        "FROM alpine:3.19\nENV A=1 B=2\nUSER app\n",
        Applicability.UNSAFE,
    ),
    (
        "secrets.no-secrets-in-image",
        "FROM alpine:3.19\nENV API_TOKEN=\"abc defgh 12345678\"  A=1\nUSER app\n",
        "FROM alpine:3.19\nENV A=1\nUSER app\n",
        Applicability.UNSAFE,
    ),
    (
        "build.tls-verification",
        "FROM node:20-slim\nENV NODE_ENV=production NODE_TLS_REJECT_UNAUTHORIZED=0\nUSER node\n",
        "FROM node:20-slim\nENV NODE_ENV=production\nUSER node\n",
        Applicability.UNSAFE,
    ),
    (
        "image.minimal-base",
        "FROM python:3.12\nCMD [\"python\"]\n",
        "FROM python:3.12-slim\nCMD [\"python\"]\n",
        Applicability.UNSAFE,
    ),
    (
        "image.minimal-base",
        "FROM golang:1.22\n",
        "FROM golang:1.22-alpine\n",
        Applicability.UNSAFE,
    ),
]


@pytest.mark.parametrize(("check", "text", "expected", "applicability"), CASES, ids=lambda v: v if isinstance(v, str) and "\n" not in v else None)
def test_fix(tmp_path: Path, check: str, text: str, expected: str, applicability: Applicability) -> None:
    files = {**IGNORE, "app": "x"}
    new = fix_and_rescan(tmp_path, check, text, files=files, applicability=applicability)
    assert new == expected


def test_fix_keeps_bom_and_hash_guards_the_file(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_bytes(b"\xef\xbb\xbfFROM alpine:3.19\nRUN apk add curl\n")
    from tests.dockerfile.helpers import scan_dir

    result = scan_dir(tmp_path)
    (f,) = [x for x in result.findings if x.check == "image.package-cache"]
    (change,) = f.fix.changes
    assert isinstance(change, FileEdit)
    raw = (tmp_path / "Dockerfile").read_bytes()
    import hashlib

    assert change.expected_sha256 == hashlib.sha256(raw).hexdigest()
    apply_fix_in_memory(f.fix, tmp_path)
    assert (tmp_path / "Dockerfile").read_bytes() == b"\xef\xbb\xbfFROM alpine:3.19\nRUN apk add --no-cache curl\n"


def test_no_fix_when_unsafe_to_guess(tmp_path: Path) -> None:
    text = (
        "FROM alpine:3.19\n"
        "ENTRYPOINT /entry.sh\nCMD [\"serve\"]\n"  # exec-form ENTRYPOINT would take CMD as args
        "RUN sudo -u app make\n"  # sudo with options
        "ADD rootfs.tar.gz /\n"
        "CMD echo $HOME && run\n"  # shell syntax
        "ENV A=1 \\\n  API_TOKEN=abcdefgh12345678\n"  # the pair sits on a continuation line boundary
        "FROM someorg/custom:1.0\n"  # unknown distribution: no user recipe
    )
    found = dockerfile_findings(tmp_path, text, IGNORE)
    for check in ("build.exec-form", "build.no-sudo", "secrets.no-secrets-in-image", "container.non-root", "image.pinned-tag"):
        for f in checks(found, check):
            assert f.fix is None, (check, f.message, f.fix)


def test_pinned_tag_without_engine_has_no_fix(tmp_path: Path) -> None:
    (f,) = checks(dockerfile_findings(tmp_path, "FROM alpine:latest\n", IGNORE), "image.pinned-tag")
    assert f.fix is None


class FakeInspectContext(ScanContext):
    """A context whose local images are given, without an engine."""

    images_db: dict[str, dict[str, Any]] = {}

    def local_image(self, ref: str) -> dict[str, Any] | None:
        return self.images_db.get(ref)


def _fake_ctx(tmp_path: Path, db: dict[str, dict[str, Any]]) -> Any:
    def make() -> ScanContext:
        ctx = FakeInspectContext(cwd=tmp_path, use_engine=False)
        ctx.images_db = db
        return ctx

    return make


def test_pinned_tag_from_local_tags_labels_and_env(tmp_path: Path) -> None:
    db = {
        "alpine:latest": {"RepoTags": ["alpine:latest", "alpine:3.19.1", "alpine:3.19"], "Config": {}},
        "python": {"RepoTags": ["python:latest"], "Config": {"Env": ["PATH=/usr/bin", "PYTHON_VERSION=3.12.4"]}},
        "acme/app:stable": {"RepoTags": ["acme/app:stable"], "Config": {"Labels": {"org.opencontainers.image.version": "2.4.0"}}},
    }
    text = "FROM alpine:latest AS a\nFROM python AS p\nFROM acme/app:stable\nUSER app\n"
    ctx_factory = _fake_ctx(tmp_path, db)
    new = fix_and_rescan(tmp_path, "image.pinned-tag", text, ctx_factory=ctx_factory, applicability=Applicability.SAFE)
    assert new.startswith("FROM alpine:3.19.1 AS a\n")
    new = fix_and_rescan(tmp_path, "image.pinned-tag", new, ctx_factory=ctx_factory)
    assert "FROM python:3.12.4 AS p\n" in new
    new = fix_and_rescan(tmp_path, "image.pinned-tag", new, ctx_factory=ctx_factory)
    assert "FROM acme/app:2.4.0\n" in new


def test_pinned_digest_from_repo_digests(tmp_path: Path) -> None:
    digest = "sha256:" + "d" * 64
    db = {"alpine:3.19": {"RepoTags": ["alpine:3.19"], "RepoDigests": [f"alpine@{digest}"], "Config": {}}}
    new = fix_and_rescan(
        tmp_path, "image.pinned-digest", "FROM alpine:3.19\nUSER app\n", ctx_factory=_fake_ctx(tmp_path, db), applicability=Applicability.SAFE
    )
    assert new == f"FROM alpine:3.19@{digest}\nUSER app\n"


def test_dockerignore_fix_creates_and_appends(tmp_path: Path) -> None:
    new_files = {"app": "x"}
    found = dockerfile_findings(tmp_path, "FROM alpine:3.19\nCOPY . /app\n", new_files)
    (f,) = checks(found, "build.dockerignore")
    assert f.fix is not None and f.fix.applicability == Applicability.SAFE
    apply_fix_in_memory(f.fix, tmp_path)
    assert not checks(dockerfile_findings(tmp_path, "FROM alpine:3.19\nCOPY . /app\n", {}), "build.dockerignore")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / ".dockerignore").write_bytes(b".git\r\nnode_modules")
    found = dockerfile_findings(sub, "FROM alpine:3.19\nCOPY . /app\n", {})
    (f,) = checks(found, "build.dockerignore")
    apply_fix_in_memory(f.fix, sub)
    text = (sub / ".dockerignore").read_bytes().decode()
    assert text.startswith(".git\r\nnode_modules\r\n") and "\r\n**/*.pem\r\n" in text
    assert not checks(dockerfile_findings(sub, "FROM alpine:3.19\nCOPY . /app\n", {}), "build.dockerignore")


def test_fixes_are_idempotent_across_all_checks(tmp_path: Path) -> None:
    """Apply every offered fix one at a time until none is left; it must terminate."""
    text = (
        "FROM python:3.12\n"
        "ENV NODE_TLS_REJECT_UNAUTHORIZED=0\n"
        "RUN sudo apt-get update && apt-get install -y jq && pip install flask\n"
        "ADD app.py /app/\n"
        "EXPOSE 22 8000\n"
        "CMD python /app/app.py\n"
    )
    (tmp_path / "Dockerfile").write_text(text)
    from tests.dockerfile.helpers import scan_dir

    for _ in range(30):
        result = scan_dir(tmp_path)
        fixes = [f.fix for f in result.findings if f.fix is not None and f.target.kind.value == "dockerfile"]
        if not fixes:
            break
        apply_fix_in_memory(fixes[0], tmp_path)
    else:
        pytest.fail("fixes kept being offered")
    final = (tmp_path / "Dockerfile").read_text()
    assert "sudo" not in final and "--no-cache-dir" in final and '["python", "/app/app.py"]' in final
    assert "EXPOSE 8000" in final and "COPY app.py" in final and "USER app" in final


def test_no_sudo_fix_only_where_the_build_is_known_to_run_as_root(tmp_path: Path) -> None:
    (f,) = checks(dockerfile_findings(tmp_path, "FROM jenkins/jenkins:2.440\nRUN sudo apt-get update\n", IGNORE), "build.no-sudo")
    assert f.fix is None  # that base image defaults to a non-root user
    (f,) = checks(dockerfile_findings(tmp_path, "FROM someorg/img:1\nUSER root\nRUN sudo make\n", IGNORE), "build.no-sudo")
    assert f.fix is not None
    (f,) = checks(dockerfile_findings(tmp_path, "FROM debian:12\nUSER app\nRUN sudo make\n", IGNORE), "build.no-sudo")
    assert f.fix is None


def test_context_secret_fix_extends_dockerignore(tmp_path: Path) -> None:
    files = {".dockerignore": ".git\n**/*.key\n**/*.pem\nsecrets/\n", ".env": "A=1\n", "app": "x"}
    new = fix_and_rescan(tmp_path, "secrets.no-secrets-in-image", "FROM alpine:3.19\nCOPY . /app\nUSER app\n", files=files)
    assert new == "FROM alpine:3.19\nCOPY . /app\nUSER app\n"
    assert ".env" in (tmp_path / ".dockerignore").read_text().splitlines()
