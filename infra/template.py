"""The CloudFormation (SAM) template of one deployment, generated from code.

``chalice package`` writes the functions, their schedules and the REST API from ``app.py``;
``finish(sam)`` adds everything else and adapts Chalice's resources:

- the tables, from the PynamoDB models (keys, indexes, projections, TTL);
- one role per function, from the grant table of ``infra/permissions.py``;
- a log group per function and the API's access log, kept ``LogRetentionDays``;
- an SQS queue per scheduled function for its failed runs (Lambda's on-failure destination and
  EventBridge's dead-letter queue);
- the alarms, from the tables below, per stack (every dimension names this stack's resources);
- versions, a ``live`` alias and a gradual deployment of the API function with automatic rollback
  on the alarms;
- the LoadMaster's front door (``_device_api``): an HTTP API serving the LoadMaster's routes, the
  JWKS and health from the same function, cheaper per request than the REST API, which keeps the
  administration (console, CLI, tenants);
- optionally (``DeviceFrontDoor=FunctionUrl``), a Lambda function URL as the LoadMaster's front
  door instead (``_device_url``): no request price, but no domain, throttling or access log;
- optional custom domains, so the URLs LoadMasters use and the JWKS URL survive a new stack;
- the Cognito user pool of people's accounts and its app client (``_accounts``): kept like the
  tables, taken over by id (``ExistingUserPoolId``) when ``ExistingData=true``.

Everything stage-dependent comes from the ``Stage`` parameter: one package deploys any stage.
The library is troposphere: typed resources whose property names and types are checked when the
template is built, with no runtime beyond Python (AWS CDK needs Node.js and its own CLI to deploy,
and Chalice's CDK construct would replace ``chalice package``, which the project's packaging,
tests and local stack are built around).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pynamodb.indexes import GlobalSecondaryIndex, LocalSecondaryIndex
from troposphere import (
    And,
    Condition,
    Equals,
    GetAtt,
    If,
    Join,
    Not,
    Output,
    Parameter,
    Ref,
    RetainExceptOnCreate,
    Select,
    Split,
    Sub,
    Tags,
    Template,
    apigateway,
    apigatewayv2,
    awslambda,
    cloudwatch,
    cognito,
    dynamodb,
    encode_to_dict,
    iam,
    logs,
    route53,
    secretsmanager,
    sqs,
)

from chalicelib.domain.passwords import PASSWORD_POLICY
from infra.permissions import statements

APP_TABLE = "licensing-${Stage}-%s"
SECRET_NAME = "licensing/${Stage}/lease-signing-key"
CURSOR_SECRET_NAME = "licensing/${Stage}/cursor-key"
API_STAGE = "v1"
ALIAS = "live"
# The placeholder the stack creates the signing-key secret with; ``infra/deploy.py`` replaces it
# with a fresh key after the first deployment, and the service refuses it until then.
SECRET_PLACEHOLDER = json.dumps({"active_kid": "REPLACE-ME", "keys": []})
ADVANCED_SECURITY_MODES = ["OFF", "AUDIT", "ENFORCED"]
# Tokens of the app client: an access token for an hour, a session (refresh token) for 30 days.
TOKEN_VALIDITY = {
    "AccessTokenValidity": 60,
    "IdTokenValidity": 60,
    "RefreshTokenValidity": 30,
    "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"},
}
AUTH_FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
DEPLOYMENT_TYPES = [
    "Canary10Percent5Minutes",
    "Canary10Percent10Minutes",
    "Linear10PercentEvery1Minute",
    "Linear10PercentEvery2Minutes",
    "AllAtOnce",
]
RETENTION_DAYS = [
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
]
ACCESS_LOG_FORMAT = json.dumps(
    {
        # Never a header, a body or a query string: keys and tokens travel in those.
        "requestId": "$context.requestId",
        "time": "$context.requestTimeEpoch",
        "route": "$context.resourcePath",
        "method": "$context.httpMethod",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "ip": "$context.identity.sourceIp",
        "responseBytes": "$context.responseLength",
        "error": "$context.error.responseType",
    },
    separators=(",", ":"),
)

# The LoadMaster's front door, an HTTP API (_device_api): each route by its logical id's suffix.
# ANY, not the route's one method: a wrong method then reaches the function, which answers the
# contract's 405 with Allow (HTTP API would send it to $default, a 404).
DEVICE_ROUTES = {
    "LicenseTypes": "/v1/activation/license-types",
    "Activations": "/v1/activations",
    "Confirm": "/v1/devices/{device_id}/confirm",
    "CheckIns": "/v1/devices/{device_id}/check-ins",
    "Deactivate": "/v1/devices/{device_id}/deactivate",
    "Jwks": "/v1/.well-known/jwks.json",
    "Health": "/v1/health",
}
# Throttled per route at ActivationRateLimit: a fleet's roll-out, not its steady hourly traffic.
ACTIVATION_ROUTES = ("LicenseTypes", "Activations", "Confirm", "Deactivate")
# $default (a path the device API has no route for) goes to the function for the contract's 404;
# throttled low, so scanning unknown paths costs few invocations.
NO_ROUTE_LIMITS = {"ThrottlingRateLimit": 10, "ThrottlingBurstLimit": 20}
# The LoadMasters' front door, chosen by the DeviceFrontDoor parameter: the HTTP API, or a Lambda
# function URL on the same alias (_device_url).
DEVICE_FRONT_DOORS = ("HttpApi", "FunctionUrl")
DEVICE_API_STAGE = "$default"  # no stage in the URL: https://<id>.execute-api.../v1/health
DEVICE_ACCESS_LOG_FORMAT = json.dumps(
    {
        # A line per check-in, so only what an operator needs to find a request and see how it went:
        # the function's own log line says the rest. Never a header, a body or a query string: keys
        # and tokens travel in those. Every variable is in AWS's list for HTTP APIs ("Customize HTTP
        # API access logs"): the route is $context.routeKey (``ANY /v1/...`` or ``$default``), and the
        # ip is the TCP peer's address, not a client's X-Forwarded-For.
        "requestId": "$context.requestId",
        "time": "$context.requestTimeEpoch",
        "ip": "$context.identity.sourceIp",
        "route": "$context.routeKey",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        # Why the function could not be reached when the HTTP API answers {"message":"Internal Server
        # Error"} by itself (no permission, Lambda throttled): AWS's troubleshooting of HTTP API Lambda
        # integrations says to log this variable, the only place that reason appears.
        "integrationError": "$context.integrationErrorMessage",
    },
    separators=(",", ":"),
)

# What the API function logs per request: Lambda's START, END and REPORT lines (about 240 bytes,
# over half of what a check-in logs; its metric's EMF line is 209) are dropped; Lambda's metrics
# (Duration, Errors, Throttles) and the alarms on them say the same. Left: WARN and above from
# Lambda (a timeout, a crash), the service's own lines (a successful check-in writes none at
# INFO, only its metric's EMF line: tests/service/test_check_in_logs.py) and the access log line.
# JSON is the format that allows a system log level; the service's lines are JSON already and
# are passed as they are ("Lambda doesn't double-encode any logs that are already JSON encoded";
# ``print``ed lines, as powertools prints the EMF lines, go out as written). The application log
# level stays INFO, said here so that no one raises it: "when Lambda filters your function's
# application logs, log messages without a level are assigned INFO", and an EMF line has no level,
# so at WARN Lambda would drop every metric line (CheckIns and the rest) with the INFO lines.
API_LOGGING = {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN"}


@dataclass(frozen=True)
class Function:
    """A Lambda function Chalice packaged."""

    logical_id: str
    name: str  # Chalice's name: api_handler or the scheduled function's
    timeout_s: int
    every_s: int | None  # a scheduled function's period; None for the API


# --- parameters ------------------------------------------------------------------------------


def _parameters(t: Template) -> None:
    for name, kwargs in {
        "Stage": dict(
            Type="String",
            Default="prod",
            AllowedPattern="^[a-z][a-z0-9-]{0,19}$",
            Description="Names the tables licensing-<Stage>-*, the secret licensing/<Stage>/lease-signing-"
            "key, the API, the log groups and the metrics namespace.",
        ),
        "AlarmTopicArn": dict(
            Type="String",
            AllowedPattern="^arn:aws[a-z-]*:sns:.+",
            Description="SNS topic that receives every alarm (email, chat, pager).",
        ),
        "OperatorKeySha256": dict(
            Type="String",
            NoEcho=True,
            AllowedPattern="^[0-9a-f]{64}$",
            Description="Hex SHA-256 of the operator key; the key itself is never deployed.",
        ),
        "ExistingData": dict(
            Type="String",
            Default="false",
            AllowedValues=["false", "true"],
            Description="true: take over the tables and the signing-key secret of an earlier stack "
            "of this stage (kept when it was deleted) instead of creating them.",
        ),
        "ProtectData": dict(
            Type="String",
            Default="true",
            AllowedValues=["false", "true"],
            Description="Deletion protection on the tables. make deploy creates a new stack with "
            "false (so a failed first create leaves nothing behind), then turns it on.",
        ),
        "LogRetentionDays": dict(
            Type="Number",
            Default=30,
            AllowedValues=RETENTION_DAYS,
            Description="Days the function logs and the API access log are kept.",
        ),
        "DomainName": dict(
            Type="String",
            Default="",
            AllowedPattern="^$|^[a-z0-9.-]+$",
            Description="Optional custom domain of the API (e.g. licensing.example.com): the URL "
            "LoadMasters use. Needs CertificateArn.",
        ),
        "CertificateArn": dict(
            Type="String",
            Default="",
            Description="ACM certificate of DomainName (and DeviceDomainName), in the stack's region.",
        ),
        "HostedZoneId": dict(
            Type="String",
            Default="",
            Description="Optional Route 53 hosted zone of DomainName: the stack adds the alias "
            "record. Empty: point DNS at the RegionalDomainName output yourself.",
        ),
        "DeploymentType": dict(
            Type="String",
            Default="Canary10Percent5Minutes",
            AllowedValues=DEPLOYMENT_TYPES,
            Description="How a new version of the API function takes traffic (CodeDeploy); "
            "rolled back automatically when an API alarm fires.",
        ),
        "ApiRateLimit": dict(
            Type="Number",
            Default=1000,
            MinValue=1,
            Description="API Gateway steady requests per second across the API.",
        ),
        "ApiBurstLimit": dict(Type="Number", Default=2000, MinValue=1, Description="API Gateway burst of requests."),
        "DeviceDomainName": dict(
            Type="String",
            Default="",
            AllowedPattern="^$|^[a-z0-9.-]+$",
            Description="Optional custom domain of the LoadMasters' HTTP API (e.g. devices."
            "licensing.example.com): the URL LoadMasters use. CertificateArn must "
            "cover it too.",
        ),
        "DeviceApiRateLimit": dict(
            Type="Number",
            Default=1000,
            MinValue=1,
            Description="LoadMasters' HTTP API: steady requests per second of each route (check-ins, JWKS, health).",
        ),
        "DeviceApiBurstLimit": dict(
            Type="Number", Default=2000, MinValue=1, Description="LoadMasters' HTTP API: burst of each route."
        ),
        "ActivationRateLimit": dict(
            Type="Number",
            Default=100,
            MinValue=1,
            Description="LoadMasters' HTTP API: steady requests per second of each activation "
            "route (license types, activations, confirm, deactivate).",
        ),
        "ActivationBurstLimit": dict(
            Type="Number", Default=200, MinValue=1, Description="LoadMasters' HTTP API: burst of each activation route."
        ),
        "DeviceFrontDoor": dict(
            Type="String",
            Default="HttpApi",
            AllowedValues=list(DEVICE_FRONT_DOORS),
            Description="What LoadMasters call (DeviceApiUrl): HttpApi, or FunctionUrl, a Lambda "
            "function URL (cheaper; no custom domain, throttling or access log: "
            "docs/DEPLOY.md, 'Two front doors'). The HTTP API stays either way.",
        ),
        "ManageApiGatewayAccount": dict(
            Type="String",
            Default="true",
            AllowedValues=["false", "true"],
            Description="true: set the region's API Gateway CloudWatch role (needed once "
            "per account and region for access logs).",
        ),
        "ExistingUserPoolId": dict(
            Type="String",
            Default="",
            AllowedPattern=r"^$|^[\w-]+_[0-9a-zA-Z]+$",
            Description="With ExistingData=true: the id of the accounts user pool an earlier "
            "stack of this stage kept (a pool has no unique name to adopt it by).",
        ),
        "AdvancedSecurityMode": dict(
            Type="String",
            Default="OFF",
            AllowedValues=ADVANCED_SECURITY_MODES,
            Description="Cognito threat protection (compromised credentials, adaptive "
            "authentication): AUDIT or ENFORCED puts the pool on the Plus tier, "
            "billed per monthly active user (docs/DEPLOY.md).",
        ),
        "SesIdentityArn": dict(
            Type="String",
            Default="",
            AllowedPattern="^$|^arn:aws[a-z-]*:ses:.+",
            Description="A verified SES identity (domain or address) the pool sends its mail "
            "through. Empty: Cognito's own sender, limited to a few mails a day.",
        ),
        "EmailFrom": dict(
            Type="String",
            Default="",
            Description="With SesIdentityArn: the From of the pool's mail, e.g. Licensing <no-reply@example.com>.",
        ),
    }.items():
        t.add_parameter(Parameter(name, **kwargs))
    t.add_condition("CreateData", Equals(Ref("ExistingData"), "false"))
    t.add_condition("HasDomain", Not(Equals(Ref("DomainName"), "")))
    t.add_condition("HasHostedZone", And(Condition("HasDomain"), Not(Equals(Ref("HostedZoneId"), ""))))
    t.add_condition("HasDeviceDomain", Not(Equals(Ref("DeviceDomainName"), "")))
    t.add_condition("HasDeviceHostedZone", And(Condition("HasDeviceDomain"), Not(Equals(Ref("HostedZoneId"), ""))))
    t.add_condition("UseFunctionUrl", Equals(Ref("DeviceFrontDoor"), "FunctionUrl"))
    t.add_condition("SetApiGatewayAccount", Equals(Ref("ManageApiGatewayAccount"), "true"))
    t.add_condition("Protect", Equals(Ref("ProtectData"), "true"))
    t.add_condition("AdvancedSecurityOn", Not(Equals(Ref("AdvancedSecurityMode"), "OFF")))
    t.add_condition("HasSesIdentity", Not(Equals(Ref("SesIdentityArn"), "")))
    t.add_condition("AdoptUserPool", Not(Equals(Ref("ExistingUserPoolId"), "")))
    t.add_condition("CreateUserPool", Equals(Ref("ExistingUserPoolId"), ""))
    t.add_condition("HasEmailFrom", Not(Equals(Ref("EmailFrom"), "")))


# --- data ------------------------------------------------------------------------------------


def _key_schema(hash_name: str, range_name: str | None) -> list[dynamodb.KeySchema]:
    keys = [dynamodb.KeySchema(AttributeName=hash_name, KeyType="HASH")]
    if range_name:
        keys.append(dynamodb.KeySchema(AttributeName=range_name, KeyType="RANGE"))
    return keys


def _index_keys(index) -> tuple[str, str | None]:
    attrs = index.Meta.attributes.values()
    hash_attr = next(a for a in attrs if a.is_hash_key)
    range_attr = next((a for a in attrs if a.is_range_key), None)
    return hash_attr.attr_name, range_attr.attr_name if range_attr else None


def table_suffix(model) -> str:
    """``devices`` for ``licensing-<stage>-devices``."""
    return model.Meta.table


def table_logical_id(model) -> str:
    return "".join(part.capitalize() for part in table_suffix(model).split("-")) + "Table"


def _table(model) -> dynamodb.Table:
    hash_attr, range_attr = model._hash_key_attribute(), model._range_key_attribute()
    types = {a.attr_name: a.attr_type for a in (hash_attr, range_attr) if a is not None}
    gsis, lsis = [], []
    for index in model._indexes.values():
        index_hash, index_range = _index_keys(index)
        for name in (index_hash, index_range):
            if name:
                types[name] = model.get_attributes()[_python_name(model, name)].attr_type
        projection = dynamodb.Projection(ProjectionType=index.Meta.projection.projection_type)
        if index.Meta.projection.non_key_attributes:
            projection.NonKeyAttributes = sorted(index.Meta.projection.non_key_attributes)
        kwargs = dict(
            IndexName=index.Meta.index_name, KeySchema=_key_schema(index_hash, index_range), Projection=projection
        )
        if isinstance(index, GlobalSecondaryIndex):
            gsis.append(dynamodb.GlobalSecondaryIndex(**kwargs))
        elif isinstance(index, LocalSecondaryIndex):
            lsis.append(dynamodb.LocalSecondaryIndex(**kwargs))
    props: dict[str, Any] = dict(
        TableName=Sub(APP_TABLE % table_suffix(model)),
        BillingMode="PAY_PER_REQUEST",
        KeySchema=_key_schema(hash_attr.attr_name, range_attr.attr_name if range_attr else None),
        AttributeDefinitions=[
            dynamodb.AttributeDefinition(AttributeName=n, AttributeType=t) for n, t in sorted(types.items())
        ],
        PointInTimeRecoverySpecification=dynamodb.PointInTimeRecoverySpecification(PointInTimeRecoveryEnabled=True),
        SSESpecification=dynamodb.SSESpecification(SSEEnabled=True),
        DeletionProtectionEnabled=If("Protect", True, False),
        Tags=Tags(service="licensing", stage=Ref("Stage")),
    )
    if gsis:
        props["GlobalSecondaryIndexes"] = gsis
    if lsis:
        props["LocalSecondaryIndexes"] = lsis
    ttl = model._ttl_attribute()
    if ttl is not None:
        props["TimeToLiveSpecification"] = dynamodb.TimeToLiveSpecification(AttributeName=ttl.attr_name, Enabled=True)
    return dynamodb.Table(
        table_logical_id(model),
        Condition="CreateData",
        DeletionPolicy=RetainExceptOnCreate,
        UpdateReplacePolicy="Retain",
        **props,
    )


def _python_name(model, attr_name: str) -> str:
    return next(n for n, a in model.get_attributes().items() if a.attr_name == attr_name)


def _data(t: Template) -> None:
    from chalicelib.store.models import ALL_MODELS

    for model in ALL_MODELS:
        t.add_resource(_table(model))
    t.add_resource(
        secretsmanager.Secret(
            "LeaseSigningKeySecret",
            Condition="CreateData",
            DeletionPolicy=RetainExceptOnCreate,
            UpdateReplacePolicy="Retain",
            Name=Sub(SECRET_NAME),
            Description='Ed25519 keys that sign leases and device tokens, as JSON {"active_kid": ..., "keys": '
            '[{"kid": ..., "d": <base64url 32-byte seed>}]}. Created with a placeholder the service '
            "refuses; make deploy puts a fresh key in it (docs/DEPLOY.md).",
            SecretString=SECRET_PLACEHOLDER,
            Tags=Tags(service="licensing", stage=Ref("Stage")),
        )
    )
    t.add_resource(
        secretsmanager.Secret(
            "CursorKeySecret",
            Condition="CreateData",
            DeletionPolicy=RetainExceptOnCreate,
            UpdateReplacePolicy="Retain",
            Name=Sub(CURSOR_SECRET_NAME),
            Description="The key that signs paging cursors (its SHA-256), apart from the lease keys so their "
            "rotation leaves cursors valid.",
            GenerateSecretString=secretsmanager.GenerateSecretString(PasswordLength=64, ExcludePunctuation=True),
            Tags=Tags(service="licensing", stage=Ref("Stage")),
        )
    )


# --- accounts ---------------------------------------------------------------------------------

# The pool the functions use: the stack's own, or the kept one named by id (the rules of
# ``_accounts`` allow that only with ExistingData=true, and require it then).
USER_POOL_ID = If("AdoptUserPool", Ref("ExistingUserPoolId"), Ref("UserPool"))
VERIFICATION_SUBJECT = "Your licensing verification code"
VERIFICATION_MESSAGE = "Your metered licensing verification code is {####}."


def _accounts(t: Template) -> None:
    """People's accounts: a Cognito user pool (email as the username, verified by a code) and the
    API's app client (no secret; password and refresh-token sign-in only). The pool holds the
    accounts, so it is kept like the tables: RetainExceptOnCreate, Retain on replacement, deletion
    protection with ``ProtectData``, and taken over by id with ``ExistingData=true``."""
    t.add_rule(
        "ExistingDataNamesItsUserPool",
        {
            "RuleCondition": Equals(Ref("ExistingData"), "true"),
            "Assertions": [
                {
                    "Assert": Not(Equals(Ref("ExistingUserPoolId"), "")),
                    "AssertDescription": "ExistingData=true takes over the kept accounts user pool: give its id "
                    "as ExistingUserPoolId (docs/DEPLOY.md, 'Delete, and create again')",
                }
            ],
        },
    )
    t.add_rule(
        "OnlyExistingDataAdoptsAUserPool",
        {
            "RuleCondition": Equals(Ref("ExistingData"), "false"),
            "Assertions": [
                {
                    "Assert": Equals(Ref("ExistingUserPoolId"), ""),
                    "AssertDescription": "ExistingUserPoolId is taken over only with ExistingData=true",
                }
            ],
        },
    )
    t.add_resource(
        cognito.UserPool(
            "UserPool",
            Condition="CreateUserPool",
            DeletionPolicy=RetainExceptOnCreate,
            UpdateReplacePolicy="Retain",
            UserPoolName=Sub("licensing-${Stage}-accounts"),
            UsernameAttributes=["email"],
            UsernameConfiguration=cognito.UsernameConfiguration(CaseSensitive=False),
            AutoVerifiedAttributes=["email"],
            # A changed email takes effect once its code is confirmed; until then the old one stays.
            UserAttributeUpdateSettings=cognito.UserAttributeUpdateSettings(
                AttributesRequireVerificationBeforeUpdate=["email"]
            ),
            Schema=[
                cognito.SchemaAttribute(Name="email", AttributeDataType="String", Required=True, Mutable=True),
                cognito.SchemaAttribute(Name="name", AttributeDataType="String", Required=False, Mutable=True),
            ],
            Policies=cognito.Policies(PasswordPolicy=cognito.PasswordPolicy(**PASSWORD_POLICY)),
            AdminCreateUserConfig=cognito.AdminCreateUserConfig(AllowAdminCreateUserOnly=False),
            AccountRecoverySetting=cognito.AccountRecoverySetting(
                RecoveryMechanisms=[cognito.RecoveryOption(Name="verified_email", Priority=1)]
            ),
            VerificationMessageTemplate=cognito.VerificationMessageTemplate(
                DefaultEmailOption="CONFIRM_WITH_CODE",
                EmailSubject=VERIFICATION_SUBJECT,
                EmailMessage=VERIFICATION_MESSAGE,
            ),
            EmailConfiguration=If(
                "HasSesIdentity",
                cognito.EmailConfiguration(
                    EmailSendingAccount="DEVELOPER",
                    SourceArn=Ref("SesIdentityArn"),
                    From=If("HasEmailFrom", Ref("EmailFrom"), Ref("AWS::NoValue")),
                ),
                cognito.EmailConfiguration(EmailSendingAccount="COGNITO_DEFAULT"),
            ),
            MfaConfiguration="OFF",
            UserPoolTier=If("AdvancedSecurityOn", "PLUS", "ESSENTIALS"),
            UserPoolAddOns=cognito.UserPoolAddOns(AdvancedSecurityMode=Ref("AdvancedSecurityMode")),
            DeletionProtection=If("Protect", "ACTIVE", "INACTIVE"),
            UserPoolTags={"service": "licensing", "stage": Ref("Stage")},
        )
    )
    # The stack's own client, in its pool or the kept one: no data, so a new stack makes a new one.
    t.add_resource(
        cognito.UserPoolClient(
            "UserPoolClient",
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
            ClientName=Sub("licensing-${Stage}-api"),
            UserPoolId=USER_POOL_ID,
            GenerateSecret=False,
            ExplicitAuthFlows=AUTH_FLOWS,
            PreventUserExistenceErrors="ENABLED",
            EnableTokenRevocation=True,
            ReadAttributes=["email", "email_verified", "name"],
            WriteAttributes=["email", "name"],
            AccessTokenValidity=TOKEN_VALIDITY["AccessTokenValidity"],
            IdTokenValidity=TOKEN_VALIDITY["IdTokenValidity"],
            RefreshTokenValidity=TOKEN_VALIDITY["RefreshTokenValidity"],
            TokenValidityUnits=cognito.TokenValidityUnits(**TOKEN_VALIDITY["TokenValidityUnits"]),
        )
    )


# --- per function ----------------------------------------------------------------------------


def _resource_arn(key: str):
    kind, _, name = key.partition(":")
    if kind == "table":
        return Sub(f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{APP_TABLE % name}")
    if kind == "index":
        table, index = name.split("/")
        return Sub(
            f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/"
            f"{APP_TABLE % table}/index/{index}"
        )
    if kind == "secret":
        return Sub(
            f"arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:"
            f"licensing/${{Stage}}/{name}-*"
        )
    if kind == "bus":
        return Sub(f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:event-bus/{name}")
    if kind == "userpool" and name == "accounts":
        return Sub(
            "arn:${AWS::Partition}:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/${PoolId}", PoolId=USER_POOL_ID
        )
    raise ValueError(f"unknown resource key {key!r}")


def _role(f: Function) -> iam.Role:
    from infra.permissions import GRANTS

    if f.name not in GRANTS:
        raise ValueError(
            f"app.py has the function {f.name} but infra/permissions.py grants it nothing: add what it "
            "calls to GRANTS (tests/service/test_least_privilege.py records it)"
        )
    own = [
        *statements(f.name, _resource_arn),
        # What Lambda itself does for the function: write its log group, and for a schedule
        # send a failed run to its queue.
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": GetAtt(f"{f.logical_id}LogGroup", "Arn"),
        },
    ]
    if f.every_s is not None:
        own.append(
            {
                "Sid": "FailedRuns",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": GetAtt(f"{f.logical_id}FailuresQueue", "Arn"),
            }
        )
    return iam.Role(
        f"{f.logical_id}Role",
        AssumeRolePolicyDocument={
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        },
        Policies=[iam.Policy(PolicyName=f.name, PolicyDocument={"Version": "2012-10-17", "Statement": own})],
        Tags=Tags(service="licensing", stage=Ref("Stage")),
    )


def _log_group(logical_id: str, name: str, infrequent: bool = False) -> logs.LogGroup:
    # Deleted with the stack (a new stack makes its own); the retention bounds what is kept. A
    # group's class is fixed when it is made: a new class replaces the group, which CloudFormation
    # refuses for a named one, so an Infrequent Access group has a name of its own (a stack made
    # before moves its lines to a new group).
    group = logs.LogGroup(
        logical_id,
        DeletionPolicy="Delete",
        UpdateReplacePolicy="Delete",
        LogGroupName=Sub(f"/licensing/${{Stage}}/{name}" + ("-ia" if infrequent else "")),
        RetentionInDays=Ref("LogRetentionDays"),
        Tags=Tags(service="licensing", stage=Ref("Stage")),
    )
    if infrequent:
        group.LogGroupClass = "INFREQUENT_ACCESS"
    return group


def _failures_queue(f: Function) -> sqs.Queue:
    # Kept 14 days (the most SQS keeps): long enough to replay a failed run after a weekend.
    return sqs.Queue(
        f"{f.logical_id}FailuresQueue",
        DeletionPolicy="Delete",
        UpdateReplacePolicy="Delete",
        MessageRetentionPeriod=14 * 86400,
        SqsManagedSseEnabled=True,
        Tags=Tags(service="licensing", stage=Ref("Stage")),
    )


def _failures_queue_policy(scheduled: list[Function]) -> sqs.QueuePolicy:
    # EventBridge's dead-letter queue needs the queue to admit the rule that could not deliver.
    return sqs.QueuePolicy(
        "ScheduleFailuresQueuePolicy",
        Queues=[Ref(f"{f.logical_id}FailuresQueue") for f in scheduled],
        PolicyDocument={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": f"{f.logical_id}Rule",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": GetAtt(f"{f.logical_id}FailuresQueue", "Arn"),
                }
                for f in scheduled
            ],
        },
    )


# --- alarms ----------------------------------------------------------------------------------

# (suffix, description, metric, statistic, comparison, threshold, periods): one alarm of each row
# per function; {timeout_ms} is the function's timeout.
FUNCTION_ALARMS = [
    ("Errors", "{name} failed", "Errors", "Sum", ">=", 1, 1),
    ("Throttles", "{name} was throttled", "Throttles", "Sum", ">=", 1, 1),
    ("NearTimeout", "{name} ran for over 80% of its timeout", "Duration", "Maximum", ">=", "0.8 timeout", 1),
]
TABLE_ALARMS = [
    ("ReadThrottleEvents", "{table}: ReadThrottleEvents"),
    ("WriteThrottleEvents", "{table}: WriteThrottleEvents"),
]
TABLE_OPERATIONS = [
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "TransactWriteItems",
]
COMPARISON = {">=": "GreaterThanOrEqualToThreshold", ">": "GreaterThanThreshold", "<": "LessThanThreshold"}
# A sweep that finds a full batch due (SWEEP_BATCH) three runs in a row is not draining its backlog.
SWEEP_BATCH_METRICS = {"BlockUnconfirmed": "block_unconfirmed.Due", "DeactivateSilent": "deactivate_silent.Due"}


def _alarm(logical_id: str, description: str, missing: str = "notBreaching", **props) -> cloudwatch.Alarm:
    return cloudwatch.Alarm(
        logical_id,
        AlarmName=Sub(f"licensing-${{Stage}}-{logical_id}"),
        AlarmDescription=description,
        AlarmActions=[Ref("AlarmTopicArn")],
        OKActions=[Ref("AlarmTopicArn")],
        TreatMissingData=missing,
        **props,
    )


def _metric_alarm(
    logical_id,
    description,
    namespace,
    metric,
    dimensions,
    statistic,
    comparison,
    threshold,
    period_s=300,
    periods=1,
    **extra,
) -> cloudwatch.Alarm:
    stat = {"ExtendedStatistic": statistic} if statistic.startswith("p") else {"Statistic": statistic}
    return _alarm(
        logical_id,
        description,
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[cloudwatch.MetricDimension(Name=k, Value=v) for k, v in dimensions.items()],
        Period=period_s,
        EvaluationPeriods=periods,
        Threshold=threshold,
        ComparisonOperator=COMPARISON[comparison],
        **stat,
        **extra,
    )


def _function_alarms(f: Function) -> list[cloudwatch.Alarm]:
    name = f.logical_id
    alarms = []
    for suffix, description, metric, statistic, comparison, threshold, periods in FUNCTION_ALARMS:
        value = 0.8 * f.timeout_s * 1000 if threshold == "0.8 timeout" else threshold
        alarms.append(
            _metric_alarm(
                f"{name}{suffix}Alarm",
                description.format(name=name),
                "AWS/Lambda",
                metric,
                {"FunctionName": Ref(name)},
                statistic,
                comparison,
                value,
                periods=periods,
            )
        )
    if f.every_s is not None:
        # Three periods without an invocation (one evaluation period of three times the rate).
        alarms.append(
            _metric_alarm(
                f"{name}NotRunningAlarm",
                f"{name} did not run",
                "AWS/Lambda",
                "Invocations",
                {"FunctionName": Ref(name)},
                "Sum",
                "<",
                1,
                period_s=3 * f.every_s,
                missing="breaching",
            )
        )
        alarms.append(
            _metric_alarm(
                f"{name}FailedRunsAlarm",
                f"{name} has failed runs waiting in its queue",
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                {"QueueName": GetAtt(f"{name}FailuresQueue", "QueueName")},
                "Maximum",
                ">=",
                1,
            )
        )
    if name in SWEEP_BATCH_METRICS:
        alarms.append(
            _metric_alarm(
                f"{name}BacklogAlarm",
                f"{name} found a full batch due three runs in a row: a backlog is not draining",
                Sub("MeteredLicensing/${Stage}"),
                SWEEP_BATCH_METRICS[name],
                {"service": "licensing"},
                "Minimum",
                ">=",
                Ref("SweepBatch"),
                period_s=f.every_s,
                periods=3,
            )
        )
    return alarms


def _table_alarms(model) -> list[cloudwatch.Alarm]:
    lid, name = table_logical_id(model), Sub(APP_TABLE % table_suffix(model))
    alarms = [
        _metric_alarm(
            f"{lid}{metric}Alarm",
            description.format(table=lid),
            "AWS/DynamoDB",
            metric,
            {"TableName": name},
            "Sum",
            ">=",
            1,
        )
        for metric, description in TABLE_ALARMS
    ]
    # SystemErrors is reported per operation: their sum.
    queries = [
        cloudwatch.MetricDataQuery(
            Id=f"e{n}",
            ReturnData=False,
            MetricStat=cloudwatch.MetricStat(
                Metric=cloudwatch.Metric(
                    Namespace="AWS/DynamoDB",
                    MetricName="SystemErrors",
                    Dimensions=[
                        cloudwatch.MetricDimension(Name="TableName", Value=name),
                        cloudwatch.MetricDimension(Name="Operation", Value=operation),
                    ],
                ),
                Period=300,
                Stat="Sum",
            ),
        )
        for n, operation in enumerate(TABLE_OPERATIONS)
    ]
    queries.append(
        cloudwatch.MetricDataQuery(Id="total", Expression="SUM(METRICS())", ReturnData=True, Label="SystemErrors")
    )
    alarms.append(
        _alarm(
            f"{lid}SystemErrorsAlarm",
            f"{lid}: DynamoDB system errors",
            Metrics=queries,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator=COMPARISON[">="],
        )
    )
    return alarms


def _api_alarms() -> list[cloudwatch.Alarm]:
    dimensions = {"ApiName": Sub("licensing-${Stage}"), "Stage": API_STAGE}
    # An HTTP API's metrics are named 4xx, 5xx, Count, IntegrationLatency, Latency and
    # DataProcessed (not 5XXError), by ApiId and by ApiId and Stage (AWS, "Monitor CloudWatch
    # metrics for HTTP APIs"). No alarm counts its 429s: API Gateway "might not generate logs and
    # metrics" for excessive 429 errors.
    device = {"ApiId": Ref("DeviceApi"), "Stage": DEVICE_API_STAGE}
    url = {"FunctionName": Ref("APIHandler"), "Resource": Join(":", [Ref("APIHandler"), ALIAS])}
    return [
        _metric_alarm("Api5xxAlarm", "The API answered 5xx", "AWS/ApiGateway", "5XXError", dimensions, "Sum", ">=", 5),
        _metric_alarm(
            "ApiLatencyAlarm",
            "The API's p99 latency is over 1 s",
            "AWS/ApiGateway",
            "Latency",
            dimensions,
            "p99",
            ">",
            1000,
            periods=3,
        ),
        _metric_alarm(
            "DeviceApi5xxAlarm",
            "The LoadMasters' HTTP API answered 5xx",
            "AWS/ApiGateway",
            "5xx",
            device,
            "Sum",
            ">=",
            5,
        ),
        _metric_alarm(
            "DeviceApiLatencyAlarm",
            "The LoadMasters' HTTP API's p99 latency is over 1 s",
            "AWS/ApiGateway",
            "Latency",
            device,
            "p99",
            ">",
            1000,
            periods=3,
        ),
        # The function URL's own metrics, by function and alias (AWS, "Monitoring Lambda function
        # URLs"). In every stack, so the rollback's alarm list is the same: without a function URL
        # they have no data, which does not breach.
        _metric_alarm(
            "DeviceUrl5xxAlarm",
            "The LoadMasters' function URL answered 5xx",
            "AWS/Lambda",
            "Url5xxCount",
            url,
            "Sum",
            ">=",
            5,
        ),
        _metric_alarm(
            "DeviceUrlLatencyAlarm",
            "The LoadMasters' function URL's p99 latency is over 1 s",
            "AWS/Lambda",
            "UrlRequestLatency",
            url,
            "p99",
            ">",
            1000,
            periods=3,
        ),
    ]


# --- the API ---------------------------------------------------------------------------------


def gateway_responses() -> dict[str, dict[str, Any]]:
    """What API Gateway answers by itself, before the function, in the contract's error body."""
    from chalicelib.api.errors import STATUS
    from chalicelib.domain.errors import MESSAGES, Code

    def response(code: Code, message: str | None = None, detail: dict | None = None) -> dict[str, Any]:
        headers = {"Content-Type": "'application/json'"}
        if STATUS[code] in (429, 503):
            headers["Retry-After"] = "'1'"
        body = {"error": {"code": str(code), "message": message or MESSAGES[code], "detail": detail or {}}}
        return {
            "StatusCode": str(STATUS[code]),
            "ResponseParameters": {"Headers": headers},
            "ResponseTemplates": {"application/json": json.dumps(body)},
        }

    too_large = response(Code.VALIDATION_ERROR, "The request body is too large.", {"fields": {"body": "too large"}})
    invalid = response(
        Code.VALIDATION_ERROR, "The request is not valid.", {"fields": {"request": "refused by the API gateway"}}
    )
    return {
        # Its answer to a path (or a method) it has no route for.
        "MISSING_AUTHENTICATION_TOKEN": response(Code.NOT_FOUND),
        "RESOURCE_NOT_FOUND": response(Code.NOT_FOUND),
        "THROTTLED": response(Code.RATE_LIMITED),
        "QUOTA_EXCEEDED": response(Code.RATE_LIMITED),
        "REQUEST_TOO_LARGE": too_large,
        "UNAUTHORIZED": response(Code.UNAUTHORIZED),
        "ACCESS_DENIED": response(Code.FORBIDDEN),
        "WAF_FILTERED": response(Code.FORBIDDEN),
        "INTEGRATION_TIMEOUT": response(Code.UNAVAILABLE),
        "DEFAULT_4XX": invalid,
        "DEFAULT_5XX": response(Code.INTERNAL),
    }


