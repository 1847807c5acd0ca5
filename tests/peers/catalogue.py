"""Every peer row, in table order."""

from __future__ import annotations

from tests.peers.rows import Row
from tests.peers.rules_dockerfile import (
    CHECKOV_ROWS,
    HADOLINT_ROWS,
    KICS_DOCKERFILE_ROWS,
    TRIVY_ROWS,
)
from tests.peers.rules_runtime import (
    BENCH2_ROWS,
    BENCH4_ROWS,
    BENCH5_ROWS,
    COMPOSE_LINT_ROWS,
    DOCKLE_ROWS,
    KICS_COMPOSE_ROWS,
)

# (table heading, rows)
PEERS: list[tuple[str, list[Row]]] = [
    ("hadolint", HADOLINT_ROWS),
    ("Trivy (Dockerfile misconfigurations)", TRIVY_ROWS),
    ("checkov (Dockerfile)", CHECKOV_ROWS),
    ("compose-lint", COMPOSE_LINT_ROWS),
    ("KICS (Dockerfile)", KICS_DOCKERFILE_ROWS),
    ("KICS (docker-compose)", KICS_COMPOSE_ROWS),
    ("dockle", DOCKLE_ROWS),
    ("docker-bench-security section 2 (daemon)", BENCH2_ROWS),
    ("docker-bench-security section 4 (images, build)", BENCH4_ROWS),
    ("docker-bench-security section 5 (container runtime)", BENCH5_ROWS),
]
ALL_ROWS: list[Row] = [row for _, rows in PEERS for row in rows]


def section(row: Row) -> str:
    """The table heading a row belongs to."""
    for heading, rows in PEERS:
        if any(r is row for r in rows):
            return heading
    raise KeyError(row.slug)
