"""Image checks read from the build history: ADD, sudo, disabled TLS checks, secrets in commands.

`docker history` keeps every build command, so what a Dockerfile did is visible in the
image even without the Dockerfile. Each finding names the history entry it comes from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lockdock.context import ScanContext
from lockdock.engine.images import HistoryEntry, ImageSubject, entry_ref
from lockdock.model import Finding, TargetKind
from lockdock.registry import analyzer
from lockdock.secrets import check_assignment, find_in_text
from lockdock.text import safe

_ADD = re.compile(r"(?:^|#\(nop\)\s*)ADD\s+(?:--\S+\s+)*(?P<src>\S+)(?:\s+in)?\s+(?P<dest>\S+)")
_RUN_SUDO = re.compile(r"(^|[;&|(\s])sudo\s")
TLS_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("curl -k/--insecure", re.compile(r"\bcurl\b[^;&|]*\s(-k|--insecure|-[a-zA-Z]*k[a-zA-Z]*)(\s|$)")),
    ("wget --no-check-certificate", re.compile(r"\bwget\b[^;&|]*--no-check-certificate")),
    ("pip --trusted-host", re.compile(r"\bpip3?\b[^;&|]*--trusted-host")),
    ("NODE_TLS_REJECT_UNAUTHORIZED=0", re.compile(r"NODE_TLS_REJECT_UNAUTHORIZED=['\"]?0")),
    ("GIT_SSL_NO_VERIFY", re.compile(r"GIT_SSL_NO_VERIFY=['\"]?(1|true)|http\.sslVerify[= ]+false", re.I)),
    ("apk --allow-untrusted", re.compile(r"\bapk\b[^;&|]*--allow-untrusted")),
    ("apt-get --allow-unauthenticated/--force-yes", re.compile(r"\bapt(-get)?\b[^;&|]*(--allow-unauthenticated|--force-yes)")),
    ("--nogpgcheck", re.compile(r"\b(yum|dnf|microdnf|zypper)\b[^;&|]*--nogpgcheck")),
    ("npm strict-ssl false", re.compile(r"\bnpm\b[^;&|]*(strict-ssl\s+false|--strict-ssl[= ]false)")),
)
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


@analyzer(TargetKind.IMAGE, "build.tls-verification")
def tls_verification(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    image.load(ctx)
    for h in image.history:
        found = [name for name, pat in TLS_PATTERNS if pat.search(h.created_by[:65536])]
        if found:
            yield Finding(
                "build.tls-verification",
                image.target,
                f"a build step disables TLS or signature checks ({', '.join(found)})",
                image.location(entry_ref(h)),
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
