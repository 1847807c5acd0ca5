"""False-positive classes found by the real-world run (bench/realworld.py, issue 13's
"Measure"), each with its siblings that must still be reported. Inputs are minimal
Dockerfiles written for these tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dockerfile.helpers import checks, dockerfile_findings

IGNORE = {".dockerignore": ".git\n.env\nsecrets/\n**/*.key\n**/*.pem\n"}

# (check, Dockerfile) pairs that must be reported.
CATCHES: list[tuple[str, str]] = [
    # npm ci with NODE_ENV from an ARG whose default is not production, or no ARG default
    ("build.production-deps", "FROM node:20-slim\nARG NODE_ENV=development\nENV NODE_ENV $NODE_ENV\nRUN npm ci\n"),
    ("build.production-deps", "FROM node:20-slim\nARG NODE_ENV\nENV NODE_ENV=$NODE_ENV\nRUN npm ci\n"),
    # an ARG of an earlier stage is not in scope in the next one
    ("build.production-deps",
     "FROM node:20-slim AS base\nARG NODE_ENV=production\nFROM base\nENV NODE_ENV=${NODE_ENV}\nRUN npm ci\n"),
    # rm on a path below a variable that may be empty
    ("build.shell-safety", "FROM debian:12\nRUN rm -rf \"$GNUPGHOME\"/*\n"),
    ("build.shell-safety", "FROM debian:12\nRUN rm -rf ${TMPDIR}/build\n"),
    # a real pipe inside a case branch, and one after esac
    ("build.shell-safety",
     "FROM debian:12\nRUN case \"$a\" in x | y) curl -fsSL https://x.io/k | tar -x ;; esac\n"),
    ("build.shell-safety", "FROM debian:12\nRUN case \"$a\" in x) echo 1 ;; *) echo 2 ;; esac | tee log\n"),
    # pecl: the package after an option's value is still judged
    ("build.pinned-packages", "FROM php:8.3-fpm\nRUN pecl install -D 'enable-redis-zstd=\"yes\"' redis\n"),
    # a data-store port in an image that runs something else
    ("network.exposed-ports", "FROM debian:12\nEXPOSE 5432\nCMD [\"node\", \"server.js\"]\n"),
    ("network.exposed-ports", "FROM debian:12\nEXPOSE 6379\nCMD [\"postgres\"]\n"),
    ("network.exposed-ports", "FROM debian:12\nEXPOSE 5432\n"),
    # remote-admin ports are reported whatever runs
    ("network.exposed-ports", "FROM debian:12\nEXPOSE 22\nCMD [\"/usr/sbin/sshd\", \"-D\"]\n"),
]

DOES_NOT_CATCH: list[tuple[str, str]] = [
    # the known one: NODE_ENV=production set through an ARG default
    ("build.production-deps", "FROM node:20-slim\nARG NODE_ENV=production\nENV NODE_ENV $NODE_ENV\nRUN npm ci\n"),
    ("build.production-deps", "FROM node:20-slim\nARG NODE_ENV=production\nENV NODE_ENV=\"${NODE_ENV}\"\nRUN yarn install\n"),
    ("build.production-deps", "FROM node:20-slim\nARG MODE=production\nENV NODE_ENV=${MODE}\nRUN npm install\n"),
    # inherited from the stage the final one builds on
    ("build.production-deps",
     "FROM node:20-slim AS base\nARG NODE_ENV=production\nENV NODE_ENV=$NODE_ENV\nFROM base\nRUN npm ci\n"),
    # a lone variable: empty, rm gets "" and deletes nothing
    ("build.shell-safety",
     "FROM debian:12\nRUN set -eux; GNUPGHOME=\"$(mktemp -d)\"; export GNUPGHOME; rm -rf \"$GNUPGHOME\" x.asc\n"),
    ("build.shell-safety", "FROM debian:12\nRUN rm -rf $tempDir\n"),
    # `|` between case patterns is no pipe (official postgres: `case "$dpkgArch" in amd64 | arm64)`)
    ("build.shell-safety",
     "FROM debian:12\nRUN set -e; case \"$(dpkg --print-architecture)\" in \\\n  amd64 | arm64 | ppc64el) echo ok ;; \\\n"
     "  (i386|armhf) echo old ;; \\\n  *) exit 1 ;; \\\nesac\n"),
    # pecl --configureoptions / -D take a value, which is no package (nextcloud's Dockerfiles)
    ("build.pinned-packages",
     "FROM php:8.3-fpm\nRUN pecl install --configureoptions 'enable-memcached-igbinary=\"yes\"' memcached-3.3.0\n"),
    ("build.pinned-packages", "FROM php:8.3-fpm\nRUN pecl install -D 'enable-redis-zstd=\"yes\"' redis-6.1.0\n"),
    # the data store's own image, built from a distribution base (official postgres, redis)
    ("network.exposed-ports",
     "FROM debian:12-slim\nENTRYPOINT [\"docker-entrypoint.sh\"]\nEXPOSE 5432\nCMD [\"postgres\"]\n"),
    ("network.exposed-ports", "FROM alpine:3.20\nEXPOSE 6379\nCMD redis-server /etc/redis.conf\n"),
    ("network.exposed-ports",
     "FROM debian:12 AS base\nCMD [\"/usr/sbin/mysqld\"]\nFROM base\nEXPOSE 3306\n"),
]


def _id(v: object) -> str | None:
    return v if isinstance(v, str) and "\n" not in v else None


@pytest.mark.parametrize(("check", "text"), CATCHES, ids=_id)
def test_sibling_still_reported(tmp_path: Path, check: str, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # lockdock's own detections, not ShellCheck's
    assert checks(dockerfile_findings(tmp_path, text, IGNORE), check), f"{check} missed:\n{text}"


@pytest.mark.parametrize(("check", "text"), DOES_NOT_CATCH, ids=_id)
def test_false_positive_class_gone(tmp_path: Path, check: str, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    found = checks(dockerfile_findings(tmp_path, text, IGNORE), check)
    assert not found, [f.message for f in found]


DH_PARAMS = "-----BEGIN DH PARAMETERS-----\nMIIBCAKCAQEA//////////8=\n-----END DH PARAMETERS-----\n"
KEY_AND_CERT = ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
                "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n")


@pytest.mark.parametrize(("content", "reported"), [
    (DH_PARAMS, False),  # docker-mailserver's ffdhe4096.pem: public parameters
    ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", False),
    (KEY_AND_CERT, True),  # a bundle with a key in it is a secret
    ("not pem at all\n", True),  # the name decides when the content says nothing
    (None, True),  # not in the context: the name decides
])
def test_copied_pem_judged_by_its_content(tmp_path: Path, content: str | None, reported: bool) -> None:
    files = dict(IGNORE)
    if content is not None:
        files["shared/params.pem"] = content
    text = "FROM debian:12\nCOPY shared/params.pem /etc/app/dh.pem\n"
    found = checks(dockerfile_findings(tmp_path, text, files), "secrets.no-secrets-in-image")
    assert bool(found) is reported, [f.message for f in found]
