"""The deploy drill of issue 12 (``make drill``): the production package deployed on moto's
CloudFormation, driven through its API and schedules from the unzipped package, deleted, and
created again. How and with which adaptations: tests/infra/drill.py.

The tests run in order and share one moto server: each step starts from where the previous
one left the account, as an operator's drill would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.infra import drill as d

# The steps share one moto account and run in order: make test's --dist loadfile sends the whole
# file to one worker at once (--dist loadgroup would not: pytest-xdist 3.8 under pytest 9 ignores
# xdist_group marks, tried on 2026-11-30).

LM = {
    "mac": "00:50:56:d7:11:01",
    "ip": "10.0.0.5",
    "port": 443,
    "sku": "VLM-MAX-SPLA",
    "image": "LoadMaster-VLM-7.2.47-SPLA.ova",
    "version": "7.2.47",
}
OPERATOR = {"Authorization": f"Bearer {d.OPERATOR_KEY}"}
DOMAIN = "licensing.drill.example"


def _rfc3339(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class World:
    """What the drill learned on the way: the stack, the tenant, the device."""

    stack: d.Stack | None = None
    api: d.Api | None = None
    tenant: dict[str, Any] = {}
    device: dict[str, Any] = {}
    pending: dict[str, Any] = {}
    retained: dict[str, str] = {}  # logical id -> physical id of what the delete must keep
    account: dict[str, str] = {}  # the account the drill registered: email, password
    notifications: list[dict[str, Any]] = []
    drill: d.Drill | None = None


@pytest.fixture(scope="module")
def drill(packaged, tmp_path_factory):
    try:
        d._translator_python()
    except d.DrillUnavailable as e:
        pytest.skip(str(e))
    with d.moto_server() as endpoint:
        # The unzipped package stays for pytest to remove with its other temporary directories.
        prepared = d.Drill.prepare(endpoint, packaged, tmp_path_factory.mktemp("task"))
        try:
            yield prepared
        finally:
            if World.stack is not None:
                World.stack.close()
            World.stack = World.api = None


@pytest.fixture(scope="module")
def world(drill) -> type[World]:
    World.stack = World.api = None
    World.tenant, World.device, World.pending, World.retained, World.notifications = {}, {}, {}, {}, []
    World.account = {}
    World.drill = drill
    return World


def _domain(drill: d.Drill) -> dict[str, str]:
    """The custom-domain parameters (a hosted zone of the drill's, a certificate moto does not check)."""
    route53 = d.client(drill.endpoint, "route53")
    zones = [z["Id"] for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == "drill.example."]
    zone = (
        zones[0]
        if zones
        else route53.create_hosted_zone(Name="drill.example", CallerReference="drill")["HostedZone"]["Id"]
    )
    return {
        "DomainName": DOMAIN,
        "CertificateArn": f"arn:aws:acm:{d.REGION}:{d.ACCOUNT_ID}:certificate/drill",
        "HostedZoneId": zone.split("/")[-1],
    }


def _require(world, what: str) -> None:
    if getattr(world, what) in (None, {}):
        pytest.skip(f"an earlier step of the drill failed (no {what})")


# --- create -----------------------------------------------------------------------------------------


def test_a_type_moto_cannot_create_fails_the_drill_by_name(drill):
    unknown = {"DrillNewThing": {"Type": "AWS::Drill::NewThing", "Properties": {}}}
    with pytest.raises(d.DrillError, match=r"cannot create AWS::Drill::NewThing \(DrillNewThing\).*ADAPTATIONS"):
        drill.create(stack_name="licensing-unknown-type", fail_with=unknown)


def test_the_stack_is_created_from_the_package(drill, world, capsys):
    stack = drill.create(**_domain(drill))
    world.stack = stack

    # Every parameter the template declares was given a value (the drill's or the default).
    assert set(stack.parameters) == set(drill.sam.get("Parameters", {}))
    # The template goes through S3 (TemplateURL), as it must beyond 51,200 bytes.
    with capsys.disabled():
        print(
            f"\n\nThe deploy drill's adaptations for moto ({stack.template_bytes:,} bytes of template):\n"
            f"{d.describe_adaptations(stack.ctx)}\n\nEach function runs with its stack environment plus:\n"
            f"{d.describe_runtime_additions()}\n"
        )
    functions = stack.function_ids()
    assert functions, "the stack created no function"
    handlers = {lid: r["Properties"]["Handler"] for lid, r in stack.ctx.resources_of("AWS::Lambda::Function").items()}
    assert set(functions) == set(handlers)
    # Each function's code is the uploaded package.
    for lid in functions:
        code = stack.ctx.original["Resources"][lid]["Properties"]["Code"]
        assert code["S3Bucket"] == d.ARTIFACT_BUCKET, lid


def test_every_alarm_secret_and_api_route_the_template_declares_exists(world):
    _require(world, "stack")
    stack = world.stack
    physical = stack.physical_ids()
    alarms = [physical[lid] for lid in stack.ctx.resources_of("AWS::CloudWatch::Alarm")]
    secrets = [physical[lid] for lid in stack.ctx.resources_of("AWS::SecretsManager::Secret")]
    cloudwatch = stack.ctx.client("cloudwatch")
    names = {
        a["AlarmName"] for page in cloudwatch.get_paginator("describe_alarms").paginate() for a in page["MetricAlarms"]
    }

    assert alarms and set(alarms) <= names
    for alarm in cloudwatch.describe_alarms(AlarmNames=alarms)["MetricAlarms"]:
        assert alarm["AlarmActions"] == [stack.parameters["AlarmTopicArn"]], alarm["AlarmName"]
    for arn in secrets:
        assert stack.ctx.client("secretsmanager").describe_secret(SecretId=arn)["ARN"] == arn
    api = d.Api(stack)
    (body,) = [
        r["Properties"]["Body"]
        for r in stack.ctx.original["Resources"].values()
        if r["Type"] == "AWS::ApiGateway::RestApi"
    ]
    for path, methods in body["paths"].items():
        declared = {m.upper() for m in methods if not m.startswith("x-")}
        assert declared <= api.routes.get(path, set()), path
    api.function.close()


def test_the_outputs_name_the_stable_urls(world, capsys):
    _require(world, "stack")
    stack = world.stack
    outputs = stack.outputs()
    apigw = stack.ctx.client("apigateway")
    api_id = stack.physical_ids()[next(iter(stack.ctx.resources_of("AWS::ApiGateway::RestApi")))]

    assert outputs["ApiUrl"] == f"https://{DOMAIN}", outputs
    assert outputs["JwksUrl"] == f"https://{DOMAIN}/v1/.well-known/jwks.json", outputs
    assert [m["restApiId"] for m in apigw.get_base_path_mappings(domainName=DOMAIN)["items"]] == [api_id]
    zone = _domain(world.drill)["HostedZoneId"]
    records = stack.ctx.client("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    assert [r["AliasTarget"]["DNSName"] for r in records if r["Name"].rstrip(".") == DOMAIN] == [
        outputs["RegionalDomainName"]
    ]
    with capsys.disabled():
        print(
            f"\nURLs: ApiUrl {outputs['ApiUrl']}, JwksUrl {outputs['JwksUrl']}, "
            f"ExecuteApiUrl {outputs.get('ExecuteApiUrl')}"
        )


def test_the_operator_installs_the_signing_key_and_the_service_is_healthy(world):
    _require(world, "stack")
    stack = world.stack
    world.api = api = d.Api(stack)
    secret_ids = {stack.function(lid).environment.get("SIGNING_KEY_SECRET_ID") for lid in stack.function_ids()}
    secret_ids.discard(None)
    assert len(secret_ids) == 1, f"the functions disagree on the signing key's secret: {secret_ids}"
    (secret_id,) = secret_ids

    before = api.get("/v1/health")
    from chalicelib.security.signing import new_secret_value

    stack.ctx.client("secretsmanager").put_secret_value(SecretId=secret_id, SecretString=new_secret_value())
    # A warm container keeps the key ring it could not load; a new one reads the new key.
    stack.close()
    world.api = api = d.Api(stack)
    after = api.get("/v1/health")

    # With the template's placeholder the service fails closed, and says why.
    assert before.status == 200 or before.body["checks"]["signing_key"] != "ok", before
    assert after.status == 200, after
    assert after.body["stage"] == d.STAGE


def test_the_accounts_user_pool_and_its_client_are_the_templates(world):
    _require(world, "stack")
    stack = world.stack
    physical, outputs = stack.physical_ids(), stack.outputs()
    idp = stack.ctx.client("cognito-idp")
    pool = idp.describe_user_pool(UserPoolId=physical["UserPool"])["UserPool"]
    client = idp.describe_user_pool_client(UserPoolId=physical["UserPool"], ClientId=physical["UserPoolClient"])[
        "UserPoolClient"
    ]

    assert pool["Name"] == f"licensing-{d.STAGE}-accounts"
    assert pool["UsernameAttributes"] == ["email"] and pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    assert pool["DeletionProtection"] == "ACTIVE"  # ProtectData's default
    assert "ClientSecret" not in client
    assert set(client["ExplicitAuthFlows"]) == {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    assert (outputs["UserPoolId"], outputs["UserPoolClientId"]) == (physical["UserPool"], physical["UserPoolClient"])
    for lid in stack.function_ids():
        environment = stack.function(lid).environment
        assert environment["COGNITO_USER_POOL_ID"] == physical["UserPool"], lid
        assert environment["COGNITO_CLIENT_ID"] == physical["UserPoolClient"], lid


def _has_accounts_api(api: d.Api) -> bool:
    return d.route_for(list(api.routes), "/v1/accounts") is not None


def test_an_account_registers_confirms_signs_in_and_manages_its_tenant(world):
    _require(world, "api")
    api = world.api
    if not _has_accounts_api(api):
        pytest.skip("the package has no accounts API yet (issue 15's backend)")
    email, password = "owner@drill.example", "Drill-Owner-passw0rd"

    registered = api.post("/v1/accounts", {"email": email, "password": password, "name": "Drill Owner"})
    assert registered.status == 202, registered
    early = api.post("/v1/sessions", {"email": email, "password": password})
    assert early.status == 403, early  # unconfirmed
    # Cognito mails a code; moto mails nothing and its ConfirmSignUp takes any code. What the drill
    # proves is ours: the packaged function reaches the stack's pool with the stack's client.
    confirmed = api.post("/v1/accounts/confirm", {"email": email, "code": "123456"})
    assert confirmed.status == 200, confirmed
    session = api.post("/v1/sessions", {"email": email, "password": password})
    assert session.status == 200, session
    bearer = {"Authorization": f"Bearer {session.body['access_token']}"}
    created = api.post("/v1/account/tenant", {"name": "Drill Accounts"}, headers=bearer)
    assert created.status == 201, created
    license_ = api.get("/v1/license", headers={**bearer, "X-Tenant-Id": created.body["tenant_id"]})
    assert license_.status == 200, license_
    account = api.get("/v1/account", headers=bearer)
    assert account.status == 200, account
    assert [(t["tenant_id"], t["role"]) for t in account.body["tenants"]] == [(created.body["tenant_id"], "owner")]
    refreshed = api.post("/v1/sessions/refresh", {"refresh_token": session.body["refresh_token"]})
    assert refreshed.status == 200 and refreshed.body["access_token"], refreshed
    world.account = {"email": email, "password": password, "tenant_id": created.body["tenant_id"]}


def _handler_lid(world, handler: str) -> str | None:
    found = [
        lid
        for lid, r in world.stack.ctx.resources_of("AWS::Lambda::Function").items()
        if r["Properties"]["Handler"] == f"app.{handler}"
    ]
    return found[0] if found else None


def test_purge_unconfirmed_deletes_a_registration_left_unconfirmed_for_a_day(world):
    _require(world, "api")
    if _handler_lid(world, "purge_unconfirmed") is None:
        pytest.skip("the package has no purge_unconfirmed yet (issue 15's backend)")
    now = datetime.now(UTC)
    email = "never-confirms@drill.example"
    if _has_accounts_api(world.api):
        registered = world.api.post(
            "/v1/accounts", {"email": email, "password": "Drill-Never-passw0rd", "name": "Never"}
        )
        assert registered.status == 202, registered

    early = _schedule(world, "purge_unconfirmed", now + timedelta(hours=23))
    late = _schedule(world, "purge_unconfirmed", now + timedelta(hours=25))

    pool = world.stack.physical_ids()["UserPool"]
    users = world.stack.ctx.client("cognito-idp").list_users(UserPoolId=pool, Filter=f'email = "{email}"')["Users"]
    assert early.get("acted", 0) == 0, early
    if _has_accounts_api(world.api):
        assert late["acted"] >= 1 and users == [], (late, users)


# --- use ----------------------------------------------------------------------------------------------


def test_tenant_trial_license_type_activation_confirm_check_in(world):
    _require(world, "api")
    api = world.api

    created = api.post("/v1/tenants", {"name": "Drill Corp", "owner_email": "ops@drill.example"}, headers=OPERATOR)
    assert created.status == 201, created
    tenant = created.body
    admin = {"Authorization": f"Bearer {tenant['api_key']}"}
    loadmaster = {"X-Activation-Key": tenant["activation_key"]}
    trial = api.post(f"/v1/tenants/{tenant['tenant_id']}/trial", {"days": 30, "instances": 5}, headers=OPERATOR)
    assert trial.status == 201, trial
    [trial_type] = api.get("/v1/license-types", headers=admin).body["license_types"]
    shrunk = api.call("PATCH", f"/v1/license-types/{trial_type['lic_type_id']}", {"capacity": 3}, headers=admin)
    assert shrunk.status == 200, shrunk
    pool = api.post("/v1/license-types", {"name": "Drill pool", "sku": "VLM-MAX-SPLA", "capacity": 2}, headers=admin)
    assert pool.status == 201, pool
    offered = api.post("/v1/activation/license-types", LM, headers=loadmaster)
    assert offered.status == 200, offered
    assert pool.body["lic_type_id"] in {t["lic_type_id"] for t in offered.body["license_types"]}

    granted = api.post(
        "/v1/activations",
        {**LM, "lic_type_id": pool.body["lic_type_id"]},
        headers={**loadmaster, "Idempotency-Key": "drill-lm-1"},
    )
    assert granted.status == 201, granted
    assert granted.body["status"] == "PENDING"
    device = {"Authorization": f"Device {granted.body['device_token']}"}
    confirmed = api.post(f"/v1/devices/{granted.body['device_id']}/confirm", headers=device)
    assert confirmed.status == 200 and confirmed.body["status"] == "ACTIVE", confirmed
    checked_in = api.post(
        f"/v1/devices/{granted.body['device_id']}/check-ins",
        {k: LM[k] for k in ("mac", "ip", "port", "version")},
        headers=device,
    )
    assert checked_in.status == 200, checked_in
    _verify_lease(api, checked_in.body["license"], granted.body["device_id"])

    # A second LoadMaster that never confirms, for block_unconfirmed.
    other = {**LM, "mac": "00:50:56:d7:11:02", "ip": "10.0.0.6"}
    pending = api.post(
        "/v1/activations",
        {**other, "lic_type_id": trial_type["lic_type_id"]},
        headers={**loadmaster, "Idempotency-Key": "drill-lm-2"},
    )
    assert pending.status == 201 and pending.body["status"] == "PENDING", pending

    license_ = api.get("/v1/license", headers=admin)
    assert license_.body["state"] == "TRIAL" and license_.body["in_use"] == 2, license_
    world.tenant = {**tenant, "admin": admin, "trial_type": trial_type["lic_type_id"], "pool": pool.body["lic_type_id"]}
    world.device = {**granted.body, "auth": device, "last_check_in": datetime.now(UTC)}
    world.pending = pending.body


def _verify_lease(api: d.Api, lease: str, device_id: str) -> None:
    from joserfc import jwt
    from joserfc.jwk import KeySet

    jwks = api.get("/v1/.well-known/jwks.json")
    assert jwks.status == 200, jwks
    claims = jwt.decode(lease, KeySet.import_key_set(jwks.body), algorithms=["EdDSA"]).claims
    assert claims["sub"] == device_id


def _device(world, device_id: str) -> dict[str, Any]:
    reply = world.api.get(f"/v1/devices/{device_id}", headers=world.tenant["admin"])
    assert reply.status == 200, reply
    return reply.body


def _schedule(world, handler: str, at: datetime) -> Any:
    """Run the function the stack's schedule rule invokes for ``app.<handler>``, at ``at``."""
    stack = world.stack
    (lid,) = [
        lid
        for lid, r in stack.ctx.resources_of("AWS::Lambda::Function").items()
        if r["Properties"]["Handler"] == f"app.{handler}"
    ]
    function_name = stack.function_ids()[lid]
    events = stack.ctx.client("events")
    scheduled = [
        rule
        for rule in events.list_rules()["Rules"]
        if rule.get("ScheduleExpression")
        and any(
            t["Arn"].split(":")[6] == function_name for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        )
    ]
    assert len(scheduled) == 1, f"{handler}: {len(scheduled)} schedule rules invoke {function_name}"
    return stack.function(lid).invoke(d.scheduled_event(_rfc3339(at), scheduled[0]["Arn"]))


def _announced(world, detail_type: str, key: str = "device_id") -> list[str]:
    """The ``key`` of each announcement of ``detail_type`` since the last look."""
    world.notifications += world.drill.notifications()
    found = [n["detail"].get(key) for n in world.notifications if n["detail-type"] == detail_type]
    world.notifications = [n for n in world.notifications if n["detail-type"] != detail_type]
    return found


def test_meter_usage_records_the_hour(world):
    _require(world, "device")
    hour = world.device["last_check_in"].replace(minute=0, second=0, microsecond=0)

    report = _schedule(world, "meter_usage", hour + timedelta(minutes=1))
    again = _schedule(world, "meter_usage", hour + timedelta(minutes=2))
    usage = world.api.get(f"/v1/usage?month={hour:%Y-%m}", headers=world.tenant["admin"])

    assert (report["due"], report["acted"]) == (2, 2), report  # the trial's type and the pool
    assert (again["due"], again["acted"]) == (2, 0), again  # the first reading of an hour stands
    assert usage.status == 200, usage
    peaks = {t["lic_type_id"]: t["peak_instances"] for t in usage.body["license_types"]}
    assert peaks == {world.tenant["pool"]: 1, world.tenant["trial_type"]: 1}, usage.body


def test_block_unconfirmed_blocks_the_device_that_never_confirmed(world):
    _require(world, "pending")
    confirm_by = _parse(world.pending["confirm_by"])

    early = _schedule(world, "block_unconfirmed", confirm_by - timedelta(minutes=5))
    assert early["acted"] == 0 and _device(world, world.pending["device_id"])["status"] == "PENDING", early
    late = _schedule(world, "block_unconfirmed", confirm_by + timedelta(minutes=5))

    assert late["acted"] == 1, late
    assert _device(world, world.pending["device_id"])["status"] == "BLOCKED"
    assert _announced(world, "Device blocked") == [world.pending["device_id"]]
    assert _device(world, world.device["device_id"])["status"] == "ACTIVE"


def test_deactivate_silent_deactivates_the_silent_device(world):
    _require(world, "device")
    silent_for = timedelta(seconds=86400)  # the default silent_after_s

    report = _schedule(world, "deactivate_silent", world.device["last_check_in"] + silent_for + timedelta(hours=1))

    assert report["acted"] == 1, report
    assert _device(world, world.device["device_id"])["status"] == "DEACTIVATED"
    assert _announced(world, "Device deactivated as silent") == [world.device["device_id"]]
    assert world.api.get("/v1/license", headers=world.tenant["admin"]).body["in_use"] == 0


def test_expire_trials_expires_the_trial(world):
    _require(world, "device")
    expires = _parse(world.api.get("/v1/license", headers=world.tenant["admin"]).body["trial_expires_at"])

    before = _schedule(world, "expire_trials", expires - timedelta(hours=1))
    assert world.api.get("/v1/license", headers=world.tenant["admin"]).body["state"] == "TRIAL", before
    report = _schedule(world, "expire_trials", expires + timedelta(hours=1))

    assert report["acted"] == 1, report
    assert world.api.get("/v1/license", headers=world.tenant["admin"]).body["state"] == "EXPIRED"
    assert _announced(world, "Trial expired", "tenant_id") == [world.tenant["tenant_id"]]


def test_each_schedule_published_its_metrics(world):
    _require(world, "stack")
    handlers = ["meter_usage", "block_unconfirmed", "deactivate_silent", "expire_trials"]
    if _handler_lid(world, "purge_unconfirmed"):
        handlers.append("purge_unconfirmed")
    for handler in handlers:
        (lid,) = [
            lid
            for lid, r in world.stack.ctx.resources_of("AWS::Lambda::Function").items()
            if r["Properties"]["Handler"] == f"app.{handler}"
        ]
        log = world.stack.function(lid).log()
        # Powertools' embedded metric format, on the function's stdout (CloudWatch Logs in AWS).
        assert f'"{handler}.Acted"' in log, log[-2000:]
        assert "notification not sent" not in log, log[-2000:]


def test_every_function_ran_from_the_package(world, drill):
    _require(world, "stack")
    assert set(world.stack.invoked) == set(world.stack.function_ids()), world.stack.invoked


def test_the_package_was_not_written_to(world, drill):
    _require(world, "stack")
    for function in world.stack._functions.values():
        assert function.process is None or function.running, f"{function.name} exited:\n{function.log()[-2000:]}"
    # Read-only as Lambda's /var/task: nothing appeared beside the code (bytecode caches included).
    written = d.written_to(drill.task_root, drill.package_dir / "deployment.zip")
    assert not written, sorted(written)[:20]


def _names_the_stack_gives(stack: d.Stack) -> dict[str, list[str]]:
    """What the functions must find: the tables, secrets, user pool and its client the stack
    created, by logical id."""
    physical = stack.physical_ids()
    return {
        lid: [physical[lid]]
        for t in (*KEPT_TYPES, "AWS::Cognito::UserPoolClient")
        for lid in stack.ctx.resources_of(t)
        if lid in physical
    }


def _unreached(stack: d.Stack) -> list[str]:
    """The tables, secrets and accounts pool of the stack that no function's environment names (by name, ARN or
    a prefix of the name ending in a separator, as TABLE_PREFIX)."""
    values = [v for lid in stack.function_ids() for v in stack.function(lid).environment.values() if v]
    secrets = stack.ctx.client("secretsmanager")
    missing = []
    for lid, (physical,) in _names_the_stack_gives(stack).items():
        names = {physical}
        if physical.startswith("arn:aws:secretsmanager:"):
            names.add(secrets.describe_secret(SecretId=physical)["Name"])
        if not any(name == v or (name.startswith(v) and v[-1] in "-/_") for v in values for name in names):
            missing.append(f"{lid} ({physical})")
    return missing


def test_the_functions_use_the_stacks_own_tables_and_secret(world):
    _require(world, "stack")
    assert not _unreached(world.stack), "no function names these"


def test_the_stage_parameter_reaches_the_functions(drill, world):
    _require(world, "stack")
    stack = drill.create(stack_name="licensing-drillstage", Stage="drillstage")
    try:
        unreached = _unreached(stack)
    finally:
        stack.delete()
    assert not unreached, f"with Stage=drillstage no function names {', '.join(unreached)}"


# --- delete and create again --------------------------------------------------------------------------


# What holds data: the template keeps these when the stack is deleted.
KEPT_TYPES = ("AWS::DynamoDB::Table", "AWS::SecretsManager::Secret", "AWS::Cognito::UserPool")


def _kept_on_delete(stack: d.Stack) -> dict[str, str]:
    """The tables, secrets and user pool the template keeps when the stack is deleted: logical id -> name."""
    kept = {}
    physical = stack.physical_ids()
    for lid, resource in stack.ctx.original["Resources"].items():
        if (
            resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
            and lid in physical
            and resource["Type"] in KEPT_TYPES
        ):
            kept[lid] = physical[lid]
    return kept


def _exists(stack_or_drill, kind: str, name: str) -> bool:
    endpoint = stack_or_drill.endpoint if isinstance(stack_or_drill, d.Drill) else stack_or_drill.ctx.endpoint
    if kind == "AWS::DynamoDB::Table":
        return name in d.client(endpoint, "dynamodb").list_tables()["TableNames"]
    if kind == "AWS::SecretsManager::Secret":
        sm = d.client(endpoint, "secretsmanager")
        try:
            sm.describe_secret(SecretId=name)
        except sm.exceptions.ResourceNotFoundException:
            return False
        return True
    if kind == "AWS::Cognito::UserPool":
        idp = d.client(endpoint, "cognito-idp")
        try:
            idp.describe_user_pool(UserPoolId=name)
        except idp.exceptions.ResourceNotFoundException:
            return False
        return True
    raise AssertionError(f"the drill cannot look for a {kind}")


def test_delete_keeps_the_tables_the_secret_and_the_accounts(drill, world):
    _require(world, "stack")
    stack = world.stack
    kept = _kept_on_delete(stack)
    types = {lid: stack.ctx.original["Resources"][lid]["Type"] for lid in kept}
    assert set(types.values()) == set(KEPT_TYPES), types
    functions = set(stack.function_ids().values())
    alarms = [stack.physical_ids()[lid] for lid in stack.ctx.resources_of("AWS::CloudWatch::Alarm")]

    stack.delete()
    world.stack = world.api = None

    cfn = d.client(drill.endpoint, "cloudformation")
    assert d.STACK_NAME not in {
        s["StackName"] for s in cfn.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]
    }
    for lid, name in kept.items():
        assert _exists(drill, types[lid], name), f"{lid} ({name}) did not survive the delete"
    assert not functions & {f["FunctionName"] for f in d.client(drill.endpoint, "lambda").list_functions()["Functions"]}
    assert not d.client(drill.endpoint, "cloudwatch").describe_alarms(AlarmNames=alarms)["MetricAlarms"]
    world.retained = {lid: (types[lid], name) for lid, name in kept.items()}


def test_creating_again_without_adopting_fails_on_what_was_kept(drill, world, capsys):
    if not world.retained:
        pytest.skip("the delete step did not run")
    # In AWS the create fails the same way (a table or secret of that name exists) and rolls back.
    with pytest.raises(d.DrillError, match=r"(?i)already exists") as refused:
        drill.create(**_domain(drill))
    with capsys.disabled():
        print(f"\nCreating {d.STACK_NAME} again without adopting its kept data: {refused.value}")
    for _lid, (kind, name) in world.retained.items():
        assert _exists(drill, kind, name), f"the failed create took {name} with it"


def test_creating_again_adopting_the_kept_data_serves_it(drill, world):
    if not world.retained or not world.tenant:
        pytest.skip("an earlier step of the drill failed")
    assert "ExistingData" in drill.sam.get("Parameters", {}), "no way to take over a deleted stack's data"
    (pool_id,) = [name for kind, name in world.retained.values() if kind == "AWS::Cognito::UserPool"]
    # A pool has no unique name to take it over by: without its id the create is refused (a rule
    # of the template, which CloudFormation checks before creating anything).
    with pytest.raises(d.DrillError, match="ExistingUserPoolId"):
        drill.create(ExistingData="true", **_domain(drill))
    stack = drill.create(ExistingData="true", ExistingUserPoolId=pool_id, **_domain(drill))
    world.stack = stack
    api = d.Api(stack)
    assert "UserPool" not in stack.physical_ids()
    assert {stack.function(lid).environment["COGNITO_USER_POOL_ID"] for lid in stack.function_ids()} == {pool_id}
    assert stack.outputs()["UserPoolId"] == pool_id
    # The stack's new client is in the kept pool.
    client_id = stack.physical_ids()["UserPoolClient"]
    assert stack.ctx.client("cognito-idp").describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)
    if world.account:  # the people kept their accounts: the same password signs in, in its tenant
        session = api.post("/v1/sessions", {"email": world.account["email"], "password": world.account["password"]})
        assert session.status == 200, session
        bearer = {"Authorization": f"Bearer {session.body['access_token']}", "X-Tenant-Id": world.account["tenant_id"]}
        assert api.get("/v1/license", headers=bearer).status == 200

    tenant = api.get(f"/v1/tenants/{world.tenant['tenant_id']}", headers=OPERATOR)
    jwks = api.get("/v1/.well-known/jwks.json")

    assert tenant.status == 200 and tenant.body["name"] == "Drill Corp", tenant
    assert api.get("/v1/health").status == 200
    assert jwks.status == 200 and jwks.body["keys"], "the kept signing key is not served"


