"""The on-disk table of compiled `dataclasses` methods (lockdock.dataclasscache): classes
made through it behave exactly as without it, the table is written where bytecode would be
and only then, and a file that is foreign, damaged or unsafe is not trusted. Each case runs
in a fresh interpreter (the hook is installed when `lockdock` is imported)."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lockdock import dataclasscache

# Dataclasses of every kind the generated methods differ by, described as JSON: what a
# class does must not depend on whether its methods came from the table.
PROBE_MODULE = r'''
from __future__ import annotations
from dataclasses import dataclass, field, InitVar, KW_ONLY

@dataclass(frozen=True)
class Point:
    x: int
    y: int = 0

@dataclass(order=True)
class Ranked:
    rank: int
    name: str = field(default="n", compare=False)
    tags: list = field(default_factory=list)

@dataclass(slots=True, kw_only=True)
class Slotted:
    a: int
    b: str = "b"

@dataclass
class Later:
    base: int
    scale: InitVar[int] = 2
    total: int = field(init=False)
    _: KW_ONLY
    note: str = ""
    def __post_init__(self, scale):
        self.total = self.base * scale

@dataclass(eq=False, repr=False)
class Plain:
    v: int

'''

PROBE = r'''
from __future__ import annotations
import json, sys
sys.path.insert(0, sys.argv[1])
import lockdock  # installs the hook
from lockdock import dataclasscache
import dataclasses
from dataclasses import FrozenInstanceError
from probe_classes import Point, Ranked, Slotted, Later, Plain

out = {}
p = Point(1, 2)
try:
    p.x = 5
    out["frozen"] = "assigned"
except FrozenInstanceError:
    out["frozen"] = "refused"
out["point"] = [repr(p), p == Point(1, 2), hash(p) == hash(Point(1, 2)), p != Point(2, 1)]
out["ranked"] = [repr(Ranked(1)), Ranked(1, "a") == Ranked(1, "b"), Ranked(1) < Ranked(2), sorted([Ranked(3), Ranked(1)])[0].rank]
s = Slotted(a=1)
out["slotted"] = [repr(s), hasattr(s, "__dict__"), list(Slotted.__slots__)]
try:
    Slotted(1)
    out["kw_only"] = "positional accepted"
except TypeError:
    out["kw_only"] = "positional refused"
later = Later(3, 4, note="x")
out["later"] = [repr(later), later.total]
out["plain"] = [Plain(1) == Plain(1), repr(Plain(1)).startswith("<probe_classes.Plain object")]
out["annotations"] = {c.__name__: {k: str(v) for k, v in c.__init__.__annotations__.items()}
                      for c in (Point, Ranked, Slotted, Later, Plain)}
out["defaults"] = {c.__name__: [repr(d) for d in (c.__init__.__defaults__ or ())] for c in (Point, Ranked, Later)}
out["hooked"] = getattr(dataclasses, "exec", None) is dataclasscache._exec
out["dirty"] = "probe_classes" in dataclasscache._dirty
out["entries"] = len(dataclasscache._tables.get("probe_classes", {}))
print(json.dumps(out))
'''


def _probe(env: dict[str, str], cwd: Path, code: str = PROBE) -> dict:
    (cwd / "probe_classes.py").write_text(PROBE_MODULE)
    proc = subprocess.run([sys.executable, "-c", code, str(cwd)], capture_output=True, text=True, cwd=cwd, timeout=120,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "LOCKDOCK_NO_DATACLASS_CACHE")}
    env.update(PYTHONPYCACHEPREFIX=str(tmp_path / "pyc"), **extra)
    return env


def _table(tmp_path: Path, package: str = "probe_classes") -> Path:
    return tmp_path / "pyc" / f"lockdock-dataclasses.{package}.{sys.implementation.cache_tag}.marshal"


def _plain(out: dict) -> dict:
    return {k: v for k, v in out.items() if k not in ("hooked", "dirty", "entries")}


def test_classes_behave_the_same_from_the_table_and_without_it(tmp_path: Path) -> None:
    without = _probe({**_env(tmp_path), "LOCKDOCK_NO_DATACLASS_CACHE": "1"}, tmp_path)
    assert without["hooked"] is False and not _table(tmp_path).exists()
    first = _probe(_env(tmp_path), tmp_path)  # compiles every text, writes the table at exit
    assert first["hooked"] is True and first["dirty"] is True and _table(tmp_path).is_file()
    second = _probe(_env(tmp_path), tmp_path)  # every text from the table
    assert second["hooked"] is True and second["dirty"] is False and second["entries"] >= first["entries"]
    assert _plain(first) == _plain(second) == _plain(without)
    assert without["frozen"] == "refused" and without["kw_only"] == "positional refused"
    # `from __future__ import annotations` of the caller is not inherited by the compiled texts:
    # the annotations of the generated __init__ are the same objects' strings either way.
    assert without["annotations"]["Point"] == {"x": "int", "y": "int", "return": "None"}


def test_lockdock_s_own_classes_come_from_the_table_on_the_second_run(tmp_path: Path) -> None:
    code = ("import lockdock.scan, lockdock.model, lockdock.engine.images, json\n"
            "from lockdock import dataclasscache as d\n"
            "print(json.dumps(['lockdock' in d._dirty, len(d._tables['lockdock']), sorted(d._tables)]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(tmp_path), timeout=120)
    dirty, entries, packages = json.loads(proc.stdout)
    assert dirty and entries > 50  # lockdock makes dozens of dataclasses on import
    assert _table(tmp_path, "lockdock").is_file() and "textual" not in packages  # only what it imports
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(tmp_path), timeout=120)
    assert json.loads(proc.stdout) == [False, entries, packages]


def test_nothing_is_written_where_python_writes_no_bytecode(tmp_path: Path) -> None:
    _probe({**_env(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}, tmp_path)
    assert not _table(tmp_path).exists()


def _write(path: Path, payload: object, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(marshal.dumps(payload))
    path.chmod(mode)


@pytest.mark.parametrize("case", ["group-writable", "other-header", "garbage", "wrong-types", "symlink"])
def test_an_untrusted_or_damaged_table_is_ignored(tmp_path: Path, case: str) -> None:
    path = _table(tmp_path)
    evil = compile("import sys; sys.stdout.write('INJECTED')", "<string>", "exec")
    if case == "group-writable":
        _write(path, (dataclasscache._HEADER, {}), 0o620)
    elif case == "other-header":
        _write(path, (("lockdock-dataclass-cache", 1, "2.7.18", "cpython-27"), {}))
    elif case == "garbage":
        path.parent.mkdir(parents=True)
        path.write_bytes(b"\x00not marshal at all")
    elif case == "wrong-types":
        _write(path, (dataclasscache._HEADER, {1: evil, "text": "not code"}))
    else:
        real = tmp_path / "elsewhere.marshal"
        _write(real, (dataclasscache._HEADER, {}))
        path.parent.mkdir(parents=True)
        path.symlink_to(real)
    if case == "group-writable":
        # A table that someone else could have written: even a correct one is not read.
        (tmp_path / "fresh").mkdir()
        good = _probe(_env(tmp_path / "fresh"), tmp_path / "fresh")
        assert good["dirty"]
        table = marshal.loads(_table(tmp_path / "fresh").read_bytes())[1]
        poisoned = {text: evil for text in table}
        _write(path, (dataclasscache._HEADER, poisoned), 0o620)
    out = _probe(_env(tmp_path), tmp_path)
    assert out["frozen"] == "refused" and out["dirty"] is True  # everything compiled afresh
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=_env(tmp_path),
                          timeout=120)
    assert "INJECTED" not in proc.stdout


def test_the_table_starts_over_past_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataclasscache, "MAX_ENTRIES", 2)
    monkeypatch.setitem(dataclasscache._tables, "json", {})
    module = sys.modules["json"].__dict__  # any imported package's module stands for a class's
    for i in range(5):
        ns: dict = {}
        dataclasscache._exec(f"x{i} = {i}", module, ns)
        assert ns[f"x{i}"] == i
    assert 1 <= len(dataclasscache._tables["json"]) <= 2
    dataclasscache._dirty.discard("json")


def test_classes_of_main_or_unknown_modules_are_compiled_as_usual() -> None:
    before = {k: dict(v) for k, v in dataclasscache._tables.items()}
    for module in ({"__name__": "__main__"}, {"__name__": "not_imported_anywhere"}, {}, None):
        ns: dict = {}
        dataclasscache._exec("y = 1", module if module is not None else {}, ns)
        assert ns["y"] == 1
    assert {k: dict(v) for k, v in dataclasscache._tables.items()} == before
