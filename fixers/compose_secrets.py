"""Compose fix for a literal secret in `environment:`: move it to a compose secret.

The value goes to `secrets/<name>.txt` (git-ignored) and the service mounts it. The variable
becomes `<NAME>_FILE=/run/secrets/<name>` only for images known to read `<NAME>_FILE`
(their entrypoint's `file_env`, read from the local image, or the official images in
`FILE_ENV`); otherwise the variable is removed and the title says the app must read the
file. Compose file secrets are bind mounts that keep the host file's owner and mode
(without swarm, `uid`/`gid`/`mode` are ignored), so a service that is not known to read as
root gets a 0644 file inside a 0700 `secrets/` directory; a root-only reader gets 0600.
Every service of the file holding the same variable with the same value is moved in one
fix, to one secret, and an existing secret file with that value is reused, so a second
run changes nothing. The value itself is only in the new file's content: never in a
title, note or edit of the compose file.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from lockdock.compose import views
from lockdock.compose.edit import Editor, EditRefused, block_lines, indent_step
from lockdock.compose.fixkit import insert_at_path, make_fix, target_decl
from lockdock.compose.project import Service
from lockdock.context import ScanContext
from lockdock.files import FileProblem, read_text
from lockdock.fixers.servicefacts import refuse, service_facts
from lockdock.ignorefiles import GITIGNORE_NEEDS
from lockdock.imagepolicy import split_reference
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
from lockdock.payloads.compose import SecretVariable
from lockdock.registry import fixer
from lockdock.sources import ComposeService
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


# Official images whose entrypoints read `<VAR>_FILE` (docker-library `file_env`), by
# repository: used when the image is not local to read its entrypoint.
FILE_ENV: dict[str, frozenset[str]] = {
    "postgres": frozenset({"POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB", "POSTGRES_INITDB_ARGS"}),
    "mysql": frozenset({"MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD", "MYSQL_USER", "MYSQL_DATABASE"}),
    "mariadb": frozenset({"MARIADB_ROOT_PASSWORD", "MARIADB_PASSWORD", "MARIADB_USER", "MARIADB_DATABASE",
                          "MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD", "MYSQL_USER", "MYSQL_DATABASE"}),
    "mongo": frozenset({"MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"}),
    "nextcloud": frozenset({"POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB", "MYSQL_PASSWORD", "MYSQL_USER",
                            "MYSQL_DATABASE", "NEXTCLOUD_ADMIN_PASSWORD", "NEXTCLOUD_ADMIN_USER",
                            "REDIS_HOST_PASSWORD", "SMTP_PASSWORD"}),
    "wordpress": frozenset({"WORDPRESS_DB_PASSWORD", "WORDPRESS_DB_USER", "WORDPRESS_DB_NAME",
                            "WORDPRESS_DB_HOST"}),
}


def reads_file_env(subject_service: object, var: str, ctx: ScanContext) -> tuple[bool, bool]:
    """(the service reads `<var>_FILE`, known only from the offline table)."""
    facts = service_facts(subject_service, ctx)  # type: ignore[arg-type]
    if var in facts.start.file_env:
        return True, False
    if facts.image is not None:
        return False, False
    parts = split_reference(facts.image_ref) if facts.image_ref else None
    repo = parts[1].rsplit("/", 1)[-1] if parts else ""
    return var in FILE_ENV.get(repo, frozenset()), True


def _same_secret(project: object, node_file: str, var: str, value: str) -> list[tuple[Service, views.EnvVar]]:
    """Services of the same file holding `var` with the same literal value."""
    out = []
    for svc in project.services.values():  # type: ignore[attr-defined]
        for env in views.environment(svc):
            n = env.node
            if (env.name == var and env.value == value and n.file == node_file and not n.anchor
                    and not n.merged and not n.interp and n.kind == "scalar" and "$" not in (env.raw or "")):
                out.append((svc, env))
    return out


def _existing_secret(project: object, value: str) -> str | None:
    """A top-level file secret already holding exactly `value` (reused, not duplicated)."""
    for sf in views.secret_files(project):  # type: ignore[arg-type]
        try:
            with open(sf.path, encoding="utf-8") as fh:
                if fh.read(len(value) + 2).rstrip("\r\n") == value:
                    return sf.name
        except (OSError, UnicodeDecodeError):
            continue
    return None


@fixer("secrets.no-secrets-in-env", TargetKind.COMPOSE_SERVICE, title="Move the value to a compose secret",
       applicability=Applicability.UNSAFE)
def fix_secret_in_env(finding: Finding, subject: ComposeService, ctx: ScanContext) -> Fix | None:
    payload = finding.payload
    if not isinstance(payload, SecretVariable) or payload.node is None:
        return None
    node, var = payload.node, payload.var
    project = subject.project
    if node.anchor or node.merged or node.interp or node.kind != "scalar":
        return None  # shared or interpolated values: the user decides where the secret lives
    env = next((v for v in views.environment(subject.service) if v.node is node), None)
    if env is None or env.value is None or "$" in (env.raw or ""):
        return None
    lf = project.file(node.file)
    if lf is None or lf.root is None or lf.text is None:
        return None
    group = _same_secret(project, node.file, var, env.value)
    if not any(e.node is node for _, e in group):
        return None
    top = lf.root.get("secrets")
    taken = set(top.value) if top is not None and top.kind == "map" else set()
    reused = _existing_secret(project, env.value)
    name = reused or secret_name(var, taken, project.directory)
    directory = project.directory
    secrets_dir = directory / "secrets"
    plans = []
    for svc, e in group:
        reads, offline = reads_file_env(svc, var, ctx)
        facts = service_facts(svc, ctx)
        root_only = facts.runs_as_root is True and not facts.drops_privileges
        plans.append((svc, e, reads, offline, root_only))
    all_root = all(p[4] for p in plans)
    mode = 0o600 if all_root else 0o644
    if reused is None and not all_root and secrets_dir.exists():
        try:
            dmode = stat.S_IMODE(os.stat(secrets_dir).st_mode)
        except OSError:
            return None
        if dmode & 0o077:
            refuse(finding, f"secrets/ is mode {dmode:04o} and a non-root container must read the file",
                   "chmod 700 secrets, then move the value to a 0644 file in it")
            return None

    def build(ed: Editor) -> None:
        text = ed.text(node.file)
        for svc, e, reads, _offline, _r in plans:
            n = e.node
            if reads:
                if n.key_start is None:
                    written = text[n.start:n.end]
                    q = written[0] if written[:1] in ('"', "'") else ""
                    ed.replace(n, f"{q}{var}_FILE=/run/secrets/{name}{q}")
                else:
                    assert n.key_end is not None
                    ed.add(n.file, n.key_start, n.key_end, f"{var}_FILE")
                    ed.replace(n, f"/run/secrets/{name}")
            else:
                holder = svc.get("environment")
                decl = target_decl(svc)
                if holder is not None and len(holder.value) == 1 and decl.own_keys == ["environment"]:
                    raise EditRefused("removing the variable would leave the service empty")
                if holder is not None and holder.kind == "seq":
                    ed.remove_item(n)
                else:
                    ed.remove_entry(n)
            secrets = svc.get("secrets")
            if name in [r.source for r in views.secret_refs(svc)]:
                pass
            elif secrets is None:
                insert_at_path(ed, svc, [], {"secrets": [name]})
            elif secrets.kind == "seq" and secrets.value:
                ed.append_item(secrets, name)
            else:
                raise EditRefused("service secrets have a shape we do not edit")
        if reused:
            return
        step = indent_step(project, node.file)
        rel_file = f"./secrets/{name}.txt"
        if top is None:
            ed.insert_entries(lf.root, block_lines({"secrets": {name: {"file": rel_file}}}, step))
        elif top.kind == "map" and top.value:
            ed.insert_entries(top, block_lines({name: {"file": rel_file}}, step))
        else:
            raise EditRefused("top-level secrets have a shape we do not edit")

    extra: list[Change] = []
    if reused is None:
        if not all_root and not secrets_dir.exists():
            # Created first, owner-only, so the directory is 0700 before the 0644 file lands.
            extra.append(NewFile(str(secrets_dir / "README"), README, 0o600))
        extra.append(NewFile(str(secrets_dir / f"{name}.txt"), env.value, mode))
        ignore = gitignore_change(directory)
        if ignore is not None:
            extra.append(ignore)
    names = ", ".join(safe(s.name, 40) for s, *_ in plans)
    unread = [safe(s.name, 40) for s, _e, reads, *_ in plans if not reads]
    title = f"Move {safe(var, 60)} of {names} to the compose secret {name}"
    if unread:
        title += f" (the app of {', '.join(unread)} must read /run/secrets/{name}: {safe(var, 60)} is removed)"
    else:
        title += f" ({var}_FILE points at it"
        title += "; the official image reads it, not checked offline)" if any(p[3] for p in plans) else ")"
    where = f"secrets/{name}.txt" + ("" if reused else f" (mode {mode:04o}" + (
        ", in a 0700 directory: compose bind-mounts it with its host mode, and the container user is not root)"
        if mode == 0o644 else ")"))
    return make_fix(subject, title, Applicability.UNSAFE, build,
                    note=f"the value {'is already in' if reused else 'moves to'} {where}, git-ignored",
                    extra=extra)


README = ("Secrets for compose (git-ignored). This directory is 0700: only you can enter it.\n"
          "Files inside may be 0644 so that a container user that is not root can read them\n"
          "through compose's bind mount, which keeps the host file's owner and mode.\n")
