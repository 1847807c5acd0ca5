"""The ShellCheck pre-filter (`shellcheck.needs_shellcheck`) drops scripts, never hits.

Each case is checked twice through ShellCheck itself: with the filter, and with every RUN
script sent; the hits lockdock keeps must be the same. The cases gather the shapes the
filter reasons about (cd in lists and conditions, rm -r with system paths, globs, braces
and expansions, destructive commands with expansions, commands hidden in `$(...)` or in
function bodies) plus the Dockerfiles of ../shared and of the real-world corpus when present.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lockdock.dockerfile import parse_dockerfile, shellcheck
from lockdock.dockerfile.model import Dockerfile, DockerfileError
from lockdock.dockerfile.shell import Script, split_commands

SCRIPTS = [
    "cd /src; make",
    "cd /src && make",
    "make && cd /src",
    "a || cd /src && b",
    "if cd /x; then make; fi",
    "(cd /x; make) && true",
    "pushd /x; popd",
    "pushd -n /x; true",
    "X=$(cd /tmp; pwd) && echo $X",
    "X=`cd /tmp; pwd` && echo $X",
    "set -e; cd /x; make",
    "cd .. ; make",
    "cd -- \"$D\"; make",
    "f(){ rm -rf $X/; }; f",
    "f () { cd /x; }; f",
    "rm -rf /usr/*",
    "rm -rf /usr",
    "rm -rf \"/usr\"/",
    "rm -R //var//",
    "rm -r /{bin,sbin}/x",
    "rm -r /{{usr,},{bin,sbin}}/$exec",
    "rm -fr /home/$(whoami)/*",
    "rm --recursive /etc/*$config*",
    "rm -rf \"$STEAMROOT/\"*",
    "rm -rf ${ROOT:?}/x",
    "rm -rf /var/lib/apt/lists/*",
    "rm -f /usr",
    "sudo rm -rf $DIR/",
    "/bin/rm -rf \"$D\"/*",
    "find / -name '*.pyc' -exec rm -rf {} +",
    "rm *.txt",
    "rm -- *.txt",
    "chmod 644 ?.conf",
    "cp *.conf /etc/",
    "echo *.conf",
    "for f in $(ls); do rm $f; done",
    "chown $USER:$USER /app",
    "mv $(ls /x) /y",
    "ln -s $@ /x",
    "chmod 755 $*",
    "rm `cat list`",
    "X=$Y rm -rf foo",
    "echo rm -rf /usr",
    "cat <<EOF > /x\ncd /tmp\nrm -rf $HOME/\nEOF",
    "case $A in x) rm -rf $B/ ;; y) cd /z ;; esac",
    "apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*",
    "echo \"export PATH=/opt/bin:$PATH\" >> /etc/profile && chmod 0755 /usr/local/bin/tool",
    "curl -fsSL https://x/t.tgz | tar xz -C /usr/local/bin && rm -rf /tmp/*",
    "while read f; do shred -u \"$f\"; done < list",
    "rm -rf \\$X/",
]


def _dockerfile(body: str) -> Dockerfile:
    if "\n" in body:
        return parse_dockerfile(f"FROM debian:12\nRUN <<EOS\n{body}\nEOS\n")
    return parse_dockerfile(f"FROM debian:12\nRUN {body}\n")


def _hits(dfs: list[Dockerfile], exe: str) -> list[list[tuple]]:
    shellcheck._COMMENTS.clear()
    for df in dfs:
        df.cache.pop("shellcheck_scripts", None)  # chosen again, with the filter of the moment
    return [
        sorted((h.code, h.line, h.column, h.kind, h.program) for h in shellcheck._run_many([df], exe)[0][0]) for df in dfs
    ]


def _same_hits(dfs: list[Dockerfile], monkeypatch: pytest.MonkeyPatch) -> int:
    exe = shutil.which("shellcheck")
    assert exe is not None
    filtered = _hits(dfs, exe)
    with monkeypatch.context() as m:
        m.setattr(shellcheck, "needs_shellcheck", lambda script: True)
        everything = _hits(dfs, exe)
    for df, a, b in zip(dfs, filtered, everything, strict=True):
        assert a == b, (df.text[:300], a, b)
    return sum(map(len, everything))


needs_binary = pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")


@needs_binary
def test_filter_keeps_every_hit_of_the_shapes_it_reasons_about(monkeypatch: pytest.MonkeyPatch) -> None:
    dfs = [_dockerfile(s) for s in SCRIPTS]
    assert _same_hits(dfs, monkeypatch) >= 20  # the cases do give hits: the comparison is not empty


def _dockerfiles_under(root: Path) -> list[Dockerfile]:
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and "ockerfile" in p.name and p.stat().st_size < 200_000:
            try:
                out.append(parse_dockerfile(p.read_text(encoding="utf-8", errors="replace"), p))
            except DockerfileError:
                continue
    return out


@needs_binary
def test_filter_keeps_every_hit_on_shared_dockerfiles(shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dfs = _dockerfiles_under(shared_dir)
    assert dfs
    _same_hits(dfs, monkeypatch)


REALWORLD = Path("/tmp/rw/corpus")


@needs_binary
@pytest.mark.skipif(not REALWORLD.is_dir(), reason="no real-world corpus at /tmp/rw/corpus")
def test_filter_keeps_every_hit_on_the_realworld_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    _same_hits(_dockerfiles_under(REALWORLD), monkeypatch)


def _script(text: str) -> Script:
    return Script(text, lambda i: i, split_commands(text))


@pytest.mark.parametrize(
    "text",
    [
        "apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*",
        "cd /src && make",
        "echo \"PATH=$PATH\" >> /etc/profile && chmod 0755 /usr/local/bin/tool",
        "find / -name x -exec rm -rf {} +",
        "rm -f /usr",
        "echo *.conf $HOME",
    ],
)
def test_scripts_with_nothing_reportable_are_not_sent(text: str) -> None:
    assert not shellcheck.needs_shellcheck(_script(text))


@pytest.mark.parametrize(
    "text",
    ["cd /x; make", "make && cd /x", "rm -rf /usr/", "rm -r /{bin,sbin}", "rm -rf $D/x", "rm *.txt",
     "chown $U /x", "X=$(cd /x; pwd)", "f(){ rm -rf $X/; }"],
)
def test_scripts_that_can_give_a_kept_hit_are_sent(text: str) -> None:
    assert shellcheck.needs_shellcheck(_script(text))


@needs_binary
def test_programs_spelt_with_quotes_are_still_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    dfs = [_dockerfile(s) for s in ('r"m" -rf $X/', "c'd' /x; make", '\\cd /x; make', '"chmod" 1 $Y')]
    assert all(shellcheck._scripts(df) for df in dfs)
    _same_hits(dfs, monkeypatch)
