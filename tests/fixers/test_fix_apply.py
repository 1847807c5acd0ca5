"""apply_fixes and `lockdock fix` / `lockdock undo`: verify by rescan, roll back, journal."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lockdock.context import ScanContext
from lockdock.files import read_text
from lockdock.fixing import journal
from lockdock.fixing.apply import apply_fixes
from lockdock.fixing.preview import build_preview, mask_line
from lockdock.model import Applicability, FileEdit, Fix, ModeChange, NewFile, TextEdit
from lockdock.scan import scan

GITIGNORE = b"# build output\r\ndist/\r\nnode_modules"  # CRLF, no final newline


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / ".gitignore").write_bytes(GITIGNORE)
    env = root / ".env"
    env.write_bytes(b"DB_PASSWORD=hunter2-very-secret\n")
    os.chmod(env, 0o644)
    return root


def _ctx(root: Path) -> ScanContext:
    return ScanContext(cwd=root, use_engine=False)


def _fixes(root: Path, check: str | None = None) -> list[Fix]:
    result = scan([root], _ctx(root))
    return [
        f.fix for f in result.findings if f.fix is not None and f.suppressed is None and (check is None or f.check == check)
    ]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lockdock", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _active(root: Path) -> list[str]:
    return sorted(f.check for f in scan([root], _ctx(root)).findings if f.suppressed is None)


# ------------------------------------------------------------------ CLI end to end


def test_cli_diff_writes_nothing_then_apply_then_undo(tmp_path: Path) -> None:
    root = _project(tmp_path)
    r = _cli("fix", "--no-engine", ".", cwd=root)
    assert r.returncode == 0, r.stderr
    assert "--- a/.gitignore" in r.stdout and "+.env" in r.stdout
    assert "mode 0644 -> 0600  .env" in r.stdout
    assert "nothing written" in r.stderr
    assert (root / ".gitignore").read_bytes() == GITIGNORE

    r = _cli("fix", "--no-engine", "--apply", ".", cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 applied, 0 skipped" in r.stdout
    # Golden: CRLF kept, no final newline kept, original bytes untouched.
    assert (root / ".gitignore").read_bytes() == GITIGNORE + (
        b"\r\n# secrets and local files (added by lockdock)\r\n.env\r\nsecrets/\r\n*.key\r\n*.pem"
    )
    assert stat.S_IMODE(os.stat(root / ".env").st_mode) == 0o600
    fixed = {"secrets.gitignore", "secrets.file-permissions"}
    assert fixed.isdisjoint(_active(root))  # rescan: findings gone

    again = _cli("fix", "--no-engine", "--check", ",".join(sorted(fixed)), ".", cwd=root)  # idempotent: nothing left to change
    assert again.stdout == ""

    r = _cli("undo", cwd=root)
    assert r.returncode == 0, r.stderr
    assert (root / ".gitignore").read_bytes() == GITIGNORE
    assert stat.S_IMODE(os.stat(root / ".env").st_mode) == 0o644
    assert _cli("undo", cwd=root).returncode == 1  # nothing left


def test_cli_undo_after_user_edit_refused(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert _cli("fix", "--no-engine", "--apply", "--check", "secrets.gitignore", ".", cwd=root).returncode == 0
    with open(root / ".gitignore", "ab") as fh:
        fh.write(b"\r\nmine\r\n")
    edited = (root / ".gitignore").read_bytes()
    r = _cli("undo", cwd=root)
    assert r.returncode == 1
    assert "not what lockdock wrote" in r.stderr
    assert (root / ".gitignore").read_bytes() == edited


def test_cli_read_only_file_refused_nothing_changed(tmp_path: Path) -> None:
    root = _project(tmp_path)
    os.chmod(root / ".gitignore", 0o444)
    r = _cli("fix", "--no-engine", "--apply", "--check", "secrets.gitignore", ".", cwd=root)
    assert r.returncode == 1
    assert "read-only" in r.stdout
    assert (root / ".gitignore").read_bytes() == GITIGNORE
    assert journal.entries() == []
    assert not [n for n in os.listdir(root) if n.startswith(".lockdock-tmp-")]  # stray temp cleaned


def test_cli_usage_errors(tmp_path: Path) -> None:
    assert _cli("fix", "--diff", "--apply", ".", cwd=tmp_path).returncode == 2
    assert _cli("fix", "--check", "no.such-check", ".", cwd=tmp_path).returncode == 2


def test_cli_unsafe_fixes_listed_not_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lockdock.cli.fix import _Offer, _print_unsafe
    from lockdock.model import Finding, Target, TargetKind

    f = Finding("network.bind-localhost", Target(TargetKind.COMPOSE_SERVICE, "web", "compose.yaml"), "m")
    fix = Fix("Bind to 127.0.0.1", Applicability.UNSAFE, [])
    lines: list[str] = []

    class Out:
        def write(self, s: str) -> None:
            lines.append(s)

    _print_unsafe([_Offer(f, None, fix)], Out())
    text = "".join(lines)
    assert "1 unsafe fix(es) available" in text and "network.bind-localhost" in text
    report = apply_fixes([fix], _ctx(tmp_path), root=tmp_path)
    assert report.applied == [] and report.skipped[0].reason.startswith("unsafe")
    assert report.skipped[0].refused is False


# ------------------------------------------------------------------ apply_fixes


def test_fix_that_introduces_new_finding_is_rolled_back(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / ".gitignore").write_bytes(b".env\nsecrets/\n*.key\n*.pem\n")
    tf = read_text(root / ".gitignore")
    # Claims to fix the mode, but also drops `.env` from .gitignore: a new finding appears.
    bad = Fix(
        "chmod and break .gitignore",
        Applicability.SAFE,
        [
            ModeChange(str(root / ".env"), 0o644, 0o600),
            FileEdit(str(root / ".gitignore"), [TextEdit(0, 5, "")], tf.sha256),
        ],
        check="secrets.file-permissions",
    )
    report = apply_fixes([bad], _ctx(root), root=root)
    assert report.applied == [] and report.rolled_back
    assert "introduce secrets.gitignore" in report.errors[0]
    assert (root / ".gitignore").read_bytes() == b".env\nsecrets/\n*.key\n*.pem\n"
    assert stat.S_IMODE(os.stat(root / ".env").st_mode) == 0o644
    assert journal.entries() == []


def test_fix_that_does_not_remove_its_finding_is_rolled_back(tmp_path: Path) -> None:
    root = _project(tmp_path)
    tf = read_text(root / ".gitignore")
    useless = Fix(
        "adds a comment only",
        Applicability.SAFE,
        [FileEdit(str(root / ".gitignore"), [TextEdit(0, 0, "# hi\r\n")], tf.sha256)],
        check="secrets.gitignore",
    )
    report = apply_fixes([useless], _ctx(root), root=root)
    assert report.rolled_back and "still reported" in report.errors[0]
    assert (root / ".gitignore").read_bytes() == GITIGNORE


def test_fix_that_breaks_file_reading_is_rolled_back(tmp_path: Path) -> None:
    root = _project(tmp_path)
    tf = read_text(root / ".gitignore")
    nul = Fix(
        "writes a NUL",
        Applicability.SAFE,
        [FileEdit(str(root / ".gitignore"), [TextEdit(0, 0, ".env\nsecrets/\n*.key\n*.pem\n\x00")], tf.sha256)],
        check="secrets.gitignore",
    )
    report = apply_fixes([nul], _ctx(root), root=root)
    assert report.rolled_back and "no longer reads cleanly" in report.errors[0]
    assert (root / ".gitignore").read_bytes() == GITIGNORE


def test_stale_file_skipped_with_reason(tmp_path: Path) -> None:
    root = _project(tmp_path)
    fixes = _fixes(root, "secrets.gitignore")
    assert len(fixes) == 1
    (root / ".gitignore").write_bytes(GITIGNORE + b"\r\n.env")
    report = apply_fixes(fixes, _ctx(root), root=root)
    assert report.applied == []
    assert "changed since preview" in report.skipped[0].reason and report.skipped[0].refused
    assert (root / ".gitignore").read_bytes() == GITIGNORE + b"\r\n.env"


def test_touch_after_preview_refused_via_stamps(tmp_path: Path) -> None:
    root = _project(tmp_path)
    fixes = _fixes(root, "secrets.gitignore")
    preview = build_preview(fixes, root)
    st = os.stat(root / ".gitignore")
    os.utime(root / ".gitignore", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    report = apply_fixes(fixes, _ctx(root), root=root, stamps=preview.stamps)
    assert report.applied == [] and "changed since preview" in report.skipped[0].reason


def test_symlink_outside_root_refused_through_apply(tmp_path: Path) -> None:
    root = _project(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.write_bytes(b"keep\n")
    (root / ".gitignore").unlink()
    (root / ".gitignore").symlink_to(outside)
    tf = read_text(outside)
    fix = Fix(
        "append",
        Applicability.SAFE,
        [FileEdit(str(root / ".gitignore"), [TextEdit(5, 5, ".env\n")], tf.sha256)],
        check="secrets.gitignore",
    )
    report = apply_fixes([fix], _ctx(root), root=root)
    assert report.applied == [] and "outside the scanned root" in report.skipped[0].reason
    assert outside.read_bytes() == b"keep\n"


def test_overlapping_fixes_second_waits_for_rescan(tmp_path: Path) -> None:
    root = _project(tmp_path)
    real = _fixes(root, "secrets.gitignore")[0]
    end = len(read_text(root / ".gitignore").text)
    tf = read_text(root / ".gitignore")
    rival = Fix(
        "rival append",
        Applicability.SAFE,
        [FileEdit(str(root / ".gitignore"), [TextEdit(end, end, "\r\n.env")], tf.sha256)],
        check="secrets.gitignore",
    )
    report = apply_fixes([real, rival], _ctx(root), root=root)
    assert report.applied == [real]
    assert any("no longer apply" in w for w in report.warnings)  # rescan: nothing left to fix
    assert (root / ".gitignore").read_bytes().count(b".env") == 1


def test_write_failure_midway_rolls_back_earlier_files(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "sub").mkdir()
    blocker = root / "sub" / ".dockerignore"
    fixes = _fixes(root, "secrets.gitignore")
    # The second change creates a file whose name appears after the preflight: it fails.
    late = Fix("create", Applicability.SAFE, [NewFile(str(blocker), "x\n")], check="secrets.gitignore")
    import lockdock.fixing.preflight as preflight_mod

    orig = preflight_mod.refusal

    def preflight_then_race(fix, roots, ctx, stamps):  # type: ignore[no-untyped-def]
        reason = orig(fix, roots, ctx, stamps)
        if fix is late:
            blocker.write_bytes(b"user\n")
        return reason

    preflight_mod.refusal = preflight_then_race
    try:
        report = apply_fixes([*fixes, late], _ctx(root), root=root, verify=False)
    finally:
        preflight_mod.refusal = orig
    assert report.applied == [] and report.rolled_back
    assert (root / ".gitignore").read_bytes() == GITIGNORE
    assert blocker.read_bytes() == b"user\n"


# ------------------------------------------------------------------ preview


def test_preview_masks_secrets_in_context_lines_and_sanitises(tmp_path: Path) -> None:
    root = tmp_path
    text = (
        "services:\n  web:\n    environment:\n      DB_PASSWORD: hunter2-very-secret\n"
        "      AWS_KEY: AKIAIOSFODNN7EXAMPLE\n      NOTE: \"\x1b]0;pwned\x07\"\n    privileged: true\n"
    )
    p = root / "compose.yaml"
    p.write_text(text)
    tf = read_text(p)
    off = text.index("    privileged: true\n")
    fix = Fix("drop privileged", Applicability.UNSAFE, [FileEdit(str(p), [TextEdit(off, len(text), "")], tf.sha256)])
    out = build_preview([fix], root).text
    assert "--- a/compose.yaml" in out and "-    privileged: true" in out
    assert "hunter2" not in out and "AKIAIOSFODNN7EXAMPLE" not in out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\e]0;pwned" in out


def test_preview_new_file_mode_and_engine_lines(tmp_path: Path) -> None:
    from lockdock.model import EngineAction

    fix = Fix(
        "several",
        Applicability.SAFE,
        [
            NewFile(str(tmp_path / "secrets" / "db_password.txt"), "s3cr3t-Passw0rd-value\n", 0o600),
            ModeChange(str(tmp_path / ".env"), 0o644, 0o600),
            EngineAction("container.update", "0123456789abcdef", "web", {"Memory": 0}, {"Memory": 268435456}),
        ],
    )
    out = build_preview([fix], tmp_path).text
    assert "--- /dev/null\n+++ b/secrets/db_password.txt" in out
    assert "s3cr3t-Passw0rd-value" not in out and "+s3****** (21 chars)" in out
    assert "new file mode 0600" in out
    assert "mode 0644 -> 0600  .env" in out
    assert "container web (0123456789ab): docker update" in out and "Memory: 0 -> 268435456" in out


@pytest.mark.parametrize(
    ("line", "hidden"),
    [
        ("ENV API_TOKEN=abcd1234efgh5678", "abcd1234efgh5678"),
        ("ENV API_TOKEN abcd1234efgh5678", "abcd1234efgh5678"),
        ('  "password": "correct-horse-battery"', "correct-horse-battery"),
        ("url: postgres://app:pa55word-xyz@db/app", "pa55word-xyz"),
        ("- GITHUB=ghp_" + "a" * 36, "a" * 36),
    ],
)
def test_mask_line(line: str, hidden: str) -> None:
    assert hidden not in mask_line(line)


def test_preview_of_existing_secret_file_masks_every_line(tmp_path: Path) -> None:
    key = tmp_path / "server.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n")
    tf = read_text(key)
    fix = Fix("x", Applicability.SAFE, [FileEdit(str(key), [TextEdit(0, 0, "# note\n")], tf.sha256)])
    out = build_preview([fix], tmp_path).text
    assert "MIIEvQ" not in out and "+********" in out and " MI****** (32 chars)" in out


def test_mask_line_leaves_plain_lines() -> None:
    assert mask_line("image: nginx:1.25  # pinned") == "image: nginx:1.25  # pinned"
    assert mask_line("DB_PASSWORD_FILE=/run/secrets/db") == "DB_PASSWORD_FILE=/run/secrets/db"


def test_fix_diff_output_is_a_patch_git_and_patch_accept(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / ".gitignore").write_text("dist/\n")
    (root / ".env").write_text("MODE=dev\n")
    os.chmod(root / ".env", 0o644)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    r = _cli("fix", "--no-engine", "--check", "secrets", ".", cwd=root)
    assert r.returncode == 0 and "+++ b/.gitignore" in r.stdout
    (tmp_path / "fix.diff").write_text(r.stdout)
    check = subprocess.run(["git", "apply", "--check", str(tmp_path / "fix.diff")], cwd=root, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    dry = subprocess.run(["patch", "-p1", "--dry-run", "-i", str(tmp_path / "fix.diff")], cwd=root, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stdout + dry.stderr


def test_interrupted_during_verification_is_undoable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path)
    fixes = _fixes(root, "secrets.gitignore")
    import lockdock.fixing.apply as apply_mod

    real_rescan = apply_mod._rescan
    calls = []

    def rescan_then_ctrl_c(*a, **k):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:  # the verification scan, after the write
            raise KeyboardInterrupt
        return real_rescan(*a, **k)

    with monkeypatch.context() as m:
        m.setattr(apply_mod, "_rescan", rescan_then_ctrl_c)
        with pytest.raises(KeyboardInterrupt):
            apply_fixes(fixes, _ctx(root), root=root)
    assert (root / ".gitignore").read_bytes() != GITIGNORE  # written, then interrupted
    assert len(journal.entries()) == 1
    journal.undo_last()
    assert (root / ".gitignore").read_bytes() == GITIGNORE


def test_rolled_back_attempts_leave_no_journal_entry(tmp_path: Path) -> None:
    root = _project(tmp_path)
    tf = read_text(root / ".gitignore")
    useless = Fix(
        "adds a comment only",
        Applicability.SAFE,
        [FileEdit(str(root / ".gitignore"), [TextEdit(0, 0, "# hi\r\n")], tf.sha256)],
        check="secrets.gitignore",
    )
    good = _fixes(root, "secrets.file-permissions")
    report = apply_fixes([useless, *good], _ctx(root), root=root)
    assert [f.title for f in report.applied] == [f.title for f in good]
    assert len(journal.entries()) == 1
    assert journal.load(journal.entries()[0]).titles == [f.title for f in good]


def test_symlink_inside_root_previewed_with_real_path_and_written_once(tmp_path: Path) -> None:
    root = _project(tmp_path)
    real = root / "config" / "gitignore.txt"
    real.parent.mkdir()
    (root / ".gitignore").rename(real)
    (root / ".gitignore").symlink_to("config/gitignore.txt")
    tf = read_text(real)
    fix = Fix(
        "append",
        Applicability.SAFE,
        [FileEdit(str(root / ".gitignore"), [TextEdit(len(tf.text), len(tf.text), "\r\n.env\r\nsecrets/\r\n*.key\r\n*.pem")], tf.sha256)],
        check="secrets.gitignore",
    )
    out = build_preview([fix], root).text
    assert f"writes go to {real}" in out
    report = apply_fixes([fix], _ctx(root), root=root)
    assert report.errors == [] and report.applied == [fix]
    assert (root / ".gitignore").is_symlink()
    assert real.read_bytes().endswith(b"\r\n*.pem")


def test_lazy_fix_skipped_until_materialized(tmp_path: Path) -> None:
    from lockdock import registry
    from lockdock.fixing.apply import materialize
    from lockdock.model import Finding, Target, TargetKind
    from lockdock.registry import Fixer

    target = Target(TargetKind.CONTAINER, "web", None, "container:abc")
    finding = Finding("container.resource-limits", target, "no limits")
    computed = Fix("Limit memory to 300M", Applicability.SAFE, [ModeChange(str(tmp_path / "x"), 0o644, 0o600)])
    calls: list[str] = []

    def measure(f, subject, ctx):  # type: ignore[no-untyped-def]
        calls.append(f.check)
        return computed

    fx = Fixer("container.resource-limits", (TargetKind.CONTAINER,), measure, "Limit", Applicability.SAFE, True, "t.measure")
    registry.FIXERS.insert(0, fx)
    try:
        stub = Fix("Limit", Applicability.SAFE, [], check=finding.check, pending=True)
        report = apply_fixes([stub], _ctx(tmp_path), root=tmp_path)
        assert report.applied == [] and "not computed yet" in report.skipped[0].reason
        assert calls == []
        got = materialize(finding, None, _ctx(tmp_path))
        assert got is computed and finding.fix is computed and calls == ["container.resource-limits"]
        assert got.check == "container.resource-limits"
    finally:
        registry.FIXERS.remove(fx)


_CHILD_KILL = """
import os, sys
from pathlib import Path
from lockdock.context import ScanContext
from lockdock.scan import scan
from lockdock.fixing import apply as apply_mod, writer

