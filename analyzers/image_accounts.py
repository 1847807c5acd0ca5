"""Image check on the account files the final filesystem holds (dockle DKL-LI-0001/0002).

/etc/passwd and /etc/shadow are taken from the newest layer that wrote them (whiteouts
and opaque directories applied). An account with an empty password field (empty hash
in shadow, or empty second field in passwd) lets anyone with a shell log in as it
without a password; a second UID 0 account is root under another name.
"""

from __future__ import annotations

from collections.abc import Iterator

from lockdock.context import ScanContext
from lockdock.engine.images import ImageContents
from lockdock.engine.layerfacts import ACCOUNT_PATHS, MAX_ACCOUNT_FILE, AccountFile, deleted_by
from lockdock.model import Finding, TargetKind
from lockdock.payloads.engine import AccountEntries
from lockdock.registry import analyzer
from lockdock.sources import ImageSubject
from lockdock.text import safe


def final_account_file(contents: ImageContents, path: str) -> tuple[AccountFile, int] | None:
    """The account file at `path` as the final filesystem has it, and the layer that wrote
    it; None when no layer wrote it or a later layer deleted it."""
    layers = contents.layers
    for i in range(len(layers) - 1, -1, -1):
        lf = layers[i]
        if lf is None or path not in lf.accounts:
            continue
        if any(later is not None and deleted_by(path, later) for later in layers[i + 1:]):
            return None
        return AccountFile.from_json(lf.accounts[path]), i
    return None


@analyzer(TargetKind.IMAGE, "image.accounts")
def accounts(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    contents = image.load(ctx)
    if contents is None:
        return
    for path in ACCOUNT_PATHS:
        found = final_account_file(contents, path)
        if found is None:
            continue
        account_file, layer = found
        ref = image.layer_ref(layer)
        if not account_file.read:
            ctx.warn(None, f"image {image.target.name}: /{path} (layer {ref.index}) is larger than "
                     f"{MAX_ACCOUNT_FILE // 1024} KiB or not a regular file; its accounts are not checked",
                     target=image.target.key)
            continue
        empty = [name for name, _uid, is_empty in account_file.entries if is_empty]
        if empty:
            field = "password hash" if path.endswith("shadow") else "password field"
            yield Finding(
                "image.accounts", image.target,
                f"/{path} (written by layer {ref.index}) has accounts with an empty {field}: "
                f"{', '.join(safe(n, 40) for n in empty[:10])}; anyone with a shell logs in as them "
                "without a password (lock them: passwd -l, or `*`/`!` in the field)",
                image.location(ref), payload=AccountEntries("empty-password", "/" + path, tuple(empty)),
            )
        extra_root = [name for name, uid, _e in account_file.entries if uid == 0 and name != "root"]
        if extra_root:
            yield Finding(
                "image.accounts", image.target,
                f"/{path} (written by layer {ref.index}) gives UID 0 to accounts besides root: "
                f"{', '.join(safe(n, 40) for n in extra_root[:10])}; each one is root under another name",
                image.location(ref), payload=AccountEntries("extra-uid0", "/" + path, tuple(extra_root)),
            )
