"""Facts about a local image that decide whether a behaviour-changing fix keeps it working.

For one image (by reference) this reads, from the engine only:
- its config: User, Entrypoint, Cmd, WorkingDir, Volumes, ExposedPorts, Env names;
- from its layers (the `docker save` stream, walked once): `/etc/passwd`, `/etc/group`,
  the entrypoint/cmd program when it is a small script (and `/docker-entrypoint.d/*`),
  the owner and mode of every directory, and markers of s6-overlay and supervisord;
- what the start scripts do (`lockdock.startfacts`: privilege drop, chown, written paths,
  `*_FILE` secrets).

Layers are applied in order with their whiteouts, as the engine stacks them. Files are
read only when small (`MAX_SCRIPT` bytes, at most `MAX_SCRIPTS` of them) and are never
kept: only the derived facts are. Results are cached per image id (in memory for the scan,
on disk beside the layer cache). No engine, or an image that is not local, gives None:
then a fixer that needs facts offers no behaviour-changing fix.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import zlib
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lockdock.engine.layerfacts import normalise
from lockdock.engine.savestream import ChunkStream, _is_json_name, _sniff
from lockdock.engine.tarstream import EntryData, TarCorrupt, TarReader, TarTruncated
from lockdock.startfacts import StartFacts, analyze
from lockdock.text import safe

if TYPE_CHECKING:
    from lockdock.context import ScanContext

CACHE_VERSION = 1
MAX_SCRIPT = 64 * 1024  # bytes of one start script read
MAX_SCRIPTS = 24
MAX_DIRS = 50_000  # directories whose owner is remembered
ENTRYPOINT_DIRS = ("docker-entrypoint.d/",)
MARKERS = {"etc/s6-overlay": "s6-overlay", "init": "s6-overlay", "etc/supervisord.conf": "supervisord",
           "etc/supervisor/supervisord.conf": "supervisord", "usr/bin/supervisord": "supervisord"}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})


@dataclass
class Account:
    name: str
    uid: int
    gid: int


@dataclass
class ImageFacts:
    """What lockdock knows about one local image (JSON-serialisable).

    `user` is the config User as written ("" means root). `owners` maps an absolute
    directory path to (uid, gid, mode). `problems` lists what could not be read; facts
    with problems are still usable for what they hold.
    """

    image_id: str
    user: str = ""
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    workdir: str = ""
    env_names: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    exposed: list[int] = field(default_factory=list)  # tcp/udp port numbers
    accounts: list[Account] = field(default_factory=list)
    groups: dict[str, int] = field(default_factory=dict)
    owners: dict[str, list[int]] = field(default_factory=dict)
    scripts: list[str] = field(default_factory=list)  # paths of start scripts read
    start: StartFacts = field(default_factory=StartFacts)
    supervisors: list[str] = field(default_factory=list)  # s6-overlay, supervisord present
    problems: list[str] = field(default_factory=list)

    # ----------------------------------------------------------------- questions

    def account(self, user: str) -> Account | None:
        """The /etc/passwd entry for a name or numeric uid ("name:group" accepted)."""
        who = user.split(":", 1)[0].strip()
        for a in self.accounts:
            if a.name == who or (who.isdigit() and a.uid == int(who)):
                return a
        return None

    def uid_gid(self, user: str) -> tuple[int, int] | None:
        """Numeric (uid, gid) of a user spec; numbers need no passwd entry."""
        who, _, group = user.strip().partition(":")
        acc = self.account(who)
        uid = int(who) if who.isdigit() else acc.uid if acc else None
        if uid is None:
            return None
        if group:
            gid = int(group) if group.isdigit() else self.groups.get(group)
        else:
            gid = acc.gid if acc else uid
        return None if gid is None else (uid, gid)

    @property
    def starts_as_root(self) -> bool:
        ids = self.uid_gid(self.user) if self.user else (0, 0)
        return self.user.strip() in ("", "root", "0") or (ids is not None and ids[0] == 0)

    @property
    def drops_privileges(self) -> bool:
        """Starts as root and switches to another user itself (entrypoint or supervisor)."""
        return self.starts_as_root and (self.start.drops_privileges or bool(self.supervisors))

    def owner(self, path: str) -> tuple[int, int, int] | None:
        o = self.owners.get(posixpath.normpath(path))
        return (o[0], o[1], o[2]) if o else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageFacts:
        data = dict(data)
        accounts = [Account(**a) for a in data.pop("accounts", [])]
        start = StartFacts(**data.pop("start", {}))
        return cls(**data, accounts=accounts, start=start)


# --------------------------------------------------------------------------- parsing


def parse_passwd(text: str) -> list[Account]:
    out = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) >= 4 and parts[0] and parts[2].isdigit() and parts[3].isdigit():
            out.append(Account(parts[0], int(parts[2]), int(parts[3])))
    return out


def parse_group(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) >= 3 and parts[0] and parts[2].isdigit():
            out[parts[0]] = int(parts[2])
    return out


def _ports(exposed: Any) -> list[int]:
    out = []
    for key in exposed or {}:
        num = str(key).split("/", 1)[0]
        if num.isdigit() and 0 < int(num) < 65536:
            out.append(int(num))
    return sorted(set(out))


def start_program(entrypoint: list[str], cmd: list[str]) -> tuple[str | None, str]:
    """(program path or name to read, inline shell text) of the start command."""
    argv = list(entrypoint or []) + ([] if entrypoint and cmd is None else list(cmd or []))
    if not argv:
        return None, ""
    prog = argv[0]
    if posixpath.basename(prog) in SHELLS:
        if "-c" in argv[1:]:
            i = argv.index("-c")
            return None, " ".join(argv[i + 1 :])
        script = next((a for a in argv[1:] if not a.startswith("-")), None)
        return script, ""
    return prog, " ".join(argv[1:])


def wanted_paths(prog: str | None, env_path: str) -> list[str]:
    """Normalised candidate paths of the start program (PATH lookup for a bare name)."""
    if not prog:
        return []
    if "/" in prog:
        return [normalise(prog)[0]] if prog.startswith("/") else []
    return [normalise(posixpath.join(d, prog))[0] for d in env_path.split(":") if d.startswith("/")]


# --------------------------------------------------------------------------- layers


@dataclass
class _Layer:
    files: dict[str, tuple[str, bytes | None, str]] = field(default_factory=dict)  # path -> (kind, data, link)
    dirs: dict[str, list[int]] = field(default_factory=dict)
    whiteouts: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)
    stopped: str | None = None


def _interesting(path: str, names: set[str]) -> bool:
    return (path in ("etc/passwd", "etc/group") or path in MARKERS
            or posixpath.basename(path) in names or path.startswith(ENTRYPOINT_DIRS))


def _scan_layer(fileobj: Any, compression: str, names: set[str]) -> _Layer:
    import gzip

    out = _Layer()
    if compression == "gzip":
        raw: Any = gzip.GzipFile(fileobj=fileobj, mode="rb")
    elif compression == "none":
        raw = fileobj
    else:
        out.stopped = f"{compression} layer not read"
        return out
    reader = TarReader(raw, 8 * 1024**3)
    try:
        for info in reader.entries():
            path, odd = normalise(info.name)
            if not path or odd:
                continue
            base = posixpath.basename(path)
            if base.startswith(".wh."):
                parent = posixpath.dirname(path)
                if base == ".wh..wh..opq":
                    out.opaque.append(parent)
                elif not base.startswith(".wh..wh."):
                    out.whiteouts.append(posixpath.join(parent, base[4:]))
                continue
            if info.isdir():
                if len(out.dirs) < MAX_DIRS:
                    out.dirs[path] = [info.uid, info.gid, info.mode]
                continue
            if not _interesting(path, names):
                continue
            if info.issym():
                out.files[path] = ("symlink", None, info.linkname)
            elif info.isreg():
                data = reader.read_data(info.size) if info.size <= MAX_SCRIPT else None
                out.files[path] = ("file", data, "")
    except (TarCorrupt, TarTruncated, EOFError, OSError, zlib.error) as exc:
        out.stopped = f"layer is truncated or corrupt: {safe(exc, 120)}"
    return out


def _stack(layers: list[_Layer]) -> tuple[dict[str, tuple[str, bytes | None, str]], dict[str, list[int]]]:
    files: dict[str, tuple[str, bytes | None, str]] = {}
    dirs: dict[str, list[int]] = {}
    for layer in layers:
        gone = layer.whiteouts
        for table in (files, dirs):
            for p in list(table):
                if any(p == w or p.startswith(w + "/") for w in gone) or any(
                    p.startswith(d + "/") for d in layer.opaque if d
                ):
                    del table[p]
        files.update(layer.files)
        dirs.update(layer.dirs)
    return files, dirs


def _resolve(path: str, files: dict[str, tuple[str, bytes | None, str]]) -> str | None:
    for _ in range(8):
        entry = files.get(path)
        if entry is None:
            return None
        if entry[0] == "file":
            return path
        target = entry[2]
        path = normalise(target if target.startswith("/") else posixpath.join(posixpath.dirname(path), target))[0]
    return None


def read_layers(api: Any, image_id: str, names: set[str]) -> tuple[list[_Layer], str | None]:
    """Walk the image's save stream; (layers bottom first, problem or None)."""
    from lockdock.engine.images import save_stream

    archive_json: dict[str, Any] = {}
    by_name: dict[str, _Layer] = {}
    problem = None
    stream = ChunkStream(save_stream(api, image_id), 8)
    outer = TarReader(stream)
    try:
        for info in outer.entries():
            if not info.isreg():
                continue
            name = info.name.removeprefix("./").lstrip("/")
            if _is_json_name(name) and info.size <= 16 * 1024 * 1024:
                with contextlib.suppress(ValueError, UnicodeDecodeError):
                    archive_json[name] = json.loads(outer.read_data(info.size).decode("utf-8-sig"))
                continue
            member = EntryData(outer)
            kind = _sniff(member.peek(512))
            if kind is not None:
                by_name[name] = _scan_layer(member, kind, names)
    except Exception as exc:  # noqa: BLE001 - engine stream errors of several kinds
        problem = f"docker save stream broke off: {type(exc).__name__}: {safe(exc, 160)}"
    finally:
        stream.close()
    order: list[str] = []
    manifest = archive_json.get("manifest.json")
    if isinstance(manifest, list) and manifest and isinstance(manifest[0], dict):
        order = [str(x) for x in manifest[0].get("Layers") or []]
    else:
        index = archive_json.get("index.json")
        with contextlib.suppress(Exception):
            desc = index["manifests"][0]
            man = archive_json["blobs/" + desc["digest"].replace(":", "/")]
            if "manifests" in man:
                man = archive_json["blobs/" + man["manifests"][0]["digest"].replace(":", "/")]
            order = ["blobs/" + d["digest"].replace(":", "/") for d in man["layers"]]
    layers = [by_name[n] for n in order if n in by_name]
    if len(layers) != len(order) or not order:
        problem = problem or "the save stream lacks some layers"
    for layer in layers:
        if layer.stopped:
            problem = problem or layer.stopped
    return layers, problem


