"""Secrets in Dockerfiles: literals baked into the image, and build credentials passed
the wrong way (ARG/ENV, copied token files, tokens in RUN) instead of a secret mount.

Values are judged by `lockdock.secrets` and only ever shown masked. `${VAR}` references,
`*_FILE` pointers, public keys and GPG fingerprints are not secrets; a RUN with
`--mount=type=secret` is the right way and its variable uses are never flagged.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from lockdock.context import ScanContext
from lockdock.dockerfile.facts import (
    build_passwords,
    capped,
    final_chain,
    finding,
    has_secret_mount,
)
from lockdock.dockerfile.model import Dockerfile, Instruction
from lockdock.dockerfile.shell import Command, run_scripts
from lockdock.files import FileProblem, read_text, within
from lockdock.model import Finding, TargetKind
from lockdock.payloads import Variant
from lockdock.payloads.dockerfile import NamedVariable, SecretCopy
from lockdock.registry import analyzer
from lockdock.secrets import (
    SecretMatch,
    check_assignment,
    find_in_text,
    mask,
    public_pem,
    secret_file,
    secret_name,
)
from lockdock.sources import DockerfileSubject
from lockdock.text import safe

# Files that hold credentials for package managers and git: build secrets that a build step
# reads (secrets.build-secrets), unless the final image keeps them.
TOKEN_FILES = re.compile(
    r"(?i)(^|/)(\.npmrc|\.yarnrc(\.yml)?|\.pypirc|pip\.conf|\.netrc|\.git-credentials|"
    r"\.docker/config\.json|\.m2/settings\.xml|"
    r"\.gem/credentials|\.composer/auth\.json|auth\.json)$"
)
# Private keys and cloud credentials: a copy into the final image is the image's secret
# (CHECKLIST secrets.no-secrets-in-image); in a build stage they are a build secret.
KEY_FILES = re.compile(
    r"(?i)(^|/)(id_(rsa|dsa|ecdsa|ed25519)|\.aws/credentials)$"
)
# ENV names that point at a credentials file: whatever is copied to that path is a key file,
# whatever its name (`COPY sa.json /app/x.json` + `ENV GOOGLE_APPLICATION_CREDENTIALS=/app/x.json`).
CREDENTIAL_POINTERS = re.compile(
    r"(?i)^(GOOGLE_APPLICATION_CREDENTIALS|AWS_SHARED_CREDENTIALS_FILE|AWS_WEB_IDENTITY_TOKEN_FILE|"
    r"AZURE_CLIENT_CERTIFICATE_PATH|AZURE_FEDERATED_TOKEN_FILE|KUBECONFIG|SSH_PRIVATE_KEY_PATH|"
    r"[A-Z0-9_]*(PRIVATE_KEY|SECRET|CREDENTIALS?|TOKEN|KEY|PASSWORD)_(FILE|PATH))$"
)
_VAR = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_URL_VAR_USERINFO = re.compile(r"://[^\s/@'\"]*\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?[^\s/@'\"]*@")
_AUTH_TOKEN = re.compile(r"(?i)(_authToken|_auth|_password)\s*=\s*(\S+)")
_AUTH_HEADER = re.compile(r"(?i)^authorization:\s*(bearer|basic|token)\s+(\S+)")

NO_SECRETS = "secrets.no-secrets-in-image"
BUILD_SECRETS = "secrets.build-secrets"


_PLAIN_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^@\s]+$")


def _assignment(name: str, value: str) -> SecretMatch | None:
    """`check_assignment`, except that a URL without credentials is an address, not a secret."""
    if _PLAIN_URL.match(value.strip()):
        return None
    return check_assignment(name, value)


def _unquote(value: str) -> str:
    v = value.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1]
    return v.replace("\\ ", " ")


def _is_var(value: str) -> bool:
    return bool(_VAR.match(value.strip().strip("'\"")))


@analyzer(TargetKind.DOCKERFILE, NO_SECRETS, BUILD_SECRETS)
@capped
def dockerfile_secrets(subject: DockerfileSubject, ctx: ScanContext) -> Iterator[Finding]:
    df = subject.dockerfile
    secret_args: set[str] = set()
    declared: set[str] = set()
    shipped = {id(i) for st in final_chain(df) for i in st.instructions}
    pointed = _pointed_paths(df, shipped)
    for inst in df.instructions:
        target = inst.sub if inst.cmd == "onbuild" and inst.sub is not None else inst
        if target.cmd == "env":
            yield from _env(subject, inst, target, declared)
        elif target.cmd == "arg":
            declared.update(w.partition("=")[0] for w in target.args)
            yield from _arg(subject, inst, target, secret_args)
        elif target.cmd == "label":
            yield from _label(subject, inst, target)
        elif target.cmd in ("copy", "add"):
            yield from _copy(subject, inst, target, id(inst) in shipped, pointed)
        elif target.cmd == "run":
            yield from _run(subject, inst, target)


def _env(subject: DockerfileSubject, inst: Instruction, target: Instruction, args: set[str]) -> Iterator[Finding]:
    for name, raw in target.env_pairs():
        value = _unquote(raw)
        ref = _VAR.match(value)
        if ref and ref.group(1) in args and secret_name(name):
            yield finding(
                NO_SECRETS,
                subject,
                inst,
                f"ENV {safe(name, 64)} copies a build argument into the image config, where "
                "`docker inspect` shows it; pass it at run time or use a secret mount",
                ev=f"ENV {safe(name, 64)}={safe(value, 40)}",
                payload=NamedVariable("env", name),
            )
            continue
        match = _assignment(name, value)
        if match is not None:
            yield finding(
                NO_SECRETS,
                subject,
                inst,
                f"ENV {safe(name, 64)} holds a literal {safe(match.kind, 80)}; it is stored in the "
                "image config",
                ev=f"ENV {safe(name, 64)}={match.masked}",
                payload=NamedVariable("env", name),
            )


def _arg(subject: DockerfileSubject, inst: Instruction, target: Instruction, secret_args: set[str]) -> Iterator[Finding]:
    for word in target.args:
        name, eq, raw = word.partition("=")
        value = _unquote(raw)
        if eq and value and not _is_var(value):
            match = _assignment(name, value)
            if match is not None:
                yield finding(
                    NO_SECRETS,
                    subject,
                    inst,
                    f"ARG {safe(name, 64)} has a literal {safe(match.kind, 80)} as its default; "
                    "it is kept in the Dockerfile and the image history",
                    ev=f"ARG {safe(name, 64)}={match.masked}",
                    payload=NamedVariable("arg", name),
                )
                continue
        if secret_name(name):
            secret_args.add(name)
            yield finding(
                BUILD_SECRETS,
                subject,
                inst,
                f"ARG {safe(name, 64)} passes a credential as a build argument; its value shows in "
                "the image history. Use RUN --mount=type=secret,id=... instead",
                ev=f"ARG {safe(name, 64)}",
                payload=NamedVariable("arg", name),
            )


def _label(subject: DockerfileSubject, inst: Instruction, target: Instruction) -> Iterator[Finding]:
    """Secrets in LABELs: a secret name with a literal value, or a credential format anywhere."""
    for name, raw in target.env_pairs():
        value = _unquote(raw)
        match = _assignment(name, value) if not _is_var(value) else None
        if match is None:
            found = find_in_text(value)
            match = found[0] if found else None
        if match is not None:
            yield finding(
                NO_SECRETS,
                subject,
                inst,
                f"LABEL {safe(name, 64)} holds a {safe(match.kind, 80)}; labels are stored in the image "
                "config, where `docker inspect` shows them",
                ev=f"LABEL {safe(name, 64)}={match.masked}",
                payload=NamedVariable("label", name),
            )


def _pointed_paths(df: Dockerfile, shipped: set[int]) -> dict[str, str]:
    """Absolute paths that a shipped ENV names as a credentials file -> the ENV name."""
    out: dict[str, str] = {}
    for inst in df.instructions:
        if inst.cmd != "env" or id(inst) not in shipped:
            continue
        for name, raw in inst.env_pairs():
            value = _unquote(raw)
            if CREDENTIAL_POINTERS.match(name) and value.startswith("/") and not value.startswith("/run/secrets/"):
                out[posixpath.normpath(value)] = name
    return out


def _public_pem(subject: DockerfileSubject, src: str) -> bool:
    """True when `src` is a PEM file in the build context that holds no private key:
    certificates, DH parameters (docker-mailserver's ffdhe4096.pem, RFC 7919) and public
    keys are published by design. Unknown (missing, globbed, outside the context,
    unreadable) is False, so the name decides as before."""
    context = getattr(subject, "context_dir", None)
    if context is None or any(c in src for c in "*?[$"):
        return False
    path = context / src.lstrip("/")
    if not within(path, context):
        return False
    try:
        text = read_text(path, max_bytes=256 * 1024).text
    except FileProblem:
        return False
    return public_pem(src, text)


def _copy_dest(target: Instruction, src: str, workdir: str = "/") -> str:
    """Where COPY puts `src`: into the destination directory, or as the destination file."""
    dest = target.args[-1]
    if not dest.startswith("/"):
        dest = posixpath.join(workdir, dest)
    if dest.endswith("/") or len(target.args) > 2:
        return posixpath.normpath(posixpath.join(dest, posixpath.basename(src.rstrip("/"))))
    return posixpath.normpath(dest)


def _copy(subject: DockerfileSubject, inst: Instruction, target: Instruction, shipped: bool, pointed: dict[str, str]) -> Iterator[Finding]:
    if target.flag("from") is not None or len(target.args) < 2:
        return
    heredoc_words = {f"<<{h.name}" for h in target.heredocs}
    for src in target.args[:-1]:
        if src.startswith("<<") or src in heredoc_words or "://" in src:
            continue
        dest = _copy_dest(target, src)
        pointer = pointed.get(dest) or pointed.get(posixpath.normpath(target.args[-1]))
        if shipped and KEY_FILES.search(src):
            yield finding(
                NO_SECRETS,
                subject,
                inst,
                f"{target.cmd.upper()} {safe(src, 120)} puts a private key or credentials file into the "
                "final image; even a later `rm` leaves it in the layer. Mount it at run time or as a "
                "build secret",
                payload=SecretCopy("copy-key", src),
            )
        elif TOKEN_FILES.search(src) or KEY_FILES.search(src):
            yield finding(
                BUILD_SECRETS,
                subject,
                inst,
                f"{target.cmd.upper()} {safe(src, 120)} puts a credentials file into a layer; mount it "
                "for the one RUN that needs it (RUN --mount=type=secret)",
                payload=SecretCopy("copy", src),
            )
        elif secret_file(src) and not _public_pem(subject, src):
            yield finding(
                NO_SECRETS,
                subject,
                inst,
                f"{target.cmd.upper()} {safe(src, 120)} copies a secret file into the image; even a "
                "later `rm` leaves it in the layer",
                payload=SecretCopy("copy", src),
            )
        elif pointer is not None and shipped:
            yield finding(
                NO_SECRETS,
                subject,
                inst,
                f"{target.cmd.upper()} {safe(src, 120)} copies the file that ENV {safe(pointer, 64)} names "
                "as a credentials file into the image; mount it at run time instead",
                payload=SecretCopy("copy-pointed", src, pointer),
            )


def _run(subject: DockerfileSubject, inst: Instruction, target: Instruction) -> Iterator[Finding]:
    mounted = has_secret_mount(target)
    seen: set[tuple[str, str]] = set()
    for script in run_scripts(target):
        for cmd, what, masked in build_passwords(script.commands):
            yield finding(
                NO_SECRETS,
                subject,
                inst,
                f"RUN sets a literal password with {what}; it is kept in the image history and the "
                "image's /etc/shadow. Set it at run time, or lock the account",
                ev=f"{what}: {masked}",
                payload=Variant("password"),
                at=(script, cmd) if inst is target else None,
            )
        for match in find_in_text(script.text)[:5]:
            key = (NO_SECRETS, match.masked)
            if key in seen:
                continue
            seen.add(key)
            yield finding(
                NO_SECRETS,
                subject,
                inst,
                f"RUN contains a literal {safe(match.kind, 80)}; it is kept in the image history",
                ev=f"{match.kind}: {match.masked}",
                payload=Variant("run-literal"),
            )
        for cmd in script.commands:
            for check, what, masked in _command_secrets(cmd):
                if check == BUILD_SECRETS and mounted:
                    continue
                if (check, masked) in seen:
                    continue
                seen.add((check, masked))
                msg = (
                    f"RUN passes {what} as a literal; it is kept in the image history"
                    if check == NO_SECRETS
                    else f"RUN uses {what} from a build argument or variable; use "
                    "RUN --mount=type=secret so it never reaches the history"
                )
                yield finding(
                    check, subject, inst, msg, ev=masked, payload=Variant("run"),
                    at=(script, cmd) if inst is target else None,
                )


def _judge(what: str, value: str) -> tuple[str, str, str] | None:
    value = value.strip().strip("'\"")
    if not value:
        return None
    if _is_var(value) or value.startswith("$("):
        if value.startswith("$(") and "/run/secrets/" in value:
            return None
        return (BUILD_SECRETS, what, f"{what}: {safe(value, 40)}")
    if len(value) < 4 or value.startswith("/"):
        return None
    return (NO_SECRETS, what, f"{what}: {mask(value)}")


def _command_secrets(cmd: Command) -> Iterator[tuple[str, str, str]]:
    """(check, what, masked evidence) for credential-passing patterns in one command."""
    name, args, _ = cmd.program()
    for var, value, _w in cmd.assignments:
        m = _assignment(var, value)
        if m is not None and not _is_var(value):
            yield (NO_SECRETS, f"{var} (a {m.kind})", f"{var}={m.masked}")
    if name == "export":
        for a in args:
            var, eq, value = a.partition("=")
            m = _assignment(var, value) if eq else None
            if m is not None and not _is_var(value):
                yield (NO_SECRETS, f"{var} (a {m.kind})", f"{var}={m.masked}")
    aws_set = name == "aws" and args[:2] == ["configure", "set"] and len(args) >= 4
    if aws_set and re.search(r"(?i)secret|key|token|password", args[2]):
        judged = _judge(f"aws configure set {args[2]}", args[3])
        if judged:
            yield judged
    if name in ("npm", "yarn", "pnpm") and args[:2] == ["config", "set"] and len(args) >= 3:
        key, eq, value = args[2].partition("=")
        if not eq and len(args) >= 4:
            value = args[3]
        if re.search(r"(?i)_auth|_password|token", key):
            judged = _judge(f"{name} config set {key[-40:]}", value)
            if judged:
                yield judged
    words = [w.value for w in cmd.words]
    for i, w in enumerate(words):
        if (w == "--build-arg" and i + 1 < len(words)) or w.startswith("--build-arg="):
            var, eq, value = (words[i + 1] if w == "--build-arg" else w.split("=", 1)[1]).partition("=")
            if eq and secret_name(var):
                judged = _judge(f"--build-arg {var[:64]}", value)
                if judged:
                    yield judged
        m = _AUTH_TOKEN.search(w) if "=" in w else None  # both patterns need their literal
        if m and name not in ("npm", "yarn", "pnpm"):
            judged = _judge(m.group(1), m.group(2))
            if judged:
                yield judged
        m2 = _URL_VAR_USERINFO.search(w) if "@" in w else None
        if m2:
            yield (BUILD_SECRETS, f"${m2.group(1)} in a URL", f"URL credentials: ${safe(m2.group(1), 40)}")
        if name in ("curl", "wget") and i + 1 < len(words):
            if w in ("-u", "--user", "--proxy-user") and ":" in words[i + 1]:
                judged = _judge(f"{name} {w} password", words[i + 1].split(":", 1)[1])
                if judged:
                    yield judged
            if w in ("-H", "--header"):
                h = _AUTH_HEADER.match(words[i + 1])
                if h:
                    judged = _judge("an Authorization header", h.group(2))
                    if judged:
                        yield judged
        if name in ("wget",) and w.startswith("--password="):
            judged = _judge("wget --password", w.split("=", 1)[1])
            if judged:
                yield judged
