"""Peer coverage of the four build ids: one tiny input per peer rule the checklist maps to
them (hadolint, Trivy, checkov, CIS Docker Benchmark, dockle, ShellCheck), each caught
under the right id, and the references of the catalogue all accounted for."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockdock import checks as catalogue
from tests.dockerfile.helpers import checks, dockerfile_findings

IGNORE = {".dockerignore": ".git\n.env\nsecrets/\n**/*.key\n**/*.pem\n"}

# peer rule -> (check id, Dockerfile). Image-only rules of dockle are also exercised on
# real images in tests/engine/test_build_hygiene_engine.py.
PEER_CASES: dict[str, tuple[str, str]] = {
    "DL3008": ("build.pinned-packages", "FROM debian:12\nRUN apt-get install -y curl\n"),
    "DL3013": ("build.pinned-packages", "FROM python:3.12\nRUN pip install flask\n"),
    "DL3016": ("build.pinned-packages", "FROM node:20\nRUN npm install -g express\n"),
    "DL3018": ("build.pinned-packages", "FROM alpine:3.20\nRUN apk add --no-cache curl\n"),
    "DL3028": ("build.pinned-packages", "FROM ruby:3.3\nRUN gem install bundler\n"),
    "DL3033": ("build.pinned-packages", "FROM centos:7\nRUN yum install -y httpd && yum clean all\n"),
    "DL3037": ("build.pinned-packages", "FROM opensuse/leap:15\nRUN zypper install -y httpd\n"),
    "DL3041": ("build.pinned-packages", "FROM fedora:40\nRUN dnf install -y httpd\n"),
    "DL3062": ("build.pinned-packages", "FROM php:8.3\nRUN pecl install redis\n"),
    "DS-0017": ("build.package-update", "FROM debian:12\nRUN apt-get update\n"),
    "CKV_DOCKER_5": ("build.package-update", "FROM alpine:3.20\nRUN apk update\n"),
    "CIS 4.7": ("build.package-update", "FROM centos:7\nRUN yum makecache\n"),
    "DL3035": ("build.package-update", "FROM opensuse/leap:15\nRUN zypper dist-upgrade -y\n"),
    "DKL-DI-0003": ("build.package-update", "FROM debian:12\nRUN apt-get update && apt-get dist-upgrade -y\n"),
    "CIS-DI-0007": ("build.package-update", "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl=1\n"),
    "DL4006": ("build.shell-safety", "FROM debian:12\nRUN wget -O - https://x.io | wc -l\n"),
    "DL3003": ("build.shell-safety", "FROM debian:12\nRUN cd /usr/src/app; git checkout v1\n"),
    "SC2115": ("build.shell-safety", "FROM debian:12\nRUN rm -rf \"$STEAMROOT/\"*\n"),
    "SC2164": ("build.shell-safety", "FROM debian:12\nRUN cd build; make\n"),
    "DS-0030": ("build.system-paths", "FROM alpine:3.20\nWORKDIR /proc/self/fd\n"),
    "DKL-DI-0002": ("build.system-paths", "FROM alpine:3.20\nVOLUME /boot\n"),
}
IDS = ("build.pinned-packages", "build.package-update", "build.shell-safety", "build.system-paths")


def test_every_reference_has_a_case() -> None:
    refs = {r for cid in IDS for r in catalogue.get(cid).references}
    assert refs == set(PEER_CASES)
    for rule, (check, _text) in PEER_CASES.items():
        assert rule in catalogue.get(check).references


@pytest.mark.parametrize("rule", sorted(PEER_CASES))
def test_peer_rule_caught(tmp_path: Path, rule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # lockdock's own detection, no ShellCheck
    check, text = PEER_CASES[rule]
    assert checks(dockerfile_findings(tmp_path, text, IGNORE), check), f"{rule} not caught by {check}"
