"""Accounts in tenants: the account's own tenant, roles on every tenant route, members,
invitations, ownership and the account's one trial."""

from __future__ import annotations

from tests.conftest import PASSWORD, first_type_id, operator_headers, pool_signed_token


def _invite(api, owner, tenant_id, email, role="admin"):
    return api.post("/v1/members", {"email": email, "role": role}, headers=owner.in_tenant(tenant_id))


# The account's tenant, and its token on tenant routes ------------------------------------------


def test_a_confirmed_account_creates_its_tenant_and_owns_it(api, accounts):
    person = accounts.signed_up("owner@acme.example")

    created = api.post("/v1/account/tenant", {"name": "Acme"}, headers=person.headers)
    me = api.get("/v1/account", headers=person.headers)

    assert created.status == 201 and created.body["api_key"] and created.body["activation_key"]
    assert created.body["owner_email"] == "owner@acme.example" and created.body["state"] == "UNLICENSED"
    assert me.body["tenants"] == [{"tenant_id": created.body["tenant_id"], "name": "Acme", "role": "owner"}]


def test_the_access_token_works_on_tenant_routes_beside_the_api_key(api, accounts):
    person, keys = accounts.owning("owner@acme.example")

    by_token = api.get("/v1/license", headers=person.headers)
    by_key = api.get("/v1/license", headers=keys.admin)

    assert by_token.status == by_key.status == 200
    assert by_token.body == by_key.body


def test_an_account_in_several_tenants_names_one_with_x_tenant_id(api, accounts):
    person, first = accounts.owning("owner@acme.example", "First")
    second = api.post("/v1/account/tenant", {"name": "Second"}, headers=person.headers).body

    ambiguous = api.get("/v1/license", headers=person.headers)
    named = api.post(
        "/v1/license-types",
        {"name": "P", "sku": "VLM-MAX-SPLA", "capacity": 0},
        headers=person.in_tenant(second["tenant_id"]),
    )

    assert ambiguous.status == 400 and ambiguous.code == "VALIDATION_ERROR"
    assert "X-Tenant-Id" in ambiguous.body["error"]["detail"]["fields"]
    assert named.status == 201
    assert api.get("/v1/license-types", headers=first.admin).body["license_types"] == []


def test_a_tenant_the_account_is_not_a_member_of_is_forbidden_and_shows_nothing(api, accounts, new_tenant):
    person, _ = accounts.owning("owner@acme.example")
    other = new_tenant("Other")

    reply = api.get("/v1/license", headers=person.in_tenant(other.tenant_id))
    unknown = api.get("/v1/license", headers=person.in_tenant("t-no-such-tenant"))

    assert reply.status == unknown.status == 403
    assert reply.body == unknown.body


def test_an_account_of_no_tenant_is_forbidden_on_tenant_routes(api, accounts):
    person = accounts.signed_up("alone@acme.example")

    assert api.get("/v1/license", headers=person.headers).status == 403


def test_a_viewer_reads_but_changes_nothing(api, accounts):
    owner, keys = accounts.owning("owner@acme.example")
    viewer = accounts.signed_up("viewer@acme.example")
    assert _invite(api, owner, keys.tenant_id, "viewer@acme.example", "viewer").status == 201

    reads = [
        api.get(path, headers=viewer.headers).status
        for path in ("/v1/license", "/v1/license-types", "/v1/devices", "/v1/events", "/v1/settings")
    ]
    writes = [
        api.post("/v1/license-types", {"name": "P", "sku": "VLM-MAX-SPLA", "capacity": 0}, headers=viewer.headers),
        api.patch("/v1/settings", {"lease_s": 7200}, headers=viewer.headers),
        api.post("/v1/keys/rotate", {"kind": "api"}, headers=viewer.headers),
        api.get("/v1/members", headers=viewer.headers),
    ]

    assert reads == [200] * 5
    assert [(r.status, r.code) for r in writes] == [(403, "FORBIDDEN")] * 4
    assert api.get("/v1/settings", headers=keys.admin).body["lease_s"] == 604800


