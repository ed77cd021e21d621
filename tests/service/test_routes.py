"""``route()`` does what a route declares: the role is authenticated and the body and query parsed
before the view runs, and a view cannot declare what it does not take."""

import pytest
from chalice import Blueprint

from chalicelib.api.http import OPERATIONS, route
from chalicelib.api.schemas import TenantCreateRequest
from tests.conftest import operator_headers


def test_a_view_that_does_not_take_its_declared_body_is_refused_at_registration():
    bp = Blueprint("test_routes")
    declared = len(OPERATIONS)

    with pytest.raises(TypeError, match="does not take body"):

        @route(bp, "/v1/declared-not-taken", ["POST"], auth="operator", body=TenantCreateRequest)
        def forgets_its_body():
            return {}

    del OPERATIONS[declared:]  # keep the OpenAPI document as the app's


def test_a_role_the_contract_does_not_have_is_refused_at_declaration():
    with pytest.raises(ValueError, match="no role 'admin'"):
        route(Blueprint("test_routes"), "/v1/no-such-role", ["GET"], auth="admin")


@pytest.mark.parametrize(
    "path, headers, status, code",
    [
        ("/v1/tenants", {}, 401, "UNAUTHORIZED"),  # no credential
        ("/v1/tenants?limit=0", None, 400, "VALIDATION_ERROR"),  # the query, parsed
        ("/v1/license", {"Authorization": "Bearer lk_api.t1.not-a-real-key-000000"}, 401, "UNAUTHORIZED"),
    ],
)
def test_the_declared_role_and_query_are_checked_before_the_view(api, path, headers, status, code):
    reply = api.get(path, headers=operator_headers() if headers is None else headers)

    assert (reply.status, reply.code) == (status, code)


def test_a_view_gets_the_caller_and_the_parsed_models(api, new_tenant):
    keys, _ = new_tenant("Routed"), new_tenant("Another")

    reply = api.get("/v1/tenants?limit=1", headers=operator_headers())
    state = api.get("/v1/license", headers=keys.admin)

    assert reply.status == 200 and len(reply.body["tenants"]) == 1 and reply.body["next"]
    assert state.status == 200 and state.body["state"] == "UNLICENSED"
