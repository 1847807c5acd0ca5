"""build.pinned-packages, build.package-update, build.shell-safety, build.system-paths on
Dockerfiles through `scan()`, their fixes, and the history-command reader images use."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lockdock.dockerfile.buildrules import (
    history_instruction,
    history_run_text,
    lone_updates,
    unpinned_installs,
)
from lockdock.model import Applicability
from tests.dockerfile.helpers import apply_fix_in_memory, checks, dockerfile_findings
from tests.dockerfile.test_fixes import fix_and_rescan

IGNORE = {".dockerignore": ".git\n.env\nsecrets/\n**/*.key\n**/*.pem\n"}

PINNED_CATCHES = [
    ("FROM debian:12\nRUN apt-get install -y curl\n", "curl"),
    ("FROM debian:12\nRUN apt install -y curl=7.88 wget\n", "wget"),
    ("FROM alpine:3.20\nRUN apk add --no-cache git\n", "git"),
    ("FROM rockylinux:9\nRUN dnf install -y jq\n", "jq"),
    ("FROM centos:7\nRUN yum install -y httpd\n", "httpd"),
    ("FROM fedora:40\nRUN microdnf install -y tar\n", "tar"),
    ("FROM opensuse/leap:15\nRUN zypper install -y vim\n", "vim"),
    ("FROM python:3.12\nRUN pip install flask\n", "flask"),
    ("FROM python:3.12\nRUN python3 -m pip install 'requests>=2'\n", "requests"),
    ("FROM node:20\nRUN npm install -g left-pad\n", "left-pad"),
    ("FROM node:20\nRUN npm install -g @angular/cli@latest\n", "@angular/cli"),
    ("FROM node:20\nRUN npm install\n", "npm install"),
    ("FROM node:20\nRUN yarn install\n", "yarn install"),
    ("FROM node:20\nRUN pnpm install\n", "pnpm install"),
    ("FROM ruby:3.3\nRUN gem install rails\n", "rails"),
    ("FROM golang:1.22\nRUN go install golang.org/x/tools/gopls@latest\n", "gopls"),
    ("FROM golang:1.22\nRUN <<EOF\napk add curl\nEOF\n", "curl"),
    ("FROM rockylinux:9\nRUN dnf install -y java-17-openjdk\n", "java-17-openjdk"),
    ("FROM golang:1.22\nRUN go install github.com/x/tool\n", "github.com/x/tool"),
    ("FROM php:8.3\nRUN pecl install redis && docker-php-ext-enable redis\n", "redis"),
]

PINNED_CLEAN = [
    "FROM debian:12\nRUN apt-get install -y curl=7.88.1-10 ./local.deb\n",
    "FROM alpine:3.20\nRUN apk add --no-cache git=2.45.2-r0 'musl~1.2'\n",
    "FROM rockylinux:9\nRUN dnf install -y jq-1.6-15.el9 @development\n",
    "FROM opensuse/leap:15\nRUN zypper install -y vim=9.0\n",
    "FROM python:3.12\nRUN pip install flask==3.0.3 ./wheels/app.whl .\n",
    "FROM python:3.12\nRUN pip install --require-hashes -r requirements.txt\n",
    "FROM python:3.12\nRUN pip install -r requirements.lock\n",
    "FROM python:3.12\nRUN pip install -c constraints.txt flask\n",
    "FROM node:20\nRUN npm ci\n",
    "FROM node:20\nRUN npm install -g left-pad@1.3.0 @angular/cli@17.3.0\n",
    "FROM node:20\nRUN yarn install --frozen-lockfile && pnpm install --frozen-lockfile\n",
    "FROM ruby:3.3\nRUN gem install rails -v 7.1.3 && gem install rake:13.2.1\n",
    "FROM golang:1.22\nRUN go install golang.org/x/tools/gopls@v0.16.1\n",
    "FROM debian:12\nRUN apt-get install -y $PACKAGES\n",
    "FROM rockylinux:9\nRUN dnf install -y java-17-openjdk-17.0.12.0.7-2.el9 httpd-2.4.62-1.el9\n",
    "FROM python:3.12\nRUN pip install -e .[dev] ../lib /tmp/pkgs/*.whl\n",
    "FROM php:8.3\nRUN pecl install redis-6.1.0 pecl.php.net/xdebug-3.3.2\n",
]


@pytest.mark.parametrize(("text", "what"), PINNED_CATCHES)
def test_pinned_packages_catches(tmp_path: Path, text: str, what: str) -> None:
    found = checks(dockerfile_findings(tmp_path, text, IGNORE), "build.pinned-packages")
    assert found and what in found[0].message, [f.message for f in found]
    assert found[0].location.line == 2


@pytest.mark.parametrize("text", PINNED_CLEAN)
def test_pinned_packages_does_not_catch(tmp_path: Path, text: str) -> None:
    found = checks(dockerfile_findings(tmp_path, text, IGNORE), "build.pinned-packages")
    assert not found, [f.message for f in found]


def test_pip_requirements_file_of_the_context_is_read(tmp_path: Path) -> None:
    text = "FROM python:3.12\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
    files = {**IGNORE, "requirements.txt": "# deps\nflask==3.0.3\nrequests\n-e .\n"}
    found = checks(dockerfile_findings(tmp_path, text, files), "build.pinned-packages")
    assert len(found) == 1 and "requests (in requirements.txt)" in found[0].message
    files["requirements.txt"] = "flask==3.0.3\nrequests==2.32.3\n"
    assert not checks(dockerfile_findings(tmp_path, text, files), "build.pinned-packages")


UPDATE_CATCHES = [
    ("FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl=1\n", "apt-get update"),
    ("FROM alpine:3.20\nRUN apk update\n", "apk update"),
    ("FROM rockylinux:9\nRUN dnf makecache && echo done\n", "dnf makecache"),
    ("FROM centos:7\nRUN yum makecache fast\n", "yum makecache"),
    ("FROM debian:12\nRUN apt-get update && apt-get dist-upgrade -y\n", "dist-upgrade"),
    ("FROM opensuse/leap:15\nRUN zypper dup -y\n", "zypper dup"),
    ("FROM alpine:3.20\nRUN apk upgrade --no-cache\n", "apk upgrade"),
    ("FROM debian:12\nRUN apt-get update && apt-get install -y curl=1 && apk update\n", "apk update"),
    ("FROM debian:12\nRUN apt-get -o Acquire::Retries=3 update\n", "apt-get update"),
]
UPDATE_CLEAN = [
    "FROM debian:12\nRUN apt-get update && apt-get install -y curl=1\n",
    "FROM alpine:3.20\nRUN apk update && apk add curl=8.9.0-r0\n",
    "FROM alpine:3.20\nRUN apk add --update --no-cache curl=8.9.0-r0\n",
    "FROM rockylinux:9\nRUN dnf makecache && dnf install -y jq-1.6\n",
    "FROM debian:12\nRUN <<EOF\napt-get update\napt-get install -y curl=1\nEOF\n",
    "FROM rockylinux:9\nRUN dnf upgrade -y openssl\n",
    "FROM debian:12\nRUN apt-get -o Acquire::Retries=3 update && xargs -a pkgs.txt apt-get install -y\n",
    "FROM alpine:3.20\nRUN apk update && sh -c 'apk add --no-cache curl=8.9.0-r0'\n",
]


@pytest.mark.parametrize(("text", "what"), UPDATE_CATCHES)
def test_package_update_catches(tmp_path: Path, text: str, what: str) -> None:
    found = checks(dockerfile_findings(tmp_path, text, IGNORE), "build.package-update")
    assert found and what in found[0].message, [f.message for f in found]


@pytest.mark.parametrize("text", UPDATE_CLEAN)
def test_package_update_does_not_catch(tmp_path: Path, text: str) -> None:
    assert not checks(dockerfile_findings(tmp_path, text, IGNORE), "build.package-update")


def test_plain_upgrade_is_one_severity_lower(tmp_path: Path) -> None:
    found = checks(dockerfile_findings(tmp_path, "FROM debian:12\nRUN apt-get update && apt-get upgrade -y\n", IGNORE), "build.package-update")
    assert [f.severity.label if f.severity else None for f in found] == ["low"]


MERGE_CASES = [
    (
        "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl=1\n",
        "FROM debian:12\nRUN apt-get update && apt-get install -y curl=1\n",
    ),
    (  # CRLF endings, other RUNs in between, an apt variant
        "FROM debian:12\r\nRUN apt-get update -qq\r\nRUN echo hi\r\nCOPY a /a\r\nRUN apt install -y \\\r\n  curl=1\r\n",
        "FROM debian:12\r\nRUN echo hi\r\nCOPY a /a\r\nRUN apt-get update -qq && apt install -y \\\r\n  curl=1\r\n",
    ),
    (  # a backtick escape directive is kept
        "# escape=`\nFROM alpine:3.20\nRUN apk update\nRUN set -e; apk add --no-cache `\n  curl=8.9.0-r0\n",
        "# escape=`\nFROM alpine:3.20\nRUN set -e; apk update && apk add --no-cache `\n  curl=8.9.0-r0\n",
    ),
    (  # the install RUN refreshes on its own: the lone one is simply removed
        "FROM alpine:3.20\nRUN apk update\nRUN apk update && apk add curl=8.9.0-r0\n",
        "FROM alpine:3.20\nRUN apk update && apk add curl=8.9.0-r0\n",
    ),
]


@pytest.mark.parametrize(("text", "expected"), MERGE_CASES)
def test_package_update_fix_merges_into_the_next_install(tmp_path: Path, text: str, expected: str) -> None:
    new = fix_and_rescan(tmp_path, "build.package-update", text, applicability=Applicability.SAFE)
    assert new == expected


@pytest.mark.parametrize(
    "text",
    [
        "FROM debian:12\nRUN apt-get update\n",  # no install follows
        "FROM debian:12\nRUN apt-get update && echo hi\nRUN apt-get install -y curl=1\n",  # other commands
        "FROM debian:12\nRUN apt-get update\nUSER app\nRUN sudo apt-get install -y curl=1\n",  # user changes
        "FROM debian:12\nRUN apt-get update\nRUN apt-cache policy curl; apt-get source curl\nRUN apt-get install -y curl=1\n",
        "FROM debian:12\nRUN apt-get update\nRUN [\"apt-get\", \"install\", \"-y\", \"curl=1\"]\n",
        "FROM debian:12\nRUN apt-get update\nFROM debian:12\nRUN apt-get install -y curl=1\n",  # other stage
        "FROM debian:12\nRUN apt-get update\nRUN xargs -a p apt-get install -y\nRUN apt-get install -y curl=1\n",
        "FROM debian:12\nRUN apt-get update\nRUN --network=none apt-get install -y curl=1\n",
    ],
)
def test_package_update_no_fix_when_not_provably_equivalent(tmp_path: Path, text: str) -> None:
    found = checks(dockerfile_findings(tmp_path, text, IGNORE), "build.package-update")
    assert found and all(f.fix is None for f in found), [(f.message, f.fix) for f in found]


SHELL_CATCHES = [
    ("FROM debian:12\nRUN curl -fsSL https://x.io/a.tgz | tar -xz\n", "pipe"),
    ("FROM debian:12\nSHELL [\"/bin/bash\", \"-c\"]\nRUN make | tee log\n", "pipe"),
    ("FROM debian:12 AS a\nRUN true\nFROM a\nRUN <<EOF\necho 1\nfind / | sort\nEOF\n", "pipe"),
    ("FROM debian:12\nRUN cd /src; make install\n", "cd"),
    ("FROM debian:12\nRUN <<EOF\ncd /src\nmake\nEOF\n", "cd"),
    ("FROM debian:12\nRUN rm -rf \"$BUILD_DIR\"/*\n", "rm-var"),
    ("FROM debian:12\nRUN rm -fr ${OUT}/cache\n", "rm-var"),
    ("FROM debian:12\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN [\"sh\", \"-c\", \"a | b\"]\n", "pipe"),
]
SHELL_CLEAN = [
    "FROM debian:12\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN curl -fsSL https://x.io/a | tar -x\n",
    "FROM debian:12\nSHELL [\"/bin/bash\", \"-euxo\", \"pipefail\", \"-c\"]\nRUN a | b\n",
    "FROM debian:12 AS base\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nFROM base\nRUN a | b\n",
    "FROM debian:12\nRUN set -euo pipefail; a | b\n",
    "FROM debian:12\nRUN <<EOF\nset -o pipefail\nfind / | sort\nEOF\n",
    "FROM debian:12\nRUN a || b && c\n",
    "FROM debian:12\nRUN cd /src && make\n",
    "FROM debian:12\nRUN cd /src || exit 1; make\n",
    "FROM debian:12\nRUN set -e; cd /src; make\n",
    "FROM debian:12\nRUN rm -rf \"${BUILD_DIR:?}\"/* /tmp/*\n",
    "FROM debian:12\nENV APP=/srv/app\nRUN rm -rf $APP/cache\n",
    "FROM debian:12\nRUN rm -f \"$FILE\"\n",
    "FROM debian:12\nRUN [\"bash\", \"-o\", \"pipefail\", \"-c\", \"a | b\"]\n",
    "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nSHELL [\"powershell\", \"-Command\"]\nRUN Get-Item x | Remove-Item\n",
]


@pytest.mark.parametrize(("text", "issue"), SHELL_CATCHES)
def test_shell_safety_catches(tmp_path: Path, text: str, issue: str) -> None:
    found = checks(dockerfile_findings(tmp_path, text, IGNORE), "build.shell-safety")
    assert any(f.payload.issue == issue for f in found), [f.message for f in found]


@pytest.mark.parametrize("text", SHELL_CLEAN)
def test_shell_safety_does_not_catch(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # lockdock's own detections only
    assert not checks(dockerfile_findings(tmp_path, text, IGNORE), "build.shell-safety")


def test_own_detections_work_without_shellcheck(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    text = "FROM debian:12\nRUN cd /x; rm -rf $D/* ; a | b\n"
    found = checks(dockerfile_findings(tmp_path, text, IGNORE), "build.shell-safety")
    assert {f.payload.issue for f in found} == {"cd", "rm-var", "pipe"}


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_shellcheck_codes_map_to_dockerfile_lines(tmp_path: Path) -> None:
    text = (
        "FROM debian:12\n"
        "RUN echo start && \\\n"
        "\tchmod 0755 $TARGETS\n"
        "RUN <<EOF\n"
        "set -e\n"
        "rm -rf /usr\n"
        "EOF\n"
        "RUN cd /src; make\n"
        "RUN echo $HOME\n"  # SC2086 on echo: style, not reported
    )
    found = checks(dockerfile_findings(tmp_path, text, IGNORE), "build.shell-safety")
    sc = {(f.payload.code, f.location.line, f.location.column) for f in found if f.payload.issue == "shellcheck"}
    assert sc == {("SC2086", 3, 13), ("SC2114", 6, 8)}
    # SC2164 on line 8 is the own `cd` detection already: reported once
    assert [f.payload.issue for f in found if f.location.line == 8] == ["cd"]
    assert "on chmod" in next(f.message for f in found if f.payload.code == "SC2086")


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_shellcheck_and_own_rm_detection_reported_once(tmp_path: Path) -> None:
    found = checks(dockerfile_findings(tmp_path, "FROM debian:12\nRUN rm -rf $OUT/*\n", IGNORE), "build.shell-safety")
    assert [f.payload.issue for f in found] == ["rm-var"]


def test_pipefail_fix_when_the_stage_installs_bash(tmp_path: Path) -> None:
    text = "FROM alpine:3.20\nRUN apk add --no-cache bash=5.2.26-r0\nRUN wget -qO- https://x.io/a | tar -x\nRUN a | b\n"
    new = fix_and_rescan(tmp_path, "build.shell-safety", text, applicability=Applicability.UNSAFE)
    assert new == (
        "FROM alpine:3.20\nRUN apk add --no-cache bash=5.2.26-r0\n"
        'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\nRUN wget -qO- https://x.io/a | tar -x\nRUN a | b\n'
    )


def test_no_pipefail_fix_without_known_bash_and_message_says_why(tmp_path: Path) -> None:
    text = "FROM debian:12\nRUN curl -fsSL https://x.io/a | tar -x\n"
    (f,) = [x for x in checks(dockerfile_findings(tmp_path, text, IGNORE), "build.shell-safety") if x.payload.issue == "pipe"]
    assert f.fix is None
    assert "no automatic fix" in f.message and "debian:12" in f.message


SYSTEM_CATCHES = [
    ("FROM alpine:3.20\nVOLUME /etc\n", 2),
    ("FROM alpine:3.20\nVOLUME [\"/data\", \"/\"]\n", 2),
    ("FROM alpine:3.20\nVOLUME /sys/fs/cgroup\n", 2),
    ("FROM alpine:3.20\nWORKDIR /proc\n", 2),
    ("FROM alpine:3.20\nWORKDIR /boot\nWORKDIR grub\n", 2),
    ("FROM alpine:3.20\nWORKDIR /usr/\n", 2),
]
SYSTEM_CLEAN = [
    "FROM alpine:3.20\nVOLUME /data /var/lib/app\n",
    "FROM alpine:3.20\nVOLUME /etc/nginx/conf.d\n",
    "FROM alpine:3.20\nWORKDIR /\nWORKDIR /usr/src/app\n",
    "FROM alpine:3.20\nWORKDIR $HOME\n",
]


@pytest.mark.parametrize(("text", "line"), SYSTEM_CATCHES)
def test_system_paths_catches(tmp_path: Path, text: str, line: int) -> None:
    found = checks(dockerfile_findings(tmp_path, text, IGNORE), "build.system-paths")
    assert found and found[0].location.line == line


@pytest.mark.parametrize("text", SYSTEM_CLEAN)
def test_system_paths_does_not_catch(tmp_path: Path, text: str) -> None:
    assert not checks(dockerfile_findings(tmp_path, text, IGNORE), "build.system-paths")


# --------------------------------------------------------------------------- history


@pytest.mark.parametrize(
    ("created_by", "script"),
    [
        ("/bin/sh -c apt-get update", "apt-get update"),
        ("|2 TOKEN=abc B=c /bin/sh -c apk add curl", "apk add curl"),
        ("RUN /bin/sh -c apt-get update && apt-get install -y x # buildkit", "apt-get update && apt-get install -y x"),
        ("RUN |1 V=1 /bin/sh -c pip install flask # buildkit", "pip install flask"),
        ("/bin/bash -o pipefail -c curl x | sh", "curl x | sh"),
        ("/bin/sh -c #(nop)  VOLUME [/etc]", None),
        ("WORKDIR /app", None),
        ("COPY app /app # buildkit", None),
    ],
)
def test_history_run_text(created_by: str, script: str | None) -> None:
    assert history_run_text(created_by) == script


def test_history_commands_use_the_dockerfile_rules() -> None:
    inst = history_instruction("RUN |1 X=1 /bin/sh -c apt-get update && apk add git # buildkit")
    assert inst is not None
    assert [u.what for u in unpinned_installs(inst)] == ["git"]
    assert [u.manager for u in lone_updates(inst)] == ["apt-get"]


def test_fix_applies_on_disk_for_shell_safety_once_per_stage(tmp_path: Path) -> None:
    text = "FROM alpine:3.20\nRUN apk add --no-cache bash=5\nRUN a | b\nRUN c | d\n"
    found = checks(dockerfile_findings(tmp_path, text, IGNORE), "build.shell-safety")
    fixes = [f.fix for f in found if f.fix is not None]
    assert len(fixes) == 1
    apply_fix_in_memory(fixes[0], tmp_path)
    assert (tmp_path / "Dockerfile").read_text().count("SHELL") == 1


def test_secret_in_a_package_spec_is_masked(tmp_path: Path) -> None:
    token = "ghp_" + "A1b2C3d4" * 4 + "Zz9Y"
    text = f"FROM debian:12\nRUN apt-get install -y tool-{token}\nRUN echo {token} | tee /x\n"
    found = dockerfile_findings(tmp_path, text, IGNORE)
    mine = [f for f in found if f.check in ("build.pinned-packages", "build.shell-safety")]
    assert len(mine) >= 2
    for f in mine:
        assert token not in f.message and token not in (f.evidence or "") and token not in repr(f.payload)


def test_exec_form_pipe_gets_no_shell_fix(tmp_path: Path) -> None:
    text = "FROM alpine:3.20\nRUN apk add --no-cache bash=5\nRUN [\"sh\", \"-c\", \"a | b\"]\n"
    (f,) = checks(dockerfile_findings(tmp_path, text, IGNORE), "build.shell-safety")
    assert f.fix is None and "exec-form RUN ignores SHELL" in f.message


def test_broken_shellcheck_is_a_warning_and_own_checks_go_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "shellcheck"
    fake.write_text("#!/bin/sh\necho 'not json'\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    from lockdock.context import ScanContext
    from tests.dockerfile.helpers import scan_dir

    proj = tmp_path / "p"
    proj.mkdir()
    (proj / "Dockerfile").write_text("FROM debian:12\nRUN cd /x; make\n")
    result = scan_dir(proj, ScanContext(cwd=proj, use_engine=False))
    assert [f.payload.issue for f in result.findings if f.check == "build.shell-safety"] == ["cd"]
    assert any("shellcheck gave no JSON" in e.message and e.kind == "warning" for e in result.errors)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_shellcheck_scripts_are_capped_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lockdock.dockerfile import load, shellcheck

    monkeypatch.setattr(shellcheck, "MAX_SCRIPTS", 2)
    (tmp_path / "Dockerfile").write_text("FROM debian:12\nRUN chmod 1 $A\nRUN chmod 1 $B\nRUN chmod 1 $C\n")
    hits, note = shellcheck.run_shellcheck(load(tmp_path / "Dockerfile"), shutil.which("shellcheck"))
    assert sorted(h.line for h in hits) == [2, 3]
    assert note == "shellcheck: only the first 2 of 3 RUN scripts were checked"


def test_package_update_fix_through_the_cli(tmp_path: Path) -> None:
    import subprocess
    import sys

    text = "FROM debian:12\r\nRUN apt-get update\r\nRUN apt-get install -y --no-install-recommends curl=7.88.1-10 \\\r\n  && rm -rf /var/lib/apt/lists/*\r\n"
    (tmp_path / "Dockerfile").write_bytes(text.encode())
    (tmp_path / ".dockerignore").write_text(IGNORE[".dockerignore"])
    env_cmd = [sys.executable, "-m", "lockdock", "fix", "--no-engine", "--check", "build.package-update", "--apply", "."]
    proc = subprocess.run(env_cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**__import__("os").environ, "XDG_STATE_HOME": str(tmp_path / "state")})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (tmp_path / "Dockerfile").read_bytes().decode() == (
        "FROM debian:12\r\nRUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10 \\\r\n"
        "  && rm -rf /var/lib/apt/lists/*\r\n"
    )