def test_a_failed_first_create_leaves_nothing_behind(drill):
    stage = "drillfail"
    sam_parameters = drill.sam.get("Parameters", {})
    policies = {
        r.get("DeletionPolicy")
        for r in drill.sam["Resources"].values()
        if r.get("Type") in ("AWS::DynamoDB::Table", "AWS::SecretsManager::Secret")
    }
    assert policies == {"RetainExceptOnCreate"}, f"a failed first create would keep what has {policies}"
    template = drill.translated(drill.parameters(Stage=stage))
    last = {
        "DrillForcedFailure": {
            "Type": "AWS::SSM::Parameter",
            "DependsOn": sorted(template["Resources"]),
            "Properties": {"Name": "/drill/forced-failure", "Type": "NotAType", "Value": "x"},
        }
    }
    tables_before = set(d.client(drill.endpoint, "dynamodb").list_tables()["TableNames"])

    # As make deploy creates a new stack: the tables unprotected until the create has succeeded (a
    # rollback cannot delete a protected table, in AWS as on moto).
    unprotected = {"ProtectData": "false"} if "ProtectData" in sam_parameters else {}
    with pytest.raises(d.DrillError, match="creating licensing-drillfail failed"):
        drill.create(stack_name="licensing-drillfail", fail_with=last, Stage=stage, **unprotected)

    client = lambda service: d.client(drill.endpoint, service)  # noqa: E731
    left = set(client("dynamodb").list_tables()["TableNames"]) - tables_before
    assert not left, f"the rolled-back create left {sorted(left)}"
    assert not [s["Name"] for s in client("secretsmanager").list_secrets()["SecretList"] if stage in s["Name"]]
    assert not [
        p["Name"] for p in client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"] if stage in p["Name"]
    ]
    assert not [f["FunctionName"] for f in client("lambda").list_functions()["Functions"] if stage in f["FunctionName"]]
    assert not [q for q in client("sqs").list_queues().get("QueueUrls", []) if stage in q]
    assert not [
        g["logGroupName"] for g in client("logs").describe_log_groups()["logGroups"] if stage in g["logGroupName"]
    ]
    assert not [
        a["AlarmName"]
        for a in client("cloudwatch").describe_alarms(MaxRecords=100)["MetricAlarms"]
        if stage in a["AlarmName"]
    ]