def test_an_admin_manages_the_tenant_but_not_its_members(api, accounts):
    owner, keys = accounts.owning("owner@acme.example")
    admin = accounts.signed_up("admin@acme.example")
    _invite(api, owner, keys.tenant_id, "admin@acme.example", "admin")

    pool = api.post("/v1/license-types", {"name": "P", "sku": "VLM-MAX-SPLA", "capacity": 0}, headers=admin.headers)
    listed = api.get("/v1/members", headers=admin.headers)
    invited = api.post("/v1/members", {"email": "x@acme.example", "role": "viewer"}, headers=admin.headers)
    transfer = api.post("/v1/ownership", {"account_id": admin.account_id}, headers=admin.headers)

    assert pool.status == 201 and listed.status == 200
    assert invited.status == transfer.status == 403


def test_tokens_that_are_not_this_pools_access_tokens_are_refused(api, accounts, user_pool):
    import boto3

    person, _keys = accounts.owning("owner@acme.example")
    id_token = boto3.client("cognito-idp", region_name="us-east-1").initiate_auth(
        ClientId=user_pool[1],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "owner@acme.example", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["IdToken"]
    header, payload, signature = person.access_token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"

    for token in (id_token, tampered, f"{header}.{payload}.", "eyJhbGciOiJub25lIn0.e30."):
        reply = api.get("/v1/license", headers={"Authorization": f"Bearer {token}"})
        assert reply.status == 401 and reply.code == "UNAUTHORIZED", token[:20]


def test_expired_or_foreign_tokens_signed_by_the_pool_are_refused(api, accounts, user_pool):
    import time

    accounts.owning("owner@acme.example")
    good = pool_signed_token(user_pool)
    refused = [
        pool_signed_token(user_pool, exp=int(time.time()) - 120),
        pool_signed_token(user_pool, client_id="another-client"),
        pool_signed_token(user_pool, iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"),
        pool_signed_token(user_pool, token_use="id"),
    ]

    # The well-formed one passes verification (and "someone" is a member of nothing: 403).
    assert api.get("/v1/license", headers={"Authorization": f"Bearer {good}"}).status == 403
    for token in refused:
        assert api.get("/v1/license", headers={"Authorization": f"Bearer {token}"}).status == 401


# Members ---------------------------------------------------------------------------------------


def test_inviting_a_confirmed_account_makes_it_a_member_at_once(api, accounts):
    owner, keys = accounts.owning("owner@acme.example")
    admin = accounts.signed_up("admin@acme.example")

    invited = _invite(api, owner, keys.tenant_id, "Admin@Acme.example", "admin")
    listed = api.get("/v1/members", headers=owner.headers)

    assert invited.status == 201 and invited.body["account_id"] == admin.account_id
    assert sorted((m["email"], m["role"], m["status"]) for m in listed.body["members"]) == [
        ("admin@acme.example", "admin", "member"),
        ("owner@acme.example", "owner", "member"),
    ]
    assert api.get("/v1/license", headers=admin.headers).status == 200


def test_an_invitation_before_registration_makes_the_account_a_member_once_confirmed(api, accounts):
    owner, keys = accounts.owning("owner@acme.example")

    invited = _invite(api, owner, keys.tenant_id, "later@acme.example", "viewer")
    pending = api.get("/v1/members", headers=owner.headers).body["members"]
    later = accounts.signed_up("later@acme.example")

    assert invited.status == 201 and invited.body["status"] == "invited"
    assert {"account_id": None, "email": "later@acme.example", "role": "viewer", "status": "invited"} in pending
    assert api.get("/v1/account", headers=later.headers).body["tenants"] == [
        {"tenant_id": keys.tenant_id, "name": "Acme", "role": "viewer"}
    ]
    assert api.get("/v1/license", headers=later.headers).status == 200


def test_a_withdrawn_invitation_is_gone_and_the_email_joins_no_longer(api, accounts):
    owner, keys = accounts.owning("owner@acme.example")
    _invite(api, owner, keys.tenant_id, "later@acme.example", "viewer")

    withdrawn = api.delete("/v1/invitations?email=Later@Acme.example", headers=owner.headers)
    listed = api.get("/v1/members", headers=owner.headers).body["members"]
    later = accounts.signed_up("later@acme.example")

    assert withdrawn.status == 200 and withdrawn.body == {"deleted": "later@acme.example"}
    assert [m["email"] for m in listed] == ["owner@acme.example"]
    assert api.get("/v1/account", headers=later.headers).body["tenants"] == []
    assert api.get("/v1/license", headers=later.in_tenant(keys.tenant_id)).status == 403


def test_withdrawing_an_invitation_there_is_not_is_404(api, accounts):
    owner, keys = accounts.owning("owner@acme.example")
    member = accounts.signed_up("m@acme.example")
    _invite(api, owner, keys.tenant_id, "m@acme.example", "viewer")  # accepted at once: no invitation left
    _invite(api, owner, keys.tenant_id, "later@acme.example")
    api.delete("/v1/invitations?email=later@acme.example", headers=owner.headers)

    for email in ("nobody@acme.example", "m@acme.example", "later@acme.example"):
        reply = api.delete(f"/v1/invitations?email={email}", headers=owner.headers)
        assert reply.status == 404 and reply.code == "NOT_FOUND", email
    assert api.get("/v1/license", headers=member.headers).status == 200  # the member stays


def test_only_the_owner_withdraws_an_invitation(api, accounts):
    owner, keys = accounts.owning("owner@acme.example")
    admin = accounts.signed_up("admin@acme.example")
    _invite(api, owner, keys.tenant_id, "admin@acme.example", "admin")
    _invite(api, owner, keys.tenant_id, "later@acme.example")

    by_admin = api.delete("/v1/invitations?email=later@acme.example", headers=admin.headers)
    by_key = api.delete("/v1/invitations?email=later@acme.example", headers=keys.admin)
    no_email = api.delete("/v1/invitations", headers=owner.headers)

    assert by_admin.status == by_key.status == 403
    assert no_email.status == 400 and no_email.code == "VALIDATION_ERROR"
    assert {"account_id": None, "email": "later@acme.example", "role": "admin", "status": "invited"} in api.get(
        "/v1/members", headers=owner.headers
    ).body["members"]


# The operator's tenants ----------------------------------------------------------------------------


def _operator_tenant(api, owner_email):
    created = api.post("/v1/tenants", {"name": "Sold", "owner_email": owner_email}, headers=operator_headers())
    assert created.status == 201, created.body
    return created.body


def test_the_operators_tenant_is_owned_by_its_owner_email_once_that_account_confirms(api, accounts):
    tenant = _operator_tenant(api, "Buyer@Sold.example")
    pending = api.get("/v1/members", headers={"Authorization": f"Bearer {tenant['api_key']}"}).body["members"]

    buyer = accounts.signed_up("buyer@sold.example")
    members = api.get("/v1/members", headers=buyer.headers).body["members"]
    invited = api.post("/v1/members", {"email": "staff@sold.example", "role": "viewer"}, headers=buyer.headers)
    kinds = [e["kind"] for e in api.get("/v1/events", headers=buyer.headers).body["events"]]

    assert tenant["owner_email"] == "buyer@sold.example"
    assert pending == [{"account_id": None, "email": "buyer@sold.example", "role": "owner", "status": "invited"}]
    assert api.get("/v1/account", headers=buyer.headers).body["tenants"] == [
        {"tenant_id": tenant["tenant_id"], "name": "Sold", "role": "owner"}
    ]
    assert members == [
        {"account_id": buyer.account_id, "email": "buyer@sold.example", "role": "owner", "status": "member"}
    ]
    assert invited.status == 201
    assert {"member.invited", "member.joined"} <= set(kinds)


def test_an_owner_email_with_an_account_owns_the_operators_tenant_at_once(api, accounts):
    buyer = accounts.signed_up("buyer@sold.example")

    tenant = _operator_tenant(api, "buyer@sold.example")

    assert api.get("/v1/account", headers=buyer.headers).body["tenants"] == [
        {"tenant_id": tenant["tenant_id"], "name": "Sold", "role": "owner"}
    ]


def test_the_operators_tenant_is_made_while_cognito_is_out_and_its_owner_joins_at_sign_in(api, accounts, monkeypatch):
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    buyer = accounts.signed_up("buyer@sold.example")
    original = BaseClient._make_api_call

    def cognito_out(client, operation, params):
        if operation == "AdminGetUser":
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "injected"}}, operation)
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", cognito_out)
    tenant = _operator_tenant(api, "buyer@sold.example")
    monkeypatch.setattr(BaseClient, "_make_api_call", original)
    before = api.get("/v1/account", headers=buyer.headers).body["tenants"]
    again = accounts.sign_in("buyer@sold.example").body["access_token"]

    assert before == []
    assert api.get("/v1/account", headers={"Authorization": f"Bearer {again}"}).body["tenants"] == [
        {"tenant_id": tenant["tenant_id"], "name": "Sold", "role": "owner"}
    ]


