"""Passwords set at build time stay masked wherever a RUN line or history command is shown.

Found by the peer table (checkov CKV2_DOCKER_17): the secrets finding masked the chpasswd
value, but the pipefail finding on the same RUN showed the line, and image findings showed
the raw history command in their layer detail.
"""

from __future__ import annotations

import pytest

from lockdock.dockerfile.facts import evidence, mask_build_passwords
from lockdock.engine.images import entry_ref, redact


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("RUN echo 'root:peer-table-pw' | chpasswd", "peer-table-pw"),
        ('RUN echo "app:hunter2x" | sudo chpasswd && echo ok | tee /x', "hunter2x"),
        ("RUN --mount=type=cache,target=/var/cache echo -e 'pw1x\\npw1x' | passwd bob", "pw1x"),
        ("RUN useradd -m -p s3cretHash1 bob", "s3cretHash1"),
        ("RUN printf 'pw-in-printf' | passwd --stdin bob", "pw-in-printf"),
    ],
)
def test_dockerfile_evidence_masks_build_passwords(line: str, secret: str) -> None:
    shown = evidence(line)
    assert secret not in shown
    assert "******" in shown


@pytest.mark.parametrize(
    "command",
    [
        "/bin/sh -c echo 'root:peer-table-pw9' | chpasswd && apt-get dist-upgrade -y",
        "|1 TOKEN=abc /bin/sh -c echo 'root:peer-table-pw9' | chpasswd",
        "/bin/bash -c useradd -p peer-table-pw9 bob",
    ],
)
def test_history_command_masks_build_passwords(command: str) -> None:
    assert "peer-table-pw9" not in redact(command)


def test_history_layer_detail_is_masked() -> None:
    from lockdock.engine.images import HistoryEntry

    entry = HistoryEntry(index=1, created_by="/bin/sh -c echo 'root:peer-table-pw9' | chpasswd", empty=True, layer=None,
                         digest=None)
    assert "peer-table-pw9" not in entry_ref(entry).created_by


@pytest.mark.parametrize(
    "line",
    ["RUN echo $ROOT_PW | chpasswd", "RUN apt-get install -y curl | tee /log", "RUN passwd -l root"],
)
def test_lines_without_a_literal_password_are_unchanged(line: str) -> None:
    assert mask_build_passwords(line) == line