root = Path(sys.argv[1])
when = sys.argv[2]
ctx = ScanContext(cwd=root, use_engine=False)
fixes = [f.fix for f in scan([root], ctx).findings if f.check == "secrets.gitignore" and f.fix]
real_replace = os.replace

def replace_then_die(a, b):
    if not os.path.basename(a).startswith(writer.TEMP_PREFIX):
        return real_replace(a, b)  # the journal's own writes
    if when == "after":
        real_replace(a, b)
    os.kill(os.getpid(), 9)

writer.os.replace = replace_then_die
apply_mod.apply_fixes(fixes, ctx, root=root)
"""


@pytest.mark.parametrize("when", ["before", "after"])
def test_kill_9_around_the_rename_stays_undoable(tmp_path: Path, when: str) -> None:
    root = _project(tmp_path)
    child = subprocess.run([sys.executable, "-c", _CHILD_KILL, str(root), when], capture_output=True, timeout=120)
    assert child.returncode == -9
    data = (root / ".gitignore").read_bytes()
    assert data == GITIGNORE if when == "before" else data.startswith(GITIGNORE) and data != GITIGNORE
    assert len(journal.entries()) == 1  # written ahead of the change
    r = _cli("undo", cwd=root)
    assert r.returncode == 0, r.stderr
    assert (root / ".gitignore").read_bytes() == GITIGNORE
    assert journal.entries() == []
    assert not [n for n in os.listdir(root) if n.startswith(".lockdock-tmp-")]  # stray temp cleaned
