"""Random compose-shaped text never makes the loader raise, and stays fast."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockdock import registry
from lockdock.compose.project import load_projects
from lockdock.compose.yamlread import parse
from lockdock.context import ScanContext
from lockdock.fixing.edits import apply_edits
from lockdock.model import FileEdit
from lockdock.scan import analyze_subject
from lockdock.sources.compose import subjects_for

PIECES = [
    "services:\n", "  web:\n", "    image: nginx:1\n", "    ports:\n", "      - '80:80'\n", "      - 80\n",
    "    <<: *a\n", "x: &a {privileged: yes}\n", "    extends: web\n", "    extends: {file: x.yml, service: y}\n",
    "include:\n  - other.yml\n", "    environment:\n", "      - A=${B:-c}\n", "      K: $${X}\n",
    "    user: ${U?missing}\n", "\t", "---\n", "[", "]", "{", "}", "*a", "&b ", "!reset ", "!!python/object:x ",
    "    volumes: 80\n", "    read_only: on\n", "    security_opt: [seccomp:unconfined]\n",
    "    cap_drop:\n", "      - NET_RAW\n", "    logging: {driver: json-file}\n", "    tmpfs: /run\n",
    "    privileged: true\n", "    deploy: {resources: {limits: {memory: 1g}}}\n", "    restart: always\n", "- ", ": ", "#c\n", "\r\n", "\ufeff", "'", '"', "? ", "|\n",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(PIECES), max_size=40))
def test_parse_never_raises(pieces: list[str]) -> None:
    text = "".join(pieces)
    start = time.monotonic()
    result = parse(text, "/f.yaml")
    assert result.root is None or result.root.kind == "map"
    assert time.monotonic() - start < 5


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.lists(st.sampled_from(PIECES), max_size=20))
def test_loading_a_project_never_raises(tmp_path_factory, main: list[str], other: list[str]) -> None:
    d: Path = tmp_path_factory.mktemp("fuzz")
    (d / "compose.yaml").write_text("".join(main), encoding="utf-8")
    (d / "compose.override.yaml").write_text("".join(other), encoding="utf-8")
    (d / "other.yml").write_text("include:\n  - compose.yaml\n", encoding="utf-8")
    ctx = ScanContext(cwd=d, use_engine=False)
    projects = load_projects([d / "compose.yaml", d / "compose.override.yaml"], ctx)
    assert len(projects) == 1
    registry.load_plugins()
    for subject in subjects_for(projects[0], ctx):
        analyze_subject(subject, ctx)  # analyzers and fixers on whatever survived loading
    assert not [e.message for e in ctx.errors if "internal error" in e.message or "failed" in e.message]


# Valid service lines (4-space indent); random selections make odd but parseable services.
SERVICE_LINES = [
    "    image: nginx:latest\n", "    image: ${IMG:-redis}\n", "    build: .\n", "    user: root\n",
    "    privileged: yes\n", "    read_only: false\n", "    network_mode: host\n", "    pid: host\n",
    "    ports: ['8080:80', 22, {target: 5432, published: 5432}]\n", "    ports:\n      - 9000\n",
    "    volumes: [/etc:/e, '/var/run/docker.sock:/s', {type: bind, source: /root, target: /r}]\n",
    "    volumes:\n      - /:/host:rw,z\n", "    security_opt: [seccomp:unconfined, no-new-privileges:false]\n",
    "    security_opt:\n      - apparmor=unconfined\n", "    cap_add: [ALL]\n", "    cap_drop: []\n",
    "    environment: {PASSWORD: hunter2hunter2, URL: 'https://u:pw12345@h/x'}\n",
    "    environment:\n      - TOKEN=abcd1234efgh5678\n", "    environment: []\n", "    tmpfs: /run\n",
    "    memswap_limit: -1\n", "    mem_limit: 1g\n", "    pids_limit: 0\n", "    restart: on-failure:9\n",
    "    logging: {driver: none}\n", "    logging: {options: {max-size: 1m}}\n", "    healthcheck: {disable: true}\n",
    "    deploy: {}\n", "    deploy:\n      resources: {}\n", "    secrets: [x]\n", "    networks: {a: {}}\n",
    "    networks: [a]\n", "    devices: [/dev/sda]\n", "    <<: *base\n", "    x-k: !reset null\n",
]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(SERVICE_LINES), max_size=14), st.lists(st.sampled_from(SERVICE_LINES), max_size=6))
def test_odd_services_analyse_and_fix_without_errors(tmp_path_factory, lines: list[str], extra: list[str]) -> None:
    d: Path = tmp_path_factory.mktemp("svc")
    text = ("x-base: &base\n  read_only: true\n  cap_add: [NET_ADMIN]\nservices:\n  web:\n"
            + "".join(lines) + "  db:\n    image: postgres:16\n" + "".join(extra)
            + "networks:\n  a: {}\nsecrets:\n  x:\n    file: ./x.txt\n")
    (d / "compose.yaml").write_text(text, encoding="utf-8")
    ctx = ScanContext(cwd=d, use_engine=False)
    registry.load_plugins()
    for project in load_projects([d / "compose.yaml"], ctx):
        for subject in subjects_for(project, ctx):
            result = analyze_subject(subject, ctx)
            for f in result.findings:
                assert "hunter2" not in f.message and "pw12345" not in f.message
                for change in (f.fix.changes if f.fix else []):
                    if isinstance(change, FileEdit) and change.path.endswith("compose.yaml"):
                        new, deferred = apply_edits(text, change.edits)
                        assert deferred == []
                        after = parse(new, change.path)
                        assert after.root is not None and not after.problems, (
                            f.check, [p.message for p in after.problems], new)
    assert not [e.message for e in ctx.errors if "internal error" in e.message or "failed" in e.message]
