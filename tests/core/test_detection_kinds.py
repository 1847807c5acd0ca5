"""Real-world detection kinds (issue 13), each through `lockdock scan` on inputs of our own:
file recognition by name and content, templates, Compose v1, IPv6 binds, long volume keys,
`$$` in compose and *_PASS names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import scan_json

SERVICE = "services:\n  tool:\n    image: example/tool:3.1.4\n    user: root\n"


def _checks(report: dict[str, Any], *kinds: str) -> list[tuple[str, int | None, str]]:
    return [(f["check"], f["location"]["line"], f["location"]["path"]) for f in report["findings"]
            if not kinds or f["target"]["kind"] in kinds]


def test_compose_files_with_custom_names_are_found_in_a_walk(tmp_path: Path, run_lockdock: Any) -> None:
    for name in ("metrics-compose.yml", "stack.compose.yaml", "docker-compose.ci.yml", "compose_monitoring.yaml"):
        (tmp_path / name).write_text(SERVICE)
    (tmp_path / "compose_notes.yaml").write_text("notes:\n  - compose is nice\n")  # no services: not compose
    report = scan_json(run_lockdock, "--no-engine", "--select", "container.non-root", ".", cwd=tmp_path)
    paths = sorted(p for c, _line, p in _checks(report, "compose-service"))
    assert paths == ["compose_monitoring.yaml", "docker-compose.ci.yml", "metrics-compose.yml", "stack.compose.yaml"]
    assert report["errors"] == []


def test_explicit_files_are_judged_by_content(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "stack.yml").write_text("# deployed with -f\n" + SERVICE)
    (tmp_path / "build.docker").write_text("# syntax=docker/dockerfile:1\nFROM ubuntu:latest\nUSER 1000\n")
    (tmp_path / "values.yaml").write_text("replicas: 2\nimage: nginx\n")
    report = scan_json(run_lockdock, "--no-engine", "stack.yml", "build.docker", "values.yaml", cwd=tmp_path)
    found = _checks(report)
    assert ("container.non-root", 5, "stack.yml") in found
    assert ("image.pinned-tag", 2, "build.docker") in found
    (skip,) = [e for e in report["errors"] if e["path"] == "values.yaml"]
    assert "skipped" in skip["message"] and "services:" in skip["message"]


def test_templates_are_not_dockerfiles_in_a_walk(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "Dockerfile.template").write_text("FROM debian:{{ env.variant }}-slim\n{{ if x }}\nUSER 1000\n")
    (tmp_path / "Dockerfile-alpine.j2").write_text("FROM alpine:{{ version }}\n{% if dev %}RUN apk add gcc{% endif %}\n")
    (tmp_path / "Dockerfile.in").write_text("FROM @BASE_IMAGE@\n")
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    assert [f for f in report["findings"] if f["target"]["kind"] == "dockerfile"] == []
    assert report["errors"] == []


def test_explicit_template_gets_a_note_and_no_image_findings(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "Dockerfile.tmpl").write_text("FROM %%BASE%%:%%TAG%%\nRUN echo hi\n%%EXTRA%%\nUSER 1000\n")
    # Template syntax inside a file named like a Dockerfile is recognised too.
    (tmp_path / "Dockerfile").write_text("FROM debian:{{ .Version }}\nUSER 1000\n")
    report = scan_json(run_lockdock, "--no-engine", "Dockerfile.tmpl", "Dockerfile", cwd=tmp_path)
    image_checks = [f for f in report["findings"] if f["check"].startswith("image.")]
    assert image_checks == []
    notes = {e["path"]: e["message"] for e in report["errors"]}
    assert set(notes) == {"Dockerfile.tmpl", "Dockerfile"}
    assert all("template" in m for m in notes.values())
    assert "unknown instruction" not in " ".join(notes.values())
    assert all("{{" not in f["message"] or "not known" in f["message"] for f in report["findings"])


def test_compose_v1_says_it_is_v1(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "legacy.yml").write_text("web:\n  image: nginx:1.25\n  privileged: true\nworker:\n  build: .\n")
    report = scan_json(run_lockdock, "--no-engine", "legacy.yml", cwd=tmp_path)
    (note,) = report["errors"]
    assert "v1" in note["message"] and "'web', 'worker'" in note["message"] and "not check" in note["message"]
    assert "unknown top-level key" not in note["message"]


def test_ipv6_unspecified_spellings_bind_all_interfaces(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  api:\n    image: example/api:2.0.1\n    ports:\n"
        '      - "0:0:0:0:0:0:0:0:9001:9001"\n'  # 5
        '      - "[0::0]:9002:9002"\n'  # 6
        '      - "[::ffff:127.0.0.1]:9003:9003"\n'  # 7 loopback
        '      - "::1:9004:9004"\n'  # 8 loopback
        "      - target: 9005\n        published: \"9005\"\n        host_ip: \"::\"\n"  # 9
        "      - target: 9006\n        published: \"9006\"\n        host_ip: \"[::1]\"\n"  # 12
    )
    report = scan_json(run_lockdock, "--no-engine", "--select", "network.bind-localhost", ".", cwd=tmp_path)
    assert sorted(line for _c, line, _p in _checks(report)) == [5, 6, 9]


def test_unknown_long_volume_keys_are_reported_with_the_reason(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: example/app:1.0.0\n    volumes:\n"
        "      - type: bind\n        source: /etc/nginx\n        target: /cfg\n        readonly: true\n"
        "      - type: bind\n        source: ./data\n        target: /data\n        propagation: rshared\n")
    report = scan_json(run_lockdock, "--no-engine", "--select", "container.sensitive-mounts", ".", cwd=tmp_path)
    warnings = [e["message"] for e in report["errors"]]
    assert any("line 8" in w and "'readonly' is not a compose key" in w and "read_only" in w for w in warnings)
    assert any("line 12" in w and "'propagation'" in w for w in warnings)
    (f,) = report["findings"]
    assert f["severity"] == "high" and "writable" in f["message"] and "readonly is not a compose key" in f["message"]


def test_compose_dollar_escape_and_pass_names(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: example/app:1.0.0\n    environment:\n"
        '      MAIL_PASS: "$$uperS3cret"\n'  # 5: `$$` is a literal dollar
        "      ADMIN_PASS: ${ADMIN_PASS}\n"  # 6: a reference
        "      BYPASS_PROXY: internal-hosts-only\n"  # 7: PASS inside a word
        "      SIGNING_KEY: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"  # 8
        "      LICENSE_KEY: your-license-key-here\n"  # 9: placeholder, one step lower
    )
    report = scan_json(run_lockdock, "--no-engine", "--select", "secrets", ".", cwd=tmp_path)
    got = {f["location"]["line"]: f for f in report["findings"]}
    assert sorted(got) == [5, 8, 9]
    assert got[5]["severity"] == "high" and got[9]["severity"] == "medium"
    assert "placeholder" in got[9]["message"] and "placeholder" not in got[5]["message"]
    text = str(report)
    assert "uperS3cret" not in text and "9f86d08188" not in text


def test_container_env_uses_the_same_secret_rules() -> None:
    from lockdock.analyzers.container_runtime import env_secrets
    from lockdock.context import ScanContext
    from lockdock.engine.containers import make_subject
    from lockdock.model import Severity

    subject = make_subject({"Id": "c" * 64, "Name": "/app", "Config": {"Env": [
        "SMTP_PASS=r3al-Value-9", "API_TOKEN=changeme", "BYPASS_CACHE=always-on-1", "PATH=/usr/bin"]},
        "HostConfig": {}})
    found = list(env_secrets(subject, ScanContext(cwd=Path("."), use_engine=False)))
    assert [f.evidence.split("=")[0] for f in found] == ["SMTP_PASS", "API_TOKEN"]
    assert found[0].severity is None and found[1].severity is Severity.MEDIUM
    assert "placeholder" in found[1].message and "r3al" not in str([f.message for f in found])


def test_labels_and_build_args_are_judged_like_environment(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: example/app:1.0.0\n    labels:\n"
        '      com.example.api_key: "k9Fj2-real-Value"\n'  # 5
        "      com.example.owner: team-a\n"  # 6
        "    build:\n      context: .\n      args:\n"
        "        - NPM_TOKEN=npm_abcdefghijklmnopqrstuvwxyz0123456789\n"  # 10
        "        - VERSION=1.2\n")
    report = scan_json(run_lockdock, "--no-engine", "--select", "secrets.no-secrets-in-env", ".", cwd=tmp_path)
    got = {f["location"]["line"]: f["message"] for f in report["findings"]}
    assert sorted(got) == [5, 10]
    assert got[5].startswith("service app: label com.example.api_key") and "build argument NPM_TOKEN" in got[10]
    assert "k9Fj2" not in str(report) and "abcdefghijklmnop" not in str(report)


def test_env_file_contents_are_judged(tmp_path: Path, run_lockdock: Any) -> None:
    (tmp_path / "app.env").write_text("# settings\nLOG_LEVEL=info\nDB_PASS='Sup3r-Secret-7'\nAPI_TOKEN=changeme\n")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "worker.env").write_text("export SMTP_PASSWORD=\"m4il-Pass-word\"\nBYPASS_CACHE=yes-please\n")
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: example/app:1.0.0\n    env_file: app.env\n"
        "  worker:\n    image: example/worker:1.0.0\n    env_file:\n      - path: ./conf/worker.env\n"
        "        required: true\n      - path: ./missing.env\n        required: false\n")
    report = scan_json(run_lockdock, "--no-engine", "--select", "secrets.no-secrets-in-env", ".", cwd=tmp_path)
    got = sorted((f["location"]["path"], f["location"]["line"], f["severity"]) for f in report["findings"])
    assert got == [("app.env", 3, "high"), ("app.env", 4, "medium"), ("conf/worker.env", 1, "high")]
    assert "Sup3r" not in str(report) and "m4il" not in str(report)
    assert [f["fix"] for f in report["findings"]] == [None, None, None]  # no fix edits an env file
