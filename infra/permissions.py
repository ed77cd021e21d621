"""What each function may call: the one table its IAM role is generated from.

Keys name resources by their stage-independent part: ``table:<suffix>`` is the table
``licensing-<Stage>-<suffix>``, ``index:<suffix>/<index>`` one of its indexes, ``secret:<name>``
the secret ``licensing/<Stage>/<name>``, ``bus:<name>`` an EventBridge bus, ``userpool:accounts``
the stage's Cognito user pool of accounts.
``tests/service/test_least_privilege.py`` records the calls each function makes while every
route and every schedule runs, and fails if a function's grant differs from them in either
direction.
"""

from __future__ import annotations

# What every sweep that releases instances writes: the device, its pool's and tenant's counts,
# its claims, the debug log, a notification. A release that finds the device's address claim
# moved (a check-in from a new address meanwhile) reads the device again.
_RELEASE = {
    "table:devices": ("dynamodb:GetItem", "dynamodb:UpdateItem"),
    "table:license-types": ("dynamodb:UpdateItem",),
    "table:tenants": ("dynamodb:UpdateItem",),
    "table:claims": ("dynamodb:DeleteItem",),
    "table:events": ("dynamodb:PutItem",),
    "bus:default": ("events:PutEvents",),
}

GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "api_handler": {
        "table:tenants": (
            "dynamodb:DescribeTable",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Scan",
            "dynamodb:UpdateItem",
        ),
        "table:license-types": (
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ),
        "table:devices": (
            "dynamodb:BatchGetItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ),
        "index:devices/by-tenant": ("dynamodb:Query",),
        "table:claims": ("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"),
        "table:counters": ("dynamodb:UpdateItem",),
        "table:events": ("dynamodb:PutItem", "dynamodb:Query"),
        "table:usage": ("dynamodb:Query",),
        "secret:lease-signing-key": ("secretsmanager:GetSecretValue",),
        "secret:cursor-key": ("secretsmanager:GetSecretValue",),
        "bus:default": ("events:PutEvents",),
        # Accounts: memberships, invitations and trial claims; the owner's checks are ConditionChecks.
        "table:members": (
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ),
        # Only the signed calls: SignUp, InitiateAuth, GetUser and the other calls of the app client
        # or of an access token need no IAM. AdminGetUser finds an account by email (an invitation,
        # a confirmation, a registration of a taken email); AdminDeleteUser makes an unconfirmed
        # registration afresh.
        "userpool:accounts": ("cognito-idp:AdminDeleteUser", "cognito-idp:AdminGetUser"),
    },
    # The seed's 24-hour rule: unconfirmed registrations listed and deleted.
    "purge_unconfirmed": {
        "userpool:accounts": ("cognito-idp:AdminDeleteUser", "cognito-idp:ListUsers"),
    },
    "expire_trials": {
        **_RELEASE,
        "table:tenants": ("dynamodb:Scan", "dynamodb:UpdateItem"),
        "table:devices": ("dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:UpdateItem"),
        "index:devices/by-tenant": ("dynamodb:Query",),
    },
    "block_unconfirmed": {
        **_RELEASE,
        # A blocked device keeps its MAC claim, marked blocked.
        "table:claims": ("dynamodb:DeleteItem", "dynamodb:UpdateItem"),
        "index:devices/pending-due": ("dynamodb:Query",),
    },
    "deactivate_silent": {
        **_RELEASE,
        "index:devices/silent-due": ("dynamodb:Query",),
    },
    "meter_usage": {
        # UpdateItem: the type's metered_through mark, moved after its hours are recorded.
        "table:license-types": ("dynamodb:Scan", "dynamodb:UpdateItem"),
        "table:usage": ("dynamodb:PutItem",),
    },
}

# Granted, but not called by the recording flow of tests/service/test_least_privilege.py: each
# with the path that calls it and the test that drives that path.
NOT_IN_THE_FLOW: dict[tuple[str, str, str], str] = {
    (function, "table:devices", "dynamodb:GetItem"): "release() re-reads a device whose address claim moved "
    "(tests/e2e/test_races_http.py drives it)"
    for function in ("expire_trials", "block_unconfirmed", "deactivate_silent")
}


def statements(function: str, arn) -> list[dict]:
    """The IAM policy statements of ``function``'s role; ``arn(key)`` gives a resource key's ARN."""
    return [
        {"Sid": _sid(key), "Effect": "Allow", "Action": sorted(actions), "Resource": arn(key)}
        for key, actions in sorted(GRANTS[function].items())
    ]


def _sid(key: str) -> str:
    return "".join(part.capitalize() for part in key.replace(":", "-").replace("/", "-").split("-"))
