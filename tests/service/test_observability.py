"""Structured logs with the request id and tenant, metrics by refusal code, and no secret in
any log line."""

import json

from tests.conftest import OPERATOR_KEY, activate, first_type_id


def _json_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def test_logs_are_json_with_request_id_and_tenant(api, trial_tenant, log_lines):
    activate(api, trial_tenant, first_type_id(api, trial_tenant))

    granted = [x for x in log_lines if x.get("message") == "activation granted"]
    assert granted, "no structured 'activation granted' line"
    assert granted[0]["tenant_id"] == trial_tenant.tenant_id
    assert granted[0]["request_id"]
    assert granted[0]["level"] == "INFO" and granted[0]["service"] == "licensing"


def test_activations_are_counted_granted_and_refused_by_code(api, trial_tenant, capsys):
    lic_type_id = first_type_id(api, trial_tenant)
    capsys.readouterr()

    activate(api, trial_tenant, lic_type_id)
    activate(api, trial_tenant, lic_type_id, image="plain.ova", mac="00:50:56:00:00:09")

    emf = [x for x in _json_lines(capsys.readouterr().out) if "_aws" in x]
    names = {(m["Name"], x.get("code")) for x in emf for d in x["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert ("ActivationsGranted", None) in names
    assert ("ActivationsRefused", "NO_LOCAL_LICENSE") in names


def test_metrics_go_to_the_namespace_the_stack_names(api, trial_tenant, capsys):
    from chalicelib.startup import configure
    from tests.conftest import SETTINGS

    lic_type_id = first_type_id(api, trial_tenant)
    configure(SETTINGS.model_copy(update={"metrics_namespace": "MeteredLicensing/staging"}))
    try:
        capsys.readouterr()
        activate(api, trial_tenant, lic_type_id)
        activate(api, trial_tenant, lic_type_id, image="plain.ova", mac="00:50:56:00:00:09")
        emf = [x for x in _json_lines(capsys.readouterr().out) if "_aws" in x]
    finally:
        configure(SETTINGS)

    namespaces = {d["Namespace"] for x in emf for d in x["_aws"]["CloudWatchMetrics"]}
    assert len(emf) >= 2 and namespaces == {"MeteredLicensing/staging"}


def test_no_key_or_token_is_ever_logged(api, new_tenant, capsys, log_lines):
    keys = new_tenant(trial={})
    granted = activate(api, keys, first_type_id(api, keys)).body
    api.post(
        f"/v1/devices/{granted['device_id']}/confirm", headers={"Authorization": f"Device {granted['device_token']}"}
    )
    api.get("/v1/license", headers={"Authorization": "Bearer lk_api.tx.wrong-key-wrong-key-wrong"})

    out = capsys.readouterr()
    logged = out.out + out.err + log_lines.text
    assert "activation granted" in logged
    for secret in (OPERATOR_KEY, keys.api_key, keys.activation_key, granted["device_token"], "wrong-key-wrong-key"):
        assert secret not in logged
        assert secret.split(".")[-1] not in logged
