"""Two fixes of one published port (stop publishing it, publish it on 127.0.0.1 only) both
applied with --unsafe: the second waits for a rescan instead of leaving `host_ip` behind
under the previous key (which made the file invalid YAML and rolled the fix back)."""

from __future__ import annotations

from pathlib import Path

import yaml

from lockdock.context import ScanContext
from lockdock.fixing.apply import apply_fixes
from lockdock.scan import scan

LONG = """services:
  cache:
    image: redis:7.2
    ports:
      - target: 6379
        published: 6379
{extra}{after}"""


def _offered(root: Path, ctx: ScanContext, check: str | None = None) -> list:
    return [f.fix for f in scan([root], ctx).findings
            if f.fix is not None and f.fix.changes and f.suppressed is None and (check is None or f.check == check)]


def test_host_ip_goes_inside_the_port_entry(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(LONG.format(extra="        mode: ingress\n", after="    restart: unless-stopped\n"))
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    report = apply_fixes(_offered(tmp_path, ctx, "network.bind-localhost"), ctx, root=tmp_path, allow_unsafe=True)
    assert report.applied and not report.errors
    text = (tmp_path / "compose.yaml").read_text()
    assert "      - target: 6379\n        host_ip: 127.0.0.1\n        published: 6379\n" in text
    port = yaml.safe_load(text)["services"]["cache"]["ports"][0]
    assert port == {"target": 6379, "host_ip": "127.0.0.1", "published": 6379, "mode": "ingress"}


def test_stop_publishing_and_bind_localhost_together_leave_a_valid_file(tmp_path: Path) -> None:
    # the ports key is the service's last entry, then another service follows
    # host_ip inserted (an extra key) or the entry rewritten in the short form (none)
    shapes = [(extra, after) for extra in ("        mode: ingress\n", "")
              for after in ("", "    pid: host\n", "  other:\n    image: busybox:1.36\n")]
    for i, (extra, after) in enumerate(shapes):
        root = tmp_path / f"p{i}"
        root.mkdir()
        (root / "compose.yaml").write_text(LONG.format(extra=extra, after=after))
        ctx = ScanContext(cwd=root, use_engine=False)
        fixes = _offered(root, ctx)
        checks = {f.check for f in fixes}
        assert {"network.bind-localhost", "network.exposed-ports"} <= checks, checks
        report = apply_fixes(fixes, ctx, root=root, allow_unsafe=True)
        assert not report.errors, report.errors
        assert not [s for s in report.skipped if "rolled back" in s.reason], report.skipped
        doc = yaml.safe_load((root / "compose.yaml").read_text())
        assert "host_ip" not in doc["services"]["cache"], doc
        assert not [e for e in scan([root], ctx).errors if e.kind == "error"]
