"""The headless path (core, analyzers, fixers, reports, CLI scan) never imports textual."""

from __future__ import annotations

import subprocess
import sys


def test_headless_modules_do_not_import_textual(tmp_path):
    code = """
import sys, pkgutil, importlib
import lockdock, lockdock.cli, lockdock.scan
from lockdock import registry
registry.load_plugins()
for pkg_name in ("lockdock", "lockdock.analyzers", "lockdock.fixers", "lockdock.fixing", "lockdock.cli", "lockdock.reports",
                 "lockdock.engine", "lockdock.compose", "lockdock.dockerfile", "lockdock.sources"):
    pkg = importlib.import_module(pkg_name)
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name == "__main__" or (pkg_name == "lockdock" and info.name in ("tui", "demo")):
            continue
        importlib.import_module(pkg_name + "." + info.name)
lockdock.cli.main(["scan", "--no-engine", "--format", "json", "."])
bad = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print("TEXTUAL:" + ",".join(bad))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "TEXTUAL:\n" in proc.stdout or proc.stdout.rstrip().endswith("TEXTUAL:")
