"""The accounts' password policy (``chalicelib.domain.passwords``): what a password lacks, in the
words the API and the console use, for the stack's policy and for one that wants symbols."""

from __future__ import annotations

import pytest

from chalicelib.domain import passwords
from chalicelib.domain.errors import Code


@pytest.mark.parametrize(
    "password, lacks",
    [
        ("Correct-horse-42", []),
        ("", ["minimum_length", "require_lowercase", "require_uppercase", "require_numbers"]),
        ("correct horse battery 4", ["require_uppercase"]),
        ("Ünïcödé-only-Ä", ["require_uppercase", "require_numbers"]),  # Cognito counts basic Latin letters only
    ],
)
def test_what_a_password_lacks_is_named_by_rule(password, lacks):
    assert [r.name for r in passwords.broken(password)] == lacks


def test_the_refusal_names_the_policy_and_carries_it():
    refusal = passwords.refusal("short")

    assert refusal.code == Code.VALIDATION_ERROR
    assert refusal.message.endswith(
        ": at least 12 characters, with a lowercase letter, an uppercase letter and a number."
    )
    assert refusal.detail["password_policy"] == passwords.published()
    assert "short" not in str(refusal.detail)


def test_a_policy_that_wants_symbols_names_them(monkeypatch):
    monkeypatch.setitem(passwords.PASSWORD_POLICY, "RequireSymbols", True)

    assert [r.name for r in passwords.broken("Correct-horse-42")] == []  # "-" is one of Cognito's
    assert [r.name for r in passwords.broken("Correcthorse42")] == ["require_symbols"]
    assert passwords.description().endswith("a number and a symbol")
    assert passwords.published()["rules"][-1] == {"name": "require_symbols", "text": "a symbol"}
