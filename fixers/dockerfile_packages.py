"""Fixes for package installs: cache flags and cleanups in the same RUN (safe), and
production-only npm installs (changes behaviour).

Edits go into the RUN's own shell text or heredoc body; JSON-form RUNs are left alone
(there is no shell to chain a cleanup onto).
"""

from __future__ import annotations

from typing import Any

from lockdock.context import ScanContext
from lockdock.dockerfile.commands import cache_issues
from lockdock.dockerfile.edit import insert_after_word, instruction_at, make_fix, script_end
from lockdock.dockerfile.facts import Install, installs_in
from lockdock.dockerfile.model import Instruction
from lockdock.dockerfile.shell import Script, run_scripts
from lockdock.model import Applicability, Finding, Fix, TargetKind, TextEdit
from lockdock.registry import fixer

FLAG_FIXES = {
    "apt-recommends": " --no-install-recommends",
    "apk-cache": " --no-cache",
    "pip-cache": " --no-cache-dir",
}
CLEANUPS = {
    "apt-lists": "rm -rf /var/lib/apt/lists/*",
    "npm-cache": "{m} cache clean --force",
    "yarn-cache": "yarn cache clean",
    "rpm-cache": "{m} clean all",
    "zypper-cache": "zypper clean --all",
}


def _append_to_script(inst: Instruction, script: Script, command: str) -> TextEdit | None:
    """`&& command` after the script's last command, or a new last line of a heredoc body."""
    if script.from_heredoc:
        doc = next((d for d in inst.heredocs if d.content == script.text), None)
        if doc is None:
            return None
        body_end = doc.start + len(doc.content)
        content = doc.content
        nl = "\r\n" if content.endswith("\r\n") else "\n"
        lead = "" if not content or content.endswith("\n") else nl
        indent = "\t" if doc.chomp and content.startswith("\t") else ""
        return TextEdit(body_end, body_end, f"{lead}{indent}{command}{nl}")
    pos = script_end(script)
    if pos is None:
        return None
    return TextEdit(pos, pos, f" && {command}")


def _issue_install(inst: Instruction, issue: str, scripts: list[Script]) -> Install | None:
    for install in installs_in(inst):
        if any(i == issue for i, _ in cache_issues(install, scripts, {})):
            return install
    return None


def cache_edit(inst: Instruction, issue: str) -> TextEdit | None:
    scripts = run_scripts(inst)
    install = _issue_install(inst, issue, scripts)
    if install is None:
        return None
    if issue in FLAG_FIXES:
        word = install.command.words[install.sub_index]
        return insert_after_word(install.script, word, FLAG_FIXES[issue])
    if issue in CLEANUPS:
        return _append_to_script(inst, install.script, CLEANUPS[issue].format(m=install.manager))
    return None


@fixer("image.package-cache", TargetKind.DOCKERFILE, title="Leave no package cache in the layer", applicability=Applicability.SAFE)
def package_cache(finding: Finding, subject: Any, ctx: ScanContext) -> Fix | None:
    inst = instruction_at(subject.dockerfile, finding)
    issue = finding.data.get("issue")
    if inst is None or not isinstance(issue, str):
        return None
    edit = cache_edit(inst, issue)
    if edit is None:
        return None
    if issue in FLAG_FIXES:
        title = f"Add {FLAG_FIXES[issue].strip()} to the install"
    else:
        manager = next((i.manager for i in installs_in(inst)), "")
        title = f"Add `{CLEANUPS[issue].format(m=manager)}` to the same RUN"
    return make_fix(subject, title, Applicability.SAFE, [edit])


@fixer("build.production-deps", TargetKind.DOCKERFILE, title="npm ci --omit=dev", applicability=Applicability.UNSAFE)
def production_deps(finding: Finding, subject: Any, ctx: ScanContext) -> Fix | None:
    inst = instruction_at(subject.dockerfile, finding)
    if inst is None or finding.data.get("issue") != "npm":
        return None
    for install in installs_in(inst):
        if install.manager != "npm" or install.packages:
            continue
        word = install.command.words[install.sub_index]
        args = [w.value for w in install.command.words]
        if "--omit=dev" in args or install.script.to_file is None:
            continue
        if word.value == "ci":
            edit = insert_after_word(install.script, word, " --omit=dev")
        else:
            start = install.script.to_file(word.start)
            edit = TextEdit(start, start + len(word.value), "ci --omit=dev")
        if edit is not None:
            return make_fix(
                subject,
                "Install production dependencies only (npm ci --omit=dev)",
                Applicability.UNSAFE,
                [edit],
                note="npm ci needs a package-lock.json; devDependencies are no longer installed",
            )
    return None
