"""Accounts over real HTTP against the local stack (moto's server, so the access tokens are
verified against the JWKS that moto's server publishes): the races that matter to ownership,
invitations and trials, each started at once from several threads (a Barrier), each thread with
its own HTTP session, and the outcome recounted through the API afterwards.

- Two transfers of ownership at once (to two members): one wins, the other is refused, and the
  tenant has exactly one owner.
- A transfer racing the removal of its heir: whatever the order, exactly one owner.
- An invitation racing the invitee's confirmation: the account is a member once it signs in.
- One owner starting the trial of two tenants at once: one trial per email.
- An owner's transfer racing the operator's change of owner to another member: the operator's
  lands (after the transfer, or with the transfer refused), and one owner remains.
- The operator's change of owner to an email racing that email's confirmation: the account owns
  the tenant, the former owner is an admin.

moto's ConfirmSignUp takes any code (AWS checks the one it mailed): the confirmations here prove
what we do once Cognito says yes.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
import requests

from tests.e2e.conftest import OPERATOR_KEY, kill_everything, start_stack

pytestmark = pytest.mark.e2e

TIMEOUT = 30
PASSWORD = "Race-horse-42"
ROUNDS = 4


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("stack"))
    yield running
    kill_everything(running.process, running.api_pgid)


class Person:
    def __init__(self, base: str, email: str) -> None:
        self.base, self.email = base, email
        self.token = self.account_id = None

    def post(self, path: str, body=None, *, session=None, tenant: str | None = None) -> requests.Response:
        return (session or requests).post(
            f"{self.base}{path}", json=body, headers=self._headers(tenant), timeout=TIMEOUT
        )

    def get(self, path: str, tenant: str | None = None) -> requests.Response:
        return requests.get(f"{self.base}{path}", headers=self._headers(tenant), timeout=TIMEOUT)

    def delete(self, path: str, *, session=None, tenant: str | None = None) -> requests.Response:
        return (session or requests).delete(f"{self.base}{path}", headers=self._headers(tenant), timeout=TIMEOUT)

    def _headers(self, tenant: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **({"X-Tenant-Id": tenant} if tenant else {})}

    def register(self) -> None:
        r = requests.post(
            f"{self.base}/v1/accounts", json={"email": self.email, "password": PASSWORD, "name": "P"}, timeout=TIMEOUT
        )
        assert r.status_code == 202, r.text

    def confirm(self, session=None) -> requests.Response:
        return (session or requests).post(
            f"{self.base}/v1/accounts/confirm", json={"email": self.email, "code": "123456"}, timeout=TIMEOUT
        )

    def sign_in(self) -> Person:
        r = requests.post(f"{self.base}/v1/sessions", json={"email": self.email, "password": PASSWORD}, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        self.token = r.json()["access_token"]
        self.account_id = self.get("/v1/account").json()["account_id"]
        return self

    def signed_up(self) -> Person:
        self.register()
        assert self.confirm().status_code == 200
        return self.sign_in()


def _email(what: str) -> str:
    return f"{what}-{secrets.token_hex(4)}@race.example"


def _owner_with_tenant(base: str) -> tuple[Person, str]:
    owner = Person(base, _email("owner")).signed_up()
    created = owner.post("/v1/account/tenant", {"name": "Race"})
    assert created.status_code == 201, created.text
    return owner, created.json()["tenant_id"]


def _member(base: str, owner: Person, tenant_id: str, role: str = "admin") -> Person:
    person = Person(base, _email("member")).signed_up()
    assert owner.post("/v1/members", {"email": person.email, "role": role}, tenant=tenant_id).status_code == 201
    return person


def _at_once(*calls):
    barrier = Barrier(len(calls))

    def run(call):
        with requests.Session() as session:
            barrier.wait()
            return call(session)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _roles(person: Person, tenant_id: str) -> list[str]:
    reply = person.get("/v1/members", tenant=tenant_id)
    assert reply.status_code == 200, reply.text
    return sorted(m["role"] for m in reply.json()["members"] if m["status"] == "member")


def test_an_access_token_is_verified_against_the_stacks_user_pool(stack):
    owner, _ = _owner_with_tenant(stack.base_url)

    license_state = owner.get("/v1/license")
    forged = requests.get(
        f"{stack.base_url}/v1/license", timeout=TIMEOUT, headers={"Authorization": f"Bearer {owner.token[:-6]}AAAAAA"}
    )

    assert license_state.status_code == 200 and license_state.json()["state"] == "UNLICENSED"
    assert forged.status_code == 401


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_transfers_at_once_leave_exactly_one_owner(stack, round_):
    owner, tenant_id = _owner_with_tenant(stack.base_url)
    a, b = _member(stack.base_url, owner, tenant_id), _member(stack.base_url, owner, tenant_id)

    answers = _at_once(
        *(
            lambda s, heir=heir: owner.post(
                "/v1/ownership", {"account_id": heir.account_id}, session=s, tenant=tenant_id
            )
            for heir in (a, b)
        )
    )

    assert sorted(r.status_code for r in answers) == [200, 403], [r.text for r in answers]
    assert _roles(a, tenant_id) == ["admin", "admin", "owner"]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_transfer_racing_the_removal_of_its_heir_leaves_exactly_one_owner(stack, round_):
    owner, tenant_id = _owner_with_tenant(stack.base_url)
    heir = _member(stack.base_url, owner, tenant_id)

    answers = _at_once(
        lambda s: owner.post("/v1/ownership", {"account_id": heir.account_id}, session=s, tenant=tenant_id),
        lambda s: owner.delete(f"/v1/members/{heir.account_id}", session=s, tenant=tenant_id),
    )

    assert all(r.status_code < 500 for r in answers), [r.text for r in answers]
    transferred, removed = (r.status_code == 200 for r in answers)
    assert transferred != removed  # exactly one of them happened
    survivor = heir if transferred else owner
    assert _roles(survivor, tenant_id).count("owner") == 1


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_an_invitation_racing_the_confirmation_makes_the_account_a_member(stack, round_):
    owner, tenant_id = _owner_with_tenant(stack.base_url)
    invitee = Person(stack.base_url, _email("invitee"))
    invitee.register()

    answers = _at_once(
        lambda s: owner.post("/v1/members", {"email": invitee.email, "role": "viewer"}, session=s, tenant=tenant_id),
        lambda s: invitee.confirm(session=s),
    )

    assert [r.status_code for r in answers] == [201, 200], [r.text for r in answers]
    invitee.sign_in()
    tenants = invitee.get("/v1/account").json()["tenants"]
    assert tenants == [{"tenant_id": tenant_id, "name": "Race", "role": "viewer"}]
    assert invitee.get("/v1/license").status_code == 200


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_one_owner_starting_two_trials_at_once_gets_one(stack, round_):
    owner, first = _owner_with_tenant(stack.base_url)
    second = owner.post("/v1/account/tenant", {"name": "Second"}).json()["tenant_id"]

    answers = _at_once(*(lambda s, t=t: owner.post("/v1/trial", session=s, tenant=t) for t in (first, second)))

    assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
    states = sorted(owner.get("/v1/license", tenant=t).json()["state"] for t in (first, second))
    assert states == ["TRIAL", "UNLICENSED"]


def _change_owner(base: str, tenant_id: str, email: str, session=None) -> requests.Response:
    return (session or requests).post(
        f"{base}/v1/tenants/{tenant_id}/owner",
        json={"owner_email": email},
        headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
        timeout=TIMEOUT,
    )


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_an_owners_transfer_racing_the_operators_change_of_owner_leaves_one_owner(stack, round_):
    owner, tenant_id = _owner_with_tenant(stack.base_url)
    heir, pick = _member(stack.base_url, owner, tenant_id), _member(stack.base_url, owner, tenant_id)

    answers = _at_once(
        lambda s: owner.post("/v1/ownership", {"account_id": heir.account_id}, session=s, tenant=tenant_id),
        lambda s: _change_owner(stack.base_url, tenant_id, pick.email, s),
    )

    assert answers[0].status_code in (200, 403) and answers[1].status_code == 200, [r.text for r in answers]
    members = pick.get("/v1/members", tenant=tenant_id).json()["members"]
    assert sorted((m["email"], m["role"]) for m in members) == sorted(
        [(owner.email, "admin"), (heir.email, "admin"), (pick.email, "owner")]
    )


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_the_operators_change_of_owner_racing_the_new_owners_confirmation_hands_it_over(stack, round_):
    owner, tenant_id = _owner_with_tenant(stack.base_url)
    buyer = Person(stack.base_url, _email("buyer"))
    buyer.register()

    answers = _at_once(
        lambda s: _change_owner(stack.base_url, tenant_id, buyer.email, s), lambda s: buyer.confirm(session=s)
    )

    assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
    buyer.sign_in()
    assert buyer.get("/v1/account").json()["tenants"] == [{"tenant_id": tenant_id, "name": "Race", "role": "owner"}]
    assert owner.get("/v1/account").json()["tenants"] == [{"tenant_id": tenant_id, "name": "Race", "role": "admin"}]
    assert _roles(buyer, tenant_id) == ["admin", "owner"]