# --------------------------------------------------------------------------- building


def facts_from(inspect: dict[str, Any], layers: list[_Layer], problem: str | None) -> ImageFacts:
    """ImageFacts from an inspect result and the stacked layers (pure; used by tests)."""
    cfg = inspect.get("Config") or {}
    env = [str(e) for e in cfg.get("Env") or []]
    env_path = next((e.split("=", 1)[1] for e in env if e.startswith("PATH=")), DEFAULT_PATH)
    facts = ImageFacts(
        image_id=str(inspect.get("Id", "")),
        user=str(cfg.get("User") or ""),
        entrypoint=[str(x) for x in cfg.get("Entrypoint") or []],
        cmd=[str(x) for x in cfg.get("Cmd") or []],
        workdir=str(cfg.get("WorkingDir") or ""),
        env_names=[e.split("=", 1)[0] for e in env],
        volumes=sorted(str(v) for v in (cfg.get("Volumes") or {})),
        exposed=_ports(cfg.get("ExposedPorts")),
    )
    if problem:
        facts.problems.append(problem)
    files, dirs = _stack(layers)
    facts.owners = {"/" + p: v for p, v in dirs.items()}
    for path, key in (("etc/passwd", "accounts"), ("etc/group", "groups")):
        got = _resolve(path, files)
        data = files[got][1] if got else None
        if data is None:
            facts.problems.append(f"/{path} not found in the image")
        elif key == "accounts":
            facts.accounts = parse_passwd(data.decode("utf-8", "replace"))
        else:
            facts.groups = parse_group(data.decode("utf-8", "replace"))
    facts.supervisors = sorted({MARKERS[p] for p in MARKERS if p in files or p in dirs})
    prog, inline = start_program(facts.entrypoint, facts.cmd)
    start = analyze(inline)
    scripts = [p for p in wanted_paths(prog, env_path)]
    scripts += sorted(p for p in files if p.startswith(ENTRYPOINT_DIRS))
    for cand in scripts:
        real = _resolve(cand, files)
        if real is None or len(facts.scripts) >= MAX_SCRIPTS:
            continue
        data = files[real][1]
        if data is None or b"\0" in data[:4096]:
            continue  # a binary or a big file: not a script we read
        facts.scripts.append("/" + real)
        start.merge(analyze(data.decode("utf-8", "replace")))
    facts.start = start
    return facts