# --- the drill itself, on what issue 12's template will hold ------------------------------------------

# A small SAM template with the kinds of resource issue 12 asked for (alias and gradual deployment,
# an on-failure destination, a log group, a custom domain without a hosted zone, data kept with
# RetainExceptOnCreate and taken over with ExistingData): the drill's models tried on their own,
# apart from the project's template.
NEXT_API_BODY = {
    "swagger": "2.0",
    "info": {"title": "drill-next", "version": "1.0"},
    "paths": {
        "/v1/health": {
            "get": {
                "x-amazon-apigateway-integration": {
                    "type": "aws_proxy",
                    "httpMethod": "POST",
                    "uri": {
                        "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                        "${Sweep.Arn}/invocations"
                    },
                }
            }
        }
    },
}
NEXT_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Transform": "AWS::Serverless-2016-10-31",
    "Parameters": {
        "Stage": {"Type": "String", "Default": "next", "AllowedPattern": "^[a-z][a-z0-9-]*$"},
        "DomainName": {"Type": "String", "Default": "licensing.drill.example"},
        "CertificateArn": {"Type": "String", "Default": "arn:aws:acm:us-east-1:123456789012:certificate/drill"},
        "LogRetentionDays": {"Type": "Number", "Default": 30},
        "ExistingData": {"Type": "String", "Default": "false", "AllowedValues": ["false", "true"]},
    },
    "Conditions": {
        "HasDomain": {"Fn::Not": [{"Fn::Equals": [{"Ref": "DomainName"}, ""]}]},
        "CreatesData": {"Fn::Equals": [{"Ref": "ExistingData"}, "false"]},
    },
    "Resources": {
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Condition": "CreatesData",
            "DeletionPolicy": "RetainExceptOnCreate",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "TableName": {"Fn::Sub": "licensing-${Stage}-things"},
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": True},
            },
        },
        "Secret": {
            "Type": "AWS::SecretsManager::Secret",
            "Condition": "CreatesData",
            "DeletionPolicy": "RetainExceptOnCreate",
            "UpdateReplacePolicy": "Retain",
            "Properties": {"Name": {"Fn::Sub": "licensing/${Stage}/lease-signing-key"}, "SecretString": "{}"},
        },
        "Failures": {"Type": "AWS::SQS::Queue"},
        "Sweep": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Runtime": "python3.13",
                "Handler": "app.meter_usage",
                "CodeUri": "./deployment.zip",
                "AutoPublishAlias": "live",
                "DeploymentPreference": {"Type": "Linear10PercentEvery1Minute", "Alarms": [{"Ref": "SweepErrors"}]},
                "EventInvokeConfig": {
                    "MaximumRetryAttempts": 2,
                    "DestinationConfig": {
                        "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["Failures", "Arn"]}}
                    },
                },
                "Environment": {
                    "Variables": {
                        "SIGNING_KEY_SECRET_ID": {"Fn::Sub": "licensing/${Stage}/lease-signing-key"},
                        "TABLE_PREFIX": {"Fn::Sub": "licensing-${Stage}-"},
                    }
                },
                "Events": {"Hourly": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 hour)"}}},
            },
        },
        "SweepLogs": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": "/aws/lambda/${Sweep}"},
                "RetentionInDays": {"Ref": "LogRetentionDays"},
            },
        },
        "SweepErrors": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": "Sweep failed",
                "Namespace": "AWS/Lambda",
                "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": "Sweep"}}],
                "Statistic": "Sum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            },
        },
        "Api": {
            "Type": "AWS::Serverless::Api",
            "Properties": {
                "StageName": "v1",
                "EndpointConfiguration": "REGIONAL",
                "DefinitionBody": NEXT_API_BODY,
                "MethodSettings": [
                    {"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100}
                ],
            },
        },
        "Domain": {
            "Type": "AWS::ApiGateway::DomainName",
            "Condition": "HasDomain",
            "Properties": {
                "DomainName": {"Ref": "DomainName"},
                "RegionalCertificateArn": {"Ref": "CertificateArn"},
                "EndpointConfiguration": {"Types": ["REGIONAL"]},
            },
        },
        "Mapping": {
            "Type": "AWS::ApiGateway::BasePathMapping",
            "Condition": "HasDomain",
            "Properties": {"DomainName": {"Ref": "Domain"}, "RestApiId": {"Ref": "Api"}, "Stage": {"Ref": "Api.Stage"}},
        },
    },
    "Outputs": {
        "SecretArn": {"Condition": "CreatesData", "Value": {"Ref": "Secret"}},
        "Alias": {"Value": {"Ref": "Sweep.Alias"}},
        "Url": {"Condition": "HasDomain", "Value": {"Fn::Sub": "https://${Domain}/"}},
        "DomainTarget": {"Condition": "HasDomain", "Value": {"Fn::GetAtt": ["Domain", "RegionalDomainName"]}},
    },
}


