"""Typed analyzer -> fixer payloads (`Finding.payload`, `lockdock.payloads`).

Each payload kind is a frozen dataclass in `lockdock.payloads`; a fixer narrows the payload
with isinstance and offers no fix (never raises) when handed a payload of another kind; a
payload never shows in a finding's repr or in a report.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pickle
import pkgutil
from pathlib import Path

from lockdock import payloads, registry
from lockdock.context import ScanContext
from lockdock.model import Finding, Payload, Severity, TargetKind
from lockdock.payloads.compose import SecretVariable
from lockdock.reports import json_report, sarif_report
from lockdock.scan import scan
from tests.compose.test_compose_checks import CASES as COMPOSE_CASES
from tests.dockerfile.helpers import write_cases
from tests.dockerfile.test_checks import CATCHES

TOKEN = "ghp_" + "Q7w8E9r0" * 4 + "Zz9Y"


def _payload_classes() -> list[type[Payload]]:
    mods = [payloads] + [
        importlib.import_module(f"lockdock.payloads.{m.name}") for m in pkgutil.iter_modules(payloads.__path__)
    ]
    found = {
        obj for mod in mods for obj in vars(mod).values()
        if isinstance(obj, type) and issubclass(obj, Payload) and obj is not Payload
    }
    return sorted(found, key=lambda c: c.__qualname__)


def test_every_payload_kind_is_a_frozen_dataclass_of_lockdock_payloads() -> None:
    classes = _payload_classes()
    assert len(classes) >= 30
    for cls in classes:
        assert cls.__module__.startswith("lockdock.payloads"), cls
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls  # type: ignore[attr-defined]
        assert cls.__doc__ and cls.__doc__ != Payload.__doc__, f"{cls.__qualname__} says nothing"


def _scan(root: Path) -> list[tuple[Finding, object]]:
    result = scan([root], ScanContext(cwd=root, use_engine=False))
    return [(f, tr.subject) for tr in result.targets.values() for f in tr.findings]


def _corpus(tmp_path: Path) -> list[tuple[Finding, object]]:
    """The Dockerfile catching cases and the compose cases, scanned without an engine."""
    write_cases(tmp_path / "dockerfiles", CATCHES, {".dockerignore": ".git\n"})
    for i, (_check, text, _lines) in enumerate(COMPOSE_CASES):
        folder = tmp_path / "compose" / f"case-{i:03d}"
        folder.mkdir(parents=True)
        (folder / "compose.yaml").write_text(text, encoding="utf-8")
    return _scan(tmp_path)


def test_findings_carry_payloads_that_pickle(tmp_path: Path) -> None:
    """The scan cache pickles Dockerfile findings, payloads included."""
    found = _corpus(tmp_path)
    with_payload = [f for f, _s in found if f.payload is not None]
    assert len(with_payload) > 100
    for f in with_payload:
        assert isinstance(f.payload, Payload)
        assert pickle.loads(pickle.dumps(f.payload)) == f.payload or f.target.kind is not TargetKind.DOCKERFILE


class _Foreign(Payload):
    """A payload kind no fixer knows."""


def test_a_fixer_given_another_payload_kind_offers_no_fix(tmp_path: Path) -> None:
    found = _corpus(tmp_path)
    ctx = ScanContext(cwd=tmp_path, use_engine=False)
    reading, offered = 0, []
    for f, subject in found:
        for fx in registry.fixers_for(f.check, f.target.kind):
            if fx.lazy:
                continue
            foreign = dataclasses.replace(f, payload=_Foreign(), fix=None)
            fix = fx.fn(foreign, subject, ctx)  # must not raise
            if "finding.payload" in inspect.getsource(fx.fn):
                reading += 1
                if fix is not None:
                    offered.append((fx.name, f.check))
    assert sorted(set(offered)) == []
    assert reading > 50


def test_a_compose_secret_stays_out_of_payload_repr_and_reports(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  web:\n    image: nginx:1.25.3\n    environment:\n      GITHUB_TOKEN: {TOKEN}\n",
        encoding="utf-8",
    )
    (tmp_path / "app.env").write_text(f"API_TOKEN={TOKEN}\n", encoding="utf-8")
    result = scan([tmp_path], ScanContext(cwd=tmp_path, use_engine=False))
    secrets = [f for f in result.findings if f.check == "secrets.no-secrets-in-env"]
    assert [f.payload.var for f in secrets if isinstance(f.payload, SecretVariable)] == ["GITHUB_TOKEN"]
    assert secrets[0].payload.node is not None and TOKEN in str(secrets[0].payload.node.value)
    for f in result.findings:
        assert TOKEN not in repr(f) and TOKEN not in repr(f.payload)
    # the fix's NewFile holds the value on purpose (it writes the secrets file), out of repr
    moved = [c for f in secrets if f.fix for c in f.fix.changes if TOKEN in str(getattr(c, "content", ""))]
    assert moved and all(TOKEN not in repr(c) for c in moved)
    for text in (json_report.render(result, Severity.INFO), sarif_report.render(result)):
        assert "GITHUB_TOKEN" in text and TOKEN not in text and "payload" not in text
