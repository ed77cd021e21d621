"""The user pool's keys: fetched once per container, and again (at most once a minute) for a
token that names a key they do not hold, as Cognito's key rotation needs."""

from __future__ import annotations

import time

import pytest

from tests.conftest import pool_signed_token


@pytest.fixture
def fetches(monkeypatch, user_pool):
    from chalicelib.security import access_tokens
    from chalicelib.store import identity

    count = []
    original = identity.json_web_keys
    monkeypatch.setattr(identity, "json_web_keys", lambda: count.append(1) or original())
    access_tokens.reset()
    return count


def test_the_keys_are_fetched_once_for_many_requests(api, user_pool, fetches):
    for _ in range(3):
        assert api.get("/v1/license", headers={"Authorization": f"Bearer {pool_signed_token(user_pool)}"}).status == 403

    assert len(fetches) == 1


def test_an_unknown_key_id_is_fetched_again_at_most_once_a_minute(api, user_pool, fetches, monkeypatch):
    from chalicelib.security import access_tokens

    unknown = {"Authorization": f"Bearer {pool_signed_token(user_pool, 'rotated')}"}
    known = {"Authorization": f"Bearer {pool_signed_token(user_pool)}"}
    assert api.get("/v1/license", headers=known).status == 403  # verified: a member of nothing

    floods = [api.get("/v1/license", headers=unknown).status for _ in range(5)]
    fetched_in_the_minute = len(fetches)
    later = time.monotonic() + access_tokens.REFETCH_AFTER_S + 1
    monkeypatch.setattr(access_tokens.time, "monotonic", lambda: later)
    after_a_minute = api.get("/v1/license", headers=unknown).status

    assert floods == [401] * 5 and after_a_minute == 401
    assert fetched_in_the_minute == 1
    assert len(fetches) == 2
