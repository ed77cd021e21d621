"""Accounts (the seed's Kemp ID, section 2) on moto's Cognito, through the API."""

from __future__ import annotations

from tests.conftest import PASSWORD


def test_a_registered_and_confirmed_account_signs_in_and_reads_itself(api, accounts):
    # Given
    assert accounts.register("pat@acme.example", name="Pat").status == 202
    assert accounts.confirm("pat@acme.example").status == 200

    # When
    session = accounts.sign_in("pat@acme.example")
    me = api.get("/v1/account", headers={"Authorization": f"Bearer {session.body['access_token']}"})

    # Then
    assert session.status == 200 and session.body["expires_in"] > 0 and session.body["refresh_token"]
    assert me.status == 200
    assert me.body["email"] == "pat@acme.example" and me.body["name"] == "Pat" and me.body["tenants"] == []