def _regional_domain(t: Template, name: str, domain: str, condition: str, record_condition: str) -> None:
    """A regional custom domain ``name`` (TLS 1.2, the stack's certificate) for the parameter
    ``domain``, and its Route 53 alias record when ``record_condition`` holds. A domain name is one
    object to both API kinds; each maps it with its own kind of mapping."""
    t.add_resource(
        apigateway.DomainName(
            name,
            Condition=condition,
            DomainName=Ref(domain),
            RegionalCertificateArn=Ref("CertificateArn"),
            SecurityPolicy="TLS_1_2",
            EndpointConfiguration=apigateway.EndpointConfiguration(Types=["REGIONAL"]),
        )
    )
    t.add_resource(
        route53.RecordSetType(
            f"{name}Record",
            Condition=record_condition,
            HostedZoneId=Ref("HostedZoneId"),
            Name=Ref(domain),
            Type="A",
            AliasTarget=route53.AliasTarget(
                DNSName=GetAtt(name, "RegionalDomainName"),
                HostedZoneId=GetAtt(name, "RegionalHostedZoneId"),
            ),
        )
    )


def _domain(t: Template) -> None:
    _regional_domain(t, "ApiDomain", "DomainName", "HasDomain", "HasHostedZone")
    # The stage at the domain's root: https://<domain>/v1/health.
    t.add_resource(
        apigateway.BasePathMapping(
            "ApiDomainMapping",
            Condition="HasDomain",
            DomainName=Ref("ApiDomain"),
            RestApiId=Ref("RestAPI"),
            Stage=Ref("RestAPI.Stage"),
        )
    )
    role = t.add_resource(
        iam.Role(
            "ApiGatewayCloudWatchRole",
            Condition="SetApiGatewayAccount",
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            AssumeRolePolicyDocument={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "apigateway.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            ManagedPolicyArns=[
                Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
            ],
        )
    )
    # Retained: the role is the region's setting for every API of the account, not only this one.
    t.add_resource(
        apigateway.Account(
            "ApiGatewayAccount",
            Condition="SetApiGatewayAccount",
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            CloudWatchRoleArn=GetAtt(role, "Arn"),
        )
    )


