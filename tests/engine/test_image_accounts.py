"""image.accounts: account files as the final layers leave them, against the real engine
(`docker load`ed archives), from `docker save` and from the local layer store."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from lockdock.engine.layerfacts import MAX_ACCOUNT_FILE, LayerScanner, parse_accounts
from lockdock.engine.tarstream import TarEntry
from tests.conftest import image_tarball
from tests.engine.test_images import layer_source, scan_image  # noqa: F401

ROOT_ONLY = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/sbin/nologin\n"
EXTRA_ROOT = ROOT_ONLY + b"toor:x:0:0::/root:/bin/sh\n"
SHADOW_LOCKED = b"root:*:19000:0:99999:7:::\nnobody:!:19000::::::\n"
SHADOW_EMPTY = SHADOW_LOCKED + b"guest::19000:0:99999:7:::\n"
PASSWD_EMPTY = ROOT_ONLY + b"guest::1000:1000::/home/guest:/bin/sh\n"
HASH = b"$6$saltsalt$" + b"h" * 86

IMAGES: dict[str, list[dict[str, Any]]] = {
    "bad": [{"etc/": None, "etc/passwd": EXTRA_ROOT, "etc/shadow": SHADOW_EMPTY}],
    "repaired": [
        {"etc/": None, "etc/passwd": EXTRA_ROOT, "etc/shadow": SHADOW_EMPTY},
        {"etc/": None, "etc/passwd": ROOT_ONLY, "etc/shadow": SHADOW_LOCKED.replace(b"root:*", b"root:" + HASH)},
    ],
    "shadow-deleted": [
        {"etc/": None, "etc/passwd": PASSWD_EMPTY, "etc/shadow": SHADOW_EMPTY},
        {"etc/": None, "etc/.wh.shadow": b""},
    ],
    "clean": [{"etc/": None, "etc/passwd": ROOT_ONLY, "etc/shadow": SHADOW_LOCKED}],
}


@pytest.fixture(scope="module")
def loaded(docker_api: Any, load_image_tar) -> dict[str, str]:
    tags = {}
    for name, layers in IMAGES.items():
        tag = f"lockdock-test-accounts-{name}-{uuid.uuid4().hex[:8]}:1"
        history = [{"created": "2026-01-01T00:00:00Z", "created_by": f"/bin/sh -c step {i}"} for i in range(len(layers))]
        load_image_tar(image_tarball(layers, tag=tag, history=history))
        tags[name] = tag
    yield tags
    for tag in tags.values():
        docker_api.remove_image(tag, force=True)


def _accounts(tag, tmp_path):
    _s, findings, ctx = scan_image(tag, tmp_path)
    return [f for f in findings if f.check == "image.accounts"], ctx


@pytest.mark.engine
def test_empty_password_and_second_uid0_reported_on_the_writing_layer(loaded, tmp_path):
    found, _ctx = _accounts(loaded["bad"], tmp_path)
    kinds = sorted((f.payload.kind, f.payload.path, f.payload.accounts) for f in found)
    assert kinds == [("empty-password", "/etc/shadow", ("guest",)), ("extra-uid0", "/etc/passwd", ("toor",))]
    assert all(f.location.image_layer is not None and f.location.image_layer.index == 0 for f in found)


@pytest.mark.engine
def test_files_rewritten_by_a_later_layer_are_judged_as_rewritten(loaded, tmp_path):
    found, _ctx = _accounts(loaded["repaired"], tmp_path)
    assert found == []
    found, _ctx = _accounts(loaded["clean"], tmp_path)
    assert found == []


@pytest.mark.engine
def test_whiteout_removes_shadow_and_passwd_field_counts(loaded, tmp_path):
    found, _ctx = _accounts(loaded["shadow-deleted"], tmp_path)
    assert [(f.payload.path, f.payload.accounts) for f in found] == [("/etc/passwd", ("guest",))]
    assert HASH.decode() not in found[0].message


def test_parse_accounts_keeps_no_hash():
    parsed = parse_accounts("etc/shadow", (SHADOW_EMPTY + b"admin:" + HASH + b":1::::::\n").decode())
    assert parsed.entries == [("guest", None, True)] and parsed.names == 4
    assert HASH.decode() not in repr(parsed.to_json())
    parsed = parse_accounts("etc/passwd", "+::::::\n# c\n" + EXTRA_ROOT.decode() + "bad line\n")
    assert parsed.entries == [("root", 0, False), ("toor", 0, False)]


def test_oversized_account_file_is_marked_unread():
    scanner = LayerScanner("l")
    big = TarEntry("etc/passwd", "", MAX_ACCOUNT_FILE + 1, 0o644, b"0")
    scanner.entry(big)
    assert scanner.wants_content(big) is None
    assert scanner.facts.accounts["etc/passwd"]["read"] is False
