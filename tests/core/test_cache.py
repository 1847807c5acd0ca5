"""Speed machinery: the result cache (each input of its key invalidates it), lazy plugin
loading per target kind, and ShellCheck run once for a batch of Dockerfiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import lockdock
from lockdock import registry
from lockdock import scan as scan_mod
from lockdock.cache import cache_dir
from lockdock.config import Config
from lockdock.context import ScanContext
from lockdock.model import Severity, TargetKind

DOCKERFILE = "FROM debian:12\nRUN apt-get update && apt-get install -y curl\nCOPY . /app\n"


class FakeApi:
    """The two engine calls a Dockerfile scan makes: the image list and one inspect."""

    def __init__(self, user: str, image_id: str = "sha256:" + "a" * 64) -> None:
        self.user, self.image_id = user, image_id

    def images(self, all: bool = False) -> list[dict[str, Any]]:  # noqa: A002 - docker SDK's name
        return [{"Id": self.image_id, "RepoTags": ["debian:12"], "RepoDigests": []}]

    def inspect_image(self, ref: str) -> dict[str, Any]:
        if ref != "debian:12":
            raise LookupError(ref)
        return {"Id": self.image_id, "Config": {"User": self.user}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "svc").mkdir(parents=True)
    (root / "svc" / "Dockerfile").write_text(DOCKERFILE)
    (root / "other").mkdir()
    (root / "other" / "Dockerfile").write_text("FROM alpine:3.19\nUSER app\n")
    return root


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the Dockerfiles that were analysed (not served from the cache)."""
    calls: list[str] = []
    real = scan_mod.analyze_subject

    def counting(subject: Any, ctx: ScanContext) -> Any:
        if subject.target.kind is TargetKind.DOCKERFILE:  # the repository target is never cached
            calls.append(subject.target.name)
        return real(subject, ctx)

    monkeypatch.setattr(scan_mod, "analyze_subject", counting)
    return calls


def run(root: Path, *, config: Config | None = None, engine: Any = None, selection: str = "",
        use_cache: bool = True) -> dict[str, list[tuple[str, int | None, str]]]:
    ctx = ScanContext(cwd=root, config=config or Config(), use_engine=False)
    ctx.engine = engine
    result = scan_mod.scan([root], ctx, use_cache=use_cache, selection=selection)
    return {
        t.target.name: sorted((f.check, f.location.line, str(scan_mod.severity_of(f))) for f in t.findings)
        for t in result.targets.values() if t.target.kind is TargetKind.DOCKERFILE
    }


def test_warm_cache_gives_the_same_findings_without_analysing(project: Path, analysed: list[str]) -> None:
    cold = run(project)
    assert sorted(analysed) == ["other/Dockerfile", "svc/Dockerfile"]
    analysed.clear()
    warm = run(project)
    assert analysed == []
    assert warm == cold and cold["svc/Dockerfile"]
    # A cache file per result, readable by the user only.
    files = [p for p in (cache_dir() / "v2").rglob("*.bin")]
    assert len(files) == 2
    assert all(p.stat().st_mode & 0o077 == 0 for p in files)


def test_changed_bytes_analyse_that_file_again(project: Path, analysed: list[str]) -> None:
    run(project)
    analysed.clear()
    (project / "svc" / "Dockerfile").write_text(DOCKERFILE + "USER nobody\n")
    after = run(project)
    assert analysed == ["svc/Dockerfile"]
    assert not any(c == "container.non-root" for c, _, _ in after["svc/Dockerfile"])
    assert run(project) == after and analysed == ["svc/Dockerfile"]


