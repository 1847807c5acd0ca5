"""Secrets layer: credentials kept out of images, environments and repositories.

One record per check of this checklist layer: its metadata (the checklist columns) and
the documentation `lockdock explain`, the TUI and docs/checks.md show. The ids are a public
contract: never rename them.
"""

from __future__ import annotations

from lockdock.checks.record import Check, check, example
from lockdock.model import Applicability, Severity

CHECKS: tuple[Check, ...] = (
    check(
        "secrets.no-secrets-in-image", level=1, severity=Severity.CRITICAL, where="D I",
        fix=Applicability.UNSAFE,
        title="No secret is baked into the image",
        references=("DL3064", "DS-0031", "CIS 4.10", "CIS-DI-0010"),
        what=(
            "Dockerfile: ENV, ARG and LABEL with credential-like names or secret-looking "
            "values; COPY/ADD of secret files (.env, *.pem, *.key, credentials); a private "
            "key (id_rsa and the other id_* keys) or .aws/credentials copied into the final "
            "image, which is this check at critical rather than secrets.build-secrets; a file "
            "copied to the path an ENV names as a credentials file "
            "(GOOGLE_APPLICATION_CREDENTIALS, AWS_SHARED_CREDENTIALS_FILE, *_KEY_FILE...), "
            "whatever its name; and passwords set while building (`echo user:pw | chpasswd`, "
            "`passwd --stdin`, `useradd -p`). Image: the config environment and labels, the "
            "build history (build arguments, credential formats, build-time passwords), and "
            "the files of every layer, including files a later layer deletes; the finding "
            "names the layer that added the file."
        ),
        why=(
            "Anyone who can pull an image can read every layer with `docker save` and every "
            "build argument with `docker history`. Deleting a file in a later layer does "
            "not remove its bytes. Images travel to registries, CI caches and laptops, and "
            "the secret travels with them."
        ),
        example_bad=example("""
            FROM python:3.12-slim
            ENV DB_PASSWORD=hunter2
            COPY .env /app/.env
        """),
        example_good=example("""
            FROM python:3.12-slim
            # DB_PASSWORD comes from the runtime (compose secrets / env_file)
            COPY app/ /app/
        """),
        how_to_fix=(
            "Remove the literal and supply the value when the container starts (compose "
            "`secrets:` or `env_file:`), or at build time with `RUN --mount=type=secret`. "
            "Add secret files to .dockerignore. Rotate any credential that was ever in a "
            "pushed image."
        ),
        fix_safety=(
            "Changes behaviour. Where the pattern is clear, lockdock deletes an ENV line "
            "holding the literal, turns an ARG used only by RUN steps into a BuildKit "
            "secret mount, or deletes a COPY of a secret file and reminds you to list it in "
            ".dockerignore. The app only works once the value is provided at run time or "
            "as a build secret. Findings in an image have no automatic fix: rebuild it."
        ),
    ),
    check(
        "secrets.no-secrets-in-env", level=1, severity=Severity.HIGH, where="C K",
        fix=Applicability.UNSAFE,
        title="No literal secret in the container environment",
        references=("CL-0020", "CL-0021"),
        what=(
            "Compose `environment:` (mapping and list forms), `labels:`, `build.args` and the "
            "contents of every `env_file:` (reported at the env file's own line) and a "
            "container's `Config.Env` and `Config.Labels` are searched for literal values "
            "under credential-like names or in known credential formats. References such "
            "as `${VAR}`, `/run/secrets/...` paths and `*_FILE` pointers are not secrets "
            "and pass. A password inside a daemon.json `registry-mirrors` URL is reported "
            "under registry.credentials-store, the check about credentials kept in plain "
            "text on the host."
        ),
        why=(
            "Anyone with API access reads the environment through `docker inspect`. "
            "Environment variables are inherited by child processes, show up in "
            "/proc/PID/environ, crash reports and debug pages, and a compose file with a "
            "literal password usually ends up in git."
        ),
        example_bad=example("""
            services:
              db:
                image: postgres:16.3
                environment:
                  POSTGRES_PASSWORD: s3cr3t-password
        """),
        example_good=example("""
            services:
              db:
                image: postgres:16.3
                environment:
                  POSTGRES_PASSWORD_FILE: /run/secrets/db_password
                secrets: [db_password]
            secrets:
              db_password:
                file: ./secrets/db_password.txt
        """),
        how_to_fix=(
            "Put the value in a file outside git with mode 0600, declare it under "
            "`secrets:` and point the app at `/run/secrets/NAME`; many official images "
            "accept a `*_FILE` variable for this."
        ),
        fix_safety=(
            "Changes behaviour. lockdock moves the value into a secrets file (created 0600 "
            "and git-ignored), declares it and sets the `*_FILE` variable; the app must "
            "support reading the value from that file."
        ),
    ),
    check(
        "secrets.build-secrets", level=2, severity=Severity.HIGH, where="D",
        fix=Applicability.UNSAFE,
        title="Build credentials use secret mounts",
        references=("DS-0031",),
        what=(
            "Dockerfile: ARG or ENV carrying build credentials (NPM_TOKEN, GITHUB_TOKEN, "
            "index URLs with passwords), COPY of token files such as .npmrc, pip.conf or "
            ".netrc, and git URLs with a token in RUN."
        ),
        why=(
            "Build arguments used by a RUN are recorded in the image history, a copied "
            "token file stays in its layer even when a later step deletes it, and build "
            "logs often echo both. BuildKit secret mounts exist only for the duration of "
            "one RUN and never reach a layer."
        ),
        example_bad=example("""
            FROM node:20-slim
            ARG NPM_TOKEN
            RUN echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc \\
             && npm ci && rm .npmrc
        """),
        example_good=example("""
            # syntax=docker/dockerfile:1
            FROM node:20-slim
            RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci
            # build with: docker build --secret id=npmrc,src=$HOME/.npmrc .
        """),
        how_to_fix=(
            "Use `RUN --mount=type=secret,id=NAME[,target=PATH]` for the one step that "
            "needs the credential and pass it with `docker build --secret id=NAME,src=FILE` "
            "(compose: `build.secrets`)."
        ),
        fix_safety=(
            "Changes behaviour. lockdock rewrites the recognised patterns to a secret mount; "
            "the build command must then pass the secret with `--secret`."
        ),
    ),
    check(
        "secrets.gitignore", level=1, severity=Severity.HIGH, where="R",
        fix=Applicability.SAFE,
        title="Git ignores secret files and tracks none",
        references=("seed 000",),
        what=(
            "Repository: the .gitignore must cover .env, secrets/, *.key and *.pem, and "
            "git must not track any secret file already."
        ),
        why=(
            "A committed secret stays in the history of every clone and fork, even after "
            "the file is deleted. Bots scan public repositories for fresh cloud keys "
            "within minutes of a push."
        ),
        example_bad=example("""
            # .gitignore
            node_modules/
            __pycache__/
        """),
        example_good=example("""
            # .gitignore
            node_modules/
            __pycache__/
            .env
            secrets/
            *.key
            *.pem
        """),
        how_to_fix=(
            "Add the patterns. For a file git already tracks, run `git rm --cached FILE`, "
            "commit, and rotate the secret: it remains in the history."
        ),
        fix_safety=(
            "Safe. lockdock appends the missing patterns to .gitignore; the application "
            "is not affected and already tracked files stay tracked."
        ),
    ),
    check(
        "secrets.file-permissions", level=2, severity=Severity.MEDIUM, where="R",
        fix=Applicability.SAFE,
        title="Secret files are private to their owner",
        references=("seed 000 (least privilege", "encrypt at rest)"),
        what=(
            "Repository: the permission bits of secret files, i.e. files named by compose "
            "`secrets: file:` and `env_file:`, .env files and key files. Any read bit for "
            "group or others is reported."
        ),
        why=(
            "On shared hosts, CI runners and developer machines, other accounts and "
            "services (backup agents, web servers, compromised tools running as another "
            "user) can read a world-readable key or .env file."
        ),
        example_bad=example("""
            $ ls -l .env
            -rw-r--r-- 1 dev dev 120 Nov 26 10:00 .env
        """),
        example_good=example("""
            $ chmod 600 .env
            $ ls -l .env
            -rw------- 1 dev dev 120 Nov 26 10:00 .env
        """),
        how_to_fix="Run `chmod 600` on the file (and `chmod 700` on a secrets directory).",
        fix_safety=(
            "Safe. lockdock sets mode 0600; the owner keeps full access. One case to watch: "
            "a bind-mounted secret read inside a container by a different UID than the "
            "file's owner needs that UID to own the file."
        ),
    ),
    check(
        "secrets.rotation", level=3, severity=Severity.LOW, where="R",
        fix=None,
        title="Secret files are rotated on schedule",
        references=("seed 000 (rotate regularly)",),
        what=(
            "Repository: the modification time of each secret file is compared with its "
            "rotation period: 30 days for passwords and 90 days for keys, adjustable with "
            "`rotation-days` in `.lockdock.toml`."
        ),
        why=(
            "The longer a credential lives, the more copies of it exist (laptops, backups, "
            "people who left) and the longer a stolen copy stays useful."
        ),
        example_bad=example("""
            $ stat -c '%y %n' secrets/db_password.txt
            2025-03-02 08:15:00.000000000 +0000 secrets/db_password.txt
        """),
        example_good=example("""
            # .lockdock.toml: rotation policy matching how you rotate
            [rotation-days]
            password = 30
            key = 90
        """),
        how_to_fix=(
            "Issue a new credential at its provider (database, cloud, CA), write it to the "
            "file, redeploy, then revoke the old one. Automate it where the provider allows."
        ),
        fix_safety=(
            "No automatic fix: a new credential has to be issued where it is valid, which "
            "lockdock cannot do."
        ),
    ),
)
