"""``python -m infra.rotate_key``: each step refused while it is too early, saying when it will be
allowed, and the secret left as it was."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import clock
from chalicelib.security import signing
from infra import rotate_key

T0 = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)
SECRET_ID = "licensing/prod/lease-signing-key"


@pytest.fixture
def secrets(aws):
    """The prod secret in the first format: one key, no times."""
    client = aws.client("secretsmanager")
    key = json.loads(signing.new_secret_value("k-old"))["keys"][0]
    client.create_secret(
        Name=SECRET_ID, SecretString=json.dumps({"active_kid": "k-old", "keys": [{"kid": "k-old", "d": key["d"]}]})
    )
    clock.set_now(T0)
    yield client
    clock.set_now(None)


def _rotate(step: str, at: datetime) -> int:
    clock.set_now(at)
    return rotate_key.main(["--stage", "prod", "--region", "us-east-1", step])


def _secret(client) -> dict:
    return json.loads(client.get_secret_value(SecretId=SECRET_ID)["SecretString"])


def test_activate_is_refused_until_the_next_key_is_in_every_container_and_every_jwks(secrets, capsys):
    assert _rotate("add", T0) == 0
    before = _secret(secrets)
    allowed = T0 + timedelta(seconds=900 + 300)  # the longest TTL, then the JWKS's max-age

    refused = _rotate("activate", allowed - timedelta(seconds=1))

    assert refused == 1 and _secret(secrets) == before
    assert f"has it from {clock.rfc3339(allowed)}: activate then" in capsys.readouterr().err
    assert _rotate("activate", allowed) == 0
    assert _secret(secrets)["active_kid"] == before["keys"][1]["kid"]


def test_retire_is_refused_until_the_longest_lease_the_replaced_key_signed_has_run_out(secrets, capsys):
    _rotate("add", T0)
    activated = T0 + timedelta(hours=1)
    _rotate("activate", activated)
    before = _secret(secrets)
    allowed = activated + timedelta(seconds=900) + timedelta(days=90)  # the longest TTL, then the longest lease

    refused = _rotate("retire", allowed - timedelta(seconds=1))

    assert refused == 1 and _secret(secrets) == before
    assert f"k-old may be valid until {clock.rfc3339(allowed)}: retire then" in capsys.readouterr().err
    assert _rotate("retire", allowed) == 0
    assert [k["kid"] for k in _secret(secrets)["keys"]] == [before["active_kid"]]


def test_the_secret_records_each_step_and_keeps_the_retired_public_half(secrets):
    _rotate("add", T0)
    _rotate("activate", T0 + timedelta(hours=1))
    _rotate("retire", T0 + timedelta(days=91))

    doc = _secret(secrets)

    [key], [retired] = doc["keys"], doc["retired"]
    assert key == {
        "kid": doc["active_kid"],
        "d": key["d"],
        "added_at": "2026-12-01T09:00:00Z",
        "activated_at": "2026-12-01T10:00:00Z",
    }
    assert retired == {"kid": "k-old", "x": retired["x"], "retired_at": "2027-03-02T09:00:00Z"}
    assert "d" not in retired
    assert signing.parse_secret(json.dumps(doc)).retired_keys.keys() == {"k-old"}


def test_add_is_refused_while_a_next_key_awaits_activation(secrets, capsys):
    assert _rotate("add", T0) == 0
    before = _secret(secrets)

    refused = _rotate("add", T0 + timedelta(days=1))

    assert refused == 1 and _secret(secrets) == before
    assert "is already the next key: activate it" in capsys.readouterr().err


@pytest.mark.parametrize(
    "step, why", [("activate", "no next key: run add first"), ("retire", "no replaced key to retire")]
)
def test_a_step_out_of_order_is_refused(secrets, capsys, step, why):
    assert _rotate(step, T0) == 1
    assert why in capsys.readouterr().err


class Stale:
    """An operator's client that reads the secret, then lets ``meanwhile`` (another operator's
    whole step) run before writing: two runs of the command at once."""

    def __init__(self, client, meanwhile) -> None:
        self.client, self.meanwhile, self.exceptions = client, meanwhile, client.exceptions

    def get_secret_value(self, **kwargs):
        read = self.client.get_secret_value(**kwargs)
        self.meanwhile()
        return read

    def put_secret_value(self, **kwargs):
        return self.client.put_secret_value(**kwargs)


def test_a_step_that_read_the_secret_before_another_operator_wrote_it_is_refused(secrets):
    # Given the old key replaced, and one operator retiring it while another adds a next key
    _rotate("add", T0)
    _rotate("activate", T0 + timedelta(hours=1))
    clock.set_now(T0 + timedelta(days=91))
    other = Stale(secrets, lambda: rotate_key.run(secrets, "prod", "retire", say=lambda _: None))

    # When the add, which read the secret before the retire wrote it, writes
    with pytest.raises(rotate_key.Refused, match="changed since this step read it"):
        rotate_key.run(other, "prod", "add")

    # Then the retire stands: the old key's private half does not come back
    doc = _secret(secrets)
    assert [k["kid"] for k in doc["retired"]] == ["k-old"]
    assert "k-old" not in [k["kid"] for k in doc["keys"]] and len(doc["keys"]) == 1


def test_a_step_on_a_secret_the_service_cannot_load_is_refused(secrets, capsys):
    # Given a retired key's public half cut short by a hand edit: containers keep their last good
    # keys, and a container that starts cannot sign at all
    doc = _secret(secrets) | {"retired": [{"kid": "k-gone", "x": "cut-short"}]}
    secrets.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps(doc))

    refused = _rotate("add", T0)

    # Then the next key is not added to a secret no container would read
    assert refused == 1 and _secret(secrets) == doc
    assert "the secret would not load" in capsys.readouterr().err
