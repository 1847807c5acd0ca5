"""Extra local Docker engines for fleet tests and the fleet benchmark.

Each engine is a real dockerd with its own socket, data-root, exec-root (so its own
managed containerd), pidfile and its own bridge interface made with `ip link add`
(`--bridge=NAME --iptables=false --ip-masq=false`; never `--bridge none`, which would
delete the host's docker0). It is stopped by its pid and its bridge removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


class DockerdUnavailable(RuntimeError):
    """This machine cannot start another dockerd (the reason is the message)."""


@dataclass
class ExtraDockerd:
    base: Path
    bridge: str
    proc: subprocess.Popen[bytes]

    @property
    def socket(self) -> Path:
        return self.base / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def docker(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the docker CLI against this engine."""
        return subprocess.run(["docker", "-H", self.host, *args], capture_output=True, text=True,
                              timeout=timeout, check=check)

    def kill(self) -> None:
        """Kill the daemon at once (SIGKILL): an engine dying mid-scan."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop the daemon by pid, wait for it, remove its bridge and directories."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
                self.proc.wait(timeout=10)
        # Its managed containerd and shims leave with it; a killed dockerd may leave them.
        _kill_children_of(self.base)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)
        # A stopped or killed dockerd leaves mounts below its directories (data-root bound
        # onto itself; swarm's network namespaces, nsfs, under exec-root/netns): every one
        # is unmounted, deepest first, so the directories can go.
        for point in _mounts_under(self.base):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
        shutil.rmtree(self.base, ignore_errors=True)


def _mounts_under(base: Path) -> list[str]:
    """Mount points at or below `base` (from /proc/self/mounts), deepest first."""
    prefix = str(base).rstrip("/") + "/"
    points = []
    with contextlib.suppress(OSError), open("/proc/self/mounts", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 1:
                point = fields[1].replace("\\040", " ")
                if point == str(base) or point.startswith(prefix):
                    points.append(point)
    return sorted(set(points), key=len, reverse=True)


def _kill_children_of(base: Path) -> None:
    """Processes whose command line names `base` (its containerd, shims): SIGKILL by pid."""
    needle = str(base).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmd and (b"containerd" in cmd or b"dockerd" in cmd):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def start_dockerd(base: Path, *, wait: float = 90.0) -> ExtraDockerd:
    """Start another dockerd under `base` (a fresh directory); raises `DockerdUnavailable`."""
    if os.geteuid() != 0:
        raise DockerdUnavailable("starting a dockerd needs root")
    for tool in ("dockerd", "ip", "docker"):
        if shutil.which(tool) is None:
            raise DockerdUnavailable(f"{tool} is not installed")
    base.mkdir(parents=True, exist_ok=True)
    bridge = f"ldf{os.getpid() % 10000}{random.randrange(1000):03d}"[:15]
    added = subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], capture_output=True, text=True, check=False)
    if added.returncode != 0:
        raise DockerdUnavailable(f"cannot create bridge {bridge}: {added.stderr.strip()}")
    subnet = f"10.{random.randrange(200, 250)}.{random.randrange(1, 250)}.1/24"
    subprocess.run(["ip", "addr", "add", subnet, "dev", bridge], capture_output=True, check=False)
    subprocess.run(["ip", "link", "set", bridge, "up"], capture_output=True, check=False)
    log = open(base / "dockerd.log", "wb")  # noqa: SIM115 - lives as long as the daemon
    proc = subprocess.Popen(
        ["dockerd", "-H", f"unix://{base / 'docker.sock'}", "--data-root", str(base / "data"),
         "--exec-root", str(base / "exec"), "--pidfile", str(base / "docker.pid"),
         "--bridge", bridge, "--iptables=false", "--ip-masq=false", "--storage-driver", "vfs"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    engine = ExtraDockerd(base, bridge, proc)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            engine.stop()
            tail = (base / "dockerd.log").read_text(errors="replace")[-600:] if (base / "dockerd.log").exists() else ""
            raise DockerdUnavailable(f"dockerd exited ({proc.returncode}): {tail}")
        if engine.socket.exists() and engine.docker("version", "--format", "{{.Server.Version}}",
                                                     timeout=10, check=False).returncode == 0:
            return engine
        time.sleep(0.3)
    engine.stop()
    raise DockerdUnavailable(f"dockerd did not answer within {wait:g} s")


def load_busybox(engine: ExtraDockerd, tag: str, labels: dict[str, str]) -> None:
    """Build a FROM-scratch busybox image on `engine` (nothing is pulled)."""
    ctxdir = engine.base / "bb-build"
    ctxdir.mkdir(exist_ok=True)
    shutil.copy("/bin/busybox", ctxdir / "busybox")
    (ctxdir / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
        "CMD [\"/bin/sh\", \"-c\", \"sleep 3600\"]\n")
    label_args = [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]
    engine.docker("build", "-q", *label_args, "-t", tag, str(ctxdir), timeout=180)
