"""Secret-looking files whose content says otherwise. PEM files that hold no private key (certificates, DH parameters) are public: the
repository secret-file checks and COPY-into-image leave them alone, a key beside them is
still reported. Found on mailcow's WebAuthn root certificates and docker-mailserver's
ffdhe4096.pem by the real-world run. A `.env` that sets no credential (paperless-ngx's sets
only COMPOSE_PROJECT_NAME) is no password file; one with a password, a placeholder or a line
that is no assignment still is."""

from __future__ import annotations

import os
import time
from pathlib import Path

from lockdock.secrets import public_pem
from tests.conftest import scan_json

CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
DH = "-----BEGIN DH PARAMETERS-----\nMIIB\n-----END DH PARAMETERS-----\n"
KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n"


def test_public_pem_by_content() -> None:
    assert public_pem("certs/root.pem", CERT)
    assert public_pem("dh.pem", DH)
    assert public_pem("site.crt", "Certificate:\n  Data:\n" + CERT)  # openssl x509 -text output
    assert not public_pem("bundle.pem", CERT + KEY)
    assert not public_pem("key.pem", KEY)
    assert not public_pem("old.pem", "x\n")  # nothing PEM in it: the name decides
    assert not public_pem("tls.key", CERT)  # not a PEM-named file


def test_repository_checks_skip_public_pem(tmp_path: Path, run_lockdock) -> None:
    files = {"certs/root.pem": CERT, "ssl/dhparams.pem": DH, "ssl/key.pem": KEY}
    old = time.time() - 400 * 86400
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        os.chmod(p, 0o644)
        os.utime(p, (old, old))
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    for check in ("secrets.rotation", "secrets.file-permissions"):
        paths = sorted(f["location"]["path"] for f in report["findings"] if f["check"] == check)
        assert paths == ["ssl/key.pem"], (check, paths)


def test_env_file_without_credentials_is_no_secret_file(tmp_path: Path, run_lockdock) -> None:
    files = {
        "plain/.env": "# compose settings\nCOMPOSE_PROJECT_NAME=paperless\nTZ=UTC\n",
        "pw/.env": "COMPOSE_PROJECT_NAME=x\nDB_PASSWORD=Tr0ub4dor&3\n",
        "ph/.env": "API_TOKEN=changeme\n",
        "odd/.env": "COMPOSE_PROJECT_NAME=x\nnot an assignment\n",
    }
    old = time.time() - 400 * 86400
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        os.chmod(p, 0o644)
        os.utime(p, (old, old))
    report = scan_json(run_lockdock, "--no-engine", ".", cwd=tmp_path)
    paths = sorted(f["location"]["path"] for f in report["findings"] if f["check"] == "secrets.rotation")
    assert paths == ["odd/.env", "ph/.env", "pw/.env"]