def test_config_version_and_selection_are_part_of_the_key(
    project: Path, analysed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = run(project)
    analysed.clear()
    cfg = Config(severity={"container.non-root": Severity.LOW})
    changed = run(project, config=cfg)
    assert len(analysed) == 2
    assert ("container.non-root", None, str(Severity.LOW)) in [(c, None, s) for c, _, s in changed["svc/Dockerfile"]]
    assert changed != base
    analysed.clear()
    run(project, selection="select=['container.non-root']")
    assert len(analysed) == 2
    analysed.clear()
    monkeypatch.setattr(lockdock, "__version__", lockdock.__version__ + ".post1")
    assert run(project) == base
    assert len(analysed) == 2


def test_engine_facts_base_image_user(project: Path, analysed: list[str]) -> None:
    root_user = run(project, engine=SimpleNamespace(api=FakeApi(""), endpoint="fake"))
    assert "container.non-root" in {c for c, _, _ in root_user["svc/Dockerfile"]}
    analysed.clear()
    # The base image was rebuilt with a non-root user: a new image id, fresh results.
    app_user = run(project, engine=SimpleNamespace(api=FakeApi("app", "sha256:" + "b" * 64), endpoint="fake"))
    assert "svc/Dockerfile" in analysed
    assert "container.non-root" not in {c for c, _, _ in app_user["svc/Dockerfile"]}
    analysed.clear()
    assert run(project, engine=SimpleNamespace(api=FakeApi("app", "sha256:" + "b" * 64), endpoint="fake")) == app_user
    assert analysed == []
    # Without an engine the facts differ again.
    run(project)
    assert "svc/Dockerfile" in analysed


def test_a_new_file_beside_the_dockerfile_invalidates(project: Path, analysed: list[str]) -> None:
    before = run(project)
    assert "secrets.no-secrets-in-image" not in {c for c, _, _ in before["svc/Dockerfile"]}
    analysed.clear()
    (project / "svc" / ".env").write_text("TOKEN=x\n")  # COPY . sends it: a secret in the image
    leaked = run(project)
    assert analysed == ["svc/Dockerfile"]
    assert "secrets.no-secrets-in-image" in {c for c, _, _ in leaked["svc/Dockerfile"]}
    analysed.clear()
    (project / "svc" / ".dockerignore").write_text(".env\n")
    assert "secrets.no-secrets-in-image" not in {c for c, _, _ in run(project)["svc/Dockerfile"]}
    assert analysed == ["svc/Dockerfile"]


def test_corrupt_or_foreign_cache_files_are_ignored(project: Path, analysed: list[str]) -> None:
    cold = run(project)
    files = list((cache_dir() / "v2").rglob("*.bin"))
    files[0].write_bytes(b"\x80\x05garbage")
    files[1].write_bytes(files[1].read_bytes()[:20])  # truncated
    analysed.clear()
    assert run(project) == cold
    assert len(analysed) == 2
    for p in (cache_dir() / "v2").rglob("*.bin"):
        p.chmod(0o666)  # writable by others: never loaded
    analysed.clear()
    assert run(project) == cold
    assert len(analysed) == 2


def test_no_cache_flag_and_env(project: Path, run_lockdock: Any, tmp_path: Path) -> None:
    proc = run_lockdock("scan", "--no-engine", "--no-cache", "--format", "json", str(project))
    assert proc.returncode in (0, 1), proc.stderr
    assert not (tmp_path / "cache" / "lockdock" / "v2").exists()
    proc = run_lockdock("scan", "--no-engine", "--format", "json", str(project), env={"LOCKDOCK_NO_CACHE": "1"})
    assert not (tmp_path / "cache" / "lockdock" / "v2").exists()
    first = run_lockdock("scan", "--no-engine", "--format", "json", str(project))
    assert list((tmp_path / "cache" / "lockdock" / "v2").rglob("*.bin"))
    second = run_lockdock("scan", "--no-engine", "--format", "json", str(project))
    assert json.loads(first.stdout) == json.loads(second.stdout) == json.loads(proc.stdout)


# ------------------------------------------------------------------ lazy plugin loading


def test_file_only_scan_imports_no_engine_or_tui_module(project: Path) -> None:
    code = (
        "import sys\nfrom lockdock.cli import main\n"
        "try:\n    main(['scan', '--no-engine', '--format', 'json', sys.argv[1]])\n"
        "except SystemExit:\n    pass\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('docker', 'textual', 'rich')\n"
        "             or m.startswith(('lockdock.engine.', 'lockdock.analyzers.image', 'lockdock.analyzers.container',\n"
        "                              'lockdock.analyzers.host', 'lockdock.sources.engine', 'lockdock.tui')))\n"
        "print('LOADED:' + ','.join(bad), file=sys.stderr)\n"
        "print('DOCKERFILE:' + str('lockdock.analyzers.dockerfile_runtime' in sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(project)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LOCKDOCK_NO_CACHE": "1"})
    lines = dict(line.split(":", 1) for line in proc.stderr.splitlines() if line.startswith(("LOADED:", "DOCKERFILE:")))
    assert lines.get("DOCKERFILE") == "True", proc.stderr
    # lockdock.engine.refs is a pure-string helper the Dockerfile checks share, lockdock.tui.cli
    # the parser of `lockdock tui` (no textual); nothing else of the engine or the TUI.
    allowed = {"lockdock.engine.refs", "lockdock.tui", "lockdock.tui.cli"}
    assert [m for m in lines["LOADED"].split(",") if m and m not in allowed] == []