def test_the_former_owner_email_of_an_operators_tenant_does_not_take_it(api, accounts):
    tenant = _operator_tenant(api, "first@sold.example")
    moved = api.post(
        f"/v1/tenants/{tenant['tenant_id']}/owner", {"owner_email": "second@sold.example"}, headers=operator_headers()
    )

    first = accounts.signed_up("first@sold.example")

    assert moved.status == 200
    assert api.get("/v1/account", headers=first.headers).body["tenants"] == []
    assert api.get("/v1/members", headers={"Authorization": f"Bearer {tenant['api_key']}"}).body["members"] == [
        {"account_id": None, "email": "second@sold.example", "role": "owner", "status": "invited"}
    ]


def test_the_owner_changes_a_role_and_removes_a_member(api, accounts):
    owner, keys = accounts.owning("owner@acme.example")
    member = accounts.signed_up("m@acme.example")
    _invite(api, owner, keys.tenant_id, "m@acme.example", "viewer")

    changed = api.patch(f"/v1/members/{member.account_id}", {"role": "admin"}, headers=owner.headers)
    writes = api.post("/v1/license-types", {"name": "P", "sku": "VLM-MAX-SPLA", "capacity": 0}, headers=member.headers)
    removed = api.delete(f"/v1/members/{member.account_id}", headers=owner.headers)

    assert changed.status == 200 and changed.body["role"] == "admin"
    assert writes.status == 201
    assert removed.status == 200
    assert api.get("/v1/license", headers=member.headers).status == 403


