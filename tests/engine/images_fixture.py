"""Planted-problem images loaded into the real engine from generated tarballs."""

from __future__ import annotations

import tarfile
import uuid
from datetime import UTC, datetime
from typing import Any

from .tarkit import Entry, file, layer, legacy_save

GH_TOKEN = "ghp_" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2"
ENV_PASSWORD = "s3cr3t-Pa55w0rd-value"
SECRET_FILE_BODY = b"DB_PASSWORD=correct-horse-battery-staple\n"


def _tag(kind: str, version: str) -> str:
    return f"lockdock-test-{kind}-{uuid.uuid4().hex[:8]}:{version}"


def risky_image() -> tuple[bytes, str]:
    """Root, no healthcheck, env secrets, a deleted secret file, setuid, apt lists, tools."""
    tag = _tag("risky", "latest")
    layers = [
        layer([
            file("etc/os-release", b'ID=debian\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'),
            file("usr/bin/apt-get", b"elf", 0o755),
            file("usr/bin/passwd", b"elf", 0o4755),
            Entry("bin", type=tarfile.DIRTYPE, mode=0o755),
        ]),
        layer([file("app/.env", SECRET_FILE_BODY, 0o600)]),
        layer([file("app/.wh..env", b"")]),
        layer([
            file("var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages", b"P" * 2048),
            file("var/lib/apt/lists/lock", b""),
            file("usr/bin/curl", b"elf", 0o755),
            file("usr/bin/gcc", b"elf", 0o755),
        ]),
    ]
    history = [
        {"created": "2020-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:0123abcd in / "},
        {"created": "2020-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ENV API_TOKEN=x", "empty_layer": True},
        {"created": "2020-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) COPY file:abc in /app/.env "},
        {"created": "2020-01-01T00:00:00Z", "created_by": "/bin/sh -c rm /app/.env"},
        {"created": "2020-01-01T00:00:00Z",
         "created_by": "|1 DB_PASSWORD=" + ENV_PASSWORD + " /bin/sh -c sudo apt-get update && curl -k https://x.example/a && apt-get install -y curl gcc"},
        {"created": "2020-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": True},
    ]
    config = {"Env": ["PATH=/usr/bin:/bin", f"API_TOKEN={GH_TOKEN}", f"DB_PASSWORD={ENV_PASSWORD}"], "Cmd": ["sh"]}
    return legacy_save(layers, tag, history, config), tag


def hardened_image() -> tuple[bytes, str]:
    """Non-root, healthcheck, alpine, version tag, nothing planted."""
    tag = _tag("hardened", "1.2.3")
    layers = [
        layer([
            file("etc/os-release", b'ID=alpine\nPRETTY_NAME="Alpine Linux v3.20"\n'),
            file("bin/busybox", b"elf", 0o755),
        ]),
        layer([file("app/server", b"elf", 0o755)]),
    ]
    now = "2099-01-01T00:00:00Z"  # never stale for the freshness check
    history = [
        {"created": now, "created_by": "/bin/sh -c #(nop) ADD file:feed in / "},
        {"created": now, "created_by": "COPY server /app/server # buildkit", "comment": "buildkit.dockerfile.v0"},
        {"created": now, "created_by": "USER 1000:1000", "empty_layer": True},
        {"created": now, "created_by": "HEALTHCHECK &{[\"CMD\" \"/app/server\" \"-health\"]}", "empty_layer": True},
    ]
    config: dict[str, Any] = {
        "User": "1000:1000",
        "Env": ["PATH=/bin"],
        "Healthcheck": {"Test": ["CMD", "/app/server", "-health"]},
    }
    data = legacy_save(layers, tag, history, config, created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return data, tag


def history_heavy_image(entries: int = 200) -> tuple[bytes, str]:
    """An image with 200 history entries over 20 layers."""
    tag = _tag("history", "2.0")
    layers = [layer([file(f"data/f{i}", b"d")]) for i in range(20)]
    history = []
    for i in range(entries):
        nonempty = i % (entries // 20) == 0 and len([h for h in history if not h.get("empty_layer")]) < 20
        h: dict[str, Any] = {"created": "2099-01-01T00:00:00Z", "created_by": f"/bin/sh -c step {i}"}
        if not nonempty:
            h["empty_layer"] = True
        history.append(h)
    return legacy_save(layers, tag, history, {"User": "app"}), tag