def device_route_key(path: str) -> str:
    return f"ANY {path}"


def _device_api(t: Template) -> None:
    """The LoadMaster's routes, the JWKS and health on an HTTP API (payload format 1.0, which
    Chalice's handler reads as it reads the REST API's events: tests/service/test_front_door_events.py),
    to the same function's live alias. Every other path goes to the function through ``$default``
    and gets the contract's 404 from it (chalicelib/api/http.py): an HTTP API has no gateway
    responses to put the contract's body in. Its own answers are then only a throttled request
    (429 ``{"message":"Too Many Requests"}``) and a function that cannot be reached (500/503
    ``{"message":"Internal Server Error"}``/``"Service Unavailable"``), in API Gateway's body:
    a LoadMaster treats any 429 or 5xx as "try again later" by its status, as it does a
    RATE_LIMITED or UNAVAILABLE (docs/DEPLOY.md, 'Two front doors')."""
    alias = f"APIHandlerAlias{ALIAS}"
    t.add_resource(
        apigatewayv2.Api(
            "DeviceApi",
            Name=Sub("licensing-${Stage}-devices"),
            ProtocolType="HTTP",
            Description="The LoadMaster's routes, the JWKS and health (the administration is on the REST API)",
            Tags={"service": "licensing", "stage": Ref("Stage")},
        )
    )
    # CloudFormation must name the payload format ("If you create a Lambda integration by using the
    # AWS CLI, CloudFormation, or an SDK, you must specify a payloadFormatVersion").
    t.add_resource(
        apigatewayv2.Integration(
            "DeviceApiIntegration",
            ApiId=Ref("DeviceApi"),
            IntegrationType="AWS_PROXY",
            IntegrationUri=Ref(alias),
            PayloadFormatVersion="1.0",
        )
    )
    target = Join("/", ["integrations", Ref("DeviceApiIntegration")])
    routes = []
    for name, path in DEVICE_ROUTES.items():
        routes.append(
            t.add_resource(
                apigatewayv2.Route(
                    f"DeviceApiRoute{name}",
                    ApiId=Ref("DeviceApi"),
                    RouteKey=device_route_key(path),
                    AuthorizationType="NONE",
                    Target=target,
                )
            )
        )
    routes.append(
        t.add_resource(
            apigatewayv2.Route(
                "DeviceApiDefaultRoute",
                ApiId=Ref("DeviceApi"),
                RouteKey="$default",
                AuthorizationType="NONE",
                Target=target,
            )
        )
    )
    activation = {
        "ThrottlingRateLimit": Ref("ActivationRateLimit"),
        "ThrottlingBurstLimit": Ref("ActivationBurstLimit"),
    }
    # RouteSettings is keyed by route key, as in AWS's "update-stage --route-settings
    # '{"GET /pets":{"ThrottlingBurstLimit":100,...}}'"; a key of no route yet refuses the stage
    # ("Unable to find Route by key ... within the provided RouteSettings"), hence DependsOn. The
    # default route settings' limits apply to each route ("route-level throttling"), not to the
    # stage's sum. Not checked here (no AWS): RouteSettings is untyped JSON in the Stage's resource
    # schema, so the Ref of a Number parameter reaches it as a string, where DefaultRouteSettings
    # is typed and converts it.
    route_settings = {device_route_key(DEVICE_ROUTES[name]): activation for name in ACTIVATION_ROUTES}
    route_settings["$default"] = NO_ROUTE_LIMITS
    t.add_resource(
        apigatewayv2.Stage(
            "DeviceApiStage",
            DependsOn=[r.title for r in routes],
            ApiId=Ref("DeviceApi"),
            StageName=DEVICE_API_STAGE,
            AutoDeploy=True,
            DefaultRouteSettings=apigatewayv2.RouteSettings(
                ThrottlingRateLimit=Ref("DeviceApiRateLimit"), ThrottlingBurstLimit=Ref("DeviceApiBurstLimit")
            ),
            RouteSettings=route_settings,
            AccessLogSettings=apigatewayv2.AccessLogSettings(
                DestinationArn=GetAtt("DeviceApiAccessLogGroup", "Arn"), Format=DEVICE_ACCESS_LOG_FORMAT
            ),
            Tags={"service": "licensing", "stage": Ref("Stage")},
        )
    )
    # An HTTP API invokes as execute-api:<region>:<account>:<api-id>/<stage>/<method>/<path>
    # (``$default`` as stage and as route too): ``<api-id>/*`` covers every route, to the alias.
    t.add_resource(
        awslambda.Permission(
            "DeviceApiInvokePermission",
            Action="lambda:InvokeFunction",
            FunctionName=Ref(alias),
            Principal="apigateway.amazonaws.com",
            SourceArn=Sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${DeviceApi}/*"),
        )
    )
    # Its own hostname: an API mapping strips its key from the path the API routes on, so one
    # domain cannot serve the contract's /v1/... paths from two APIs (docs/DEPLOY.md).
    # Regional with TLS 1.2, which an HTTP API requires; mapped with an HTTP API mapping.
    _regional_domain(t, "DeviceApiDomain", "DeviceDomainName", "HasDeviceDomain", "HasDeviceHostedZone")
    t.add_resource(
        apigatewayv2.ApiMapping(
            "DeviceApiMapping",
            Condition="HasDeviceDomain",
            DomainName=Ref("DeviceApiDomain"),
            ApiId=Ref("DeviceApi"),
            Stage=Ref("DeviceApiStage"),
        )
    )


def _device_url(t: Template) -> None:
    """With ``DeviceFrontDoor=FunctionUrl``: a Lambda function URL on the API function's live
    alias, the LoadMasters' front door at no price of its own (docs/PERFORMANCE.md, section 7).
    Lambda sends it every path and method in payload format 2.0, which the app reads
    (chalicelib/api/function_url.py): the LoadMasters' routes, the JWKS and health, any other path
    the contract's 404. Made as SAM makes a function's FunctionUrlConfig on an alias (the alias's
    ARN as the target, a public InvokeFunctionUrl grant), plus the InvokeFunction grant that
    function URLs made since October 2025 also need ("Control access to Lambda function URLs"),
    limited to calls through the URL. The HTTP API stays, so LoadMasters move over at their pace."""
    alias = f"APIHandlerAlias{ALIAS}"
    public = {
        "checkov": {
            "skip": [
                {
                    "id": "CKV_AWS_258",
                    "comment": "the LoadMasters' front door is public, as the "
                    "HTTP API is: each route checks its caller's key or token itself",
                }
            ]
        }
    }
    t.add_resource(
        awslambda.Url(
            "DeviceUrl", Condition="UseFunctionUrl", Metadata=public, AuthType="NONE", TargetFunctionArn=Ref(alias)
        )
    )
    t.add_resource(
        awslambda.Permission(
            "DeviceUrlPublicPermission",
            Condition="UseFunctionUrl",
            Action="lambda:InvokeFunctionUrl",
            FunctionName=Ref(alias),
            Principal="*",
            FunctionUrlAuthType="NONE",
        )
    )
    t.add_resource(
        awslambda.Permission(
            "DeviceUrlInvokePermission",
            Condition="UseFunctionUrl",
            Action="lambda:InvokeFunction",
            FunctionName=Ref(alias),
            Principal="*",
            InvokedViaFunctionUrl=True,
        )
    )


def _outputs(t: Template) -> None:
    default_url = Sub(f"https://${{RestAPI}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{API_STAGE}")
    url = If("HasDomain", Sub("https://${DomainName}"), default_url)
    t.add_output(
        Output("ApiUrl", Description="The URL LoadMasters, the console and the CLI use (paths /v1/...)", Value=url)
    )
    t.add_output(
        Output(
            "JwksUrl",
            Description="Where LoadMasters fetch the keys that verify leases offline",
            Value=Join("", [url, "/v1/.well-known/jwks.json"]),
        )
    )
    t.add_output(Output("ExecuteApiUrl", Description="The API's own URL (changes with a new stack)", Value=default_url))
    t.add_output(
        Output(
            "UserPoolId",
            Description="The accounts' Cognito user pool (give it as ExistingUserPoolId to a new stack of this stage)",
            Value=USER_POOL_ID,
        )
    )
    t.add_output(
        Output(
            "UserPoolClientId", Description="The app client the API signs people in with", Value=Ref("UserPoolClient")
        )
    )
    t.add_output(
        Output(
            "RegionalDomainName",
            Condition="HasDomain",
            Description="Point DomainName's DNS (CNAME or alias) here",
            Value=GetAtt("ApiDomain", "RegionalDomainName"),
        )
    )
    device_default = Sub("https://${DeviceApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}")
    # A function URL is https://<url-id>.lambda-url.<region>.on.aws/: its host, without the slash.
    function_url = Join("", ["https://", Select(2, Split("/", GetAtt("DeviceUrl", "FunctionUrl")))])
    device_url = If(
        "UseFunctionUrl", function_url, If("HasDeviceDomain", Sub("https://${DeviceDomainName}"), device_default)
    )
    t.add_output(
        Output(
            "DeviceApiUrl",
            Description="The URL LoadMasters use (paths /v1/...): the DeviceFrontDoor's",
            Value=device_url,
        )
    )
    t.add_output(
        Output(
            "DeviceFunctionUrl",
            Condition="UseFunctionUrl",
            Description="The function URL (changes with a new stack: no custom domain)",
            Value=function_url,
        )
    )
    t.add_output(
        Output(
            "DeviceJwksUrl",
            Description="The JWKS on the LoadMasters' URL",
            Value=Join("", [device_url, "/v1/.well-known/jwks.json"]),
        )
    )
    t.add_output(
        Output(
            "DeviceExecuteApiUrl", Description="The HTTP API's own URL (changes with a new stack)", Value=device_default
        )
    )
    t.add_output(
        Output(
            "DeviceRegionalDomainName",
            Condition="HasDeviceDomain",
            Description="Point DeviceDomainName's DNS (CNAME or alias) here",
            Value=GetAtt("DeviceApiDomain", "RegionalDomainName"),
        )
    )


# --- putting it together ---------------------------------------------------------------------


def functions(sam: dict[str, Any]) -> list[Function]:
    found = []
    for lid, resource in sam["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        schedules = [e["Properties"]["Schedule"] for e in props.get("Events", {}).values() if e["Type"] == "Schedule"]
        handler = props["Handler"].split(".", 1)[1]
        found.append(
            Function(
                lid,
                "api_handler" if handler == "app" else handler,
                int(props["Timeout"]),
                _rate_s(schedules[0]) if schedules else None,
            )
        )
    return found


def _rate_s(expression: str) -> int:
    # A fixed minute of every hour (``cron(5 * * * ? *)``) runs hourly.
    if re.fullmatch(r"cron\(\d{1,2} \* \* \* \? \*\)", expression):
        return 3600
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if not match:
        raise ValueError(f"unsupported schedule {expression!r}")
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit


def environment(f: Function, version: str) -> dict[str, Any]:
    """Every function's configuration, from the stack's parameters (README's configuration table)."""
    variables: dict[str, Any] = {
        "STAGE": Ref("Stage"),
        "TABLE_PREFIX": Sub("licensing-${Stage}-"),
        "SIGNING_KEY_SECRET_ID": Sub(SECRET_NAME),
        "SIGNING_KEY_AUTOCREATE": "false",
        "CURSOR_KEY_SECRET_ID": Sub(CURSOR_SECRET_NAME),
        "SWEEP_BATCH": Ref("SweepBatch"),
        "SERVICE_VERSION": version,
        "POWERTOOLS_SERVICE_NAME": "licensing",
        "POWERTOOLS_METRICS_NAMESPACE": Sub("MeteredLicensing/${Stage}"),
        "LOG_LEVEL": "INFO",
        "COGNITO_USER_POOL_ID": USER_POOL_ID,
        "COGNITO_CLIENT_ID": Ref("UserPoolClient"),
    }
    if f.name == "api_handler":
        variables["OPERATOR_KEY_SHA256"] = Ref("OperatorKeySha256")
    return variables


def finish(sam: dict[str, Any], version: str) -> dict[str, Any]:
    """Chalice's SAM template ``sam`` made into the deployment's: see the module's docstring."""
    from chalicelib.store.models import ALL_MODELS

    fns = functions(sam)
    t = Template(
        Description=f"Metered licensing for Kemp LoadMasters: API, schedules, tables, alarms (version {version})"
    )
    _parameters(t)
    t.add_parameter(
        Parameter(
            "SweepBatch",
            Type="Number",
            Default=2000,
            MinValue=1,
            Description="Most devices one sweep run releases (SWEEP_BATCH).",
        )
    )
    _data(t)
    _accounts(t)
    scheduled = [f for f in fns if f.every_s is not None]
    for f in fns:
        t.add_resource(_role(f))
        t.add_resource(_log_group(f"{f.logical_id}LogGroup", f.name.replace("_", "-")))
        if f.every_s is not None:
            t.add_resource(_failures_queue(f))
        for alarm in _function_alarms(f):
            t.add_resource(alarm)
    if scheduled:
        t.add_resource(_failures_queue_policy(scheduled))
    # Half the ingestion price: nothing reads the access logs but a person with Logs Insights, which
    # the Infrequent Access class keeps; it has no metric or subscription filters, and no EMF, so
    # the functions' groups (their EMF lines are the metrics) stay STANDARD (docs/PERFORMANCE.md 7).
    t.add_resource(_log_group("ApiAccessLogGroup", "api-access", infrequent=True))
    t.add_resource(_log_group("DeviceApiAccessLogGroup", "device-api-access", infrequent=True))
    for model in ALL_MODELS:
        for alarm in _table_alarms(model):
            t.add_resource(alarm)
    api_alarms = _api_alarms()
    for alarm in api_alarms:
        t.add_resource(alarm)
    _domain(t)
    _device_api(t)
    _device_url(t)
    _outputs(t)

    t.add_output(Output("Version", Description="The commit deployed", Value=version))
    generated = json.loads(t.to_json())
    out = {**sam, "Description": generated["Description"]}
    out["Parameters"] = generated["Parameters"]
    out["Conditions"] = generated["Conditions"]
    out["Rules"] = generated["Rules"]
    resources = {lid: r for lid, r in sam["Resources"].items() if r.get("Type") != "AWS::IAM::Role"}
    for f in fns:
        _adapt_function(
            resources[f.logical_id]["Properties"],
            f,
            version,
            [a.title for a in api_alarms] + [f"{f.logical_id}ErrorsAlarm"],
        )
    _adapt_api(resources)
    resources.update(generated["Resources"])
    out["Resources"] = resources
    out["Outputs"] = generated["Outputs"]
    return out


def _adapt_function(props: dict[str, Any], f: Function, version: str, rollback_alarms: list[str]) -> None:
    props["Role"] = {"Fn::GetAtt": [f"{f.logical_id}Role", "Arn"]}
    props["Environment"] = {"Variables": encode_to_dict(environment(f, version))}
    props["LoggingConfig"] = {"LogGroup": {"Ref": f"{f.logical_id}LogGroup"}}
    if f.every_s is None:
        props["LoggingConfig"].update(API_LOGGING)
    props.pop("Tags", None)
    props["Tags"] = {"service": "licensing", "version": version}
    props["AutoPublishAlias"] = ALIAS
    if f.every_s is None:
        props["DeploymentPreference"] = {
            "Type": {"Ref": "DeploymentType"},
            "Alarms": [{"Ref": a} for a in rollback_alarms],
        }
    else:
        queue = {"Fn::GetAtt": [f"{f.logical_id}FailuresQueue", "Arn"]}
        props["EventInvokeConfig"] = {
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": f.every_s,
            "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": queue}},
        }
        for event in props["Events"].values():
            event["Properties"]["DeadLetterConfig"] = {"Arn": queue}
            event["Properties"]["RetryPolicy"] = {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": f.every_s}


def _adapt_api(resources: dict[str, Any]) -> None:
    api = resources["RestAPI"]["Properties"]
    api["Name"] = {"Fn::Sub": "licensing-${Stage}"}
    api["EndpointConfiguration"] = "REGIONAL"
    api["MethodSettings"] = [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": {"Ref": "ApiRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "ApiBurstLimit"},
            "MetricsEnabled": True,
        }
    ]
    api["GatewayResponses"] = gateway_responses()
    api["AccessLogSetting"] = {
        "DestinationArn": {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]},
        "Format": ACCESS_LOG_FORMAT,
    }
    # The API calls the live alias, so a deployment moves traffic by moving the alias. (SAM names
    # the alias <function>Alias<name>; it resolves no ``.Alias`` reference inside the definition.)
    alias = f"APIHandlerAlias{ALIAS}"
    _replace_in_strings(api["DefinitionBody"], "${APIHandler.Arn}", "${" + alias + "}")
    resources["APIHandlerInvokePermission"]["Properties"]["FunctionName"] = {"Ref": alias}


def _replace_in_strings(node: Any, old: str, new: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                node[key] = value.replace(old, new)
            else:
                _replace_in_strings(value, old, new)
    elif isinstance(node, list):
        for n, value in enumerate(node):
            if isinstance(value, str):
                node[n] = value.replace(old, new)
            else:
                _replace_in_strings(value, old, new)