def test_the_owner_can_be_neither_removed_nor_demoted_nor_given_a_second_owner(api, accounts):
    owner, _keys = accounts.owning("owner@acme.example")

    removed = api.delete(f"/v1/members/{owner.account_id}", headers=owner.headers)
    demoted = api.patch(f"/v1/members/{owner.account_id}", {"role": "viewer"}, headers=owner.headers)
    second = api.post("/v1/members", {"email": "x@acme.example", "role": "owner"}, headers=owner.headers)

    assert removed.status == demoted.status == 409
    assert second.status == 400
    assert [m["role"] for m in api.get("/v1/members", headers=owner.headers).body["members"]] == ["owner"]


def test_transferring_ownership_makes_the_former_owner_an_admin(api, accounts, new_tenant):
    owner, keys = accounts.owning("owner@acme.example")
    heir = accounts.signed_up("heir@acme.example")
    _invite(api, owner, keys.tenant_id, "heir@acme.example", "viewer")

    moved = api.post("/v1/ownership", {"account_id": heir.account_id}, headers=owner.headers)
    again = api.post("/v1/ownership", {"account_id": heir.account_id}, headers=owner.headers)
    roles = {m["email"]: m["role"] for m in api.get("/v1/members", headers=heir.headers).body["members"]}

    assert moved.status == 200 and moved.body["role"] == "owner"
    assert again.status == 403
    assert roles == {"owner@acme.example": "admin", "heir@acme.example": "owner"}
    tenant = api.get(
        f"/v1/tenants/{keys.tenant_id}", headers={"Authorization": "Bearer lk_op.test-operator-key-0123456789"}
    ).body
    assert tenant["owner_email"] == "heir@acme.example"


