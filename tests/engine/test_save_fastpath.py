"""The fast per-entry paths of the save stream against the frozen field-by-field oracle.

tests/engine/save_reference.py keeps the straightforward parse (one `_number` per field,
`sum()` checksum, posixpath and the regexes for every path); these tests run it and the
current code over the same hostile tars (GNU long names, PAX, base-256 numbers, odd
padding, sparse, hard links, whiteouts, setuid, devices, non-UTF-8 names, damaged and
mutated headers, short reads) and want the same entries, the same errors and the same
LayerFacts.
"""

from __future__ import annotations

import io
import random
import tarfile

import pytest

from lockdock.engine import tarstream
from lockdock.engine.layerfacts import LayerScanner, _secret_name, normalise
from lockdock.engine.tarstream import TarReader, _byte_sum, _octal
from lockdock.secrets import secret_file
from tests.engine import save_reference as ref


class Dribble:
    """A raw stream that hands out at most `step` bytes per read (short reads)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step

    def read(self, n: int) -> bytes:
        out = self._data[self._pos : self._pos + min(n, self._step)]
        self._pos += len(out)
        return out


def _raw_header(name: bytes = b"f", *, mode: bytes = b"0000644\0", uid: bytes = b"0001750\0",
                gid: bytes = b"0001750\0", size: bytes = b"00000000005\0", kind: bytes = b"0",
                link: bytes = b"", magic: bytes = b"ustar\x0000", prefix: bytes = b"",
                chksum: str = "std") -> bytes:
    h = bytearray(512)
    h[0:100] = name[:100].ljust(100, b"\0")
    h[100:108], h[108:116], h[116:124] = mode, uid, gid
    h[124:136] = size
    h[136:148] = b"14707315400\0"
    h[156:157] = kind
    h[157:257] = link[:100].ljust(100, b"\0")
    h[257:265] = magic
    h[345:500] = prefix[:155].ljust(155, b"\0")
    h[148:156] = b" " * 8
    total = sum(h)
    if chksum == "std":
        h[148:156] = b"%06o\0 " % total
    elif chksum == "spaces":
        h[148:156] = b"  %04o\0 " % total if total < 0o10000 else b" %05o\0 " % total
    elif chksum == "nul-only":
        h[148:156] = b"%07o\0" % total
    elif chksum == "lead-nul":  # a NUL first: the field reads as 0, a mismatch
        h[148:156] = b"\0%05o\0 " % total
    elif chksum == "space-pad":
        h[148:156] = b" %05o\0 " % total
    elif chksum == "base256":
        h[148:156] = b"\x80" + total.to_bytes(7, "big")
    elif chksum == "off-by-65521":
        h[148:156] = b"%07o\0" % (total + 65521)
    elif chksum == "off-by-255":
        h[148:156] = b"%07o\0" % (total + 255)
    return bytes(h)


def _member(header: bytes, data: bytes = b"") -> bytes:
    return header + data + b"\0" * (-len(data) % 512)


def _hostile_members() -> list[bytes]:
    """Single-member tars, each odd in one way (some are errors for both readers)."""
    out = []
    for chk in ("std", "lead-nul", "space-pad", "spaces", "nul-only", "base256", "off-by-65521", "off-by-255"):
        out.append(_member(_raw_header(chksum=chk), b"hello"))
    odd_numbers = [b"0000644\0", b"0000644 ", b" 000644\0", b"644     ", b"\0" * 8, b" " * 8,
                   b"00006 44", b"0o644\0\0\0", b"+644\0\0\0\0", b"6_44\0\0\0\0", b"\t644\0\0\0\0",
                   b"0000649\0", b"\x80\0\0\0\0\0\x01\xa4", b"\xff" * 8, b"12\0 34\0\0", b"7777777\0",
                   b"\x806\x34\x00\x00\x00\x00\x00", b"-1\0\0\0\0\0\0", b"0000644\n", b"\xc3\xa9644\0\0\0",
                   b"\0\x0012345\0", b" \0 12 \0\0\0"]
    for field in odd_numbers:
        out.append(_member(_raw_header(mode=field), b"hello"))
        out.append(_member(_raw_header(uid=field), b"hello"))
        out.append(_member(_raw_header(uid=field, gid=field[::-1]), b"hello"))
    for size in (b"\x80" + (5).to_bytes(11, "big"), b"777777777777", b"5          ", b"00000000005 ",
                 b"\0" * 12, b"0000000000x\0", b"\xff" * 12):
        out.append(_member(_raw_header(size=size), b"hello"))
    names = [b"usr/bin/\xff\xfename", b"etc/\x1b[31mred", b"a\x85b", b"/abs/path", b"x/../../etc/passwd",
             b"./etc/os-release", b"etc//shadow", b"d/", b"\xe2\x80\xa8line", b"K8s/Doc\xe2\x84\xaaerfile"]
    for name in names:
        out.append(_member(_raw_header(name=name), b"hello"))
    out.append(_member(_raw_header(name=b"name", prefix=b"deep/pre\0fix"), b"hello"))
    out.append(_member(_raw_header(name=b"name", prefix=b"\xffpre"), b"hello"))
    out.append(_member(_raw_header(name=b"name", prefix=b"pre", magic=b"ustar  \0"), b"hello"))
    out.append(_member(_raw_header(name=b"l", kind=b"2", link=b"\0target"), b""))
    out.append(_member(_raw_header(name=b"n" * 100, kind=b"2", link=b"t" * 100, prefix=b"p" * 155), b""))
    out.append(_member(_raw_header(name=b"l", kind=b"1", link=b"../x/./y", size=b"00000000000\0"), b""))
    for kind in (b"S", b"V", b"M", b"N", b"Z", b"\x00", b"7", b"3", b"4", b"6"):
        out.append(_member(_raw_header(kind=kind), b"hello"))
    for record in (b"path=pax/\xffname", b"uid=notanumber", b"gid=12345678901", b"size=7", b"size=x",
                   b"linkpath=pax/target", b"path=", b"uid=-5"):
        body = record + b"\n"
        line = b"%d " % (len(body) + 3) + body
        if len(line) != int(line.split(b" ")[0]):
            line = b"%d " % (len(body) + 4) + body
        out.append(_member(_raw_header(name=b"PaxHeaders/x", kind=b"x", size=b"%011o\0" % len(line)), line)
                   + _member(_raw_header(), b"hello"))
    for kind in (b"L", b"K"):
        long = b"long/" * 60 + b"\xffend\0junk"
        out.append(_member(_raw_header(name=b"././@LongLink", kind=kind, size=b"%011o\0" % len(long)), long)
                   + _member(_raw_header(kind=b"1" if kind == b"K" else b"0", size=b"00000000000\0"), b""))
    out.append(_member(_raw_header(name=b"g", kind=b"g", size=b"%011o\0" % 12), b"11 comment\n\0"))
    out.append(_member(_raw_header(kind=b"L", size=b"%011o\0" % ((1 << 20) + 1))))
    out.append(_raw_header()[:300])  # truncated header
    out.append(_raw_header())  # data missing
    return out


def _tarfile_layers() -> list[bytes]:
    names = ["etc/os-release", "usr/lib/os-release", "etc/passwd", "etc/shadow", "usr/bin/curl",
             "usr/local/bin/gcc-12.2", "bin/bash", "sbin/apk", "app/.env", "app/.env.example",
             "home/u/.ssh/id_rsa", "home/u/.ssh/known_hosts", "root/.aws/credentials", "src/.git/config",
             "app/Dockerfile", "app/docker-compose.prod.yml", "app/compose.yaml", "usr/share/x/Dockerfile",
             "node_modules/a/.git/HEAD", "var/lib/apt/lists/deb_dists", "var/cache/apt/archives/x.deb",
             "root/.cache/pip/http/a/b", "etc/ssl/private/server.key", "usr/share/ca/ca.pem",
             "run/secrets/db.txt", "deep/a/b/c/secrets/token.txt", "deep/a/b/c/service_account-1.json",
             "x/y/.wh.gone", "x/y/.wh..wh..opq", ".wh.top", "x/.wh..wh.plnk", "x/.wh.",
             "a\\b\\id_rsa", "conf/tls/public.key", "usr/lib/python3/site-packages/certifi/cacert.pem",
             "opt/conda/pkgs/x/Dockerfile", "ü/.env", "w/" + "n" * 300, "p/" + "q/" * 50 + "r.pem"]
    entries = []
    for i, name in enumerate(names):
        data = b"ID=alpine\nVERSION_ID=3.19\n" if "os-release" in name else (
            b"root:x:0:0::/root:/bin/sh\ntoor::0:0::/:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n"
            if name.endswith(("passwd", "shadow")) else bytes([i % 256]) * (i * 37 % 1500))
        mode = (0o4755, 0o2755, 0o6755, 0o644)[i % 4]
        entries.append((name, tarfile.REGTYPE, data, mode, ""))
    entries += [("dir/", tarfile.DIRTYPE, b"", 0o755, ""), ("src/.git", tarfile.DIRTYPE, b"", 0o755, ""),
                ("home/u/.ssh", tarfile.DIRTYPE, b"", 0o700, ""), ("usr/bin/nc", tarfile.SYMTYPE, b"", 0o777, "ncat"),
                ("usr/bin/sudo", tarfile.LNKTYPE, b"", 0o4755, "./usr/bin/../bin/su"),
                ("dev/null", tarfile.CHRTYPE, b"", 0o666, ""), ("dev/sda", tarfile.BLKTYPE, b"", 0o660, ""),
                ("run/fifo", tarfile.FIFOTYPE, b"", 0o644, ""), ("link/" + "t" * 150, tarfile.SYMTYPE, b"", 0o777, "z" * 150),
                ("sp", tarfile.GNUTYPE_SPARSE, b"", 0o644, "")]
    out = []
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
            for name, kind, data, mode, link in entries:
                info = tarfile.TarInfo(name)
                info.type, info.mode, info.linkname = kind, mode, link
                info.uid, info.gid = (70000000, 3) if fmt == tarfile.GNU_FORMAT else (1000, 1000)
                info.size = len(data) if kind == tarfile.REGTYPE else 0
                try:
                    tar.addfile(info, io.BytesIO(data) if data else None)
                except ValueError:
                    continue  # too long for ustar
        out.append(buf.getvalue())
    return out


def _mutants(seed: int, count: int) -> list[bytes]:
    """Valid tars with header fields overwritten (checksum fixed or not)."""
    rng = random.Random(seed)
    base = _tarfile_layers()
    fields = [(0, 100), (100, 108), (108, 116), (116, 124), (124, 136), (148, 156), (156, 157),
              (157, 257), (257, 265), (345, 500)]
    junk = [b"\0", b" ", b"\x80", b"\xff", b"7", b"8", b"0", b"/", b".", b"\x1b", b"_", b"o", b"\n", b"+"]
    out = []
    for _ in range(count):
        data = bytearray(rng.choice(base))
        headers = [i for i in range(0, len(data) - 512, 512) if data[i + 257 : i + 262] == b"ustar"]
        for _ in range(rng.randint(1, 3)):
            at = rng.choice(headers)
            lo, hi = rng.choice(fields)
            for _ in range(rng.randint(1, 4)):
                data[at + rng.randrange(lo, hi)] = rng.choice(junk)[0]
            if rng.random() < 0.8:
                data[at + 148 : at + 156] = b" " * 8
                data[at + 148 : at + 156] = b"%06o\0 " % sum(data[at : at + 512])
        cut = len(data) if rng.random() < 0.8 else rng.randrange(len(data))
        out.append(bytes(data[:cut]))
    return out


def _outcome(reader_cls, data: bytes, step: int):
    """Entries as tuples, the content read of every third regular entry, and the error."""
    reader = reader_cls(Dribble(data, step))
    seen = []
    try:
        for i, e in enumerate(reader.entries()):
            seen.append((e.name, e.linkname, e.size, e.mode, e.type, e.uid, e.gid))
            if i % 3 == 0 and e.isreg():
                seen.append(reader.read_data(min(e.size, 9)))
    except Exception as exc:  # noqa: BLE001 - the error is part of the outcome
        return seen, (type(exc).__name__, str(exc))
    return seen, None


def _facts(reader_cls, scanner_cls, data: bytes, step: int):
    scanner = scanner_cls("layer")
    reader = reader_cls(Dribble(data, step))
    try:
        for info in reader.entries():
            path = scanner.entry(info)
            if path is not None:
                scanner.content(path, reader.read_data(info.size))
    except Exception as exc:  # noqa: BLE001
        scanner.facts.stopped = f"{type(exc).__name__}: {exc}"
    return scanner.facts.to_json()


CORPUS = _hostile_members() + _tarfile_layers()


@pytest.mark.parametrize("step", [1 << 20, 4096, 511, 7])
def test_entries_match_the_reference_on_hostile_tars(step):
    for data in CORPUS:
        assert _outcome(TarReader, data, step) == _outcome(ref.ReferenceReader, data, step), data[:120]


def test_entries_match_the_reference_on_mutated_headers():
    for data in _mutants(seed=16, count=400):
        assert _outcome(TarReader, data, 1 << 20) == _outcome(ref.ReferenceReader, data, 1 << 20)
        assert _outcome(TarReader, data, 1000) == _outcome(ref.ReferenceReader, data, 1000)


def test_layer_facts_match_the_reference():
    checked = 0
    for data in CORPUS + _mutants(seed=61, count=150):
        new = _facts(TarReader, LayerScanner, data, 4096)
        old = _facts(ref.ReferenceReader, ref.ReferenceScanner, data, 4096)
        assert new == old
        checked += bool(new["files"] or new["whiteouts"] or new["os_release"] or new["accounts"])
    assert checked > 3  # the corpus does produce facts, not only errors


def test_the_corpus_reaches_every_kind_of_fact():
    kinds = set()
    for data in _tarfile_layers():
        facts = _facts(TarReader, LayerScanner, data, 1 << 20)
        kinds |= {f["kind"] for f in facts["files"]}
        assert facts["whiteouts"] and facts["opaque"] and facts["caches"] and facts["os_release"]
        assert facts["accounts"]["etc/passwd"]["entries"]
    assert kinds >= {"secret", "setuid", "setgid", "tool", "compiler", "pkgmgr", "shell", "context"}


def test_byte_sum_is_sum():
    rng = random.Random(5)
    blocks = [bytes(512), b"\xff" * 512, b"\xff" * 256 + bytes(256), b"\xff" * 257 + bytes(255)]
    for nonzero in (1, 100, 255, 256, 257, 300, 512):
        for _ in range(100):
            block = bytearray(512)
            for i in rng.sample(range(512), nonzero):
                block[i] = rng.choice((1, 48, 55, 127, 200, 255))
            blocks.append(bytes(block))
    for block in blocks:
        assert _byte_sum(block) == sum(block)


def test_octal_fast_path_is_number():
    rng = random.Random(8)
    alphabet = b"01234567 \0\t\n+-_o89x\x80\xff"
    fields = [bytes(rng.choice(alphabet) for _ in range(rng.choice((8, 12)))) for _ in range(20000)]
    fields += [b"\x80" + bytes(rng.randrange(256) for _ in range(11)) for _ in range(200)]
    for field in fields:
        try:
            want = ref.number(field)
        except tarstream.TarCorrupt as exc:
            want = str(exc)
        try:
            got = _octal(field)
        except tarstream.TarCorrupt as exc:
            got = str(exc)
        assert got == want, field


NAMES = [
    "a", "a/b", "usr/bin/curl", "etc/\x1b[0m", "a\x7fb", "a\x85b", "x\u2028y", "ü/é", "K8s/Doc\u212aerfile",
    "app/dockerfile.dev", "app/x.DOCKERFILE", "app/Docker-Compose.override.YML", "app/compose.yml", "app/compo\u017fe.yml",
    "s/.git", "s/.gitignore", "a/.aws/config", "home/u/.ssh/config", "usr/share/doc/Dockerfile",
    "node_modules/x/.git/HEAD", "Containerfile", "x/\u017fecrets.json", "a/.env", ".env.local",
    "a/b/.env.example", "deep/x/secrets/a.txt", "secrets/a.txt", "d/e/f/id_ed25519", "d/e/f/id_ed25519.pub",
    "x/ca-certificates.pem", "usr/lib/ssl/k.key", "etc/pki/tls/x.key", "a\\b/.netrc", "a/b\\.netrc",
    "r/service-account-prod.json", "usr/lib/python3.11/site-packages/x/k.pem", "one.pem", "/abs.key",
    "x/y/z/PUBLIC.key", "a/b/c/d.kdbx", "a/b/c/.git-credentials", "a/b/credentials.yaml", "x" * 300 + "/a.pem",
    "\u0131/.env", "a/.ENV", "x/y/My.P12", "x/y/.htpasswd", "d/ssl/certs/a.key", "d/etc/apt/trusted.gpg.d/k.asc",
]


def test_names_are_classified_as_the_reference_does():
    for name in NAMES + [n + "/" for n in NAMES] + ["./" + n for n in NAMES]:
        assert normalise(name) == ref.normalise(name), name
        path, _ = ref.normalise(name)
        if path:
            assert _secret_name(path) == secret_file("/" + path), path
        for is_dir in (False, True):
            new, old = LayerScanner("l"), ref.ReferenceScanner("l")
            if path:
                new._context(path, is_dir)
                old._context_reference(path, is_dir)
            assert new.facts.files == old.facts.files, (name, is_dir)
