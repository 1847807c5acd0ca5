"""Secret recognition and masking (shared by every analyzer)."""

from __future__ import annotations

import time

import pytest

from lockdock.secrets import Secret, check_assignment, find_in_text, mask, secret_file, secret_path


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("POSTGRES_PASSWORD", "msf"),  # short and weak is still a literal secret
        ("DB_PASSWORD", "changeme"),
        ("API_KEY", "k3y-with-some-length"),
        ("GITHUB_TOKEN", "ghp_" + "a" * 36),
        ("ANYTHING", "AKIA" + "B" * 16),  # by format, whatever the name
        ("DATABASE_URL", "postgres://app:pa55word@db:5432/app"),
    ],
)
def test_literal_secrets_are_found(name, value):
    match = check_assignment(name, value)
    assert match is not None
    assert value not in match.masked


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_PASSWORD", "${DB_PASSWORD}"),
        ("DB_PASSWORD", "$DB_PASSWORD"),
        ("DB_PASSWORD_FILE", "/run/secrets/db_password"),
        ("PASSWORD", "/run/secrets/pw"),
        ("API_TOKEN", "<your token here>"),
        ("SECRET", "xxxx"),
        ("PASSWORD_AUTH_ENABLED", "true"),
        ("GPG_KEY", "B42F6819007F00F88E364FD4036A9C25BF357DD4"),
        ("TOKEN_TTL", "3600"),
        ("IMAGE_DIGEST", "sha256:" + "a" * 64),
        ("SSH_PUBLIC_KEY", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx user@host"),
        ("DATABASE_URL", "postgres://app@db:5432/app"),
        ("HOME", "/root"),
    ],
)
def test_not_secrets(name, value):
    assert check_assignment(name, value) is None


def test_formats_in_free_text_and_positions():
    text = "RUN curl -H 'Authorization: token ghp_" + "c" * 36 + "' https://x"
    (m,) = find_in_text(text)
    assert m.kind == "GitHub token"
    assert text[m.start:m.end] == "ghp_" + "c" * 36
    private = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----"
    assert find_in_text(private)[0].kind == "private key"


def test_mask_never_reveals():
    assert mask("hunter2") == "********"
    masked = mask("a-much-longer-secret-value")
    assert "longer" not in masked and "26 chars" in masked


def test_secret_repr_is_masked():
    s = Secret("super-secret-value-123")
    assert "super-secret" not in repr(s) and "super-secret" not in str(s)
    assert s.reveal() == "super-secret-value-123"


def test_adversarial_line_is_bounded():
    line = "a" * 1_000_000 + "://" + ":" * 500_000 + "@"
    start = time.monotonic()
    find_in_text(line)
    check_assignment("PASSWORD", line)
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize("path", [".env", "config/.env.production", "certs/server.key", "id_rsa", "secrets/db.txt", ".npmrc"])
def test_secret_paths(path):
    assert secret_path(path)


@pytest.mark.parametrize("path", [".env.example", "id_rsa.pub", "etc/ssl/certs/ca.pem", "secrets/README.md", "src/key.py"])
def test_not_secret_paths(path):
    assert not secret_path(path)


def test_secret_file_ignores_public_material():
    assert secret_file("tls/server.key") and not secret_file("tls/public.pem")
