"""A whole rotation of the lease-signing key (add, activate, retire with ``infra.rotate_key``)
while LoadMasters keep checking in through two containers, each with its own key ring cache,
and verify every lease offline with the JWKS they fetched, kept as its Cache-Control allows."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from chalicelib import clock
from chalicelib.security import signing
from chalicelib.settings import LONGEST_KEY_TTL_S
from chalicelib.startup import configure
from infra import rotate_key
from infra.rotate_key import LONGEST_LEASE_S
from tests.conftest import SETTINGS, T0, activate, first_type_id

TTL = timedelta(seconds=LONGEST_KEY_TTL_S)


class Containers:
    """Two API containers, each with its key ring cache; requests go to each in turn. Around an
    operator's step, one starts just before it and the other just after: for as long as any
    container may, one serves with the keys of before the step and the other with those of after."""

    def __init__(self, monkeypatch) -> None:
        self.monkeypatch = monkeypatch
        self.caches = [signing.key_ring_cache(), signing.key_ring_cache()]
        self.turn = 0

    def serve(self, n: int | None = None) -> None:
        """The next request goes to container ``n``, or to each in turn."""
        self.turn += 1
        self.monkeypatch.setattr(signing, "_ring", self.caches[self.turn % 2 if n is None else n])

    def step(self, api, step: str) -> None:
        self._cold_start(api, 0)
        assert rotate_key.main(["--stage", "dev", "--region", "us-east-1", step]) == 0
        self._cold_start(api, 1)

    def _cold_start(self, api, n: int) -> None:
        self.caches[n] = signing.key_ring_cache()
        self.monkeypatch.setattr(signing, "_ring", self.caches[n])
        assert api.get("/v1/.well-known/jwks.json").status == 200


class LoadMaster:
    """Checks in, keeps its lease and verifies it offline with the JWKS it fetched, fetching it
    again only once its copy is as old as the Cache-Control's max-age. ``adopts_tokens``: takes the
    fresh device token of each check-in, or keeps its activation's for good. ``container``: the one
    its check-ins go to (None: each in turn); ``jwks_from``: the one its JWKS comes from (0 started
    before the last step, 1 after it). After ``online_until`` it stops checking in and keeps
    working on its last lease until it runs out."""

    def __init__(
        self,
        api,
        containers: Containers,
        granted: dict,
        address: dict,
        *,
        adopts_tokens: bool,
        container: int | None = None,
        jwks_from: int = 0,
    ) -> None:
        self.api, self.containers, self.address, self.adopts_tokens = api, containers, address, adopts_tokens
        self.container, self.jwks_from = container, jwks_from
        self.online_until: datetime | None = None
        self.device_id, self.token, self.lease = granted["device_id"], granted["device_token"], granted["license"]
        self.jwks: dict | None = None
        self.jwks_expires: datetime | None = None
        self._fetch_jwks_if_stale()
        containers.serve(container)
        confirmed = api.post(f"/v1/devices/{self.device_id}/confirm", headers=self._headers())
        assert confirmed.status == 200, confirmed.body

    def live(self, container: int | None = None) -> None:
        """One check-in cycle (to ``container``, else to its own); fails the test on a refused
        check-in or a lease it cannot verify."""
        if self.online_until and clock.now() > self.online_until and clock.now() >= self._lease_expires():
            return  # unlicensed, as it should be
        self._fetch_jwks_if_stale()
        self._verify_lease()  # the lease it holds, with the JWKS it now has
        if self.online_until and clock.now() > self.online_until:
            return
        self.containers.serve(self.container if container is None else container)
        reply = self.api.post(
            f"/v1/devices/{self.device_id}/check-ins",
            {**self.address, "port": 443, "version": "7.2.47"},
            headers=self._headers(),
        )
        assert reply.status == 200, (clock.now(), reply.body)
        self.lease = reply.body["license"]
        if self.adopts_tokens:
            self.token = reply.body["device_token"]
        self._verify_lease()

    def token_kid(self) -> str:
        return _kid(self.token)

    def lease_kid(self) -> str:
        return _kid(self.lease)

    def _lease_expires(self) -> datetime:
        claims = json.loads(signing.b64url_decode(self.lease.split(".")[1]))
        return datetime.fromtimestamp(claims["exp"], UTC)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Device {self.token}"}

    def _fetch_jwks_if_stale(self) -> None:
        if self.jwks is None or clock.now() >= self.jwks_expires:
            self.fetch_jwks()

    def fetch_jwks(self) -> None:
        self.containers.serve(self.jwks_from)
        reply = self.api.get("/v1/.well-known/jwks.json")
        assert reply.status == 200, reply.body
        max_age = int(re.search(r"max-age=(\d+)", reply.headers["Cache-Control"]).group(1))
        self.jwks, self.jwks_expires = reply.body, clock.now() + timedelta(seconds=max_age)

    def _verify_lease(self) -> None:
        kid = self.lease_kid()
        known = [k["kid"] for k in self.jwks["keys"]]
        assert kid in known, f"{clock.now()}: a lease signed by {kid}, the JWKS fetched holds {known}"
        claims = jwt.decode(self.lease, KeySet.import_key_set(self.jwks), algorithms=["EdDSA"]).claims
        jwt.JWTClaimsRegistry(now=int(clock.now().timestamp()), exp={"essential": True}).validate(claims)


def _kid(token: str) -> str:
    return json.loads(signing.b64url_decode(token.split(".")[0]))["kid"]


@pytest.fixture
def secrets_client(aws):
    """The first format of the secret (no times, no retired keys), with the longest TTL a stage
    may choose: the rotation's waits must hold for it."""
    configure(SETTINGS.model_copy(update={"signing_key_ttl_s": LONGEST_KEY_TTL_S, "signing_key_autocreate": False}))
    client = boto3.client("secretsmanager", region_name="us-east-1")
    key = json.loads(signing.new_secret_value("k-old"))["keys"][0]
    client.create_secret(
        Name=SETTINGS.signing_key_secret_id,
        SecretString=json.dumps({"active_kid": "k-old", "keys": [{"kid": "k-old", "d": key["d"]}]}),
    )
    return client


