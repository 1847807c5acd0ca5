"""Registry layer: how images are pulled and registry credentials are kept.

One record per check of this checklist layer: its metadata (the checklist columns) and
the documentation `lockdock explain`, the TUI and docs/checks.md show. The ids are a public
contract: never rename them.
"""

from __future__ import annotations

from lockdock.checks.record import Check, check, example
from lockdock.model import Applicability, Severity

CHECKS: tuple[Check, ...] = (
    check(
        "registry.https", level=2, severity=Severity.HIGH, where="H D C",
        fix=Applicability.UNSAFE,
        title="Registries are reached over HTTPS only",
        references=("CIS 2.5",),
        what=(
            "Host: daemon.json `insecure-registries`. Dockerfile FROM and compose `image:` "
            "references that pull from a registry the daemon reaches over plain HTTP."
        ),
        why=(
            "Over plain HTTP anyone on the path can swap image layers in transit and read "
            "the registry credentials, which are sent with every request."
        ),
        example_bad=example("""
            {
              "insecure-registries": ["registry.internal:5000"]
            }
        """),
        example_good=example("""
            {
              "insecure-registries": []
            }
        """),
        how_to_fix=(
            "Give the registry a TLS certificate. For a private CA, place it at "
            "/etc/docker/certs.d/HOST:PORT/ca.crt on each client and remove the "
            "`insecure-registries` entry."
        ),
        fix_safety=(
            "Changes behaviour. lockdock removes the daemon.json entry; pulls and pushes to "
            "that registry fail until it serves HTTPS that the host trusts."
            " When dockerd already gets the setting as a command-line flag, no daemon.json "
            "fix is offered: dockerd refuses to start with a setting given both ways."
        ),
    ),
    check(
        "registry.credentials-store", level=2, severity=Severity.MEDIUM, where="H",
        fix=None,
        title="Registry credentials live in a credential helper",
        references=("seeds (require authentication", "limit access)"),
        what=(
            "Host: the client config ~/.docker/config.json. `auths` entries with an `auth` "
            "string and no `credsStore` or `credHelpers` mean the password is stored in "
            "the file itself. The daemon's `registry-mirrors` (daemon.json or "
            "`--registry-mirror`) are read too: a mirror URL of the form "
            "`https://user:password@host` keeps a password in plain text (shown masked)."
        ),
        why=(
            "The `auth` value is only base64, not encryption: any process, backup or "
            "dotfile sync that reads the file gets the registry password or token, and "
            "push rights to a registry are a supply-chain attack waiting to happen."
        ),
        example_bad=example("""
            {
              "auths": {
                "registry.example.com": {"auth": "Y2ktYm90Om5vdC1hLXJlYWwtcGFzc3dvcmQ="}
              }
            }
        """),
        example_good=example("""
            {
              "auths": {"registry.example.com": {}},
              "credsStore": "secretservice"
            }
        """),
        how_to_fix=(
            "Install a credential helper (docker-credential-secretservice, -pass, "
            "-osxkeychain or -wincred), set `credsStore`, then `docker logout` and "
            "`docker login` again so the secret moves into the helper."
        ),
        fix_safety=(
            "No automatic fix: the helper has to be installed and the login repeated by you."
        ),
    ),
)
