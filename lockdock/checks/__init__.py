"""The check catalogue: every id of the lockdock checklist with its metadata and documentation.

One module per checklist layer holds that layer's records (`lockdock/checks/image.py`, ...);
this package joins them in checklist order and offers the look-ups the rest of lockdock uses.
The ids are a public contract (JSON, SARIF ruleId, pragmas, config): never rename them.
"""

from __future__ import annotations

import textwrap

from lockdock.checks import build, container, image, network, registry, runtime, secrets
from lockdock.checks.record import Check, CheckDoc
from lockdock.model import Applicability, ChecklistLayer

__all__ = [
    "CATALOGUE",
    "CHECKS",
    "DOCS",
    "LAYER_INDEX",
    "WHERE_NAMES",
    "Check",
    "CheckDoc",
    "doc_for",
    "fix_label",
    "get",
    "render_doc",
    "resolve_selector",
]

CHECKS: tuple[Check, ...] = (
    *image.CHECKS,
    *container.CHECKS,
    *secrets.CHECKS,
    *network.CHECKS,
    *runtime.CHECKS,
    *build.CHECKS,
    *registry.CHECKS,
)

CATALOGUE: dict[str, Check] = {c.id: c for c in CHECKS}

DOCS: dict[str, CheckDoc] = {c.id: c.doc for c in CHECKS}

LAYER_INDEX: dict[ChecklistLayer, int] = {layer: i for i, layer in enumerate(ChecklistLayer)}

WHERE_NAMES: dict[str, str] = {
    "D": "Dockerfile",
    "C": "compose",
    "I": "image",
    "K": "container",
    "H": "host",
    "R": "repository",
}


def get(check_id: str) -> Check:
    """Look a check up by id; KeyError names the unknown id."""
    return CATALOGUE[check_id]


def resolve_selector(selector: str) -> set[str]:
    """Expand a `--select`/`--ignore` word (a check id or a layer name) into check ids.

    Raises KeyError naming the word when it is neither.
    """
    selector = selector.strip()
    if selector in CATALOGUE:
        return {selector}
    if selector in {layer.value for layer in ChecklistLayer}:
        return {c.id for c in CHECKS if c.layer.value == selector}
    raise KeyError(selector)


def doc_for(check_id: str) -> CheckDoc:
    """The documentation of one check; KeyError names an unknown id."""
    try:
        return CATALOGUE[check_id].doc
    except KeyError:
        raise KeyError(check_id) from None


def fix_label(fix: Applicability | None) -> str:
    """The checklist's Fix column wording for an applicability."""
    if fix is None:
        return "none"
    return "safe" if fix is Applicability.SAFE else "changes behaviour"


def _para(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent="  ", subsequent_indent="  ")


def _block(text: str, indent: str) -> list[str]:
    return [(indent + line) if line else "" for line in text.splitlines()]


def render_doc(check_id: str, width: int = 78) -> str:
    """Plain text for `lockdock explain`: the same sections, in the same order, for every check.

    `width` is in columns; KeyError names an unknown id.
    """
    check = get(check_id)
    doc = check.doc
    where = ", ".join(WHERE_NAMES[letter] for letter in check.where)
    lines = [
        f"{check.id}: {check.title}",
        (
            f"Level {check.level} | "
            f"Severity {check.severity.label} | Applies to: {where} | "
            f"Fix: {fix_label(check.fix)}"
        ),
        "",
        "What",
        *_para(doc.what, width),
        "",
        "Why",
        *_para(doc.why, width),
        "",
        "Example",
        "  Bad:",
        *_block(doc.example_bad, "    "),
        "  Good:",
        *_block(doc.example_good, "    "),
        "",
        "How to fix",
        *_para(doc.fix, width),
        "",
        "Fix safety",
        *_para(doc.fix_safety, width),
        "",
        "References",
        *_para(", ".join(check.references), width),
    ]
    return "\n".join(lines) + "\n"
