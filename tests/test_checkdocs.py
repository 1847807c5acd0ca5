"""The explain documentation: one complete doc per catalogue id, rendered in a fixed order."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys

import pytest
from ruamel.yaml import YAML

from lockdock import checks as catalogue
from lockdock.checks import DOCS, WHERE_NAMES, CheckDoc, doc_for, fix_label, render_doc
from lockdock.model import Applicability

ALL_IDS = [c.id for c in catalogue.CHECKS]

INSTRUCTION = re.compile(
    r"^(FROM|RUN|COPY|ADD|ENV|ARG|USER|CMD|ENTRYPOINT|EXPOSE|HEALTHCHECK|WORKDIR|LABEL)\s",
    re.MULTILINE,
)

# Words that must appear in `what` for each target kind the check applies to, so that the
# doc really says what is looked at per kind.
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "D": ("dockerfile",),
    "C": ("compose",),
    "I": ("image",),
    "K": ("container",),
    "H": ("host", "daemon"),
    "R": ("repository",),
}

SECTIONS = ["What", "Why", "Example", "  Bad:", "  Good:", "How to fix", "Fix safety", "References"]


def test_docs_cover_exactly_the_catalogue() -> None:
    assert set(DOCS) == set(catalogue.CATALOGUE)
    # No id is recorded twice across the layer modules. How many ids there are is the
    # checklist's business: tests/core/test_catalogue.py compares them with CHECKLIST.md.
    assert len(DOCS) == len(catalogue.CHECKS)


@pytest.mark.parametrize("check_id", ALL_IDS)
def test_every_field_is_filled(check_id: str) -> None:
    doc = doc_for(check_id)
    for field in dataclasses.fields(CheckDoc):
        value = getattr(doc, field.name)
        assert isinstance(value, str) and value.strip(), f"{check_id}.{field.name} is empty"
    assert doc.example_bad != doc.example_good


@pytest.mark.parametrize("check_id", ALL_IDS)
def test_what_names_each_target_kind(check_id: str) -> None:
    check = catalogue.get(check_id)
    what = doc_for(check_id).what.lower()
    for letter in check.where:
        assert any(w in what for w in KIND_WORDS[letter]), (check_id, letter)


@pytest.mark.parametrize("check_id", ALL_IDS)
def test_fix_safety_matches_the_catalogue_fix_column(check_id: str) -> None:
    check = catalogue.get(check_id)
    text = doc_for(check_id).fix_safety.lower()
    if check.fix is None:
        assert text.startswith("no automatic fix")
    elif check.fix is Applicability.SAFE:
        assert text.startswith("safe")
    else:
        assert text.startswith("changes behaviour")


def test_doc_for_unknown_id_raises() -> None:
    with pytest.raises(KeyError, match="image.nonexistent"):
        doc_for("image.nonexistent")
    with pytest.raises(KeyError):
        render_doc("not-a-check")


# Checks whose main target is a Dockerfile (listed first in `where`, or the only file kind
# after repository files, as build.dockerignore's R D I) show Dockerfile examples.
DOCKERFILE_FIRST = [
    c.id for c in catalogue.CHECKS if c.where[0] == "D" or (c.where[0] == "R" and "D" in c.where)
]


def test_dockerfile_first_selection_is_broad() -> None:
    assert len(DOCKERFILE_FIRST) >= 15
    assert "build.dockerignore" in DOCKERFILE_FIRST


@pytest.mark.parametrize("check_id", DOCKERFILE_FIRST)
def test_dockerfile_examples_look_like_dockerfiles(check_id: str) -> None:
    doc = doc_for(check_id)
    for example in (doc.example_bad, doc.example_good):
        assert INSTRUCTION.search(example), check_id
        assert _dockerfile_lines_valid(example), (check_id, example)


KEYWORD = re.compile(
    r"FROM|RUN|COPY|ADD|ENV|ARG|USER|CMD|ENTRYPOINT|EXPOSE|HEALTHCHECK|WORKDIR|LABEL|VOLUME"
    r"|SHELL|STOPSIGNAL|ONBUILD"
)


def _dockerfile_lines_valid(text: str) -> bool:
    """Every line is blank, a comment, an instruction, or continues the previous line."""
    continued = False
    for line in text.splitlines():
        stripped = line.strip()
        is_instruction_line = not continued and stripped and not stripped.startswith("#")
        if is_instruction_line and not KEYWORD.fullmatch(stripped.split()[0]):
            return False
        continued = stripped.endswith("\\") or (continued and stripped.startswith("#"))
    return True


def test_dockerfile_line_validator() -> None:
    assert _dockerfile_lines_valid("FROM a:1\nRUN x \\\n  && y\n# c\nUSER 1")
    assert not _dockerfile_lines_valid("FROM a:1\napt-get install curl")
    assert not _dockerfile_lines_valid("services:\n  web: {}")


def _strip_comment_header(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


@pytest.mark.parametrize("check_id", ALL_IDS)
def test_json_and_yaml_examples_parse(check_id: str) -> None:
    doc = doc_for(check_id)
    for example in (doc.example_bad, doc.example_good):
        body = _strip_comment_header(example).strip()
        if body.startswith("{"):
            json.loads(body)
        elif body.startswith(("services:", "jobs:")):
            data = YAML(typ="safe").load(example)
            assert isinstance(data, dict) and data


def test_compose_examples_exist_for_compose_only_checks() -> None:
    for check in catalogue.CHECKS:
        if "C" in check.where and "D" not in check.where:
            assert "services:" in doc_for(check.id).example_bad, check.id


def test_special_statements() -> None:
    tools = doc_for("image.no-unneeded-tools").what
    assert "setuid" in tools and "setgid" in tools and "layer" in tools
    scan = doc_for("image.vulnerability-scan")
    assert "no scanner result" in scan.what
    assert "trivy" in scan.example_good and "grype" in scan.example_good
    assert "trivy" in scan.fix and "grype" in scan.fix


@pytest.mark.parametrize("check_id", ALL_IDS)
def test_render_has_every_section_in_order(check_id: str) -> None:
    check = catalogue.get(check_id)
    text = render_doc(check_id)
    lines = text.splitlines()
    assert lines[0] == f"{check.id}: {check.title}"
    assert lines[1].startswith(f"Level {check.level} | ")
    assert f"Severity {check.severity.label}" in lines[1]
    assert f"Fix: {fix_label(check.fix)}" in lines[1]
    for letter in check.where:
        assert WHERE_NAMES[letter] in lines[1]
    positions = [lines.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    refs = "\n".join(lines[lines.index("References") + 1 :])
    for ref in check.references:
        assert ref.split()[0] in refs
    assert all(len(line) <= 100 for line in lines), check_id


def test_render_example_is_verbatim() -> None:
    text = render_doc("build.exec-form")
    assert '    CMD ["python", "/app/main.py", "--port", "8080"]' in text
    assert "    CMD python /app/main.py --port 8080" in text


def test_fix_labels() -> None:
    assert fix_label(None) == "none"
    assert fix_label(Applicability.SAFE) == "safe"
    assert fix_label(Applicability.UNSAFE) == "changes behaviour"


def test_checkdocs_is_headless() -> None:
    code = "import sys, lockdock.checks; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_explain_cli_prints_the_doc() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "lockdock", "explain", "container.not-privileged"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == render_doc("container.not-privileged")


def test_image_docs_agree_with_the_image_policy() -> None:
    """The names the docs give as examples are judged the same way by the analyzers."""
    from lockdock import imagepolicy

    pinned = doc_for("image.pinned-tag")
    for word in ("latest", "stable", "edge", "nightly", "dev", "lts"):
        assert f"`{word}`" in pinned.what and word in imagepolicy.MOVING_TAGS
    assert "FROM python:latest" in pinned.example_bad
    trusted = doc_for("image.trusted-source")
    for prefix in ("mcr.microsoft.com", "gcr.io/distroless", "cgr.dev/chainguard"):
        assert prefix in trusted.what
        assert any(p.startswith(prefix) for p in imagepolicy.TRUSTED_PREFIXES), prefix
    assert not imagepolicy.is_trusted("docker.io", "someuser/node-custom", [])
    assert "FROM someuser/node-custom:18" in trusted.example_bad
    assert imagepolicy.is_trusted("docker.io", "library/node", [])
    assert imagepolicy.is_trusted("registry.example.com", "platform/node", ["registry.example.com"])
    minimal = doc_for("image.minimal-base")
    assert "FROM python:3.12\n" in minimal.example_bad and "python" in imagepolicy.FULL_BASES
