"""Property: every offered safe fix leaves files that parse and scan with fewer findings.

Random compose files and Dockerfiles (indentation, CRLF, comments, final newline varied)
are scanned; each safe fix offered is applied alone to a fresh copy of the project, then
the copy is rescanned. Whatever fixers are registered get exercised.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lockdock import registry
from lockdock.context import ScanContext
from lockdock.fixing.apply import apply_fixes
from lockdock.model import Applicability, Fix, TargetKind
from lockdock.scan import scan

SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "compose-spec" / "compose-spec.json"
EXERCISED: Counter[str] = Counter()

SERVICE_LINES = {
    "privileged": ["privileged: true"],
    "ports": ["ports:", '  - "8080:80"', "  - 3000:3000"],
    "ports_local": ["ports:", '  - "127.0.0.1:8081:80"'],
    "user_root": ["user: root"],
    "user_id": ['user: "1000:1000"'],
    "read_only": ["read_only: true"],
    "cap_add": ["cap_add:", "  - NET_ADMIN"],
    "cap_drop": ["cap_drop:", "  - ALL"],
    "env_secret": ["environment:", "  DB_PASSWORD: hunter2hunter2", "  MODE: prod"],
    "env_list": ["environment:", "  - API_TOKEN=abcd1234efgh5678ijkl"],
    "restart": ["restart: always"],
    "restart_unless": ["restart: unless-stopped"],
    "host_net": ["network_mode: host"],
    "pid_host": ["pid: host"],
    "docker_sock": ["volumes:", "  - /var/run/docker.sock:/var/run/docker.sock"],
    "mem": ['mem_limit: "256m"', "pids_limit: 100"],
    "nnp": ["security_opt:", "  - no-new-privileges:true"],
    "logging": ["logging:", "  driver: json-file", "  options:", '    max-size: "10m"'],
    "healthcheck": ["healthcheck:", '  test: ["CMD", "true"]'],
}
IMAGES = ["nginx", "nginx:latest", "nginx:1.25.3", "redis:7.2", "postgres:stable", "busybox@sha256:" + "a" * 64]

DOCKER_LINES = {
    "env_secret": ["ENV API_TOKEN=abcd1234efgh5678ijkl"],
    "arg_secret": ["ARG DB_PASSWORD=hunter2hunter2"],
    "apt": ["RUN apt-get update && apt-get install -y curl"],
    "apk": ["RUN apk add curl"],
    "cont": ["RUN echo one && \\", "    echo two"],
    "add_url": ["ADD https://example.com/tool.tar.gz /opt/"],
    "add_local": ["ADD app.tar.gz /opt/"],
    "copy": ["COPY . /app"],
    "expose": ["EXPOSE 22 8080"],
    "user_root": ["USER root"],
    "user_app": ["USER 1000"],
    "health": ['HEALTHCHECK CMD ["true"]'],
    "sudo": ["RUN sudo ls"],
    "workdir": ["WORKDIR /app"],
    "cmd": ['CMD ["nginx", "-g", "daemon off;"]'],
}
BASES = ["alpine", "alpine:latest", "alpine:3.19", "debian:bookworm-slim", "ubuntu", "node:20", "python:3.12-slim"]


@st.composite
def compose_text(draw: st.DrawFn) -> str:
    indent = draw(st.sampled_from([2, 4]))
    pad = " " * indent
    out = []
    if draw(st.booleans()):
        out.append("# generated compose file")
    out.append("services:")
    names = draw(st.lists(st.sampled_from(["web", "db", "worker", "cache"]), min_size=1, max_size=3, unique=True))
    for name in names:
        out.append(f"{pad}{name}:")
        out.append(f"{pad * 2}image: {draw(st.sampled_from(IMAGES))}")
        keys = draw(st.lists(st.sampled_from(sorted(SERVICE_LINES)), max_size=6, unique=True))
        seen_tops: set[str] = set()
        for key in keys:
            lines = SERVICE_LINES[key]
            top = lines[0].split(":")[0]
            if top in seen_tops:
                continue
            seen_tops.add(top)
            if draw(st.booleans()):
                out.append(f"{pad * 2}# {key}")
            for ln in lines:
                extra = len(ln) - len(ln.lstrip(" "))
                out.append(pad * 2 + (pad * (extra // 2)) + ln.lstrip(" "))
    return "\n".join(out)


@st.composite
def dockerfile_text(draw: st.DrawFn) -> str:
    out = []
    if draw(st.booleans()):
        out.append("# syntax=docker/dockerfile:1")
    out.append(f"FROM {draw(st.sampled_from(BASES))}")
    for key in draw(st.lists(st.sampled_from(sorted(DOCKER_LINES)), max_size=7, unique=True)):
        if draw(st.booleans()):
            out.append(f"# {key}")
        out += DOCKER_LINES[key]
    return "\n".join(out)


@st.composite
def project(draw: st.DrawFn) -> dict[str, object]:
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    final = draw(st.booleans())

    def shape(text: str) -> str:
        text = text.replace("\n", nl)
        return text + (nl if final else "")

    return {
        "compose": shape(draw(compose_text())) if draw(st.booleans()) else None,
        "dockerfile": shape(draw(dockerfile_text())),
        "gitignore": draw(st.sampled_from([None, "node_modules\n", ".env\n*.key\n"])),
    }


def _write(root: Path, spec: dict[str, object]) -> None:
    (root / ".git").mkdir()
    (root / "Dockerfile").write_bytes(str(spec["dockerfile"]).encode())
    if spec["compose"] is not None:
        (root / "compose.yaml").write_bytes(str(spec["compose"]).encode())
    if spec["gitignore"] is not None:
        (root / ".gitignore").write_text(str(spec["gitignore"]))
    env = root / ".env"
    env.write_text("MODE=dev\n")
    os.chmod(env, 0o644)
    (root / "app.tar.gz").write_bytes(b"")


def _scan(root: Path) -> tuple[list, list]:
    result = scan([root], ScanContext(cwd=root, use_engine=False))
    active = [f for f in result.findings if f.suppressed is None]
    errors = [e for e in result.errors if e.kind == "error"]
    return active, errors


def _safe_fixes(active: list) -> list[tuple[str, TargetKind, Fix, str]]:
    out = []
    for f in active:
        fix = f.fix
        if fix is None or fix.applicability != Applicability.SAFE or not fix.changes:
            continue
        out.append((f.check, f.target.kind, fix, f.target.key))
    return out


def _validate_compose(path: Path) -> None:
    if not path.exists() or not SCHEMA.exists():
        return
    import jsonschema
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8-sig"))
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(data)


def check_project(spec: dict[str, object], in_hypothesis: bool = True) -> int:
    """Apply each offered safe fix alone to a copy; returns how many were exercised."""
    exercised = 0
    with tempfile.TemporaryDirectory(prefix="lockdock-prop-") as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        _write(base, spec)
        active, errors = _scan(base)
        assert errors == [], [e.message for e in errors]
        offered = _safe_fixes(active)
        for i in range(len(offered)):
            work = Path(tmp) / f"w{i}"
            shutil.copytree(base, work, symlinks=True)
            w_active, _ = _scan(work)
            w_fixes = _safe_fixes(w_active)
            assert len(w_fixes) == len(offered)
            check, kind, fix, target_key = w_fixes[i]
            report = apply_fixes([fix], ScanContext(cwd=work, use_engine=False), root=work)
            assert report.errors == [], f"{check} ({fix.title}): {report.errors}"
            assert report.applied == [fix], f"{check} ({fix.title}): {[s.reason for s in report.skipped]}"
            after, after_errors = _scan(work)
            assert after_errors == [], f"{check}: {[e.message for e in after_errors]}"
            assert len(after) < len(w_active), f"{check} ({fix.title}) did not reduce findings"
            # Idempotent: on the fixed file the same fix is not offered again.
            again = [
                f for f in after
                if f.check == check and f.target.key == target_key and f.fix is not None
                and f.fix.title == fix.title and f.fix.changes
            ]
            assert again == [], f"{check} ({fix.title}) is offered again after it was applied"
            _validate_compose(work / "compose.yaml")
            exercised += 1
            EXERCISED[f"{kind.value}:{check}"] += 1
            if in_hypothesis:
                event(f"fixed {kind.value}:{check}")
            shutil.rmtree(work)
    return exercised


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(project())
def test_every_offered_safe_fix_parses_and_reduces_findings(spec: dict[str, object]) -> None:
    assert check_project(spec) >= 1  # the .env mode fix is always offered


def test_registered_file_fixers_are_exercised() -> None:
    """A fixed insecure sample: every registered Dockerfile/compose fixer that offers a
    safe fix on it must pass the same property."""
    registry.load_plugins()
    kinds = {TargetKind.DOCKERFILE, TargetKind.COMPOSE_FILE, TargetKind.COMPOSE_SERVICE}
    file_fixers = [f for f in registry.FIXERS if set(f.kinds) & kinds]
    spec = {
        "compose": "\n".join(
            ["services:", "  web:", "    image: nginx:latest"]
            + ["    " + ln for key in ("privileged", "ports", "env_secret", "user_root", "cap_add") for ln in SERVICE_LINES[key]]
        )
        + "\n",
        "dockerfile": "FROM alpine:latest\nENV API_TOKEN=abcd1234efgh5678ijkl\nADD https://example.com/t.tgz /opt/\n"
        "RUN apk add curl\nUSER root\n",
        "gitignore": None,
    }
    before = sum(n for k, n in EXERCISED.items() if not k.startswith("repo:"))
    assert check_project(spec, in_hypothesis=False) >= 1
    file_fixes = sum(n for k, n in EXERCISED.items() if not k.startswith("repo:")) - before
    if any(f.applicability == Applicability.SAFE for f in file_fixers):
        assert file_fixes >= 1, "safe Dockerfile/compose fixers are registered but none was exercised"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(project())
def test_ignore_fixes_suppress_everything_and_change_no_data(spec: dict[str, object]) -> None:
    from ruamel.yaml import YAML

    from lockdock.dockerfile import dump, parse_dockerfile
    from lockdock.fixing.ignore import ignore_fixes

    kinds = {TargetKind.DOCKERFILE, TargetKind.COMPOSE_SERVICE, TargetKind.COMPOSE_FILE}
    with tempfile.TemporaryDirectory(prefix="lockdock-prop-") as tmp:
        root = Path(tmp)
        _write(root, spec)
        active, _ = _scan(root)
        in_files = [f for f in active if f.target.kind in kinds]
        assert in_files  # every generated Dockerfile has findings
        ctx = ScanContext(cwd=root, use_engine=False)
        df_before = dump(parse_dockerfile((root / "Dockerfile").read_text()))
        yaml = YAML(typ="rt", pure=True)
        compose = root / "compose.yaml"
        data_before = yaml.load(compose.read_text()) if compose.exists() else None
        report = apply_fixes(ignore_fixes(in_files, ctx, "reviewed"), ctx, root=root)
        assert report.errors == [], report.errors
        after, errors = _scan(root)
        assert errors == []
        assert [f for f in after if f.target.kind in kinds] == []
        assert dump(parse_dockerfile((root / "Dockerfile").read_text())) == df_before
        if data_before is not None:
            assert yaml.load(compose.read_text()) == data_before
