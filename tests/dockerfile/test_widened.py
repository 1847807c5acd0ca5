"""Issue 12's widened Dockerfile definitions and issue 13's idioms and messages, on real
files through `scan()`: catches / does-not-catch pairs, lines, messages and fixes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lockdock.payloads.dockerfile import UnneededTools
from tests.dockerfile.helpers import apply_fix_in_memory, checks, dockerfile_findings

GOOD_IGNORE = {".dockerignore": ".git\n.env\nsecrets/\n**/*.key\n**/*.pem\n"}


def _found(tmp_path: Path, text: str, check: str, files: dict[str, str] | None = None):
    return checks(dockerfile_findings(tmp_path, text, {**GOOD_IGNORE, **(files or {})}), check)


# ------------------------------------------------------------------ image.package-cache idioms

CLEARED = [
    # APT 2.7+ (trixie, noble) spells the full cleanup dist-clean, also distclean
    "FROM debian:13.1-slim\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends tzdata \\\n && apt-get dist-clean\n",
    "FROM ubuntu:24.04\nRUN apt-get update && apt-get install -y --no-install-recommends jq && apt-get distclean\n",
    "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends jq && apt-get clean && rm -rf /var/lib/apt/lists\n",
    "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends jq && find /var/lib/apt/lists -type f -delete\n",
    "FROM debian:12\nRUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\\n    --mount=type=cache,target=/var/lib/apt,sharing=locked \\\n    apt-get update && apt-get install -y --no-install-recommends jq\n",
    "FROM debian:12\nRUN --mount=type=tmpfs,target=/var/lib/apt/lists apt-get update && apt-get install -y --no-install-recommends jq\n",
    "FROM alpine:3.20\nRUN --mount=type=cache,target=/etc/apk/cache apk add jq\n",
    "FROM alpine:3.20\nRUN apk add jq && rm -rf /var/cache/apk/*\n",
    "FROM python:3.12-slim\nRUN pip install flask && pip cache purge\n",
    "FROM python:3.12-slim\nRUN --mount=type=cache,target=/root/.cache pip install flask\n",
    "FROM python:3.12-slim\nRUN pip install flask && rm -rf ~/.cache/pip\n",
    "FROM node:20-slim\nRUN --mount=type=cache,target=/root/.npm npm ci\n",
    "FROM node:20-slim\nRUN npm ci && rm -rf $HOME/.npm\n",
    "FROM rockylinux:9\nRUN dnf install -y jq && yum clean all\n",
    "FROM rockylinux:9\nRUN --mount=type=cache,target=/var/cache/dnf dnf install -y jq\n",
    "FROM opensuse/leap:15\nRUN --mount=type=cache,target=/var/cache/zypp zypper install -y jq\n",
    # docker-library: runtime deps resolved offline, and a dry run that installs nothing
    "FROM alpine:3.20\nRUN apk add --no-network --virtual .rundeps $runDeps jq\n",
    "FROM debian:12\nRUN if apt-get install -s \"postgresql-17-jit\" > /dev/null 2>&1; then echo yes; fi\n",
]
KEPT = [
    ("FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends jq && apt-get clean\n", "apt-lists"),
    ("FROM debian:12\nRUN --mount=type=cache,target=/var/cache/apt apt-get update && apt-get install -y --no-install-recommends jq\n", "apt-lists"),
    ("FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends jq\nRUN rm -rf /var/lib/apt/lists/*\n", "apt-lists"),
    ("FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends jq && rm -rf /var/lib/apt/lists/partial\n", "apt-lists"),
    ("FROM python:3.12-slim\nRUN --mount=type=cache,target=/root/.cache/pip/http pip install flask\n", "pip-cache"),
    ("FROM alpine:3.20\nRUN --mount=type=bind,target=/var/cache/apk apk add jq\n", "apk-cache"),
]


@pytest.mark.parametrize("text", CLEARED)
def test_cleanup_idioms_clear_the_cache(tmp_path: Path, text: str) -> None:
    found = [f for f in _found(tmp_path, text, "image.package-cache") if f.payload.issue != "apt-recommends"]
    assert found == [], [f.message for f in found]


@pytest.mark.parametrize(("text", "issue"), KEPT)
def test_partial_cleanups_still_leave_the_cache(tmp_path: Path, text: str, issue: str) -> None:
    assert issue in {f.payload.issue for f in _found(tmp_path, text, "image.package-cache")}


def test_dist_clean_gets_no_cleanup_fix(tmp_path: Path) -> None:
    found = dockerfile_findings(tmp_path, CLEARED[0], GOOD_IGNORE)
    fixes = [f.fix for f in checks(found, "image.package-cache") if f.fix is not None]
    assert not [fx for fx in fixes if "lists" in fx.title + str(fx.changes)]


# ------------------------------------------------------------------ build.multi-stage

PURGED = [
    "FROM debian:12.5-slim\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends gcc make libc6-dev \\\n"
    " && make -C /usr/src/tool install \\\n && apt-get purge -y --auto-remove gcc make libc6-dev \\\n && rm -rf /var/lib/apt/lists/*\n",
    "FROM alpine:3.20\nRUN apk add --no-cache --virtual .build-deps gcc musl-dev make \\\n && make -C /src install \\\n && apk del --no-network .build-deps\n",
    "FROM debian:12-slim\nRUN savedAptMark=\"$(apt-mark showmanual)\"; \\\n apt-get update; apt-get install -y --no-install-recommends gcc make; \\\n"
    " make -C /src install; \\\n apt-mark auto '.*' > /dev/null; apt-mark manual $savedAptMark; \\\n"
    " apt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false; rm -rf /var/lib/apt/lists/*\n",
]


@pytest.mark.parametrize("text", PURGED)
def test_toolchain_removed_in_the_same_run_is_not_said_to_ship(tmp_path: Path, text: str) -> None:
    (f,) = _found(tmp_path, text, "build.multi-stage")
    assert "removed in the same RUN" in f.message
    assert "stays" not in f.message and "ships" not in f.message
    assert f.payload.kind == "toolchain-removed"


def test_toolchain_kept_says_it_stays(tmp_path: Path) -> None:
    text = "FROM debian:12-slim\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends gcc make \\\n && make -C /src install\n"
    (f,) = _found(tmp_path, text, "build.multi-stage")
    assert "stays in the image" in f.message and f.location.line == 4  # the make command


def test_kept_toolchain_wins_over_a_purged_one(tmp_path: Path) -> None:
    text = PURGED[1] + "RUN apk add --no-cache gcc musl-dev && gcc -o /app /src/a.c\n"
    (f,) = _found(tmp_path, text, "build.multi-stage")
    assert f.payload.kind == "toolchain-kept" and f.location.line == 5


def test_copy_of_a_whole_build_stage(tmp_path: Path) -> None:
    text = "FROM golang:1.22 AS build\nRUN go build -o /out/app ./...\nFROM debian:12-slim\nCOPY --from=build / /\nUSER 1000\n"
    found = [f for f in _found(tmp_path, text, "build.multi-stage") if f.payload.kind == "whole-stage"]
    assert [f.location.line for f in found] == [4]
    assert "whole filesystem of build stage build" in found[0].message


def test_copy_of_a_build_artefact_is_not_whole_stage(tmp_path: Path) -> None:
    text = "FROM golang:1.22 AS build\nRUN go build -o /out/app ./...\nFROM debian:12-slim\nCOPY --from=build /out/app /app\nUSER 1000\n"
    assert _found(tmp_path, text, "build.multi-stage") == []


# ------------------------------------------------------------------ image.no-unneeded-tools

def test_tool_used_in_final_stage_is_in_the_image(tmp_path: Path) -> None:
    text = "FROM debian:12-slim\nRUN mkdir /app \\\n && curl -fsSL -o /app/x https://example.com/x\nUSER 1000\n"
    (f,) = _found(tmp_path, text, "image.no-unneeded-tools")
    assert f.payload == UnneededTools("used", ("curl",)) and f.scope_lines == (2,)
    assert f.location.line == 3 and "no install is visible" in f.message


@pytest.mark.parametrize(
    "text",
    [
        "FROM debian:12-slim AS fetch\nRUN curl -fsSL -o /x https://example.com/x\nFROM debian:12-slim\nCOPY --from=fetch /x /x\n",
        "FROM debian:12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends curl \\\n"
        " && curl -o /x https://example.com/x && apt-get purge -y curl && rm -rf /var/lib/apt/lists/*\n",
        "FROM debian:12-slim\nRUN --mount=type=bind,from=curlimages/curl:8.8.0,source=/usr/bin/curl,target=/usr/local/bin/curl curl -o /x https://e.x/x\n",
        "FROM debian:12-slim\nRUN git-lfs --version && echo curl\n",
    ],
)
def test_tools_not_left_in_the_image(tmp_path: Path, text: str) -> None:
    assert _found(tmp_path, text, "image.no-unneeded-tools") == []


def test_curl_and_wget_is_one_too_many(tmp_path: Path) -> None:
    text = "FROM alpine:3.20\nRUN apk add --no-cache curl\nRUN wget -q -O /x https://example.com/x\nUSER 1000\n"
    found = _found(tmp_path, text, "image.no-unneeded-tools")
    assert [f.payload.kind for f in found] == ["install", "used", "both-downloaders"]
    assert found[-1].location.line == 3 and "both curl and wget" in found[-1].message


def test_tools_undone_by_the_apt_mark_idiom_are_not_shipped(tmp_path: Path) -> None:
    text = (
        "FROM debian:12-slim\nRUN savedAptMark=\"$(apt-mark showmanual)\"; \\\n"
        " apt-get update; apt-get install -y --no-install-recommends wget git; \\\n"
        " wget -O /x https://example.com/x; \\\n"
        " apt-mark showmanual | xargs apt-mark auto > /dev/null; apt-mark manual $savedAptMark; \\\n"
        " apt-get install -y --no-install-recommends curl; \\\n"
        " apt-get purge -y --auto-remove; rm -rf /var/lib/apt/lists/*\n"
    )
    found = _found(tmp_path, text, "image.no-unneeded-tools")
    assert [(f.payload.tools, f.location.line) for f in found] == [(("curl",), 6)]


def test_local_trusted_apt_repository_is_not_a_download(tmp_path: Path) -> None:
    text = "FROM debian:12\nRUN echo \"deb [ trusted=yes ] file://$tempDir ./\" > /etc/apt/sources.list.d/temp.list\n"
    assert _found(tmp_path, text, "build.tls-verification") == []


def test_installed_tool_is_reported_once(tmp_path: Path) -> None:
    text = "FROM debian:12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*\nRUN git clone https://example.com/r /r\n"
    found = _found(tmp_path, text, "image.no-unneeded-tools")
    assert [f.payload.kind for f in found] == ["install"]


# ------------------------------------------------------------------ build.tls-verification

TLS_CATCHES = [
    ("FROM node:20-slim\nENV NPM_CONFIG_STRICT_SSL=false\n", 2),
    ("FROM node:20-slim\nENV npm_config_strict_ssl false\n", 2),
    ("FROM python:3.12-slim\nENV PIP_TRUSTED_HOST=pypi.internal\n", 2),
    ("FROM node:20-slim\nARG NODE_TLS_REJECT_UNAUTHORIZED=0\n", 2),
    ("FROM alpine:3.20\nENV GIT_SSL_NO_VERIFY=true\n", 2),
    ("FROM python:3.12-slim\nRUN pip config set global.trusted-host pypi.internal\n", 2),
    ("FROM node:20-slim\nRUN npm config set strict-ssl false\n", 2),
    ("FROM node:20-slim\nRUN yarn config set strict-ssl false\n", 2),
    ("FROM rockylinux:9\nRUN dnf install -y --setopt=sslverify=false jq && dnf clean all\n", 2),
    ("FROM rockylinux:9\nRUN dnf install -y --setopt sslverify=0 jq && dnf clean all\n", 2),
    ("FROM rockylinux:9\nRUN echo 'sslverify=false' >> /etc/dnf/dnf.conf\n", 2),
    ("FROM rockylinux:9\nRUN sed -i 's/^gpgcheck=1/gpgcheck=0/' /etc/yum.repos.d/epel.repo\n", 2),
    ("FROM rockylinux:9\nRUN cat > /etc/yum.repos.d/x.repo <<EOF\n[x]\nbaseurl=https://r.example/\nsslverify=0\nEOF\n", 5),
    ("FROM rockylinux:9\nCOPY <<EOF /etc/yum.repos.d/x.repo\n[x]\ngpgcheck=0\nEOF\n", 4),
    ("FROM rockylinux:9\nRUN yum install -y --nogpgcheck jq && yum clean all\n", 2),
    ("FROM alpine:3.20\nRUN apk add --no-cache --allow-untrusted ./pkg.apk\n", 2),
    ("FROM debian:12\nRUN apt-get install -y --force-yes --no-install-recommends jq && rm -rf /var/lib/apt/lists/*\n", 2),
    ("FROM debian:12\nRUN apt-get -o Acquire::https::Verify-Peer=false update\n", 2),
    ("FROM debian:12\nRUN echo 'deb [trusted=yes] http://repo.example/ ./' > /etc/apt/sources.list.d/x.list\n", 2),
    ("FROM debian:12\nCOPY <<EOF /etc/apt/apt.conf.d/99x\nAPT::Get::AllowUnauthenticated \"true\";\nEOF\n", 3),
    ("FROM debian:12\nRUN <<EOF\nset -e\necho check_certificate = off > /root/.wgetrc\nEOF\n", 4),
    ("FROM debian:12\nRUN <<EOF\nset -e\nexport NODE_TLS_REJECT_UNAUTHORIZED=0\nEOF\n", 4),
    ("FROM alpine:3.20\nRUN true \\\n && git config --global http.sslVerify false\n", 3),
]
TLS_CLEAN = [
    "FROM node:20-slim\nENV NPM_CONFIG_STRICT_SSL=true NODE_TLS_REJECT_UNAUTHORIZED=1\n",
    "FROM rockylinux:9\nRUN dnf install -y --setopt=sslverify=true --setopt=install_weak_deps=False jq && dnf clean all\n",
    "FROM rockylinux:9\nRUN echo 'gpgcheck=1' >> /etc/yum.repos.d/x.repo && echo 'repo_gpgcheck=1' >> /etc/yum.repos.d/x.repo\n",
    "FROM python:3.12-slim\nRUN pip config set global.index-url https://pypi.internal/simple\n",
    "FROM debian:12\nCOPY <<EOF /etc/apt/apt.conf.d/99x\nAcquire::https::Verify-Peer \"true\";\nEOF\n",
]


@pytest.mark.parametrize(("text", "line"), TLS_CATCHES)
def test_tls_checks_disabled(tmp_path: Path, text: str, line: int) -> None:
    found = _found(tmp_path, text, "build.tls-verification")
    assert found, text
    assert found[0].location.line == line


@pytest.mark.parametrize("text", TLS_CLEAN)
def test_tls_checks_left_on(tmp_path: Path, text: str) -> None:
    assert _found(tmp_path, text, "build.tls-verification") == []


# ------------------------------------------------------------------ secrets.no-secrets-in-image

def test_private_keys_copied_into_the_final_image_are_critical(tmp_path: Path) -> None:
    text = (
        "FROM alpine:3.20 AS build\nCOPY deploy/id_ed25519 /root/.ssh/id_ed25519\nRUN true\n"
        "FROM debian:12-slim\nCOPY keys/id_ecdsa /home/app/.ssh/id_ecdsa\nCOPY ci/.aws/credentials /root/.aws/credentials\n"
        "COPY .npmrc /app/.npmrc\nUSER 1000\n"
    )
    found = dockerfile_findings(tmp_path, text, GOOD_IGNORE)
    image = {(f.location.line, f.severity.value if f.severity else None) for f in checks(found, "secrets.no-secrets-in-image")}
    build = {f.location.line for f in checks(found, "secrets.build-secrets")}
    assert {5, 6} <= {line for line, _ in image}
    assert 2 in build and 7 in build and 5 not in build and 6 not in build


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("FROM debian:12-slim\nRUN useradd -m app \\\n && echo 'app:Sup3rS3cret' | chpasswd\n", 3),
        ("FROM rockylinux:9\nRUN echo 'Sup3rS3cret' | passwd --stdin root\n", 2),
        ("FROM debian:12-slim\nRUN printf 'Sup3rS3cret\\nSup3rS3cret\\n' | passwd app\n", 2),
        ("FROM debian:12-slim\nRUN useradd -p '$6$salt$hashhashhash' app\n", 2),
        ("FROM alpine:3.20\nLABEL com.example.db-password=\"hunter2-hunter2\"\n", 2),
        ("FROM alpine:3.20\nLABEL deploy.token=ghp_abcdefghijklmnopqrstuvwxyz0123456789\n", 2),
        ("FROM python:3.12-slim\nCOPY sa-prod.json /app/key.json\nENV GOOGLE_APPLICATION_CREDENTIALS=/app/key.json\n", 2),
        ("FROM python:3.12-slim\nWORKDIR /app\nCOPY gcp.json /secrets/\nENV DB_PASSWORD_FILE=/secrets/gcp.json\n", 3),
    ],
)
def test_build_time_passwords_labels_and_pointed_key_files(tmp_path: Path, text: str, line: int) -> None:
    found = _found(tmp_path, text, "secrets.no-secrets-in-image")
    assert [f.location.line for f in found] == [line], [f.message for f in found]
    assert "Sup3rS3cret" not in found[0].evidence and "hunter2" not in found[0].evidence


@pytest.mark.parametrize(
    "text",
    [
        "FROM debian:12-slim\nRUN --mount=type=secret,id=pw echo \"app:$(cat /run/secrets/pw)\" | chpasswd\n",
        "FROM debian:12-slim\nARG PW\nRUN echo \"app:$PW\" | chpasswd\n",
        "FROM debian:12-slim\nRUN passwd -d app && passwd -l root\n",
        "FROM alpine:3.20\nLABEL maintainer=\"ops@example.com\" org.opencontainers.image.version=1.2.3\n",
        "FROM python:3.12-slim\nENV GOOGLE_APPLICATION_CREDENTIALS=/run/secrets/gcp\nCOPY app.py /app/\n",
        "FROM python:3.12-slim\nCOPY settings.json /app/settings.json\nENV GOOGLE_APPLICATION_CREDENTIALS=/app/key.json\n",
    ],
)
def test_secret_lookalikes_are_not_reported(tmp_path: Path, text: str) -> None:
    found = _found(tmp_path, text, "secrets.no-secrets-in-image")
    assert found == [], [f.message for f in found]


# ------------------------------------------------------------------ messages and locations

def test_single_quotes_named_as_the_shell_form_reason(tmp_path: Path) -> None:
    text = "FROM alpine:3.20\nUSER 1000\nCMD ['python', 'app.py']\nENTRYPOINT [\"a\", \"b\",]\n"
    found = _found(tmp_path, text, "build.exec-form")
    by_line = {f.location.line: f for f in found}
    assert "single quotes" in by_line[3].message and by_line[3].payload.kind == "single-quotes"
    assert "not valid JSON" in by_line[4].message


def test_findings_point_at_the_offending_subcommand(tmp_path: Path) -> None:
    text = (
        "FROM debian:12\nRUN set -eux; \\\n    mkdir -p /app; \\\n    apt-get update; \\\n"
        "    apt-get install -y --no-install-recommends ca-certificates; \\\n"
        "    curl -k https://example.com/x -o /app/x; \\\n    echo 'root:toor1234' | chpasswd\n"
    )
    found = dockerfile_findings(tmp_path, text, GOOD_IGNORE)
    lines = {f.check: f.location.line for f in found if f.location.line and f.location.line > 1}
    assert lines["image.package-cache"] == 5
    assert lines["build.tls-verification"] == 6
    assert lines["secrets.no-secrets-in-image"] == 7
    assert all(f.location.end_line == 7 for f in found if f.location.line and f.location.line >= 2)


def test_pragma_above_the_run_still_suppresses_a_subcommand_finding(tmp_path: Path) -> None:
    text = (
        "FROM debian:12\n# lockdock: ignore=build.tls-verification mirror without TLS\n"
        "RUN apt-get update && \\\n    curl -k https://example.com/x -o /x\n"
    )
    (f,) = _found(tmp_path, text, "build.tls-verification")
    assert f.location.line == 4 and f.suppressed is not None


def test_fix_still_finds_the_instruction_from_a_subcommand_line(tmp_path: Path) -> None:
    text = "FROM debian:12\nRUN apt-get update && \\\n    apt-get install -y jq && \\\n    curl -k -o /x https://example.com/x\n"
    (tls,) = _found(tmp_path, text, "build.tls-verification")
    assert tls.location.line == 4 and tls.fix is not None, "the fixer lost the instruction"
    apply_fix_in_memory(tls.fix, tmp_path)
    assert "curl -o /x" in (tmp_path / "Dockerfile").read_text()
    assert _found(tmp_path, (tmp_path / "Dockerfile").read_text(), "build.tls-verification") == []


NESTED = re.compile(r"\([^()]*\(")


def test_no_nested_parentheses_in_messages(tmp_path: Path) -> None:
    text = (
        "FROM debian:12\nRUN apt-get update && apt-get install -y gcc make curl wget && make -C /s\n"
        "RUN curl -k https://x.example/a && echo 'sslverify=0' >> /etc/yum.conf\n"
        "LABEL db.password=\"hunter2-hunter2\"\nCMD ['a']\n"
    )
    for f in dockerfile_findings(tmp_path, text, GOOD_IGNORE):
        assert not NESTED.search(f.message), f.message


# ------------------------------------------------------------------ the shared detection cases

def _scan_case(shared_dir: Path, name: str, select: str, run_lockdock) -> list[dict]:
    import json

    (case,) = sorted((shared_dir / "cases" / "detection").glob(name + "-*"))
    proc = run_lockdock("scan", "--no-engine", "--format", "json", "--select", select, "Dockerfile", cwd=case)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["findings"]


def test_case_06_dist_clean(shared_dir: Path, run_lockdock) -> None:
    found = _scan_case(shared_dir, "06", "image.package-cache", run_lockdock)
    assert [f for f in found if f["location"]["line"] in (2, 3, 4)] == []


def test_case_08_purged_toolchain_message(shared_dir: Path, run_lockdock) -> None:
    for f in _scan_case(shared_dir, "08", "build.multi-stage", run_lockdock):
        assert "ships" not in f["message"] and "stays" not in f["message"]
        assert "removed in the same RUN" in f["message"]


def test_case_10_copied_private_keys(shared_dir: Path, run_lockdock) -> None:
    found = _scan_case(shared_dir, "10", "secrets", run_lockdock)
    image = {f["location"]["line"]: f["severity"] for f in found if f["check"] == "secrets.no-secrets-in-image"}
    assert image.get(2) == "critical" and image.get(3) == "critical" and 4 in image
    assert not [f for f in found if f["check"] == "secrets.build-secrets" and f["location"]["line"] in (2, 3)]


def test_pragma_on_the_subcommand_line_inside_a_run(tmp_path: Path) -> None:
    """Where the ignore fix puts its pragma for a sub-command finding: a comment line inside
    the RUN's continuation, which BuildKit drops and lockdock honours."""
    text = (
        "FROM debian:12\nRUN apt-get update && \\\n    # lockdock: ignore=image.package-cache mirror cache\n"
        "    apt-get install -y jq\nUSER 1000\n"
    )
    found = _found(tmp_path, text, "image.package-cache")
    assert found and all(f.location.line == 4 and f.suppressed is not None for f in found)
