"""Compose fix for a literal secret in `environment:`: move it to a compose secret.

The value goes to `secrets/<name>.txt` (created 0600, git-ignored), the service mounts it
and the variable becomes `<NAME>_FILE=/run/secrets/<name>`, the convention official images
follow. The value itself is only in the new file's content: never in a title, note or edit
of the compose file.
"""

from __future__ import annotations

import re
from pathlib import Path

from lockdock.compose import views
from lockdock.compose.edit import Editor, EditRefused, block_lines, indent_step
from lockdock.compose.fixkit import insert_at_path, make_fix
from lockdock.compose.yamlread import Node
from lockdock.context import ScanContext
from lockdock.files import FileProblem, read_text
from lockdock.ignorefiles import GITIGNORE_NEEDS
from lockdock.model import (
    Applicability,
    Change,
    FileEdit,
    Finding,
    Fix,
    NewFile,
    TargetKind,
    TextEdit,
)
from lockdock.registry import fixer
from lockdock.sources.compose import ComposeService
from lockdock.text import safe


def secret_name(var: str, taken: set[str], directory: Path) -> str:
    base = re.sub(r"[^a-z0-9_]+", "_", var.lower()).strip("_") or "secret"
    name, n = base, 1
    while name in taken or (directory / "secrets" / f"{name}.txt").exists():
        n += 1
        name = f"{base}_{n}"
    return name


def gitignore_change(directory: Path) -> Change | None:
    """Append `secrets/` to the project's .gitignore unless it already ignores it."""
    path = directory / ".gitignore"
    if not path.exists():
        # A new .gitignore covers every secret pattern the repository check asks for,
        # so creating it does not trade one finding for another.
        patterns = ["secrets/", *[p for p, _, _ in GITIGNORE_NEEDS if p != "secrets/"]]
        return NewFile(str(path), "".join(f"{p}\n" for p in patterns), 0o644)
    try:
        tf = read_text(path)
    except FileProblem:
        return None
    if any(line.strip() in ("secrets/", "/secrets/", "secrets", "/secrets", "secrets/*") for line in tf.lines):
        return None
    prefix = "" if not tf.text or tf.text.endswith(("\n", "\r")) else tf.newline
    end = len(tf.text)
    return FileEdit(str(path), [TextEdit(end, end, f"{prefix}secrets/{tf.newline}")], tf.sha256)


@fixer("secrets.no-secrets-in-env", TargetKind.COMPOSE_SERVICE, title="Move the value to a compose secret",
       applicability=Applicability.UNSAFE)
def fix_secret_in_env(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    node: Node = finding.data["node"]
    var: str = finding.data["var"]
    project = subject.project
    svc = subject.service
    if node.anchor or node.merged or node.interp or node.kind != "scalar":
        return None  # shared or interpolated values: the user decides where the secret lives
    env = next((v for v in views.environment(svc) if v.node is node), None)
    if env is None or env.value is None or "$" in (env.raw or ""):
        return None
    lf = project.file(node.file)
    if lf is None or lf.root is None or lf.text is None:
        return None
    top = lf.root.get("secrets")
    taken = set(top.value) if top is not None and top.kind == "map" else set()
    name = secret_name(var, taken, project.directory)
    directory = project.directory
    rel_file = f"./secrets/{name}.txt"
    list_form = node.key_start is None

    def build(ed: Editor) -> None:
        text = ed.text(node.file)
        if list_form:
            written = text[node.start:node.end]
            q = written[0] if written[:1] in ('"', "'") else ""
            ed.replace(node, f"{q}{var}_FILE=/run/secrets/{name}{q}")
        else:
            assert node.key_start is not None and node.key_end is not None
            ed.add(node.file, node.key_start, node.key_end, f"{var}_FILE")
            ed.replace(node, f"/run/secrets/{name}")
        secrets = svc.get("secrets")
        if secrets is None:
            insert_at_path(ed, svc, [], {"secrets": [name]})
        elif secrets.kind == "seq" and secrets.value:
            ed.append_item(secrets, name)
        else:
            raise EditRefused("service secrets have a shape we do not edit")
        step = indent_step(project, node.file)
        if top is None:
            ed.insert_entries(lf.root, block_lines({"secrets": {name: {"file": rel_file}}}, step))
        elif top.kind == "map" and top.value:
            ed.insert_entries(top, block_lines({name: {"file": rel_file}}, step))
        else:
            raise EditRefused("top-level secrets have a shape we do not edit")

    extra: list[Change] = [NewFile(str(directory / "secrets" / f"{name}.txt"), env.value, 0o600)]
    ignore = gitignore_change(directory)
    if ignore is not None:
        extra.append(ignore)
    return make_fix(
        subject, f"Move {safe(var, 60)} to the compose secret {name} ({var}_FILE points at it)",
        Applicability.UNSAFE, build,
        note=f"the value moves to secrets/{name}.txt (mode 0600, git-ignored); the app must read "
             f"{safe(var, 60)}_FILE",
        extra=extra,
    )
