"""Fixes for package installs: cache flags and cleanups in the same RUN (safe), and
production-only npm installs (changes behaviour).

Edits go into the RUN's own shell text or heredoc body; JSON-form RUNs are left alone
(there is no shell to chain a cleanup onto).
"""

from __future__ import annotations

import re

from lockdock.context import ScanContext
from lockdock.dockerfile.commands import cache_issues
from lockdock.dockerfile.edit import insert_after_word, instruction_at, make_fix, script_end
from lockdock.dockerfile.facts import Install, installs_in
from lockdock.dockerfile.model import Dockerfile, Instruction
from lockdock.dockerfile.shell import Script, run_scripts
from lockdock.fixers.servicefacts import refuse
from lockdock.model import Applicability, Finding, Fix, TargetKind, TextEdit
from lockdock.payloads.dockerfile import PackageIssue
from lockdock.registry import fixer
from lockdock.sources import DockerfileSubject

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


def cache_edits(inst: Instruction, issue: str) -> list[TextEdit]:
    """The edits that clear `issue` from the RUN: a flag on every install that lacks it
    (two `pip install`s in one RUN both get --no-cache-dir), or one cleanup at the end."""
    scripts = run_scripts(inst)
    if issue in FLAG_FIXES:
        edits = []
        for install in installs_in(inst):
            if any(i == issue for i, _ in cache_issues(install, scripts, {})):
                edit = insert_after_word(install.script, install.command.words[install.sub_index], FLAG_FIXES[issue])
                if edit is None:
                    return []
                edits.append(edit)
        return edits
    install = _issue_install(inst, issue, scripts)
    if install is None or issue not in CLEANUPS:
        return []
    edit = _append_to_script(inst, install.script, CLEANUPS[issue].format(m=install.manager))
    return [edit] if edit is not None else []


@fixer("image.package-cache", TargetKind.DOCKERFILE, title="Leave no package cache in the layer", applicability=Applicability.SAFE)
def package_cache(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    inst = instruction_at(subject.dockerfile, finding)
    if inst is None or not isinstance(finding.payload, PackageIssue):
        return None
    issue = finding.payload.issue
    edits = cache_edits(inst, issue)
    if not edits:
        return None
    if issue in FLAG_FIXES:
        title = f"Add {FLAG_FIXES[issue].strip()} to the install" + (f"s ({len(edits)})" if len(edits) > 1 else "")
    else:
        manager = next((i.manager for i in installs_in(inst)), "")
        title = f"Add `{CLEANUPS[issue].format(m=manager)}` to the same RUN"
    return make_fix(subject, title, Applicability.SAFE, edits)


@fixer("build.production-deps", TargetKind.DOCKERFILE, title="npm ci --omit=dev", applicability=Applicability.UNSAFE)
def production_deps(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    inst = instruction_at(subject.dockerfile, finding)
    if inst is None or not isinstance(finding.payload, PackageIssue) or finding.payload.issue != "npm":
        return None
    needs = dev_tool_use(subject.dockerfile, inst)
    if needs:
        refuse(finding, f"the stage uses development dependencies after the install ({needs})",
               "build in a stage with all dependencies, then copy the result into a stage that installs "
               "with npm ci --omit=dev")
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


# Commands that need devDependencies: dev servers and watchers, builds and test runners.
DEV_TOOLS = re.compile(
    r"\b(nodemon|ng\s+(serve|build|test)|webpack(-dev-server)?|vite|next\s+(dev|build)|nuxt|ts-node|tsc|"
    r"react-scripts|vue-cli-service|gulp|grunt|jest|mocha|(npm|yarn|pnpm)\s+(run\s+)?(dev|build|test|watch|serve))\b"
)


def dev_tool_use(df: Dockerfile, inst: Instruction) -> str | None:
    """The first dev-tool use in the install's stage after it (RUN, CMD, ENTRYPOINT), or None."""
    for stage in df.stages:
        if inst not in stage.instructions:
            continue
        after = stage.instructions[stage.instructions.index(inst) + 1:]
        for i in after:
            if i.cmd in ("run", "cmd", "entrypoint"):
                m = DEV_TOOLS.search(" ".join(i.args))
                if m:
                    return m.group(0)
    return None
