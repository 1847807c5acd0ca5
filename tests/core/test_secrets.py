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
        ("PASSWORD_AUTH_ENABLED", "true"),
        ("GPG_KEY", "B42F6819007F00F88E364FD4036A9C25BF357DD4"),
        ("TOKEN_TTL", "3600"),
        ("IMAGE_DIGEST", "sha256:" + "a" * 64),
        ("SSH_PUBLIC_KEY", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx user@host"),
        ("DATABASE_URL", "postgres://app@db:5432/app"),
        ("HOME", "/root"),
        ("PASSPORT_ID", "X1234567-plain"),  # PASS inside a word is not a password
        ("BYPASS_CACHE", "definitely-yes-1"),
        ("COMPASS_URL", "compass-heading-42"),
        ("CACHE_KEY", "user-profile-v2"),
        ("TLS_KEY_FILE", "certs/tls.key"),
        ("SIGNING_KEY_ID", "7A2C9F0B1E3D5A77"),
        ("NODE_PUBLIC_KEY", "MCowBQYDK2VwAyEAq0Yx9Vw1"),
        ("PGP_KEY", "0x7A2C9F0B1E3D5A77"),
        ("key", "B97B0AFCAA1A47F044F244A07FCFFB7D0A8D4B2B"),  # docker-library: gpg --recv-keys "$key"
        ("ADMIN_PASS", "$${LITERAL_REF}"),  # unescaped it is a ${...} the app resolves itself
    ],
)
def test_not_secrets(name, value):
    assert check_assignment(name, value, dollar_escapes=True) is None


@pytest.mark.parametrize(
    "name",
    ["DB_PASS", "SMTP_PASS", "PASS_DB", "mongo.pass", "MYSQL_ROOT_PWD", "STRIPE_KEY", "SSH_KEY", "app-key"],
)
def test_pass_pwd_key_as_whole_words(name):
    match = check_assignment(name, "plain-value-77")
    assert match is not None and not match.placeholder
    assert "plain-value-77" not in match.kind + match.masked


@pytest.mark.parametrize(
    ("name", "value"),
    [("SESSION_TOKEN", "6f1e0c3b9a8d7e6f5a4b3c2d1e0f9a8b"),  # 32 hex chars under a token name
     ("WEBHOOK_SECRET", "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"),  # base64
     ("CONSUL_HTTP_TOKEN", "1b4e28ba-2fa1-11d2-883f-0016d3cca427")],
)
def test_long_hex_or_base64_under_token_names(name, value):
    assert check_assignment(name, value) is not None


def test_compose_double_dollar_is_a_literal_dollar():
    # `$$` escapes a dollar in compose: `$$ecret-9` is the literal password `$ecret-9`.
    match = check_assignment("DB_PASS", "$$ecret-9", dollar_escapes=True)
    assert match is not None and "ecret" not in match.masked
    assert check_assignment("DB_PASS", "${DB_PASS}", dollar_escapes=True) is None
    assert check_assignment("DB_PASS", "$${HOME}x", dollar_escapes=True) is not None
    # Outside compose a leading `$` is a reference.
    assert check_assignment("DB_PASS", "$$ecret-9") is None


@pytest.mark.parametrize(
    "value", ["changeme", "CHANGE_ME", "example", "dummy-password", "<your-token>", "<your token here>",
              "xxx", "xxxx", "your_api_key", "replace-me"],
)
def test_placeholders_are_reported_one_severity_lower(value):
    from lockdock.model import Severity
    from lockdock.secrets import lowered

    match = check_assignment("API_TOKEN", value)
    assert match is not None and match.placeholder
    assert "looks like a placeholder" in match.kind
    assert lowered(Severity.HIGH, match) is Severity.MEDIUM
    real = check_assignment("API_TOKEN", "k8Qz-real-looking-1")
    assert real is not None and lowered(Severity.HIGH, real) is Severity.HIGH


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


def test_name_of_a_password_hashing_scheme_is_not_a_secret() -> None:
    # mailcow's MAILCOW_PASS_SCHEME=BLF-CRYPT: PASS is a word of the name, the value a scheme
    assert check_assignment("MAILCOW_PASS_SCHEME", "BLF-CRYPT") is None
    assert check_assignment("MAILCOW_PASS", "s3cr3t-Value") is not None
    assert check_assignment("SMTP_PASS_WORD", "s3cr3t-Value") is not None
