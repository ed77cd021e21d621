"""The accounts' password policy: one definition for the stack's user pool (infra/template.py),
the local and test pools (``chalicelib.store.identity.create_user_pool``), the API (which
publishes it and names the rule a refused password breaks) and the console's checklist. Pure."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import Code, DomainError

# In Cognito's words: a user pool's ``Policies.PasswordPolicy``.
PASSWORD_POLICY = {
    "MinimumLength": 12,
    "RequireLowercase": True,
    "RequireUppercase": True,
    "RequireNumbers": True,
    "RequireSymbols": False,
    "TemporaryPasswordValidityDays": 7,
}

# The characters Cognito counts as symbols (its developer guide, "Password requirements").
SYMBOLS = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-"


@dataclass(frozen=True)
class Rule:
    """One requirement of the policy: its name in the API, its text, and whether a password meets it."""

    name: str
    text: str
    met: Callable[[str], bool]


def _contains(pattern: str) -> Callable[[str], bool]:
    return lambda password: re.search(pattern, password) is not None


def rules() -> list[Rule]:
    """The policy's requirements, in the order Cognito's settings list them."""
    policy = PASSWORD_POLICY
    found = [
        Rule(
            "minimum_length",
            f"at least {policy['MinimumLength']} characters",
            lambda p: len(p) >= policy["MinimumLength"],
        )
    ]
    for key, name, text, pattern in (
        ("RequireLowercase", "require_lowercase", "a lowercase letter", r"[a-z]"),
        ("RequireUppercase", "require_uppercase", "an uppercase letter", r"[A-Z]"),
        ("RequireNumbers", "require_numbers", "a number", r"[0-9]"),
    ):
        if policy[key]:
            found.append(Rule(name, text, _contains(pattern)))
    if policy["RequireSymbols"]:
        found.append(Rule("require_symbols", "a symbol", lambda p: any(c in SYMBOLS for c in p)))
    return found


def description() -> str:
    """The policy in one phrase: "at least 12 characters, with a lowercase letter, ... and a number"."""
    first, *others = (r.text for r in rules())
    if not others:
        return first
    return f"{first}, with {', '.join(others[:-1])}{' and ' if len(others) > 1 else ''}{others[-1]}"


def broken(password: str) -> list[Rule]:
    """The requirements ``password`` does not meet (none: the policy lets it through)."""
    return [r for r in rules() if not r.met(password)]


def published() -> dict[str, Any]:
    """The policy as the API publishes it, for a client to check a password before sending it."""
    policy = PASSWORD_POLICY
    return {
        "minimum_length": policy["MinimumLength"],
        "require_lowercase": policy["RequireLowercase"],
        "require_uppercase": policy["RequireUppercase"],
        "require_numbers": policy["RequireNumbers"],
        "require_symbols": policy["RequireSymbols"],
        "symbols": SYMBOLS,
        "description": description(),
        "rules": [{"name": r.name, "text": r.text} for r in rules()],
    }


def refusal(password: str, cognito_says: str = "") -> DomainError:
    """VALIDATION_ERROR naming the policy and what ``password`` lacks (or, for a rule of Cognito's
    this module does not know, Cognito's words), with the policy itself to check against."""
    missing = broken(password)
    lacks = f"needs {', '.join(r.text for r in missing)}" if missing else cognito_says or "not allowed by the policy"
    return DomainError(
        Code.VALIDATION_ERROR,
        f"The password does not meet the password policy: {description()}.",
        detail={"fields": {"password": lacks}, "broken": [r.name for r in missing], "password_policy": published()},
    )


def check(password: str) -> None:
    """Refuse a password the pool would refuse, before asking the pool: the answer is then the
    same whether or not the email has an account (Cognito says an email exists before it looks
    at the password)."""
    if broken(password):
        raise refusal(password)
