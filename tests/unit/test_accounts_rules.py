"""The accounts' pure rules: what each role may do, one spelling per email, a token by its shape."""

from __future__ import annotations

import pytest

from chalicelib.domain.accounts import Role, email_hash, may, normalise_email
from chalicelib.security.access_tokens import looks_like_jwt


@pytest.mark.parametrize(
    "role, method, allowed",
    [
        (Role.OWNER, "DELETE", True),
        (Role.ADMIN, "POST", True),
        (Role.ADMIN, "PATCH", True),
        (Role.VIEWER, "GET", True),
        (Role.VIEWER, "head", True),
        (Role.VIEWER, "POST", False),
        (Role.VIEWER, "PATCH", False),
        (Role.VIEWER, "DELETE", False),
    ],
)
def test_a_viewer_reads_only_and_managers_do_everything(role, method, allowed):
    assert may(role, method) is allowed


def test_an_email_has_one_spelling_and_one_hash():
    assert normalise_email("  Pat@ACME.example ") == "pat@acme.example"
    assert email_hash("Pat@ACME.example") == email_hash("pat@acme.example") != email_hash("pat2@acme.example")


@pytest.mark.parametrize(
    "credential, jwt",
    [
        ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", True),
        ("lk_api.t0123.secretsecretsecret", False),
        ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0", False),
        ("lk_op.test-operator-key", False),
    ],
)
def test_a_token_is_told_from_a_key_by_its_shape(credential, jwt):
    assert looks_like_jwt(credential) is jwt
