"""History pairing without the saved config, and masking of history commands."""

from __future__ import annotations

from lockdock.engine.images import pair_history, redact

TOKEN = "ghp_" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8"


def _raw(entries):
    # The API lists newest first.
    return [{"CreatedBy": c, "Size": s, "Created": 0} for c, s in reversed(entries)]


def test_pairing_by_size_and_metadata_instructions():
    raw = _raw([
        ("/bin/sh -c #(nop) ADD file:x in /", 100),
        ("/bin/sh -c #(nop)  ENV A=b", 0),
        ("/bin/sh -c true", 0),  # a size-0 layer still is a layer
        ("/bin/sh -c #(nop)  CMD [\"sh\"]", 0),
    ])
    entries = pair_history(raw, ["sha256:a", "sha256:b"], None, {})
    assert [e.layer for e in entries] == [0, None, 1, None]
    assert entries[2].digest == "sha256:b"


def test_exact_flags_win_over_heuristics():
    raw = _raw([("a", 10), ("b", 0), ("c", 0)])
    entries = pair_history(raw, ["sha256:a", "sha256:b"], [False, True, False], {})
    assert [e.empty for e in entries] == [False, True, False]


def test_image_without_history_gets_one_entry_per_layer():
    entries = pair_history([], ["sha256:a", "sha256:b"], None, {})
    assert [(e.index, e.layer, e.created_by) for e in entries] == [(0, 0, "(no history)"), (1, 1, "(no history)")]


def test_redact_masks_build_args_and_tokens():
    cmd = f"|2 DB_PASSWORD=hunter2hunter2 MODE=prod /bin/sh -c curl -H 'x: {TOKEN}' https://u:pa55word@h/x"
    out = redact(cmd)
    assert "hunter2hunter2" not in out and TOKEN not in out and "pa55word" not in out
    assert "MODE=prod" in out and "DB_PASSWORD=" in out
