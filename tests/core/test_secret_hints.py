"""`SecretFormat.needs` (the literal pre-test of each credential format) only skips texts the
format's pattern cannot match: find_in_text gives the same matches with and without it."""

from __future__ import annotations

import dataclasses

import pytest

from lockdock import secrets

EXAMPLES = [
    "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY BLOCK-----",
    "aws_access_key_id=AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A",
    "token ghp_" + "a1B2c3D4" * 5 + " and github_pat_" + "x" * 30,
    "glpat-abcdefghij0123456789",
    "SLACK=xoxb-1234567890-abcdefghij",
    "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXX",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc rk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "AIzaSyA-1234567890abcdefghijklmnopqrstu",
    "npm_" + "A1b2C3d4E5" * 3 + "abcdef",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "postgres://admin:hunter2secret@db:5432/app and redis://:pw@r:6379",
    "curl -u user:pass https://example.com/x && echo AKIA-not-a-key xox- eyJ npm_x",
    "apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*",
    "",
]


@pytest.mark.parametrize("text", [*EXAMPLES, " ".join(EXAMPLES)])
def test_needs_never_changes_what_is_found(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    hinted = secrets.find_in_text(text)
    monkeypatch.setattr(secrets, "FORMATS", tuple(dataclasses.replace(f, needs=()) for f in secrets.FORMATS))
    assert hinted == secrets.find_in_text(text)


def test_every_format_is_found_by_an_example() -> None:
    kinds = {m.kind for t in EXAMPLES for m in secrets.find_in_text(t)}
    assert kinds == {f.kind for f in secrets.FORMATS}
