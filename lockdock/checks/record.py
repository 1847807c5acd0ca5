"""The shape of a check record: checklist metadata and the documentation of one check id.

Every layer module (image, container, secrets, network, runtime, build, registry) lists its
checks with `check(...)`; `lockdock.checks` joins them into the catalogue.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from lockdock.model import WHERE_KINDS, Applicability, ChecklistLayer, Severity, TargetKind


@dataclass(frozen=True)
class CheckDoc:
    """The prose of one check, in the sections `lockdock explain` prints.

    All fields are plain text (examples keep their line breaks, the rest is one paragraph).
    """

    what: str  # what the check inspects, per target kind
    why: str  # the attack or failure it prevents
    example_bad: str
    example_good: str
    fix: str  # how to fix by hand
    fix_safety: str  # what lockdock's automatic fix does, and whether behaviour changes


@dataclass(frozen=True)
class Check:
    """One checklist row: id (`layer.name`, a public contract), level 1-4, severity, the
    checklist's Where letters (D C I K H R), the automatic fix's applicability (None: no
    fix), a one-line title, the references of the rule (CIS, hadolint, dockle, ...) and its doc.
    """

    id: str
    level: int
    severity: Severity
    where: tuple[str, ...]  # checklist letters: D C I K H R
    fix: Applicability | None  # None: no automatic fix
    title: str
    references: tuple[str, ...]
    doc: CheckDoc

    @property
    def layer(self) -> ChecklistLayer:
        return ChecklistLayer(self.id.split(".", 1)[0])

    @property
    def kinds(self) -> tuple[TargetKind, ...]:
        return tuple(k for letter in self.where for k in WHERE_KINDS[letter])

    @property
    def name(self) -> str:
        return self.id.split(".", 1)[1]


def example(text: str) -> str:
    """Dedent a triple-quoted example and drop the surrounding blank lines."""
    return textwrap.dedent(text).strip("\n")


def check(
    cid: str,
    *,
    level: int,
    severity: Severity,
    where: str,
    fix: Applicability | None,
    title: str,
    references: tuple[str, ...],
    what: str,
    why: str,
    example_bad: str,
    example_good: str,
    how_to_fix: str,
    fix_safety: str,
) -> Check:
    """A check record; `where` is the checklist's letters separated by spaces ("D C I K")."""
    doc = CheckDoc(what, why, example_bad, example_good, how_to_fix, fix_safety)
    return Check(cid, level, severity, tuple(where.split()), fix, title, references, doc)