def test_ownership_goes_only_to_a_member(api, accounts):
    owner, _keys = accounts.owning("owner@acme.example")
    stranger = accounts.signed_up("stranger@acme.example")

    reply = api.post("/v1/ownership", {"account_id": stranger.account_id}, headers=owner.headers)

    assert reply.status == 404


def test_member_changes_appear_in_the_tenants_debug_log(api, accounts):
    owner, keys = accounts.owning("owner@acme.example")
    member = accounts.signed_up("m@acme.example")
    _invite(api, owner, keys.tenant_id, "m@acme.example", "viewer")
    api.patch(f"/v1/members/{member.account_id}", {"role": "admin"}, headers=owner.headers)
    api.post("/v1/ownership", {"account_id": member.account_id}, headers=owner.headers)
    api.delete(f"/v1/members/{owner.account_id}", headers=member.headers)
    accounts.sign_in("m@acme.example")
    _invite(api, member, keys.tenant_id, "later@acme.example")
    api.delete("/v1/invitations?email=later@acme.example", headers=member.headers)

    events = api.get("/v1/events", headers=keys.admin).body["events"]
    kinds = [e["kind"] for e in events]

    for kind in (
        "member.invited",
        "member.joined",
        "member.role_changed",
        "ownership.transferred",
        "member.removed",
        "member.signed_in",
        "tenant.created",
        "member.invitation_withdrawn",
    ):
        assert kind in kinds
    withdrawn = next(e for e in events if e["kind"] == "member.invitation_withdrawn")
    assert withdrawn["detail"] == {"email": "later@acme.example", "by": member.account_id}


# The account's trial -------------------------------------------------------------------------------


def test_the_owner_starts_the_tenants_one_trial(api, accounts):
    owner, keys = accounts.owning("owner@acme.example")

    started = api.post("/v1/trial", headers=owner.headers)
    again = api.post("/v1/trial", headers=owner.headers)

    assert started.status == 201 and started.body["state"] == "TRIAL" and started.body["capacity"] == 5
    assert again.status == 409
    assert first_type_id(api, keys)
    assert "trial.started" in [e["kind"] for e in api.get("/v1/events", headers=keys.admin).body["events"]]


def test_one_trial_per_verified_email_even_in_another_tenant(api, accounts):
    owner, _ = accounts.owning("owner@acme.example", "First")
    second = api.post("/v1/account/tenant", {"name": "Second"}, headers=owner.headers).body
    assert (
        api.post("/v1/trial", headers=owner.headers | {"X-Tenant-Id": _first_tenant(api, owner, second)}).status == 201
    )

    reply = api.post("/v1/trial", headers=owner.in_tenant(second["tenant_id"]))

    assert reply.status == 409 and reply.code == "CONFLICT"
    assert api.get("/v1/license", headers=owner.in_tenant(second["tenant_id"])).body["state"] == "UNLICENSED"


def _first_tenant(api, person, other) -> str:
    tenants = api.get("/v1/account", headers=person.headers).body["tenants"]
    return next(t["tenant_id"] for t in tenants if t["tenant_id"] != other["tenant_id"])


def test_only_the_owner_starts_the_trial(api, accounts):
    owner, keys = accounts.owning("owner@acme.example")
    admin = accounts.signed_up("admin@acme.example")
    _invite(api, owner, keys.tenant_id, "admin@acme.example", "admin")

    by_admin = api.post("/v1/trial", headers=admin.headers)
    by_key = api.post("/v1/trial", headers=keys.admin)

    assert by_admin.status == by_key.status == 403
