"""The ignore fix: pragmas above the line (after directives), config entries otherwise."""

from __future__ import annotations

import tomllib
from pathlib import Path

from lockdock.config import load_config
from lockdock.context import ScanContext
from lockdock.fixing.apply import apply_fixes
from lockdock.fixing.ignore import _config_edit, ignore_fix, ignore_fixes
from lockdock.fixing.preview import build_preview
from lockdock.model import Finding, Location, Target, TargetKind
from lockdock.scan import scan

DOCKERFILE = (
    b"# syntax=docker/dockerfile:1\r\n# escape=\\\r\nFROM alpine:latest\r\n"
    b"ENV API_TOKEN=abcd1234efgh5678\r\nRUN apk add curl && \\\r\n    echo hi\r\nUSER root"
)
COMPOSE = (
    b"services:\n  web:\n    image: nginx\n    privileged: true\n    ports:\n"
    b'      - "8080:80"\n    environment:\n      DB_PASSWORD: hunter2hunter2\n'
)


def _project(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_bytes(DOCKERFILE)
    (tmp_path / "compose.yaml").write_bytes(COMPOSE)
    (tmp_path / ".git").mkdir()  # config lookup stops here
    return tmp_path


def _active(root: Path) -> list[Finding]:
    ctx = ScanContext(cwd=root, config=load_config(root), use_engine=False)
    return [f for f in scan([root], ctx).findings if f.suppressed is None]


def test_ignore_every_finding_suppresses_all_and_keeps_files_intact(tmp_path: Path) -> None:
    root = _project(tmp_path)
    ctx = ScanContext(cwd=root, use_engine=False)
    findings = _active(root)
    assert any(f.target.kind == TargetKind.DOCKERFILE for f in findings)
    assert any(f.target.kind == TargetKind.COMPOSE_SERVICE for f in findings)
    fixes = ignore_fixes(findings, ctx, "reviewed\x1b[2J by ops")
    preview = build_preview(fixes, root).text
    assert "+# lockdock: ignore=" in preview and "\x1b" not in preview
    report = apply_fixes(fixes, ctx, root=root)
    assert report.errors == [] and len(report.applied) == len(fixes)
    assert _active(root) == []
    df = (root / "Dockerfile").read_bytes()
    lines = df.split(b"\r\n")
    # Directives stay first; CRLF everywhere; no final newline as before.
    assert lines[0] == b"# syntax=docker/dockerfile:1" and lines[1] == b"# escape=\\"
    assert b"\n" not in df.replace(b"\r\n", b"") and not df.endswith(b"\r\n")
    assert lines[-1] == b"USER root" and lines[-2].startswith(b"# lockdock: ignore=container.non-root")
    assert b"reviewed\\e[2J by ops" in df
    compose = (root / "compose.yaml").read_text()
    assert "    # lockdock: ignore=container.not-privileged" in compose  # indented like the key
    assert '      # lockdock: ignore=network.bind-localhost reviewed\\e[2J by ops\n      - "8080:80"' in compose
    # The original lines are all still there, in order.
    kept = [ln for ln in compose.splitlines() if "lockdock:" not in ln]
    assert "\n".join(kept) + "\n" == COMPOSE.decode()


def test_two_checks_on_one_line_share_one_pragma(tmp_path: Path) -> None:
    root = _project(tmp_path)
    ctx = ScanContext(cwd=root, use_engine=False)
    on_from = [f for f in _active(root) if f.target.kind == TargetKind.DOCKERFILE and f.location.line == 3]
    assert len(on_from) >= 2
    (fix,) = ignore_fixes(on_from, ctx, "ok")
    assert len(fix.changes[0].edits) == 1
    assert ",".join(f.check for f in on_from) in fix.changes[0].edits[0].text


def test_single_ignore_fix_then_rescan(tmp_path: Path) -> None:
    root = _project(tmp_path)
    ctx = ScanContext(cwd=root, use_engine=False)
    priv = next(f for f in _active(root) if f.check == "container.not-privileged")
    fix = ignore_fix(priv, ctx, "needs it")
    assert fix is not None and fix.title == "Ignore container.not-privileged at line 4 (pragma)"
    report = apply_fixes([fix], ctx, root=root)
    assert report.applied == [fix]
    assert "container.not-privileged" not in [f.check for f in _active(root)]


def _image_finding(check: str = "image.pinned-tag") -> Finding:
    return Finding(check, Target(TargetKind.IMAGE, "nginx:latest", None, "image:sha256:1"), "m", Location())


def test_image_finding_gets_config_entry_new_file(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # config lookup stops at the repository root
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    fix = ignore_fix(_image_finding(), ctx, "base image pinned upstream")
    assert fix is not None and "everywhere" in fix.title
    report = apply_fixes([fix], ctx, root=tmp_path)
    assert report.errors == []
    assert "image.pinned-tag" in load_config(tmp_path).ignore


def test_config_edits_keep_existing_settings() -> None:
    text = '# my settings\nignore = ["runtime.healthcheck"]\nfail-on = "high"\n\n[severity]\n"image.pinned-tag" = "low"\n'
    new = _config_edit(text, "image.pinned-digest", "why", None)
    assert new is not None
    data = tomllib.loads(new)
    assert data["ignore"] == ["image.pinned-digest", "runtime.healthcheck"]
    assert data["severity"] == {"image.pinned-tag": "low"}
    assert new.startswith("# my settings\n")
    empty = _config_edit("ignore = []\n", "image.pinned-digest", "why", None)
    assert empty is not None and tomllib.loads(empty)["ignore"] == ["image.pinned-digest"]
    top = _config_edit('[severity]\n"image.pinned-tag" = "low"\n', "runtime.healthcheck", "r", None)
    assert top is not None and tomllib.loads(top)["ignore"] == ["runtime.healthcheck"]
    per = _config_edit('fail-on = "low"', "secrets.rotation", "r", "secrets/db.key")
    assert per is not None and tomllib.loads(per)["per-path-ignores"] == {"secrets/db.key": ["secrets.rotation"]}
    existing = _config_edit('[per-path-ignores]\n"a" = ["build.ci-scan"]\n', "secrets.rotation", "r", "b")
    same = _config_edit('[per-path-ignores]\n"b" = ["build.ci-scan"]\n', "secrets.rotation", "r", "b")
    assert same is not None and tomllib.loads(same)["per-path-ignores"]["b"] == ["secrets.rotation", "build.ci-scan"]
    assert existing is not None and tomllib.loads(existing)["per-path-ignores"]["b"] == ["secrets.rotation"]
    assert _config_edit('ignore = "image"\n', "runtime.healthcheck", "r", None) is None  # not a list
    assert _config_edit("not = [toml\n", "runtime.healthcheck", "r", None) is None


def test_repo_finding_ignored_per_path(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    env = tmp_path / ".env"
    env.write_text("DB_PASSWORD=Tr0ub4dor-3\n")  # a .env without a credential is no secret file
    env.chmod(0o644)
    (tmp_path / ".gitignore").write_text(".env\nsecrets/\n*.key\n*.pem\n")
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    perm = next(f for f in _active(tmp_path) if f.check == "secrets.file-permissions")
    fix = ignore_fix(perm, ctx, "shared dev box")
    assert fix is not None and "for .env" in fix.title
    report = apply_fixes([fix], ctx, root=tmp_path)
    assert report.errors == []
    active = [f.check for f in scan([tmp_path], ScanContext(cwd=tmp_path, config=load_config(tmp_path), use_engine=False)).findings if f.suppressed is None]
    assert "secrets.file-permissions" not in active


def test_pragma_never_lands_inside_a_heredoc_and_keeps_instructions(tmp_path: Path) -> None:
    from lockdock.dockerfile import dump, parse_dockerfile
    from lockdock.suppress import apply_suppressions

    text = (
        "# syntax=docker/dockerfile:1\nFROM alpine:3.19\nRUN <<EOF\necho API_TOKEN=abcd1234efgh5678\nEOF\n"
        "RUN echo 1 && \\\n  curl http://x | sh\n"
    )
    df = tmp_path / "Dockerfile"
    df.write_text(text)
    target = Target(TargetKind.DOCKERFILE, "Dockerfile", "Dockerfile")
    in_heredoc = Finding("secrets.no-secrets-in-image", target, "m", Location("Dockerfile", 4))
    in_continuation = Finding("build.no-curl-pipe-shell", target, "m", Location("Dockerfile", 7))
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    (fix,) = ignore_fixes([in_heredoc, in_continuation], ctx, "ok")
    report = apply_fixes([fix], ctx, root=tmp_path)
    assert report.errors == []
    new = df.read_text()
    assert "echo API_TOKEN=abcd1234efgh5678\nEOF\n" in new  # heredoc body untouched
    assert new.startswith("# syntax=docker/dockerfile:1\n# lockdock: ignore-file=secrets.no-secrets-in-image ok\n")
    assert "&& \\\n  # lockdock: ignore=build.no-curl-pipe-shell ok\n  curl" in new
    assert dump(parse_dockerfile(new)) == dump(parse_dockerfile(text))  # same instructions
    fresh = ScanContext(cwd=tmp_path, use_engine=False)
    curl_line = new.splitlines().index("  curl http://x | sh") + 1  # lines moved down
    in_continuation.location = Location("Dockerfile", curl_line)
    apply_suppressions([in_heredoc, in_continuation], None, fresh)
    assert in_heredoc.suppressed is not None and in_continuation.suppressed is not None


def test_compose_pragma_never_lands_inside_a_block_scalar(tmp_path: Path) -> None:
    from ruamel.yaml import YAML

    text = "services:\n  web:\n    image: nginx:1.25.3\n    command: |\n      echo start\n      run --password=hunter2hunter2\n"
    (tmp_path / "compose.yaml").write_text(text)
    target = Target(TargetKind.COMPOSE_SERVICE, "web", "compose.yaml")
    inside = Finding("secrets.no-secrets-in-env", target, "m", Location("compose.yaml", 6))
    fix = ignore_fix(inside, ScanContext(cwd=tmp_path, use_engine=False), "ok")
    assert fix is not None
    (edit,) = fix.changes[0].edits
    assert edit.start == 0 and edit.text.startswith("# lockdock: ignore-file=secrets.no-secrets-in-env ok")
    new = edit.text + text
    y = YAML(typ="safe", pure=True)
    assert y.load(new) == y.load(text)
