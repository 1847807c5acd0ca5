"""Run a project's stacks in a throwaway copy and observe each service (for `fix --verify`).

A *unit* is what can be started on its own: a compose project (its files, run with the
user's own compose CLI, `docker compose` v2 else `docker-compose`) or a Dockerfile that no
compose file builds (built and run briefly through the engine API). Each run works in a
copy of the project, under a unique compose project name, labels or names everything it
creates, pulls nothing, and removes all of it again (`Runner.teardown`, called from
`finally`, also after Ctrl-C).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdock.files import FileProblem, read_text, within
from lockdock.fixing import edits as edits_mod
from lockdock.model import Fix, ModeChange, NewFile
from lockdock.text import safe

LABEL = "io.lockdock.verify"  # value: the run id; on containers lockdock starts itself
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
OVERRIDE = ".lockdock-verify.override.yml"
_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", re.IGNORECASE | re.MULTILINE)


@dataclass
class Unit:
    """A compose project (`files`, main first) or a standalone Dockerfile (`dockerfile`)."""

    name: str
    directory: Path
    files: list[Path] = field(default_factory=list)
    contexts: list[Path] = field(default_factory=list)
    dockerfile: Path | None = None

    def touches(self, path: Path) -> bool:
        """True when a change of `path` can change what this unit runs."""
        if self.dockerfile is not None:
            return path == self.dockerfile or within(path, self.directory)
        return path in self.files or within(path, self.directory) or any(within(path, c) for c in self.contexts)


@dataclass
class ServiceState:
    """What one service did during the observation window."""

    built: bool | None = None  # None: nothing to build
    state: str = "missing"  # running, exited, restarting, created, missing, not started
    restarts: int = 0
    health: str | None = None  # healthy, unhealthy, starting; None: no healthcheck
    exit_code: int | None = None
    ports: dict[str, bool] = field(default_factory=dict)  # "80/tcp" -> answered on 127.0.0.1
    detail: str = ""

    def works(self) -> tuple[bool, str]:
        """(works, why not) judged on this state alone."""
        if self.built is False:
            return False, "build failed" + (f": {self.detail}" if self.detail else "")
        if self.state == "exited":
            if self.exit_code == 0 and not self.ports:
                return True, ""
            return False, f"exited with code {self.exit_code}"
        if self.state != "running":
            return False, self.state
        if self.restarts:
            return False, f"restarted {self.restarts} time(s)"
        if self.health not in (None, "healthy"):
            return False, f"health {self.health}"
        silent = [p for p, ok in self.ports.items() if not ok]
        if silent:
            return False, "port(s) not answering: " + ", ".join(silent)
        return True, ""

    def summary(self) -> str:
        if self.built is False:
            return "build failed" + (f": {self.detail}" if self.detail else "")
        parts = [self.state if self.state != "exited" else f"exited {self.exit_code}"]
        if self.state == "not started" and self.detail:
            parts.append(self.detail)
        if self.restarts:
            parts.append(f"{self.restarts} restart(s)")
        if self.health:
            parts.append(self.health)
        for port, ok in sorted(self.ports.items()):
            parts.append(f"{safe(port, 20)} {'answers' if ok else 'silent'}")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"built": self.built, "state": self.state, "restarts": self.restarts, "health": self.health,
                "exit_code": self.exit_code, "ports": dict(self.ports), "detail": self.detail}


@dataclass
class UnitRun:
    """One run of a unit: per-service state, services that could not be tried, a unit error."""

    services: dict[str, ServiceState] = field(default_factory=dict)
    not_verified: dict[str, str] = field(default_factory=dict)  # service -> plain reason
    error: str | None = None  # the whole unit could not be run (compose config failed, ...)


def find_compose_cli() -> list[str] | None:
    """The user's compose CLI: `docker compose` (v2) when it answers, else `docker-compose`."""
    docker = shutil.which("docker")
    if docker:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            proc = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=20, check=False)
            if proc.returncode == 0:
                return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def discover_units(roots: Sequence[Path]) -> list[Unit]:
    """Compose projects under `roots`, then Dockerfiles no compose build context holds."""
    from lockdock.compose.project import build_contexts, project_file_sets
    from lockdock.config import Config
    from lockdock.context import ScanContext
    from lockdock.discovery import discover

    ctx = ScanContext(cwd=Path.cwd(), config=Config(), use_engine=False)
    found = discover([Path(r) for r in roots], ctx)
    units: list[Unit] = []
    contexts: list[Path] = []
    for files, _env in project_file_sets(found.compose_files, ctx):
        ctxs = build_contexts(files)
        contexts += ctxs
        units.append(Unit(str(files[0]), files[0].parent, [Path(f) for f in files], ctxs))
    for df in found.dockerfiles:
        p = Path(os.path.abspath(df))
        if any(within(p, c) for c in contexts):
            continue
        units.append(Unit(str(p), p.parent, dockerfile=p))
    return units


