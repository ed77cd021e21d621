"""The OpenAPI 3.1 document of the whole API, generated from the routes' own declarations
(``chalicelib.api.http.route``) and the same pydantic models the handlers parse and answer with."""

from __future__ import annotations

import functools
import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from chalicelib.api.http import OPERATIONS, Operation
from chalicelib.api.schemas import ErrorResponse
from chalicelib.settings import get_settings

SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "operator": [{"bearer": []}],
    "tenant": [{"bearer": []}],
    "tenant_or_operator": [{"bearer": []}],
    "activation": [{"activationKey": []}],
    "device": [{"deviceToken": []}],
    "account": [{"bearer": []}],
    "tenant_manager": [{"bearer": []}],
    "tenant_owner": [{"bearer": []}],
}

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The operator key, a tenant API key (lk_api.…), or an account's access token "
        "(with X-Tenant-Id when the account belongs to several tenants), by path.",
    },
    "activationKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Activation-Key",
        "description": "The tenant's activation key (lk_act.…), for LoadMasters before activation.",
    },
    "deviceToken": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Device <device token>`: the token an activation returned.",
    },
}

# Path ids and the Idempotency-Key: what the service issues and accepts.
ID_SCHEMA = {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}

ERROR_STATUSES = {
    "400": "Bad input",
    "401": "Missing or invalid credentials",
    "403": "Refused",
    "404": "Not found",
    "409": "Conflict",
    "410": "Deactivated",
    "429": "Too many requests",
    "500": "Internal error",
    "503": "A dependency is unavailable; retry (Retry-After)",
}


def _responses(op: Operation) -> list[type[BaseModel]]:
    if op.response is None:
        return []
    return list(op.response) if isinstance(op.response, tuple) else [op.response]


@functools.cache
def document() -> dict[str, Any]:
    models: set[tuple[type[BaseModel], JsonSchemaMode]] = {(ErrorResponse, "serialization")}
    for op in OPERATIONS:
        models |= {(m, "validation") for m in (op.body, op.query) if m is not None}
        models |= {(m, "serialization") for m in _responses(op)}
    refs, definitions = models_json_schema(
        sorted(models, key=lambda m: (m[0].__name__, m[1])), ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs, definitions.get("$defs", {}))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Metered licensing backend",
            "version": get_settings().version,
            "description": "The license server Kemp LoadMasters activate against: tenants, trials and "
            "contracts, license types, activation, check-ins, sweeps and metering.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": definitions.get("$defs", {}), "securitySchemes": SECURITY_SCHEMES},
    }


def _operation(op: Operation, refs: dict, defs: dict) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": ID_SCHEMA} for name in re.findall(r"{(\w+)}", op.path)
    ]
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, prop in schema.get("properties", {}).items():
            parameters.append(
                {"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop}
            )
    parameters += [{"name": h, "in": "header", "required": False, "schema": ID_SCHEMA} for h in op.headers]
    error = {"description": "", "content": {"application/json": {"schema": refs[(ErrorResponse, "serialization")]}}}
    if op.content_type == "application/json":
        schemas = [refs[(m, "serialization")] for m in _responses(op)]
        schema = schemas[0] if len(schemas) == 1 else {"anyOf": schemas} if schemas else {}
        content = {"application/json": {"schema": schema}}
    else:
        content = {op.content_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(op.status): {"description": op.summary or "OK", "content": content}}
    responses |= {
        code: {**error, "description": text} for code, text in ERROR_STATUSES.items() if code != str(op.status)
    }
    operation: dict[str, Any] = {
        "summary": op.summary,
        "operationId": _operation_id(op),
        "parameters": parameters,
        "responses": responses,
    }
    if op.auth:
        operation["security"] = SECURITY[op.auth]
    if op.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    return operation


def _operation_id(op: Operation) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", op.path.replace("{", "by_").replace("}", "")).strip("_")
    return f"{op.method.lower()}_{words}"