def image_facts(ref: str, ctx: ScanContext) -> ImageFacts | None:
    """Facts of the local image `ref`, cached per image id; None without engine or image."""
    if not ref:
        return None
    data = ctx.local_image(ref)
    if not isinstance(data, dict) or ctx.engine is None:
        return None
    image_id = str(data.get("Id", ""))
    key = f"image-facts:{image_id}"
    with ctx._lock:
        if key in ctx.cache:
            return ctx.cache[key]
    facts = _read_cache(image_id)
    if facts is None:
        cfg = data.get("Config") or {}
        env = [str(e) for e in cfg.get("Env") or []]
        env_path = next((e.split("=", 1)[1] for e in env if e.startswith("PATH=")), DEFAULT_PATH)
        prog, _ = start_program([str(x) for x in cfg.get("Entrypoint") or []], [str(x) for x in cfg.get("Cmd") or []])
        names = {posixpath.basename(p) for p in wanted_paths(prog, env_path)}
        try:
            layers, problem = read_layers(ctx.engine.api, image_id, names)
        except Exception as exc:  # noqa: BLE001 - engine refused
            layers, problem = [], f"layers not read: {safe(exc, 160)}"
        facts = facts_from(data, layers, problem)
        if not problem:
            _write_cache(image_id, facts)
    with ctx._lock:
        ctx.cache[key] = facts
    return facts


def _cache_path(image_id: str) -> str | None:
    from lockdock.engine.images import _HEX, cache_dir

    algo, _, hexpart = image_id.partition(":")
    if algo != "sha256" or not _HEX.match(hexpart):
        return None
    return str(cache_dir() / f"{hexpart}.facts.json")


def _read_cache(image_id: str) -> ImageFacts | None:
    path = _cache_path(image_id)
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if data.pop("version", None) != CACHE_VERSION:
            return None
        return ImageFacts.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(image_id: str, facts: ImageFacts) -> None:
    path = _cache_path(image_id)
    if path is None:
        return
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"version": CACHE_VERSION, **facts.to_json()}, fh)
        os.replace(tmp, path)
    except OSError:
        pass
