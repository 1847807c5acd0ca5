"""Image checks read from the build history: ADD, sudo, disabled TLS checks, secrets in commands.

`docker history` keeps every build command, so what a Dockerfile did is visible in the
image even without the Dockerfile. Each finding names the history entry it comes from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lockdock.context import ScanContext
from lockdock.dockerfile.facts import build_passwords
from lockdock.dockerfile.shell import split_commands
from lockdock.dockerfile.tls import config_problems, tls_env, tls_problems
from lockdock.engine.images import HistoryEntry, entry_ref
from lockdock.model import Finding, TargetKind
from lockdock.registry import analyzer
from lockdock.secrets import check_assignment, find_in_text
from lockdock.sources import ImageSubject
from lockdock.text import safe

_ADD = re.compile(r"(?:^|#\(nop\)\s*)ADD\s+(?:--\S+\s+)*(?P<src>\S+)(?:\s+in)?\s+(?P<dest>\S+)")
_RUN_SUDO = re.compile(r"(^|[;&|(\s])sudo\s")
# `|2 TOKEN=abc OTHER=x /bin/sh -c ...`: the build args a RUN saw.
_BUILD_ARGS = re.compile(r"^\|(\d+)\s+(.*)$", re.S)
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=('[^']*'|\"[^\"]*\"|\S*)")


def _is_run(h: HistoryEntry) -> bool:
    text = h.created_by
    return "#(nop)" not in text and not re.match(r"\s*(ENV|LABEL|CMD|ENTRYPOINT|EXPOSE|USER|WORKDIR|COPY|ADD|HEALTHCHECK|ARG|VOLUME|STOPSIGNAL|SHELL|ONBUILD)\b", text)


@analyzer(TargetKind.IMAGE, "build.copy-not-add")
def copy_not_add(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    image.load(ctx)
    for h in image.history:
        m = _ADD.search(h.created_by)
        if not m:
            continue
        src, dest = m.group("src"), m.group("dest")
        if re.match(r"https?://", src):
            msg = f"ADD downloads {safe(src, 120)}: use curl/wget with a checksum, or COPY"
        elif h.layer == 0 and dest == "/":
            continue  # a base image's root filesystem unpacked from an archive
        else:
            msg = f"ADD of local files ({safe(src, 80)} -> {safe(dest, 80)}): use COPY unless unpacking an archive"
        yield Finding("build.copy-not-add", image.target, msg, image.location(entry_ref(h)))


@analyzer(TargetKind.IMAGE, "build.no-sudo")
def sudo_in_history(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    image.load(ctx)
    for h in image.history:
        if _is_run(h) and _RUN_SUDO.search(h.created_by):
            yield Finding(
                "build.no-sudo",
                image.target,
                "a build step runs sudo: build steps already run as root or as the USER set",
                image.location(entry_ref(h)),
            )


_SHELL_PREFIX = re.compile(r"^\s*(?:RUN\s+)?(?:\|\d+\s+(?P<args>.*?)\s+)??/bin/(?:ba)?sh -c\s+(?P<script>.*)$", re.S)


def run_script(h: HistoryEntry) -> tuple[str, list[tuple[str, str]]] | None:
    """The shell script of a RUN history entry and the build args it saw, or None."""
    text = h.created_by[:65536]
    if "#(nop)" in text:
        return None
    m = _SHELL_PREFIX.match(text)
    if m is None:
        return None
    script = re.sub(r"\s*# buildkit$", "", m.group("script"))
    args = [(a.group(1), a.group(2).strip("'\"")) for a in _ASSIGN.finditer(m.group("args") or "")]
    return script, args


@analyzer(TargetKind.IMAGE, "build.tls-verification")
def tls_verification(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    """Build steps that turned checks off (flags, config commands, config text, build args),
    and config env values that keep them off for every process of the image."""
    image.load(ctx)
    for h in image.history:
        found = run_script(h)
        if found is None:
            continue
        script, args = found
        messages = [f"build arg {n}={v} turns TLS verification off" for n, v in args if tls_env(n, v)]
        for cmd in split_commands(script):
            messages += [m for _, m in tls_problems(cmd)]
        messages += [m for _, m in config_problems(script)]
        if messages:
            yield Finding(
                "build.tls-verification",
                image.target,
                "a build step disables TLS or signature checks: " + "; ".join(dict.fromkeys(safe(m, 100) for m in messages)),
                image.location(entry_ref(h)),
            )
    for item in image.config.get("Env") or []:
        if not isinstance(item, str) or "=" not in item:
            continue
        name, _, value = item.partition("=")
        if tls_env(name, value):
            pattern = re.compile(r"(^|\s|#\(nop\)\s*)ENV\s.*\b" + re.escape(name) + r"[=\s]")
            yield Finding(
                "build.tls-verification",
                image.target,
                f"image config sets ENV {safe(name, 60)}={safe(value, 20)}, which turns TLS verification off "
                "for every process of the image",
                image.location(image.find_entry(pattern) or image.last_ref()),
                evidence=f"{safe(name, 60)}={safe(value, 20)}",
            )


@analyzer(TargetKind.IMAGE, "secrets.no-secrets-in-image")
def history_secrets(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    """Credential formats in build commands, and build args with secret names and values."""
    image.load(ctx)
    env_names = {
        e.partition("=")[0] for e in image.config.get("Env") or [] if isinstance(e, str)
    }
    for h in image.history:
        text = h.created_by
        reported: set[str] = set()
        m = _BUILD_ARGS.match(text)
        if m:
            for am in _ASSIGN.finditer(m.group(2)[:65536]):
                name, value = am.group(1), am.group(2).strip("'\"")
                match = check_assignment(name, value)
                if match is None or name in env_names:
                    continue
                reported.add(match.masked)
                yield Finding(
                    "secrets.no-secrets-in-image",
                    image.target,
                    f"build arg {safe(name, 80)} holds a secret ({match.kind}) and is kept in the "
                    "image history: use a BuildKit secret mount",
                    image.location(entry_ref(h)),
                    evidence=f"{safe(name, 80)}={match.masked}",
                )
        found = run_script(h)
        for _cmd, what, masked in build_passwords(split_commands(found[0])) if found else []:
            yield Finding(
                "secrets.no-secrets-in-image",
                image.target,
                f"a build step sets a literal password with {what}; the image history and /etc/shadow keep it",
                image.location(entry_ref(h)),
                evidence=f"{what}: {masked}",
            )
        if re.search(r"(^|\s|#\(nop\)\s*)ENV\s", text):
            continue  # ENV values are judged from the config (one finding, not two)
        for sm in find_in_text(text):
            if sm.masked in reported:
                continue
            reported.add(sm.masked)
            yield Finding(
                "secrets.no-secrets-in-image",
                image.target,
                f"a build command contains a {sm.kind}; the image history keeps it",
                image.location(entry_ref(h)),
                evidence=sm.masked,
            )
