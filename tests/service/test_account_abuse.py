"""The seed's 24-hour rule and the throttles of registration, sign-in and password reset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.startup import configure
from tests.conftest import PASSWORD, SETTINGS


def _sign_in_works(accounts, email: str) -> bool:
    return accounts.sign_in(email).status == 200


# The 24-hour rule ---------------------------------------------------------------------------------


def test_a_registration_not_confirmed_within_24_hours_is_deleted_and_the_email_registers_again(api, accounts, sweep):
    # Given: Cognito stamps the registration with its own clock, somewhere between these two
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    accounts.register("late@acme.example", password="First-pass-11")
    after = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)

    # When
    early = sweep("purge_unconfirmed", before + timedelta(hours=23, minutes=59))
    late = sweep("purge_unconfirmed", after + timedelta(hours=24))

    # Then: kept at 23h59, gone at 24h; the email registers afresh and works
    assert (early["due"], early["acted"]) == (0, 0)
    assert (late["due"], late["acted"]) == (1, 1)
    assert accounts.confirm("late@acme.example").status == 400  # nothing left to confirm
    assert accounts.register("late@acme.example", password="Second-pass-22").status == 202
    assert accounts.confirm("late@acme.example").status == 200
    assert accounts.sign_in("late@acme.example", "Second-pass-22").status == 200


def test_the_purge_leaves_confirmed_accounts_and_runs_twice_alike(api, accounts, sweep):
    accounts.signed_up("kept@acme.example")
    accounts.register("gone@acme.example")
    later = datetime.now(UTC) + timedelta(days=3)

    first = sweep("purge_unconfirmed", later)
    second = sweep("purge_unconfirmed", later)

    assert first["acted"] == 1 and second["acted"] == 0
    assert _sign_in_works(accounts, "kept@acme.example")


def test_without_a_user_pool_the_purge_does_nothing(api, sweep):
    assert sweep("purge_unconfirmed", datetime.now(UTC))["due"] == 0


# Throttles ----------------------------------------------------------------------------------------


@pytest.fixture
def limits(user_pool):
    """Accounts on, with ``limits(per_email, per_address)`` attempts an hour."""
    pool_id, client_id = user_pool

    def set_limits(per_email: int, per_address: int) -> None:
        configure(
            SETTINGS.model_copy(
                update={
                    "cognito_user_pool_id": pool_id,
                    "cognito_client_id": client_id,
                    "account_attempts_per_email_per_hour": per_email,
                    "account_attempts_per_address_per_hour": per_address,
                }
            )
        )

    return set_limits


@pytest.mark.parametrize(
    "path, body, used",
    [
        ("/v1/accounts", {"password": PASSWORD, "name": "Pat"}, 1),  # signing up registered once
        ("/v1/sessions", {"password": "Wrong-horse-42"}, 1),  # and signed in once
        ("/v1/accounts/password-reset", {}, 0),
    ],
)
def test_attempts_per_email_are_throttled_alike_whether_or_not_the_email_has_an_account(
    api, accounts, limits, path, body, used
):
    # Given: one email with an account, one without, each with as many attempts spent
    limits(per_email=3, per_address=100)
    accounts.signed_up("known@acme.example")
    for _ in range(used):
        api.post(path, {"email": "unknown@acme.example", **body})

    # When
    answers = {
        email: [api.post(path, {"email": email, **body}) for _ in range(4 - used)]
        for email in ("known@acme.example", "unknown@acme.example")
    }

    # Then: the same answers; the fourth attempt of the hour is 429 with Retry-After
    known, unknown = ([(r.status, r.body) for r in answers[e]] for e in ("known@acme.example", "unknown@acme.example"))
    assert known == unknown
    last = answers["unknown@acme.example"][-1]
    assert last.status == 429 and last.code == "RATE_LIMITED" and int(last.headers["Retry-After"]) > 0
    assert answers["unknown@acme.example"][2 - used].status != 429


def test_attempts_per_source_address_are_throttled_across_emails(api, accounts, limits):
    limits(per_email=3, per_address=5)

    replies = [api.post("/v1/accounts/password-reset", {"email": f"p{n}@acme.example"}) for n in range(6)]

    assert [r.status for r in replies] == [202] * 5 + [429]


def test_a_throttle_window_passes(api, accounts, limits, clock):
    limits(per_email=3, per_address=100)
    for _ in range(3):
        api.post("/v1/accounts/password-reset", {"email": "p@acme.example"})
    assert api.post("/v1/accounts/password-reset", {"email": "p@acme.example"}).status == 429

    clock.set_now(clock.now() + timedelta(hours=1))

    assert api.post("/v1/accounts/password-reset", {"email": "p@acme.example"}).status == 202


def test_the_purge_stops_with_its_budget_and_the_next_run_goes_on(api, accounts):
    from tests.service.test_sweep_budget import invoke

    # Given five stale registrations, and runs whose budget lets them start two deletions each
    for n in range(5):
        accounts.register(f"stale{n}@acme.example")
    later = datetime.now(UTC) + timedelta(days=3)

    # When the purge runs until a run finishes its work
    reports = []
    while not reports or reports[-1]["stopped_early"]:
        reports.append(invoke("purge_unconfirmed", later + timedelta(hours=len(reports)), step_ms=12_000))
        assert len(reports) < 10

    # Then each run deleted what its budget allowed, and every registration was deleted once
    assert [(r["acted"], r["stopped_early"]) for r in reports] == [(2, True), (2, True), (1, False)]
    assert all(accounts.confirm(f"stale{n}@acme.example").status == 400 for n in range(5))
