"""People's accounts on the local stack: the Cognito user pool and its app client on moto
(``chalicelib.store.create_user_pool`` makes them, as the stack does in AWS), the demo account's
password, and the mail Cognito would send.

moto sends no mail. AWS mails a code at registration, at a password reset and at a change of
email; here the ``Mailbox`` catches the moments AWS would send one (moto's ``SignUp``,
``ForgotPassword`` and ``UpdateUserAttributes`` with an email, patched in the stack's process
while it runs), prints each mail on stderr and appends it, one JSON object a line, to
``.local/mail-<port>.jsonl``, where tests and scripts read the codes (``read_mail``).

What moto checks of a code is not what AWS checks: its ``ConfirmSignUp`` takes any code, and its
``ConfirmForgotPassword`` checks only codes that start with ``moto-confirmation-code:``. The code
shown for a reset is the one moto made (its six digits; the prefix is moto's, so typing just the
digits is taken too). So a wrong code is refused in AWS and not here: the codes show the flow,
the service's tests prove its own side. A confirmation does mark the email verified, as in AWS
(``confirming_as_cognito``), and a change of email waits, as in AWS, for ``VerifyUserAttribute``
(which moto lacks) to take the code mailed for it and no other.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO_EMAIL = "demo@example.com"


@dataclass(frozen=True)
class UserPool:
    """The pool and app client ``chalicelib.store.create_user_pool`` made on the stack's moto."""

    pool_id: str
    client_id: str

    def environment(self) -> dict[str, str]:
        """How the service learns them, as the stack passes them to every function."""
        return {"COGNITO_USER_POOL_ID": self.pool_id, "COGNITO_CLIENT_ID": self.client_id}


def demo_password() -> str:
    """A fresh password that meets the pool's policy (``chalicelib.domain.passwords``: 12 characters
    or more, lower and upper case, a number)."""
    return f"Demo-{secrets.token_hex(5)}-Pw{secrets.randbelow(90) + 10}"


# --- the mail AWS would send -----------------------------------------------------------------


def mailbox_path(state_dir: Path, port: int) -> Path:
    return state_dir / f"mail-{port}.jsonl"


def read_mail(path: Path, to: str | None = None) -> list[dict[str, Any]]:
    """The mails written so far (to ``to`` only, when given), oldest first."""
    if not path.exists():
        return []
    mails = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [m for m in mails if to is None or m["to"].lower() == to.lower()]


class Mailbox:
    """Where the local stack's Cognito "sends" its mail: stderr and a JSON-lines file."""

    def __init__(self, path: Path, echo=None) -> None:
        self.path = path
        self._echo = echo if echo is not None else (lambda line: print(line, file=sys.stderr, flush=True))
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], str] = {}

    def last_code(self, to: str, why: str) -> str | None:
        """The code last mailed to ``to`` for ``why``, as Cognito remembers what it sent."""
        return self._last.get((to.lower(), why))

    def send(self, to: str, why: str, code: str) -> None:
        from infra.template import VERIFICATION_MESSAGE, VERIFICATION_SUBJECT

        mail = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "to": to,
            "why": why,
            "code": code,
            "subject": VERIFICATION_SUBJECT,
            "body": VERIFICATION_MESSAGE.replace("{####}", code),
        }
        with self._lock:
            self._last[(to.lower(), why)] = code
            self.path.parent.mkdir(exist_ok=True)
            with self.path.open("a") as out:
                out.write(json.dumps(mail) + "\n")
        self._echo(f"local stack: mail to {to} ({why}): code {code}")


@contextlib.contextmanager
def confirming_as_cognito() -> Iterator[None]:
    """While inside, moto's Cognito in this process confirms a registration as AWS does. In AWS,
    confirming with the code mailed at registration proves the address: ConfirmSignUp marks the
    account CONFIRMED and, the pool auto-verifying ``email``, sets ``email_verified`` to true
    (GetUser and AdminGetUser then show it). moto 5 only changes the status and leaves the
    attribute out, so an account confirmed on it would be one whose email nobody verified (no
    trial, ``email_verified`` false)."""
    from moto.cognitoidp.models import CognitoIdpBackend

    original = CognitoIdpBackend.confirm_sign_up

    def confirm_sign_up(self, client_id, username):
        result = original(self, client_id, username)
        pool = next(p for p in self.user_pools.values() if client_id in p.clients)
        self.admin_get_user(pool.id, username).update_attributes([{"Name": "email_verified", "Value": "true"}])
        return result

    CognitoIdpBackend.confirm_sign_up = confirm_sign_up
    try:
        yield
    finally:
        CognitoIdpBackend.confirm_sign_up = original