def _live_until(fleet: list[LoadMaster], until: datetime, every: timedelta) -> None:
    while clock.now() < until:
        clock.set_now(min(clock.now() + every, until))
        for loadmaster in fleet:
            loadmaster.live()


def test_a_whole_rotation_refuses_no_check_in_and_leaves_no_lease_unverifiable(
    secrets_client, api, trial_tenant, monkeypatch
):
    # Given leases as long as the API allows, and three LoadMasters: one taking each fresh device
    # token and one keeping its activation's, both fetching the JWKS from the container that
    # started before the last step (it may not publish a key just added); and one that goes
    # offline on the last lease the replaced key signs, fetching the JWKS from the container that
    # started after the last step (it no longer publishes a key just retired)
    containers = Containers(monkeypatch)
    containers.serve()
    assert api.patch("/v1/settings", {"lease_s": LONGEST_LEASE_S}, headers=trial_tenant.admin).status == 200
    lic_type_id = first_type_id(api, trial_tenant)
    fleet = []
    for n, (adopts, container, jwks_from) in enumerate(((True, None, 0), (False, None, 0), (True, 0, 1))):
        address = {"mac": f"00:50:56:aa:bb:0{n}", "ip": f"10.0.0.{n + 5}"}
        containers.serve(container)
        granted = activate(api, trial_tenant, lic_type_id, **address).body
        fleet.append(
            LoadMaster(
                api, containers, granted, address, adopts_tokens=adopts, container=container, jwks_from=jwks_from
            )
        )
    adopter, keeper, offline = fleet
    # A check-in every 70 s: off the grid of the TTL and the max-age, so some JWKS is fetched
    # just before a container reads the secret again.
    dense, sparse = timedelta(seconds=70), timedelta(days=2)
    _live_until(fleet, clock.now() + timedelta(minutes=30), dense)

    # When the operator adds, activates and retires a key, each as early as the command allows,
    # while the LoadMasters live on
    containers.step(api, "add")
    added = clock.now()
    _live_until(fleet, added + TTL - timedelta(seconds=1), dense)
    for loadmaster in (adopter, keeper):  # from the container that started before the key was added
        loadmaster.fetch_jwks()  # at the last moment it may serve without it
    _live_until(fleet, added + rotate_key.PUBLISHED_AFTER, dense)
    containers.step(api, "activate")
    activated = clock.now()
    adopter.live(container=1)  # at once, to the container started after the switch: a lease of the new key
    _live_until(fleet, activated + TTL - timedelta(seconds=1), dense)
    offline.online_until = clock.now()  # on the last lease the container started before the switch signs
    _live_until(fleet, activated + 2 * TTL + timedelta(minutes=10), dense)
    _live_until(fleet, activated + rotate_key.UNUSED_AFTER, sparse)
    containers.step(api, "retire")
    offline.fetch_jwks()  # at once, from the container started after the retire
    offline.live()
    _live_until(fleet, clock.now() + 2 * TTL + timedelta(minutes=10), dense)

    # Then (every check-in answered, every lease verified all along) the JWKS holds the new key
    # only, and the token the keeper kept, signed by the retired key, still checks in
    new_kid = json.loads(secrets_client.get_secret_value(SecretId=SETTINGS.signing_key_secret_id)["SecretString"])[
        "active_kid"
    ]
    assert [k["kid"] for k in adopter.jwks["keys"]] == [new_kid] != ["k-old"]
    assert (adopter.token_kid(), keeper.token_kid()) == (new_kid, "k-old")
    assert offline.lease_kid() == "k-old"  # it went offline on the replaced key's last lease


