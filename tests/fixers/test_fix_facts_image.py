"""Image facts read from a real local image (busybox FROM scratch) and from start text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lockdock.context import ScanContext
from lockdock.engine.imagefacts import ImageFacts, image_facts, parse_passwd, start_program
from lockdock.startfacts import analyze

# A postgres-style image: starts as root, chowns its data volume, then drops to `app`.
ENTRYPOINT = """#!/bin/sh
set -e
file_env() { :; }
file_env 'APP_PASSWORD'
if [ "$(id -u)" = '0' ]; then
  mkdir -p /data/pg
  chown -R app:app /data
  exec su -s /bin/sh app -c "$0 $*"
fi
echo started >> /var/log/app.log
exec "$@"
"""
DROPPING = (
    "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
    "RUN mkdir -p /etc /data /var/log /usr/local/bin && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && "
    "echo 'app:x:70:71:app:/data:/bin/sh' >> /etc/passwd && printf 'root:x:0:\\napp:x:71:\\n' > /etc/group && "
    "chown 70:71 /var/log\n"
    "COPY entry.sh /usr/local/bin/docker-entrypoint.sh\nRUN chmod 755 /usr/local/bin/docker-entrypoint.sh\n"
    "VOLUME /data\nEXPOSE 5432\nENTRYPOINT [\"docker-entrypoint.sh\"]\nCMD [\"sleep\", \"3600\"]\n"
)


def test_start_text_patterns() -> None:
    got = analyze(ENTRYPOINT)
    assert got.drops == ["su"]
    assert got.chowns == ["/data"]
    assert "/data/pg" in got.writes and "/var/log/app.log" in got.writes
    assert got.file_env == ["APP_PASSWORD"]
    assert got.execs_args
    gosu = analyze('exec gosu postgres "$BASH_SOURCE" "$@"\n: "${POSTGRES_PASSWORD_FILE:-}"')
    assert gosu.drops == ["gosu"] and gosu.file_env == ["POSTGRES_PASSWORD"]
    plain = analyze("exec httpd -f -p 8080 -h /www 2>/dev/null")
    assert not plain.drops and plain.writes == [] and plain.ports == [8080]
    # "su" inside words or paths is not a privilege drop
    assert analyze("cat /etc/subuid; consul agent -dev").drops == []


def test_start_program_and_passwd() -> None:
    assert start_program(["docker-entrypoint.sh"], ["postgres"]) == ("docker-entrypoint.sh", "postgres")
    assert start_program([], ["sh", "-c", "echo hi > /x"]) == (None, "echo hi > /x")
    assert start_program([], []) == (None, "")
    accts = parse_passwd("root:x:0:0::/root:/bin/sh\nbroken\nnobody:x:65534:65534::/:/bin/false\n")
    assert [(a.name, a.uid) for a in accts] == [("root", 0), ("nobody", 65534)]
    f = ImageFacts("sha256:x", user="nobody", accounts=accts, groups={"nogroup": 65534})
    assert f.uid_gid("nobody") == (65534, 65534) and f.uid_gid("1000:nogroup") == (1000, 65534)
    assert f.uid_gid("ghost") is None and not f.starts_as_root
    assert ImageFacts("sha256:x", user="0:0").starts_as_root


@pytest.mark.engine
def test_facts_of_a_dropping_image(build_image: Any, docker_api: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    tag = build_image(DROPPING, files={"entry.sh": ENTRYPOINT})
    from lockdock.scan import connect_engine

    ctx = ScanContext(cwd=tmp_path)
    connect_engine(ctx)
    facts = image_facts(tag, ctx)
    assert facts is not None and not facts.problems, facts and facts.problems
    assert facts.starts_as_root and facts.drops_privileges
    assert facts.scripts == ["/usr/local/bin/docker-entrypoint.sh"]
    assert facts.uid_gid("app") == (70, 71)
    assert facts.volumes == ["/data"] and facts.exposed == [5432]
    assert facts.start.file_env == ["APP_PASSWORD"] and facts.start.chowns == ["/data"]
    assert facts.owner("/var/log")[:2] == (70, 71)
    # cached on disk per image id: a fresh context reads the same facts without the stream
    again = image_facts(tag, ScanContext(cwd=tmp_path, engine=ctx.engine))
    assert again == facts
    assert list((tmp_path / "cache" / "lockdock" / "images").glob("*.facts.json"))
    assert image_facts("lockdock-no-such-image:0", ctx) is None
    assert image_facts(tag, ScanContext(cwd=tmp_path, use_engine=False)) is None