@contextlib.contextmanager
def delivering_to(mailbox: Mailbox) -> Iterator[None]:
    """While inside, moto's Cognito in this process mails ``mailbox`` where AWS would mail the
    account: a registration, a password reset, a change of email (whose code then verifies the
    new email)."""
    from moto.cognitoidp.models import CognitoIdpBackend
    from moto.cognitoidp.responses import CognitoIdpResponse

    originals = {
        name: getattr(CognitoIdpBackend, name)
        for name in ("sign_up", "forgot_password", "update_user_attributes", "admin_update_user_attributes")
    }

    def sign_up(self, client_id, username, password, attributes):
        user, details = originals["sign_up"](self, client_id, username, password, attributes)
        email = user.attribute_lookup.get("email") or username
        mailbox.send(email, "registration", f"{secrets.randbelow(900_000) + 100_000}")
        return user, details

    def forgot_password(self, client_id, username):
        code, details = originals["forgot_password"](self, client_id, username)
        if code:  # AWS mails only an account that exists (and answers the same either way)
            mailbox.send(username, "password reset", code.rpartition(":")[2])
        return code, details

    def _changed_email(attributes) -> str | None:
        return next((a["Value"] for a in attributes or [] if a.get("Name") == "email"), None)

    # An email waiting for its code, by (pool id, username). AWS, with the pool's
    # AttributesRequireVerificationBeforeUpdate (the stack's and create_user_pool's), keeps the
    # account's email until the code mailed to the new one verifies it; moto changes it at once.
    pending: dict[tuple[str, str], str] = {}

    def update_user_attributes(self, access_token, attributes):
        email = _changed_email(attributes)
        others = [a for a in attributes or [] if a.get("Name") != "email"]
        result = originals["update_user_attributes"](self, access_token, others)
        if email:
            pool = next(p for p in self.user_pools.values() if access_token in p.access_tokens)
            self._verify_email_is_not_used(pool.id, email)
            pending[(pool.id, self.get_user(access_token).username)] = email
            mailbox.send(email, "change of email", f"{secrets.randbelow(900_000) + 100_000}")
        return result

    def admin_update_user_attributes(self, user_pool_id, username, attributes):
        result = originals["admin_update_user_attributes"](self, user_pool_id, username, attributes)
        verified = any(
            a.get("Name") == "email_verified" and str(a.get("Value")).lower() == "true" for a in attributes or []
        )
        if (email := _changed_email(attributes)) and not verified:
            mailbox.send(email, "change of email", f"{secrets.randbelow(900_000) + 100_000}")
        return result

    def verify_user_attribute(self):
        # moto 5 has no VerifyUserAttribute. AWS's checks the code it mailed to the new email,
        # which becomes the account's, verified; this one checks the code the mailbox sent.
        from moto.cognitoidp.exceptions import CodeMismatchException, NotAuthorizedError
        from moto.core.responses import EmptyResult

        token = self._get_param("AccessToken")
        pool = next((p for p in self.backend.user_pools.values() if token in p.access_tokens), None)
        if pool is None or self._get_param("AttributeName") != "email":
            raise NotAuthorizedError(token)
        user = self.backend.get_user(token)
        old, new = user.attribute_lookup.get("email"), pending.get((pool.id, user.username))
        if new is None or mailbox.last_code(new, "change of email") != self._get_param("Code"):
            raise CodeMismatchException("Invalid verification code provided, please try again.")
        user.update_attributes([{"Name": "email", "Value": new}, {"Name": "email_verified", "Value": "true"}])
        del pending[(pool.id, user.username)]
        # moto's tokens name the account by the email it signed in with (AWS's by its sub).
        for tokens in (pool.access_tokens, pool.id_tokens, pool.refresh_tokens):
            for key, value in list(tokens.items()):
                if value and value[1] == old:
                    tokens[key] = (value[0], new, *value[2:])
        return EmptyResult()

    patched = {
        "sign_up": sign_up,
        "forgot_password": forgot_password,
        "update_user_attributes": update_user_attributes,
        "admin_update_user_attributes": admin_update_user_attributes,
    }
    for name, function in patched.items():
        setattr(CognitoIdpBackend, name, function)
    CognitoIdpResponse.verify_user_attribute = verify_user_attribute
    try:
        yield
    finally:
        for name, function in originals.items():
            setattr(CognitoIdpBackend, name, function)
        del CognitoIdpResponse.verify_user_attribute
