"""One `fix --apply` reaches the fixed point (issue 11.3): a second run changes nothing,
fixes of one service land in one pass, a file behind a symlink is planned once, and one
fix that fails its rescan costs retries of its own files only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lockdock.context import ScanContext
from lockdock.demo import copy_demo
from lockdock.files import read_text
from lockdock.fixing import journal, writer
from lockdock.fixing.apply import apply_fixes
from lockdock.fixing.edits import mapping_entries, overlaps, plan
from lockdock.model import Applicability, FileEdit, Fix, TextEdit
from lockdock.scan import scan

WEB_DB = 'services:\n  web:\n    image: nginx:1.25\n    ports:\n      - "8080:80"\n  db:\n    image: postgres:16\n'
INDENTLESS = "services:\n  nginx:\n    image: nginx:1.25\n    ports:\n    - '80:80'\n    depends_on:\n    - web\n  web:\n    image: nginx:1.25\n"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lockdock", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def _tree(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            if not p.is_symlink():
                out[str(p.relative_to(root))] = p.read_bytes()
    return out


def _corpus(root: Path, n: int) -> Path:
    for i in range(1, n + 1):
        (root / f"p{i}").mkdir(parents=True)
        (root / f"p{i}" / "compose.yaml").write_text(WEB_DB)
    (root / "p1" / "docker-compose.yml").write_text(INDENTLESS)
    return root


def _fixes(root: Path) -> list[Fix]:
    result = scan([root], ScanContext(cwd=root, use_engine=False))
    return [f.fix for f in result.findings if f.fix is not None and f.fix.changes and f.suppressed is None]


@pytest.mark.parametrize("which", ["demo", "generated"])
def test_second_run_changes_nothing(tmp_path: Path, which: str) -> None:
    root = copy_demo(tmp_path / "demo") if which == "demo" else _corpus(tmp_path / "corpus", 4)
    first = _cli("fix", "--no-engine", "--unsafe", "--apply", ".", cwd=root)
    assert " applied" in first.stdout and "error(s)" in first.stdout, first.stdout + first.stderr
    assert "run lockdock fix again" not in first.stdout
    after_first = _tree(root)
    second = _cli("fix", "--no-engine", "--unsafe", "--apply", ".", cwd=root)
    assert second.stdout.startswith("lockdock fix: 0 applied"), second.stdout
    assert _tree(root) == after_first
    assert _cli("fix", "--no-engine", "--unsafe", ".", cwd=root).stdout == ""  # nothing left to show


def test_new_entries_of_one_mapping_stack_in_one_pass(tmp_path: Path) -> None:
    root = _corpus(tmp_path / "c", 1)
    (root / "p1" / "docker-compose.yml").unlink()
    fixes = _fixes(root)
    at_end = [f for f in fixes if any(e.start == e.end for c in f.changes if isinstance(c, FileEdit) for e in c.edits)]
    assert len(at_end) >= 4
    batch = plan(fixes)
    # Only the db's network move (it adds a top-level `networks:` too) has to wait.
    assert [f.check for f in batch.deferred] == ["network.isolation"]
    report = apply_fixes(fixes, ScanContext(cwd=root, use_engine=False), root=root, allow_unsafe=True)
    assert report.errors == [] and len(report.applied) == len(fixes)
    assert len(journal.entries()) == 2  # two passes for the whole project


def test_mapping_entries_rules() -> None:
    assert mapping_entries("    cap_drop:\n      - ALL\n    read_only: true\n") == (4, frozenset({"cap_drop", "read_only"}))
    assert mapping_entries("    read_only: true\r\n") == (4, frozenset({"read_only"}))
    assert mapping_entries("    networks:\n      - backend\nnetworks:\n  backend: {}\n") is None  # leaves the mapping
    assert mapping_entries("    tmpfs:\n    - /tmp\n") is None  # an indentless list: not only entries
    assert mapping_entries("USER app\n") is None and mapping_entries("    a: 1") is None
    a, b = TextEdit(10, 10, "    a: 1\n"), TextEdit(10, 10, "    b: 2\n")
    assert not overlaps(a, b)
    assert overlaps(a, TextEdit(10, 10, "    a: 3\n"))  # the same key twice
    assert overlaps(a, TextEdit(10, 10, "  c: 3\n"))  # another indentation: another mapping
    assert overlaps(TextEdit(3, 3, "x"), TextEdit(3, 3, "y"))


def test_file_behind_a_symlink_is_planned_once(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "compose.yaml").write_text(WEB_DB)
    (root / "docker-compose.yml").symlink_to("compose.yaml")
    r = _cli("fix", "--no-engine", "--unsafe", "--apply", ".", cwd=root)
    assert r.returncode == 0 and ", 0 skipped, 0 error(s)" in r.stdout, r.stdout
    assert (root / "docker-compose.yml").is_symlink()
    text = (root / "compose.yaml").read_text()
    assert text.count("cap_drop:") == 2 and text.count("read_only: true") == 2  # web and db, once each
    assert _cli("fix", "--no-engine", "--unsafe", "--apply", ".", cwd=root).stdout.startswith("lockdock fix: 0 applied")


def test_one_failing_fix_costs_its_own_file_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _corpus(tmp_path / "c", 12)
    (root / "p1" / "docker-compose.yml").unlink()
    ctx = ScanContext(cwd=root, use_engine=False)
    fixes = _fixes(root)
    target = root / "p7" / "compose.yaml"
    tf = read_text(target)
    at = tf.text.index("  db:")
    bad = Fix("Break the file", Applicability.UNSAFE, [FileEdit(str(target), [TextEdit(at, at + 1, "\t")], tf.sha256)],
              check="runtime.restart-policy")
    writes: list[str] = []
    real_write = writer.write_file

    def counting(path, data, **kw):  # type: ignore[no-untyped-def]
        writes.append(os.path.realpath(path))
        return real_write(path, data, **kw)

    monkeypatch.setattr(writer, "write_file", counting)
    report = apply_fixes([bad, *fixes], ctx, root=root, allow_unsafe=True)
    assert [s.fix for s in report.skipped] == [bad] and "no longer reads cleanly" in report.errors[0]
    assert len(report.applied) == len(fixes)
    others = [w for w in writes if "/p7/" not in w]
    # Each other project is written once per pass plus once when the batch is split, never
    # once per fix of the whole batch (the old retry loop rewrote everything per fix).
    assert len(others) <= 11 * 4, len(others)
    assert _cli("fix", "--no-engine", "--unsafe", "--apply", ".", cwd=root).stdout.startswith("lockdock fix: 0 applied")


SHARED_VALUE = """\
services:
  app:
    image: example/app:1.0
    environment:
      - DB_PASSWD=gitea-db-pw-42
  db:
    image: postgres:16
    environment:
      - POSTGRES_PASSWORD=gitea-db-pw-42