def _jwks_kids(api) -> list[str]:
    return [k["kid"] for k in api.get("/v1/.well-known/jwks.json").body["keys"]]


def test_a_container_reads_the_keys_again_once_they_are_a_ttl_old(secrets_client, api):
    assert _jwks_kids(api) == ["k-old"]
    assert rotate_key.main(["--stage", "dev", "--region", "us-east-1", "add"]) == 0

    clock.set_now(T0 + TTL - timedelta(seconds=1))
    still = _jwks_kids(api)
    clock.set_now(T0 + TTL)
    read_again = _jwks_kids(api)

    assert still == ["k-old"] and len(read_again) == 2 and "k-old" in read_again


def test_a_failed_refresh_keeps_the_last_good_keys_and_says_so(secrets_client, api, trial_tenant, log_lines):
    granted = activate(api, trial_tenant, first_type_id(api, trial_tenant)).body
    secrets_client.delete_secret(SecretId=SETTINGS.signing_key_secret_id, ForceDeleteWithoutRecovery=True)
    clock.set_now(T0 + TTL)

    reply = api.post(
        f"/v1/devices/{granted['device_id']}/check-ins",
        {"mac": "00:50:56:aa:bb:01", "ip": "10.0.0.5", "port": 443, "version": "7.2.47"},
        headers={"Authorization": f"Device {granted['device_token']}"},
    )

    assert reply.status == 200, reply.body
    assert _kid(reply.body["license"]) == "k-old"
    [failure] = [
        line for line in log_lines if line.get("message") == "secret refresh failed, the last good value is kept"
    ]
    assert failure["secret"] == "signing keys" and "ResourceNotFoundException" in failure["error"]


def _hand_edited(value: str) -> dict[str, str]:
    """The secret ``value`` (one key, k-old) as an operator may leave it by adding a next key by hand."""
    old, d = json.loads(value)["keys"][0], json.loads(signing.new_secret_value())["keys"][0]["d"]

    def edited(active_kid, next_key) -> str:
        return json.dumps({"active_kid": active_kid, "keys": [old, next_key]})

    return {
        "not JSON": value[:-3],
        "no active_kid": json.dumps({"keys": [old, {"kid": "k-next", "d": d}]}),
        "a next key without its seed": edited("k-old", {"kid": "k-next"}),
        "a next key's seed cut short": edited("k-old", {"kid": "k-next", "d": d[:-4]}),
        "a next key whose kid is a number": edited("k-old", {"kid": 2, "d": d}),
        "made active under a kid that is a number": edited(2, {"kid": 2, "d": d}),
    }


@pytest.mark.parametrize("edit", list(_hand_edited(signing.new_secret_value("k-old"))))
def test_a_hand_edited_secret_the_service_cannot_use_leaves_the_last_good_keys_serving(
    secrets_client, api, trial_tenant, log_lines, edit
):
    granted = activate(api, trial_tenant, first_type_id(api, trial_tenant)).body
    old = secrets_client.get_secret_value(SecretId=SETTINGS.signing_key_secret_id)["SecretString"]
    secrets_client.put_secret_value(SecretId=SETTINGS.signing_key_secret_id, SecretString=_hand_edited(old)[edit])
    clock.set_now(T0 + TTL)

    reply = api.post(
        f"/v1/devices/{granted['device_id']}/check-ins",
        {"mac": "00:50:56:aa:bb:01", "ip": "10.0.0.5", "port": 443, "version": "7.2.47"},
        headers={"Authorization": f"Device {granted['device_token']}"},
    )

    assert reply.status == 200, reply.body
    assert _kid(reply.body["license"]) == _kid(reply.body["device_token"]) == "k-old"
    assert _jwks_kids(api) == ["k-old"]
    assert any(line.get("message") == "secret refresh failed, the last good value is kept" for line in log_lines)


def test_no_lease_is_longer_than_the_rotation_waits_for(api, trial_tenant):
    refused = api.patch("/v1/settings", {"lease_s": LONGEST_LEASE_S + 1}, headers=trial_tenant.admin)

    assert refused.status == 400
