"""network.exposed-ports for Dockerfiles: drop remote-admin ports (SSH 22, telnet, Docker
API, RDP, VNC) from EXPOSE. Changes behaviour for anyone relying on the port being
announced; data-store ports are left to the user.
"""

from __future__ import annotations

import re

from lockdock.context import ScanContext
from lockdock.dockerfile.edit import delete_instruction, instruction_at, make_fix
from lockdock.dockerfile.facts import ADMIN_PORTS
from lockdock.model import Applicability, Finding, Fix, TargetKind, TextEdit
from lockdock.payloads.dockerfile import ExposedPort
from lockdock.registry import fixer
from lockdock.sources import DockerfileSubject

_SINGLE = re.compile(r"^(\d{1,5})(/(tcp|udp|sctp))?$", re.I)


@fixer("network.exposed-ports", TargetKind.DOCKERFILE, title="Drop the remote-admin port from EXPOSE", applicability=Applicability.UNSAFE)
def drop_admin_port(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    df = subject.dockerfile
    inst = instruction_at(df, finding)
    if inst is None or not isinstance(finding.payload, ExposedPort) or finding.payload.port not in ADMIN_PORTS:
        return None
    port, word = finding.payload.port, finding.payload.word
    m = _SINGLE.match(word)
    if not m or int(m.group(1)) != port:
        return None
    keep = [w for w in inst.args if w != word]
    title = f"Remove {port} from EXPOSE"
    if not keep:
        return make_fix(subject, title, Applicability.UNSAFE, [delete_instruction(df, inst)])
    # Locate the word in the logical line (whole words only) and remove it with the blank before it.
    for mm in re.finditer(r"(?<!\S)" + re.escape(word) + r"(?!\S)", inst.original):
        if mm.start() < inst.rest_pos:
            continue
        start = inst.offset(mm.start())
        end = inst.offset(mm.end() - 1) + 1
        text = df.text
        while start > inst.start and text[start - 1] in " \t":
            start -= 1
        return make_fix(subject, title, Applicability.UNSAFE, [TextEdit(start, end, "")])
    return None