"""


def test_two_services_sharing_a_secret_value_are_fixed_in_one_run(tmp_path: Path) -> None:
    # The second service's fix, deferred behind the first, is recomputed to reuse the secret
    # file the first one wrote (so its title changes); it still lands in the same run.
    (tmp_path / "compose.yaml").write_text(SHARED_VALUE)
    first = _cli("fix", "--apply", "--unsafe", "--no-engine", "--select", "secrets.no-secrets-in-env", ".", cwd=tmp_path)
    assert "2 applied" in first.stdout, first.stdout + first.stderr
    assert "no longer apply" not in first.stdout
    text = (tmp_path / "compose.yaml").read_text()
    assert "gitea-db-pw-42" not in text and text.count("file: ./secrets/") == 1
    again = _cli("fix", "--apply", "--unsafe", "--no-engine", "--select", "secrets.no-secrets-in-env", ".", cwd=tmp_path)
    assert "0 applied" in again.stdout, again.stdout


UNKNOWN_STORE = """\
services:
  cache:
    image: example/redis-modules:7
    ports:
      - '6379:6379'
  web:
    image: example/web:1
    ports:
      - '8000:8000'
"""


def test_unpublishing_the_last_port_of_an_unknown_image_isolates_it_too(tmp_path: Path) -> None:
    # A data-store port on an image lockdock does not know as a data store: once unpublished,
    # the service is a backend on the default network of a file with no networks, so the same
    # fix must put it on an internal network, or it trades one finding for network.isolation.
    (tmp_path / "compose.yaml").write_text(UNKNOWN_STORE)
    out = _cli("fix", "--apply", "--unsafe", "--no-engine", "--select", "network.exposed-ports", ".", cwd=tmp_path)
    assert "1 applied" in out.stdout and "rolled back" not in out.stdout, out.stdout + out.stderr
    text = (tmp_path / "compose.yaml").read_text()
    assert "6379" not in text and "internal: true" in text
    scan_out = _cli("scan", "--no-engine", "--select", "network.isolation,network.exposed-ports", ".", cwd=tmp_path)
    assert "network.isolation" not in scan_out.stdout and "network.exposed-ports" not in scan_out.stdout, scan_out.stdout


TWO_PORTS = """\
services:
  search:
    image: example/search:8
    ports:
      - 9200:9200
      - 9300:9300
    networks:
      - elk
  web:
    image: example/web:1
    networks:
      - elk
networks:
  elk: {}
"""


def test_two_fixes_never_leave_a_list_key_empty(tmp_path: Path) -> None:
    # Each fix removes one published port; written together they would leave `ports:` with
    # nothing, which docker-compose rejects ("should be an array"). The rescan refuses that.
    (tmp_path / "compose.yaml").write_text(TWO_PORTS)
    out = _cli("fix", "--apply", "--unsafe", "--no-engine", "--select", "network.exposed-ports", ".", cwd=tmp_path)
    assert "would be left empty" in out.stdout, out.stdout + out.stderr
    import yaml

    ports = yaml.safe_load((tmp_path / "compose.yaml").read_text())["services"]["search"].get("ports")
    assert ports is None or (isinstance(ports, list) and ports), ports
