"""The OpenAPI document: valid, complete, and generated from the models the handlers use."""

from openapi_spec_validator import validate

from tests.conftest import activate, first_type_id


def test_the_document_is_valid_openapi(api):
    reply = api.get("/openapi.json")

    assert reply.status == 200
    validate(reply.body)


def test_every_route_of_the_app_is_documented(api):
    from app import app

    paths = api.get("/openapi.json").body["paths"]

    for path, methods in app.routes.items():
        for method in methods:
            assert method.lower() in paths.get(path, {}), f"{method} {path} is not in /openapi.json"


def test_every_contract_path_is_there(api):
    paths = api.get("/openapi.json").body["paths"]
    contract = [
        "/v1/activation/license-types",
        "/v1/activations",
        "/v1/devices/{device_id}/confirm",
        "/v1/devices/{device_id}/check-ins",
        "/v1/devices/{device_id}/deactivate",
        "/v1/license",
        "/v1/license-types",
        "/v1/license-types/{lic_type_id}",
        "/v1/devices",
        "/v1/devices/{device_id}",
        "/v1/devices/{device_id}/unblock",
        "/v1/usage",
        "/v1/usage.csv",
        "/v1/events",
        "/v1/settings",
        "/v1/keys/rotate",
        "/v1/tenants",
        "/v1/tenants/{tenant_id}",
        "/v1/tenants/{tenant_id}/trial",
        "/v1/tenants/{tenant_id}/contracts",
        "/v1/tenants/{tenant_id}/terminate",
        "/v1/tenants/{tenant_id}/owner",
        "/v1/health",
        "/v1/.well-known/jwks.json",
        "/openapi.json",
        "/console",
    ]

    assert [p for p in contract if p not in paths] == []


def test_schemas_are_the_handlers_models(api):
    from chalicelib.api.schemas import ActivationRequest

    doc = api.get("/openapi.json").body
    activation = doc["paths"]["/v1/activations"]["post"]

    assert activation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("ActivationRequest")
    declared = doc["components"]["schemas"]["ActivationRequest"]
    assert set(declared["required"]) == {n for n, f in ActivationRequest.model_fields.items() if f.is_required()}
    assert "201" in activation["responses"] and "409" in activation["responses"]


def test_a_real_answer_matches_its_documented_schema(api, trial_tenant):
    from jsonschema import Draft202012Validator

    doc = api.get("/openapi.json").body
    granted = activate(api, trial_tenant, first_type_id(api, trial_tenant)).body
    devices = api.get("/v1/devices", headers=trial_tenant.admin).body

    assert list(Draft202012Validator(_resolved(doc, "ActivationResponse")).iter_errors(granted)) == []
    assert list(Draft202012Validator(_resolved(doc, "DevicesResponse")).iter_errors(devices)) == []
    assert list(Draft202012Validator(_resolved(doc, "DevicesResponse")).iter_errors({"devices": 1})) != []


def _resolved(doc, name):
    """The named schema with its references pointing into the document's components."""
    import json

    text = json.dumps(doc["components"]["schemas"][name]).replace("#/components/schemas/", "#/$defs/")
    return {
        **json.loads(text),
        "$defs": json.loads(json.dumps(doc["components"]["schemas"]).replace("#/components/schemas/", "#/$defs/")),
    }
