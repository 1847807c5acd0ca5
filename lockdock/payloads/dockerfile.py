"""Payloads of Dockerfile findings (`lockdock.payloads` says what a payload is).

The shapes the Dockerfile and the image-history analyzers share (`SystemPath`,
`PackageUpdate`, `MissingIgnoreEntries`, `Variant`) are in `lockdock.payloads`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lockdock.model import Payload


@dataclass(frozen=True)
class NamedVariable(Payload):
    """A variable an instruction declares, by name (never its value).

    secrets.no-secrets-in-image / secrets.build-secrets: `kind` "env", "arg" or "label";
    build.tls-verification: `kind` "env" (a variable that turns TLS verification off).
    """

    kind: str
    name: str


@dataclass(frozen=True)
class SecretCopy(Payload):
    """secrets.no-secrets-in-image / secrets.build-secrets: a COPY or ADD of a secret file.

    `kind`: "copy" (a secret-looking source), "copy-key" (a private key), "copy-pointed" (a
    file an ENV variable `env` points at); `source`: the source as written.
    """

    kind: str
    source: str
    env: str | None = None


@dataclass(frozen=True)
class ExposedPort(Payload):
    """network.exposed-ports: a remote-admin or data-store `port` in EXPOSE, written as
    `word` ("22", "22/tcp")."""

    port: int
    word: str


@dataclass(frozen=True)
class BaseImage(Payload):
    """image.* and registry.https findings on a FROM (or COPY --from) reference: `ref` as
    written, after build-argument expansion."""

    ref: str


@dataclass(frozen=True)
class PackageIssue(Payload):
    """image.package-cache and build.production-deps: `issue` names what the install
    leaves behind ("apt-lists", "pip", "npm", ...); `sub` is npm's subcommand ("install",
    "ci") when `issue` is "npm"."""

    issue: str
    sub: str | None = None


@dataclass(frozen=True)
class ShellIssue(Payload):
    """build.shell-safety: `issue` is a lockdock shell rule ("cd", "rm-var", "pipe") or
    "shellcheck", then `code` is ShellCheck's code ("SC2086")."""

    issue: str
    code: str | None = None


@dataclass(frozen=True)
class UnneededTools(Payload):
    """image.no-unneeded-tools: `tools` ("curl", "ssh", ...) the final image keeps.

    `kind`: "install" (a final-stage RUN installs them), "used" (a final-stage RUN calls one
    that comes from the base image), or "both-downloaders" (curl and wget both present).
    """

    kind: str
    tools: tuple[str, ...]


@dataclass(frozen=True)
class StageCopy(Payload):
    """build.multi-stage: `COPY --from=<stage> /` copies a whole stage or image (`stage`) into
    the final image. `kind` is "whole-stage"."""

    kind: str
    stage: str


@dataclass(frozen=True)
class SudoUse(Payload):
    """build.no-sudo: `kind` "run" (a RUN calls sudo; `root` tells whether the RUN already
    runs as root, so dropping the word changes nothing) or "install" (sudo installed)."""

    kind: str
    root: bool = False


@dataclass(frozen=True)
class UnpinnedPackages(Payload):
    """build.pinned-packages: `packages` (masked, shortened, at most 50) installed with
    `manager` without a version."""

    manager: str
    packages: tuple[str, ...]