def test_the_drill_deploys_what_issue_12_adds(drill):
    next_drill = d.Drill(
        drill.endpoint,
        drill.package_dir,
        task_root=drill.task_root,
        sam=d.upload_code(NEXT_TEMPLATE, drill.package_dir, d.client(drill.endpoint, "s3"), d.ARTIFACT_BUCKET),
    )
    stack = next_drill.create(stack_name="licensing-next", Stage="next")
    physical, outputs = stack.physical_ids(), stack.outputs()
    lam, apigw = stack.ctx.client("lambda"), stack.ctx.client("apigateway")
    function = physical["Sweep"]

    assert outputs["SecretArn"].startswith("arn:aws:secretsmanager:")  # Ref of a secret is its ARN
    assert (
        stack.ctx.client("secretsmanager").describe_secret(SecretId=outputs["SecretArn"])["Name"]
        == (stack.function("Sweep").environment["SIGNING_KEY_SECRET_ID"])
    )
    assert outputs["Alias"].endswith(f":function:{function}:live")
    assert lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == "1"
    rules = stack.ctx.client("events").list_rule_names_by_target(TargetArn=outputs["Alias"])["RuleNames"]
    assert rules == [physical["SweepHourly"]]
    failure = lam.get_function_event_invoke_config(FunctionName=function, Qualifier="live")
    assert failure["DestinationConfig"]["OnFailure"]["Destination"].endswith(":" + physical["Failures"].split("/")[-1])
    group = stack.ctx.client("codedeploy").get_deployment_group(
        applicationName=physical["ServerlessDeploymentApplication"],
        deploymentGroupName=physical["SweepDeploymentGroup"],
    )
    assert group["deploymentGroupInfo"]["deploymentGroupName"] == physical["SweepDeploymentGroup"]
    (log_group,) = stack.ctx.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{function}")[
        "logGroups"
    ]
    assert log_group["retentionInDays"] == 30
    assert [m["restApiId"] for m in apigw.get_base_path_mappings(domainName="licensing.drill.example")["items"]] == [
        physical["Api"]
    ]
    assert outputs["Url"] == "https://licensing.drill.example/"
    stage = apigw.get_stage(restApiId=physical["Api"], stageName="v1")
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 50
    ddb = stack.ctx.client("dynamodb")
    ttl = ddb.describe_time_to_live(TableName="licensing-next-things")
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires"
    ddb.put_item(TableName="licensing-next-things", Item={"pk": {"S": "kept"}})

    stack.delete()

    # RetainExceptOnCreate keeps the table and the secret of a stack that was created.
    assert "licensing-next-things" in stack.ctx.client("dynamodb").list_tables()["TableNames"]
    stack.ctx.client("secretsmanager").describe_secret(SecretId="licensing/next/lease-signing-key")
    assert not apigw.get_domain_names()["items"]
    assert function not in {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    # Creating it again fails on what was kept, and the failed create takes nothing with it.
    with pytest.raises(d.DrillError, match="already exists"):
        next_drill.create(stack_name="licensing-next", Stage="next")
    assert "licensing-next-things" in stack.ctx.client("dynamodb").list_tables()["TableNames"]
    stack.ctx.client("secretsmanager").describe_secret(SecretId="licensing/next/lease-signing-key")
    # Adopting them (ExistingData=true) creates the stack around the kept data.
    adopted = next_drill.create(stack_name="licensing-next", Stage="next", ExistingData="true")
    assert "Table" not in adopted.physical_ids() and "Secret" not in adopted.physical_ids()
    assert ddb.get_item(
        TableName=adopted.function("Sweep").environment["TABLE_PREFIX"] + "things", Key={"pk": {"S": "kept"}}
    ).get("Item")
    adopted.delete()


def test_a_failed_first_create_of_retain_except_on_create_leaves_nothing(drill):
    next_drill = d.Drill(
        drill.endpoint,
        drill.package_dir,
        task_root=drill.task_root,
        sam=d.upload_code(NEXT_TEMPLATE, drill.package_dir, d.client(drill.endpoint, "s3"), d.ARTIFACT_BUCKET),
    )
    template = next_drill.translated(next_drill.parameters(Stage="nextfail"))
    forced = {
        "DrillForcedFailure": {
            "Type": "AWS::SSM::Parameter",
            "DependsOn": sorted(template["Resources"]),
            "Properties": {"Name": "/drill/forced-failure", "Type": "NotAType", "Value": "x"},
        }
    }

    with pytest.raises(d.DrillError, match="creating licensing-nextfail failed"):
        next_drill.create(stack_name="licensing-nextfail", fail_with=forced, Stage="nextfail")

    assert "licensing-nextfail-things" not in d.client(drill.endpoint, "dynamodb").list_tables()["TableNames"]
    assert not [
        s for s in d.client(drill.endpoint, "secretsmanager").list_secrets()["SecretList"] if "nextfail" in s["Name"]
    ]
    assert not [q for q in d.client(drill.endpoint, "sqs").list_queues().get("QueueUrls", []) if "nextfail" in q]
