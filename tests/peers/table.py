"""The per-peer coverage table: rules caught / in scope, and the out-of-scope list with reasons.

`outcome(row, fired)` judges one row from {slug: check ids reported on its target};
`render(fired)` is the text table `bench/peer_coverage.py` prints.
"""

from __future__ import annotations

from tests.peers.catalogue import PEERS
from tests.peers.rows import Row

CAUGHT, MISSED, NOT_RUN, OUT = "caught", "MISSED", "not run", "out of scope"


def skeleton_of(row: Row) -> str:
    return f"skeleton-{row.kind.lower()}"


def outcome(row: Row, fired: dict[str, set[str]]) -> str:
    """caught: the expected id fired on the row's target (and, for a row built on a
    skeleton, not on the skeleton); MISSED otherwise; `not run` when its target was not
    scanned (no engine); `out of scope` for rows without an input."""
    if row.out_of_scope:
        return OUT
    if row.slug not in fired:
        return NOT_RUN
    if row.expect not in fired[row.slug]:
        return MISSED
    if row.on_skeleton and row.expect in fired.get(skeleton_of(row), set()):
        return MISSED
    return CAUGHT


def render(fired: dict[str, set[str]], *, verbose: bool = False) -> str:
    """The table, one block per peer; `verbose` lists every in-scope row with its check id."""
    lines: list[str] = []
    total_caught = total_scope = 0
    for heading, rows in PEERS:
        results = [(row, outcome(row, fired)) for row in rows]
        scope = [r for r, o in results if o != OUT]
        caught = [r for r, o in results if o == CAUGHT]
        total_caught += len(caught)
        total_scope += len(scope)
        out = [r for r, o in results if o == OUT]
        lines.append(f"{heading}: {len(caught)}/{len(scope)} security rules caught; "
                     f"{len(out)} out of scope; {len(rows)} rules listed")
        for row, result in results:
            if result in (MISSED, NOT_RUN):
                lines.append(f"  {result}: {row.rule} ({row.summary}) -> expected {row.expect}")
            elif result == CAUGHT and verbose:
                lines.append(f"  caught: {row.rule} ({row.summary}) -> {row.expect}")
        for row in out:
            lines.append(f"  out of scope: {row.rule} ({row.summary}): {row.out_of_scope}")
    lines.append(f"all peers: {total_caught}/{total_scope} in-scope rules caught")
    return "\n".join(lines)