# --------------------------------------------------------------------------- the copy


def make_copy(root: Path, fixes: Sequence[Fix], cwd: Path) -> tuple[Path, list[Fix]]:
    """Copy `root` into a new temp dir and apply `fixes` there; returns (copy, deferred fixes).

    `.git` is not copied. Fixes whose edits overlap an earlier one are not applied (returned).
    Raises OSError/FileProblem when the copy cannot be made.
    """
    base = Path(tempfile.mkdtemp(prefix="lockdock-verify-"))
    dest = base / root.name
    shutil.copytree(root, dest, symlinks=True, ignore=shutil.ignore_patterns(".git"))

    def into(path: str) -> Path:
        p = Path(path)
        p = Path(os.path.abspath(p if p.is_absolute() else cwd / p))
        return dest / p.relative_to(root)

    batch = edits_mod.plan(list(fixes))
    for path, fe in batch.files.items():
        target = into(path)
        tf = read_text(target)
        _text, data, _ = edits_mod.render(tf, fe.edits)
        mode = os.stat(target).st_mode & 0o7777
        target.write_bytes(data)
        os.chmod(target, mode)
    for fix in batch.fixes:
        for c in fix.changes:
            if isinstance(c, NewFile):
                target = into(c.path)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(c.content.encode("utf-8"))
                os.chmod(target, c.mode)
            elif isinstance(c, ModeChange):
                os.chmod(into(c.path), c.new_mode)
    return dest, batch.deferred


def remove_copy(dest: Path) -> None:
    """Remove a copy made by `make_copy` (files made unreadable by a mode fix included)."""
    base = dest.parent
    for dirpath, dirnames, _files in os.walk(base):
        for d in dirnames:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(dirpath, d), 0o755)
    shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------- running


def base_images(dockerfile: Path) -> tuple[list[str], str | None]:
    """External base images a Dockerfile builds FROM, or (.., why they cannot be known)."""
    try:
        text = read_text(dockerfile).text
    except FileProblem as exc:
        return [], f"cannot read {dockerfile.name}: {safe(exc, 120)}"
    text = re.sub(r"\\\r?\n", " ", text)
    stages: set[str] = set()
    refs: list[str] = []
    for m in _FROM.finditer(text):
        ref, alias = m.group(1), m.group(2)
        if ref.lower() not in stages and ref != "scratch":
            if "$" in ref:
                return [], f"base image {safe(ref, 80)} depends on a build argument"
            refs.append(ref)
        if alias:
            stages.add(alias.lower())
    return refs, None


def _missing(engine: Any, refs: Sequence[str]) -> list[str]:
    out = []
    for ref in refs:
        try:
            engine.api.inspect_image(ref)
        except Exception:  # noqa: BLE001 - not local (or unreadable): either way not runnable offline
            out.append(ref)
    return out


def port_answers(host_port: str, timeout: float = 0.5) -> bool:
    """A TCP connect to 127.0.0.1:host_port that the service behind it accepts.

    docker-proxy accepts every connect and closes it at once when nothing listens in the
    container, so an immediate end-of-stream counts as "not answering".
    """
    try:
        with socket.create_connection(("127.0.0.1", int(host_port)), timeout=timeout) as s:
            s.settimeout(0.3)
            try:
                return s.recv(1) != b""
            except TimeoutError:
                return True
            except OSError:
                return False
    except (OSError, ValueError):
        return False


def container_state(api: Any, cid: str) -> ServiceState:
    """Inspect one container into a ServiceState (ports probed once)."""
    data = api.inspect_container(cid)
    st = data.get("State") or {}
    out = ServiceState(state=str(st.get("Status") or "missing"), restarts=int(data.get("RestartCount") or 0))
    health = st.get("Health") or {}
    out.health = health.get("Status") or None
    if out.state == "exited":
        out.exit_code = int(st.get("ExitCode") or 0)
    if out.state == "running":
        for port, binds in ((data.get("NetworkSettings") or {}).get("Ports") or {}).items():
            if port.endswith("/tcp") and binds:
                out.ports[port] = port_answers(binds[0].get("HostPort", ""))
    return out