def test_a_new_plugin_module_is_found_by_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "extra_rules"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "dockerfile_extra.py").write_text(
        "from lockdock.model import TargetKind\nfrom lockdock.registry import analyzer\n"
        "@analyzer(TargetKind.DOCKERFILE, 'container.non-root')\ndef extra(subject, ctx):\n    return []\n")
    (pkg / "compose_extra.py").write_text("raise RuntimeError('a compose module loaded for a Dockerfile')\n")
    (pkg / "oddname.py").write_text(
        "from lockdock.model import TargetKind\nfrom lockdock.registry import analyzer\n"
        "@analyzer(TargetKind.REPO, 'secrets.gitignore')\ndef odd(subject, ctx):\n    return []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "PLUGIN_PACKAGES", ("extra_rules",))
    monkeypatch.setattr(registry, "ANALYZERS", [])
    monkeypatch.setattr(registry, "_LOADED_KINDS", set())
    registry._plugin_modules.cache_clear()
    try:
        names = [a.name for a in registry.analyzers_for(TargetKind.DOCKERFILE)]
        assert names == ["extra_rules.dockerfile_extra.extra"]
        assert "extra_rules.oddname" in sys.modules  # no known prefix: loaded for every kind
        assert "extra_rules.compose_extra" not in sys.modules
    finally:
        registry._plugin_modules.cache_clear()
        for m in [m for m in sys.modules if m.startswith("extra_rules")]:
            del sys.modules[m]


def test_every_plugin_module_registers_only_for_its_prefix_kinds() -> None:
    registry.load_plugins()
    kinds_of = dict(registry._plugin_modules())
    for a in registry.ANALYZERS:
        assert a.kind in kinds_of[a.fn.__module__], a.name
    for f in registry.FIXERS:
        assert set(f.kinds) <= set(kinds_of[f.fn.__module__]), f.name
    for kind, hook in registry.BATCH_HOOKS:
        assert kind in kinds_of[hook.__module__]


# ------------------------------------------------------------------ ShellCheck in batches


@pytest.mark.skipif(not __import__("shutil").which("shellcheck"), reason="needs the shellcheck binary")
def test_shellcheck_batch_gives_the_same_hits_as_one_run_per_file(tmp_path: Path) -> None:
    from lockdock.dockerfile import parse_dockerfile
    from lockdock.dockerfile import shellcheck as sc

    texts = [
        'FROM debian:12\nRUN rm -rf "$DIR/"*\nRUN cd /tmp; make\n',
        "FROM debian:12\nRUN echo hi\n",  # nothing ShellCheck could report: not sent
        'FROM debian:12\nRUN rm -rf "$DIR/"*\nRUN chmod 755 $FILES\n',  # first RUN shared with file 1
        "FROM debian:12\nSHELL [\"/bin/bash\", \"-c\"]\nRUN cd /opt && pushd x; rm $A\n",
    ]
    exe = sc.binary()
    assert exe
    alone = [sc._run_many([parse_dockerfile(t)], exe)[0] for t in texts]
    dfs = [parse_dockerfile(t) for t in texts]
    sc.prefetch(dfs, exe)
    batched = [sc.run_shellcheck(df, exe) for df in dfs]

    def shape(res: Any) -> list[tuple[int, int, int, str]]:
        return [(h.code, h.line, h.column, h.kind) for h in res[0]]

    assert [shape(r) for r in batched] == [shape(r) for r in alone]
    assert {h.code for h in alone[0][0]} >= {2115, 2164}
    assert {h.code for h in alone[2][0]} >= {2115, 2086}
    assert alone[1] == ([], None)
    assert not sc._PREFETCHED  # every prefetched result was taken
