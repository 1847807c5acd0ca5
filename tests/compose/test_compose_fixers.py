"""Compose fixes: minimal text edits that remove the finding, add none, keep the file's
shape (comments, quotes, indentation, flow style, CRLF) and validate against compose-spec."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from lockdock.model import Applicability, FileEdit, NewFile
from tests.compose.fixkit import apply_fix, compose_findings, fix_and_verify, run, write_files


def one(d: Path, text: str, **extra: str) -> Path:
    write_files(d, {"compose.yaml": text, **extra})
    return d / "compose.yaml"


def test_not_privileged_removes_the_line_and_keeps_comments(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  web:  # the web app\n    image: nginx:1.25.3\n    # why\n    privileged: true  # needed?\n    read_only: true\n")
    applied = fix_and_verify(tmp_path, "container.not-privileged", "web")
    assert applied.fix.applicability is Applicability.UNSAFE
    assert p.read_text() == "services:\n  web:  # the web app\n    image: nginx:1.25.3\n    # why\n    read_only: true\n"


def test_not_privileged_through_anchor_edits_anchor_and_names_services(tmp_path: Path) -> None:
    one(tmp_path, "x-c: &c\n  privileged: yes\n  read_only: true\nservices:\n  a:\n    <<: *c\n    image: x:1\n  b:\n    <<: *c\n    image: y:1\n")
    before, _ = run(tmp_path)
    f = next(f for f in compose_findings(before) if f.check == "container.not-privileged" and f.target.name == "a")
    assert f.fix is not None and f.fix.note is not None
    assert "anchor &c" in f.fix.note and "a, b" in f.fix.note
    fix_and_verify(tmp_path, "container.not-privileged", "a")
    after, _ = run(tmp_path)
    assert not [f for f in compose_findings(after) if f.check == "container.not-privileged"]


def test_host_namespaces_in_flow_mapping(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  web: {image: 'nginx:1.25.3', pid: host, read_only: true}\n")
    fix_and_verify(tmp_path, "container.host-namespaces", "web")
    assert p.read_text() == "services:\n  web: {image: 'nginx:1.25.3', read_only: true}\n"


def test_host_namespace_last_in_file_without_newline(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    pid: host")
    fix_and_verify(tmp_path, "container.host-namespaces", "web")
    assert p.read_text() == "services:\n  web:\n    image: nginx:1.25.3\n"


def test_read_only_rootfs_inserts_with_file_indent_and_crlf(tmp_path: Path) -> None:
    p = tmp_path / "compose.yaml"
    p.write_bytes(b"services:\r\n    web:\r\n        image: nginx:1.25.3\r\n        # end\r\n\r\n    db:\r\n        image: postgres:16\r\n")
    fix_and_verify(tmp_path, "container.read-only-rootfs", "web")
    assert p.read_bytes() == (b"services:\r\n    web:\r\n        image: nginx:1.25.3\r\n        read_only: true\r\n"
                              b"        tmpfs:\r\n            - /tmp\r\n            - /run\r\n            - /var/cache/nginx\r\n        # end\r\n\r\n    db:\r\n        image: postgres:16\r\n")


def test_read_only_false_is_flipped_and_tmp_added_to_flow_list(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    read_only: no\n    tmpfs: [/run]\n")
    fix_and_verify(tmp_path, "container.read-only-rootfs", "web")
    assert p.read_text() == "services:\n  web:\n    image: nginx:1.25.3\n    read_only: true\n    tmpfs: [/run, /tmp, /var/cache/nginx]\n"


def test_read_only_in_override_file_is_edited_there(tmp_path: Path) -> None:
    write_files(tmp_path, {"compose.yaml": "services:\n  web:\n    image: nginx:1.25.3\n    tmpfs: [/tmp, /run, /var/cache/nginx]\n",
                           "compose.override.yaml": "services:\n  web:\n    read_only: false\n"})
    fix_and_verify(tmp_path, "container.read-only-rootfs", "web")
    assert (tmp_path / "compose.override.yaml").read_text() == "services:\n  web:\n    read_only: true\n"
    assert (tmp_path / "compose.yaml").read_text() == (
        "services:\n  web:\n    image: nginx:1.25.3\n    tmpfs: [/tmp, /run, /var/cache/nginx]\n")


def _make_read_only(d: Path) -> None:
    """Apply the sensitive-mount fix: the mount stays reported (checklist v2: read-only is a
    finding too) but one severity lower, read-only, and with no fix left to offer."""
    from lockdock.model import Severity

    before, _ = run(d)
    (finding,) = [f for f in compose_findings(before) if f.check == "container.sensitive-mounts"]
    assert finding.severity is None and "writable" in finding.message
    assert finding.fix is not None
    apply_fix(finding.fix)
    after, ctx = run(d)
    assert not [e for e in ctx.errors if e.kind == "error"]
    (left,) = [f for f in compose_findings(after) if f.check == "container.sensitive-mounts"]
    assert left.severity is Severity.MEDIUM and "read-only" in left.message
    assert left.fix is None


@pytest.mark.parametrize(
    ("line", "fixed"),
    [
        ("- /etc:/host/etc", "- /etc:/host/etc:ro"),
        ("- '/:/rootfs:rw'", "- '/:/rootfs:ro'"),
        ('- "/root:/r:rw,z"', '- "/root:/r:ro,z"'),
    ],
)
def test_sensitive_mount_short_syntax(tmp_path: Path, line: str, fixed: str) -> None:
    p = one(tmp_path, f"services:\n  web:\n    image: nginx:1.25.3\n    volumes:\n      {line}\n      - ./data:/data\n")
    _make_read_only(tmp_path)
    assert p.read_text() == f"services:\n  web:\n    image: nginx:1.25.3\n    volumes:\n      {fixed}\n      - ./data:/data\n"


def test_sensitive_mount_long_syntax(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    volumes:\n      - type: bind\n        source: /etc\n        target: /e\n")
    _make_read_only(tmp_path)
    assert p.read_text().endswith("        target: /e\n        read_only: true\n")


def test_resource_limits_added_into_existing_deploy(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    deploy:\n      replicas: 2\n")
    fix_and_verify(tmp_path, "container.resource-limits", "web")
    assert p.read_text() == ("services:\n  web:\n    image: nginx:1.25.3\n    deploy:\n      replicas: 2\n"
                             '      resources:\n        limits:\n          memory: "512M"\n          cpus: "1.0"\n'
                             "    pids_limit: 256\n")


def test_memswap_set_to_memory(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    mem_limit: 256m\n    cpus: 1\n    pids_limit: 50\n    memswap_limit: -1\n")
    fix_and_verify(tmp_path, "container.resource-limits", "web")
    assert 'memswap_limit: "256m"' in p.read_text()


def test_no_new_privileges_is_safe_and_appends(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    security_opt:\n      - label:type:svirt_t\n")
    applied = fix_and_verify(tmp_path, "container.no-new-privileges", "web")
    assert applied.fix.applicability is Applicability.SAFE
    assert p.read_text().endswith("      - label:type:svirt_t\n      - no-new-privileges:true\n")


def test_no_new_privileges_inserted_when_absent(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n")
    fix_and_verify(tmp_path, "container.no-new-privileges", "web")
    assert p.read_text().endswith("    security_opt:\n      - no-new-privileges:true\n")


def test_security_profile_entry_removed_from_flow_and_block(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    security_opt: [seccomp:unconfined, 'no-new-privileges:true']\n")
    fix_and_verify(tmp_path, "container.security-profiles", "web")
    assert "security_opt: ['no-new-privileges:true']" in p.read_text()
    p2 = one(tmp_path / "b", "services:\n  web:\n    image: nginx:1.25.3\n    security_opt:\n      - apparmor:unconfined\n    read_only: true\n")
    fix_and_verify(tmp_path / "b", "container.security-profiles", "web")
    assert p2.read_text() == "services:\n  web:\n    image: nginx:1.25.3\n    read_only: true\n"


def test_capabilities_keep_net_bind_for_low_ports(tmp_path: Path) -> None:
    # a known non-root user: only NET_BIND_SERVICE comes back
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    user: '101:101'\n    ports: ['127.0.0.1:80:80']\n")
    applied = fix_and_verify(tmp_path, "container.capabilities", "web")
    assert "NET_BIND_SERVICE" in applied.fix.title
    assert p.read_text().endswith("    cap_drop:\n      - ALL\n    cap_add:\n      - NET_BIND_SERVICE\n")


def test_capabilities_appends_all_to_existing_drop(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  web:\n    image: redis:7.2\n    user: '101'\n    cap_drop:\n    - NET_RAW\n")
    fix_and_verify(tmp_path, "container.capabilities", "web")
    assert p.read_text().endswith("    cap_drop:\n    - NET_RAW\n    - ALL\n")


def test_dangerous_cap_add_has_no_fix(tmp_path: Path) -> None:
    one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    cap_drop: [ALL]\n    cap_add: [SYS_ADMIN]\n")
    result, _ = run(tmp_path)
    f = next(f for f in compose_findings(result) if f.check == "container.capabilities")
    assert f.fix is None


def test_exposed_port_mapping_dropped(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  db:\n    image: postgres:16\n    ports:\n      - \"5432:5432\"\n      - \"127.0.0.1:9187:9187\"\n    networks: [back]\nnetworks:\n  back:\n    internal: true\n")
    fix_and_verify(tmp_path, "network.exposed-ports", "db")
    assert '5432' not in p.read_text() and '"127.0.0.1:9187:9187"' in p.read_text()


@pytest.mark.parametrize(
    ("written", "fixed"),
    [
        ('"8080:80"', '"127.0.0.1:8080:80"'),
        ("'8080:80'", "'127.0.0.1:8080:80'"),
        ("8080:80", '"127.0.0.1:8080:80"'),
        ("80", '"127.0.0.1::80"'),
        ('"0.0.0.0:8443:443/tcp"', '"127.0.0.1:8443:443/tcp"'),
    ],
)
def test_bind_localhost_short_syntax_is_quoted(tmp_path: Path, written: str, fixed: str) -> None:
    p = one(tmp_path, f"services:\n  web:\n    image: nginx:1.25.3\n    ports:\n      - {written}  # public\n")
    fix_and_verify(tmp_path, "network.bind-localhost", "web")
    assert p.read_text() == f"services:\n  web:\n    image: nginx:1.25.3\n    ports:\n      - {fixed}  # public\n"


@pytest.mark.parametrize(
    ("entry", "fixed"),
    [
        ("- target: 80\n        published: 8080\n", '- "127.0.0.1:8080:80"\n'),
        ("- target: 53\n        published: 5353\n        protocol: udp\n", '- "127.0.0.1:5353:53/udp"\n'),
        ("- target: 80\n        published: 8000-8001\n", '- "127.0.0.1:8000-8001:80"\n'),
    ],
)
def test_bind_localhost_long_syntax_becomes_the_short_form(tmp_path: Path, entry: str, fixed: str) -> None:
    """The short form binds to 127.0.0.1 with docker-compose 1.x too, which refuses host_ip."""
    p = one(tmp_path, f"services:\n  web:\n    image: nginx:1.25.3\n    ports:\n      {entry}    restart: always\n")
    fix_and_verify(tmp_path, "network.bind-localhost", "web")
    assert p.read_text() == f"services:\n  web:\n    image: nginx:1.25.3\n    ports:\n      {fixed}    restart: always\n"


def test_bind_localhost_long_syntax_with_more_keys_gets_host_ip(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    ports:\n"
                      "      - target: 80\n        published: 8080\n        mode: ingress\n")
    fix_and_verify(tmp_path, "network.bind-localhost", "web")
    # inside the entry (after its first key), where an edit removing the entry overlaps it
    assert p.read_text().endswith("      - target: 80\n        host_ip: 127.0.0.1\n        published: 8080\n"
                                  "        mode: ingress\n")


def test_isolation_adds_internal_network_and_keeps_peers_connected(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  app:\n    image: nginx:1.25.3\n    ports: ['127.0.0.1:8080:80']\n  db:\n    image: postgres:16\n")
    applied = fix_and_verify(tmp_path, "network.isolation", "db")
    assert applied.fix.note is not None and "app" in applied.fix.note
    text = p.read_text()
    assert "networks:\n  backend:\n    internal: true\n" in text
    assert "    networks:\n      - default\n      - backend\n" in text


def test_restart_policy_safe_replace_and_insert(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    restart: always\n  w2:\n    image: nginx:1.25.3\n")
    applied = fix_and_verify(tmp_path, "runtime.restart-policy", "web")
    assert applied.fix.applicability is Applicability.SAFE
    fix_and_verify(tmp_path, "runtime.restart-policy", "w2")
    assert p.read_text() == ("services:\n  web:\n    image: nginx:1.25.3\n    restart: unless-stopped\n"
                             "  w2:\n    image: nginx:1.25.3\n    restart: unless-stopped\n")


def test_log_rotation_inserted_and_completed(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n  w2:\n    image: nginx:1.25.3\n    logging:\n      driver: json-file\n      options:\n        max-size: 5m\n")
    fix_and_verify(tmp_path, "runtime.log-rotation", "web")
    fix_and_verify(tmp_path, "runtime.log-rotation", "w2")
    text = p.read_text()
    assert ('    logging:\n      driver: json-file\n      options:\n        max-size: "10m"\n        max-file: "3"\n'
            "  w2:") in text
    assert text.endswith('        max-size: 5m\n        max-file: "3"\n')


def test_logging_disabled_has_no_fix(tmp_path: Path) -> None:
    one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    logging:\n      driver: none\n")
    result, _ = run(tmp_path)
    f = next(f for f in compose_findings(result) if f.check == "runtime.log-rotation")
    assert f.fix is None


def test_secret_moves_to_file_0600_and_is_never_shown(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: hunter2hunter2  # pw\n      POSTGRES_DB: app\n")
    before, _ = run(tmp_path)
    f = next(f for f in compose_findings(before) if f.check == "secrets.no-secrets-in-env")
    assert f.fix is not None
    shown = f"{f.fix.title} {f.fix.note} " + " ".join(
        e.text for c in f.fix.changes if isinstance(c, FileEdit) for e in c.edits)
    assert "hunter2" not in shown
    applied = fix_and_verify(tmp_path, "secrets.no-secrets-in-env", "db")
    text = p.read_text()
    assert "hunter2" not in text
    assert "      POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password  # pw\n" in text
    assert "    secrets:\n      - postgres_password\n" in text
    assert text.endswith("secrets:\n  postgres_password:\n    file: ./secrets/postgres_password.txt\n")
    secret = tmp_path / "secrets" / "postgres_password.txt"
    assert secret.read_text() == "hunter2hunter2"
    # postgres starts as root and reads the file after dropping to its own user: the file
    # is 0644 (compose bind-mounts it with its host mode) inside a 0700 directory.
    assert stat.S_IMODE(secret.stat().st_mode) == 0o644
    new_files = [c for c in applied.fix.changes if isinstance(c, NewFile)]
    assert [(Path(c.path).name, c.mode) for c in new_files[:2]] == [("README", 0o600), ("postgres_password.txt", 0o644)]
    # (the owner-only README comes first, so the writer creates secrets/ as 0700:
    # tests/fixers/test_fix_facts_cases.py checks that through the CLI)
    assert (tmp_path / ".gitignore").read_text().splitlines()[0] == "secrets/"
    assert {".env", "*.key", "*.pem"} <= set((tmp_path / ".gitignore").read_text().splitlines())


def test_secret_in_list_form_and_existing_gitignore(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  api:\n    image: nginx:1.25.3\n    environment:\n      - \"API_TOKEN=abcd1234efgh5678\"\n    secrets: [other]\nsecrets:\n  other:\n    file: ./o.txt\n",
            **{".gitignore": "node_modules/", "o.txt": "x"})
    applied = fix_and_verify(tmp_path, "secrets.no-secrets-in-env", "api")
    text = p.read_text()
    # nginx is not known to read API_TOKEN_FILE: the variable goes, and the title says so
    assert "API_TOKEN" not in text.split("secrets:")[0]
    assert "must read /run/secrets/api_token" in applied.fix.title
    assert "    secrets: [other, api_token]\n" in text
    assert "  api_token:\n    file: ./secrets/api_token.txt\n" in text
    assert (tmp_path / ".gitignore").read_text() == "node_modules/\nsecrets/\n"


def test_pinned_tag_and_digest_from_local_image(tmp_path: Path) -> None:
    digest = "sha256:" + "d" * 64
    images = {"nginx:latest": {"RepoTags": ["nginx:latest", "nginx:1.25.3", "nginx:1.25"],
                               "RepoDigests": [f"nginx@{digest}"], "Config": {"User": ""}},
              "nginx:1.25.3": {"RepoTags": ["nginx:latest", "nginx:1.25.3"], "RepoDigests": [f"nginx@{digest}"]}}
    p = one(tmp_path, "services:\n  web:\n    image: \"nginx:latest\"\n")
    applied = fix_and_verify(tmp_path, "image.pinned-tag", "web", images)
    assert applied.fix.applicability is Applicability.SAFE
    assert p.read_text() == 'services:\n  web:\n    image: "nginx:1.25.3"\n'
    fix_and_verify(tmp_path, "image.pinned-digest", "web", images)
    assert p.read_text() == f'services:\n  web:\n    image: "nginx:1.25.3@{digest}"\n'


def test_no_pin_fix_without_local_image_or_with_interpolation(tmp_path: Path) -> None:
    one(tmp_path, "services:\n  a:\n    image: nginx:latest\n  b:\n    image: nginx:${T:-latest}\n")
    images = {"nginx:latest": {"RepoTags": ["nginx:latest", "nginx:1.25.3"]}}
    result, _ = run(tmp_path, images)
    fixes = {f.target.name: f.fix for f in compose_findings(result) if f.check == "image.pinned-tag"}
    assert fixes["a"] is not None and fixes["b"] is None
    result, _ = run(tmp_path, {})
    assert all(f.fix is None for f in compose_findings(result) if f.check == "image.pinned-tag")


def test_non_root_uses_the_image_uid(tmp_path: Path) -> None:
    images = {"app:1.0": {"Config": {"User": "1000"}}}
    p = one(tmp_path, "services:\n  web:\n    image: app:1.0\n    user: root\n")
    fix_and_verify(tmp_path, "container.non-root", "web", images)
    assert p.read_text() == 'services:\n  web:\n    image: app:1.0\n    user: "1000:1000"\n'
    one(tmp_path / "b", "services:\n  web:\n    image: app:2.0\n")
    result, _ = run(tmp_path / "b", {"app:2.0": {"Config": {"User": ""}}})
    f = next(f for f in compose_findings(result) if f.check == "container.non-root")
    assert f.fix is None  # the UID is unknown


def test_fixes_are_refused_for_files_with_problems(tmp_path: Path) -> None:
    one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    privileged: true\n    privileged: true\n")
    result, _ = run(tmp_path)
    f = next(f for f in compose_findings(result) if f.check == "container.not-privileged")
    assert f.fix is None


def test_reset_tag_is_preserved_by_fixes(tmp_path: Path) -> None:
    write_files(tmp_path, {"compose.yaml": "services:\n  web:\n    image: nginx:1.25.3\n    ports: ['80:80']\n",
                           "compose.override.yaml": "services:\n  web:\n    ports: !reset []\n    privileged: true\n"})
    fix_and_verify(tmp_path, "container.not-privileged", "web")
    assert (tmp_path / "compose.override.yaml").read_text() == "services:\n  web:\n    ports: !reset []\n"


def test_pinned_tag_from_version_env_is_unsafe(tmp_path: Path) -> None:
    images = {"nginx:latest": {"RepoTags": ["nginx:latest"],
                               "Config": {"Env": ["PATH=/bin", "NGINX_VERSION=1.25.3", "PKG_RELEASE=1"]}},
              "redis": {"RepoTags": ["redis:latest"], "Config": {"Env": ["REDIS_VERSION=7.2.3-rc1"]}}}
    p = one(tmp_path, "services:\n  web:\n    image: nginx:latest\n  cache:\n    image: redis\n")
    applied = fix_and_verify(tmp_path, "image.pinned-tag", "web", images)
    assert applied.fix.applicability is Applicability.UNSAFE and applied.fix.note
    assert "    image: nginx:1.25.3\n" in p.read_text()
    result, _ = run(tmp_path, images)
    cache = next(f for f in compose_findings(result) if f.check == "image.pinned-tag" and f.target.name == "cache")
    assert cache.fix is None  # "7.2.3-rc1" is not a plain version


def test_build_contexts_helper(tmp_path: Path) -> None:
    from lockdock.compose.project import build_contexts

    (tmp_path / "app").mkdir()
    (tmp_path / "api").mkdir()
    one(tmp_path, "services:\n  a:\n    build: ./app\n  b:\n    build:\n      context: api\n"
        "  c:\n    build: https://github.com/x/y.git\n  d:\n    image: x:1\n")
    write_files(tmp_path, {"other/compose.yaml": "services:\n  a:\n    image: x:1\n"})
    assert build_contexts([tmp_path / "compose.yaml", tmp_path / "other" / "compose.yaml"]) == [
        (tmp_path / "app").resolve(), (tmp_path / "api").resolve()]


def test_multi_document_file_gets_no_fix(tmp_path: Path) -> None:
    one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    privileged: true\n---\nfoo: 1\n")
    result, ctx = run(tmp_path)
    f = next(f for f in compose_findings(result) if f.check == "container.not-privileged")
    assert f.fix is None
    assert any("2 YAML documents" in e.message for e in ctx.errors)


def test_interpolation_is_never_substituted_by_a_fix(tmp_path: Path) -> None:
    p = one(tmp_path, "services:\n  web:\n    image: nginx:1.25.3\n    volumes:\n      - ${ETC:-/etc}:/host/etc\n")
    _make_read_only(tmp_path)
    assert "      - ${ETC:-/etc}:/host/etc:ro\n" in p.read_text()