def _settled(s: ServiceState) -> bool:
    return s.state == "exited" or (s.state == "running" and s.health not in ("starting",) and all(s.ports.values()))


def observe(api: Any, find: Any, names: Sequence[str], seconds: float) -> dict[str, ServiceState]:
    """Poll the services' containers for up to `seconds` (at least a short settle time).

    `find()` returns {service: container id}. A service counts its worst moment: a
    restart or an exit seen once stays seen. Stops early once all are settled.
    """
    start = time.monotonic()
    settle = min(3.0, seconds)
    seen: dict[str, ServiceState] = {}
    while True:
        ids = find()
        for name in names:
            cid = ids.get(name)
            if cid is None:
                seen[name] = ServiceState(state="not started")
                continue
            try:
                now = container_state(api, cid)
            except Exception:  # noqa: BLE001 - removed meanwhile
                now = ServiceState(state="missing")
            was = seen.get(name)
            if was is not None:
                now.restarts = max(now.restarts, was.restarts)
            seen[name] = now
        elapsed = time.monotonic() - start
        if elapsed >= seconds or (elapsed >= settle and all(_settled(s) for s in seen.values())):
            return seen
        time.sleep(0.5)


@dataclass
class Runner:
    """Runs units for one verification; remembers everything it made, to remove it."""

    engine: Any
    compose: list[str] | None
    run_id: str
    seconds: float = 20.0
    build_timeout: float = 300.0
    projects: list[tuple[list[str], Path]] = field(default_factory=list)  # (compose args, cwd)
    layers: list[str] = field(default_factory=list)  # image ids its builds made (failed builds leave them)
    _count: int = 0
    _proc: subprocess.Popen[bytes] | None = None

    def _name(self) -> str:
        self._count += 1
        return f"lockdock-verify-{self.run_id}-{self._count}"

    def _call(self, args: list[str], cwd: Path, timeout: float) -> tuple[int, str]:
        """Run a command in its own process group; Ctrl-C and timeouts kill the group."""
        try:
            proc = subprocess.Popen(
                args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            return 127, str(exc)
        self._proc = proc
        try:
            out, _ = proc.communicate(timeout=timeout)
            return proc.returncode, out.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            return 124, f"timed out after {timeout:.0f} s"
        finally:
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            self._proc = None

    def run(self, unit: Unit, copy_root: Path, orig_root: Path) -> UnitRun:
        """Build and start `unit` (paths of the original, mapped into `copy_root`), observe it."""
        def into(p: Path) -> Path:
            return copy_root / p.relative_to(orig_root)

        try:
            if unit.dockerfile is not None:
                return self._run_dockerfile(into(unit.dockerfile))
            return self._run_compose([into(f) for f in unit.files])
        except Exception as exc:  # noqa: BLE001 - engine or CLI trouble fails this unit, not the run
            return UnitRun(error=f"could not run it: {type(exc).__name__}: {clean(str(exc))}")

    # ----------------------------------------------------------------- compose
    def _run_compose(self, files: list[Path]) -> UnitRun:
        res = UnitRun()
        if self.compose is None:
            res.error = "no compose CLI (neither `docker compose` nor `docker-compose` is on PATH)"
            return res
        name = self._name()
        cwd = files[0].parent
        base = [*self.compose, "-p", name]
        for f in files:
            base += ["-f", str(f)]
        code, out = self._call([*base, "config"], cwd, 60)
        if code != 0:
            res.error = f"compose config failed: {clean(out.strip(), 300)}"
            return res
        from ruamel.yaml import YAML

        try:
            config = YAML(typ="safe").load(out) or {}
        except Exception as exc:  # noqa: BLE001 - the CLI's own output; still untrusted text
            res.error = f"cannot read compose config output: {safe(exc, 200)}"
            return res
        services: dict[str, Any] = config.get("services") or {}
        override: dict[str, Any] = {}
        ok: set[str] = set()
        for svc, declared in services.items():
            spec = declared or {}
            build = spec.get("build")
            if build:
                b = build if isinstance(build, dict) else {"context": build}
                ctxdir = Path(str(b.get("context") or "."))
                ctxdir = ctxdir if ctxdir.is_absolute() else cwd / ctxdir
                refs, why = base_images(ctxdir / str(b.get("dockerfile") or "Dockerfile"))
                missing = _missing(self.engine, refs)
                if why or missing:
                    res.not_verified[svc] = why or f"base image {safe(missing[0], 80)} is not local (nothing is pulled)"
                    continue
                override[svc] = {"image": f"{name}-{re.sub(r'[^a-z0-9_.-]', '', svc.lower()) or 'svc'}:verify"}
            elif not spec.get("image"):
                res.not_verified[svc] = "no image and no build"
                continue
            elif _missing(self.engine, [str(spec["image"])]):
                res.not_verified[svc] = f"image {safe(spec['image'], 80)} is not local (nothing is pulled)"
                continue
            ok.add(svc)
        # A service needs its dependencies: drop every service that reaches an unverifiable one.
        changed = True
        while changed:
            changed = False
            for svc in sorted(ok):
                deps = (services[svc] or {}).get("depends_on") or {}
                bad = [d for d in deps if d not in ok]
                if bad:
                    ok.discard(svc)
                    res.not_verified[svc] = f"depends on {safe(bad[0], 60)}, which cannot be verified"
                    changed = True
        if not ok:
            return res
        renamed = {s: v for s, v in override.items() if s in ok}
        if renamed:  # built images get names of this run, never the user's own tags
            doc: dict[str, Any] = {"services": renamed}
            if config.get("version"):  # the files' (normalised) version: compose insists they match
                doc = {"version": str(config["version"]), **doc}
            ov = cwd / OVERRIDE
            ov.write_text(json.dumps(doc))
            base += ["-f", str(ov)]
        self.projects.append((base, cwd))
        built = sorted(s for s in ok if s in override)
        if built:
            extra = ["--force-rm"] if len(self.compose) == 1 else []  # v1: no intermediate containers left
            code, out = self._call([*base, "build", *extra, *built], cwd, self.build_timeout)
            self.layers += new_layers(out)
            if code != 0:
                # Build one by one to say which failed.
                for svc in built:
                    c1, o1 = self._call([*base, "build", *extra, svc], cwd, self.build_timeout)
                    self.layers += new_layers(o1)
                    if c1 != 0:
                        res.services[svc] = ServiceState(built=False, state="not started", detail=_last_line(o1))
                        ok.discard(svc)
        for svc in sorted(ok):
            for dep in (services[svc] or {}).get("depends_on") or {}:
                if dep not in ok and svc in ok:
                    ok.discard(svc)
                    res.services[svc] = ServiceState(state="not started", detail=f"dependency {dep} failed")
        if ok:
            code, out = self._call([*base, "up", "-d", "--no-build", *sorted(ok)], cwd, self.seconds + 120)
            api = self.engine.api

            def find() -> dict[str, str]:
                ids: dict[str, str] = {}
                for c in api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={name}"}):
                    svc = (c.get("Labels") or {}).get(SERVICE_LABEL)
                    if svc and svc not in ids:
                        ids[svc] = c["Id"]
                return ids

            seen = observe(api, find, sorted(ok), self.seconds)
            for svc, st in seen.items():
                st.built = True if svc in built else None
                if code != 0 and st.state == "not started":
                    st.detail = _last_line(out)
                res.services[svc] = st
        return res

    # ----------------------------------------------------------------- Dockerfile only
    def _run_dockerfile(self, dockerfile: Path) -> UnitRun:
        res = UnitRun()
        refs, why = base_images(dockerfile)
        missing = _missing(self.engine, refs)
        if why or missing:
            res.not_verified["(image)"] = why or f"base image {safe(missing[0], 80)} is not local (nothing is pulled)"
            return res
        api = self.engine.api
        tag = f"{self._name()}:verify"
        self.projects.append(([tag], dockerfile.parent))
        log: list[str] = []
        try:
            for chunk in api.build(path=str(dockerfile.parent), dockerfile=dockerfile.name, tag=tag, rm=True,
                                   forcerm=True, pull=False, decode=True, labels={LABEL: self.run_id}):
                if isinstance(chunk, dict) and isinstance(chunk.get("stream"), str):
                    log.append(chunk["stream"])
                    self.layers[:] = [*dict.fromkeys([*self.layers, *new_layers("".join(log))])]
                if isinstance(chunk, dict) and chunk.get("error"):
                    res.services["(image)"] = ServiceState(built=False, state="not started",
                                                           detail=clean(str(chunk["error"])))
                    return res
        except Exception as exc:  # noqa: BLE001 - the SDK raises several kinds for a failed build
            res.services["(image)"] = ServiceState(built=False, state="not started", detail=clean(str(exc)))
            return res
        cid = api.create_container(tag, detach=True, labels={LABEL: self.run_id},
                                   host_config=api.create_host_config(publish_all_ports=True))["Id"]
        api.start(cid)
        st = observe(api, lambda: {"(image)": cid}, ["(image)"], self.seconds)["(image)"]
        st.built = True
        res.services["(image)"] = st
        return res

    # ----------------------------------------------------------------- teardown
    def teardown(self) -> list[str]:
        """Remove every container, network, volume and image this runner made; problems left."""
        problems: list[str] = []
        # A second Ctrl-C must not stop the cleanup; signals exist only in the main thread
        # (the TUI verifies in a worker thread, where Ctrl-C never arrives anyway).
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            if self._proc is not None and self._proc.poll() is None:
                with contextlib.suppress(OSError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
            for args, cwd in self.projects:
                if len(args) > 1:
                    self._call([*args, "down", "-v", "--remove-orphans", "-t", "1"], cwd, 120)
            api = self.engine.api
            prefix = f"lockdock-verify-{self.run_id}-"
            for c in api.containers(all=True, filters={"label": LABEL + "=" + self.run_id}) + [
                c for c in api.containers(all=True, filters={"label": PROJECT_LABEL})
                if (c.get("Labels") or {}).get(PROJECT_LABEL, "").startswith(prefix)
            ]:
                try:
                    api.remove_container(c["Id"], force=True, v=True)
                except Exception as exc:  # noqa: BLE001
                    if "No such container" not in str(exc):
                        problems.append(f"container {c['Id'][:12]}: {safe(exc, 120)}")
            for n in api.networks(filters={"label": PROJECT_LABEL}):
                if (n.get("Labels") or {}).get(PROJECT_LABEL, "").startswith(prefix):
                    try:
                        api.remove_network(n["Id"])
                    except Exception as exc:  # noqa: BLE001
                        problems.append(f"network {safe(n.get('Name'), 60)}: {safe(exc, 120)}")
            for v in (api.volumes(filters={"label": PROJECT_LABEL}) or {}).get("Volumes") or []:
                if (v.get("Labels") or {}).get(PROJECT_LABEL, "").startswith(prefix):
                    try:
                        api.remove_volume(v["Name"], force=True)
                    except Exception as exc:  # noqa: BLE001
                        problems.append(f"volume {safe(v.get('Name'), 60)}: {safe(exc, 120)}")
            for img in api.images(filters={"reference": prefix + "*"}):
                try:
                    api.remove_image(img["Id"], force=True)
                except Exception as exc:  # noqa: BLE001
                    if "No such image" not in str(exc):
                        problems.append(f"image {img['Id'][:19]}: {safe(exc, 120)}")
            for layer in reversed(self.layers):  # newest first: a child goes before its parent
                with contextlib.suppress(Exception):  # in use or gone: not ours to force
                    api.remove_image(layer)
            self.layers.clear()
        except Exception as exc:  # noqa: BLE001 - engine trouble: say what may be left
            problems.append(f"cleanup failed: {safe(exc, 200)} (look for objects named {self.run_id})")
        finally:
            if main:
                signal.signal(signal.SIGINT, old)
        self.projects.clear()
        return problems


_STEP_FROM = re.compile(r"^Step \d+/\d+ : FROM\b", re.IGNORECASE)
_LAYER = re.compile(r"^---> ([0-9a-f]{12,64})$")


def new_layers(log: str) -> list[str]:
    """Image ids a classic-builder log shows as made by this build (not cached, not a base)."""
    out: list[str] = []
    reused = False
    for line in log.splitlines():
        s = line.strip()
        if _STEP_FROM.match(s) or s.startswith("---> Using cache"):
            reused = True
            continue
        m = _LAYER.match(s)
        if m:
            if not reused:
                out.append(m.group(1))
            reused = False
    return out


def clean(text: str, limit: int = 200) -> str:
    """Output of the compose CLI or a build, fit to show: secret values masked, plain text."""
    from lockdock.engine.images import redact

    return safe(redact(text), limit)


_TELLING = re.compile(r"returned a non-zero code|did not complete successfully|no such file|not found|denied",
                      re.IGNORECASE)


def _last_line(text: str) -> str:
    """The line of a command's output that says what went wrong (else its last line)."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    telling = [ln for ln in lines if _TELLING.search(ln)]
    return clean((telling or lines)[-1]) if lines else ""
