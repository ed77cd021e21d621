"""What every route shares: turning refusals into the contract's error bodies, and parsing a
JSON body into a pydantic model with the right error code for its caller."""

from __future__ import annotations

import functools
import inspect
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib.api.errors import error_response
from chalicelib.domain.errors import Code, DomainError, validation
from chalicelib.observability import logger
from chalicelib.security import auth, cursors
from chalicelib.settings import get_settings


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says of a route; declared where the route is."""

    method: str
    path: str
    summary: str
    auth: str | None = None  # a key of AUTHENTICATE
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | tuple[type[BaseModel], ...] | None = None
    status: int = 200
    content_type: str = "application/json"
    headers: tuple[str, ...] = ()


OPERATIONS: list[Operation] = []


def route(
    bp: Blueprint,
    path: str,
    methods: list[str],
    *,
    summary: str = "",
    auth: str | None = None,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | tuple[type[BaseModel], ...] | None = None,
    status: int = 200,
    content_type: str = "application/json",
    headers: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view on ``bp``, ``guarded``, and describe it for the OpenAPI document.

    What the route declares is what it does, before the view runs: ``auth`` names the caller's
    role and is checked (``AUTHENTICATE``), ``body`` and ``query`` are parsed into their models.
    The view gets the path's parameters and, by name, ``caller`` (what the role's check answers:
    the tenant, the device's credential, the account, None for the operator), ``body``,
    ``query`` and ``source`` (the caller's IP address); a view
    that does not take a declared ``body`` or ``query`` is a mistake caught at registration.
    Any Content-Type is let through: the body must still be JSON, and a wrong one is answered in
    the contract's terms (INVALID_INITIALIZATION for a LoadMaster) instead of Chalice's own 415."""
    if auth is not None and auth not in AUTHENTICATE:
        raise ValueError(f"{path}: no role {auth!r} (one of {', '.join(AUTHENTICATE)})")
    for method in methods:
        OPERATIONS.append(Operation(method, path, summary, auth, body, query, response, status, content_type, headers))

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        takes = set(inspect.signature(view).parameters)
        for name, declared in (("body", body), ("query", query)):
            if declared is not None and name not in takes:
                raise TypeError(f"{view.__name__} declares {name}={declared.__name__} but does not take {name}")
        # A LoadMaster's bad body is the seed's "Invalid local license initialization.".
        loadmaster = auth in LOADMASTER_ROLES

        def view_with_request(**params: Any) -> Any:
            request = bp.current_request
            given: dict[str, Any] = {}
            if auth is not None:
                caller = AUTHENTICATE[auth](request.headers, params, request.method)
                if "caller" in takes:
                    given["caller"] = caller
            if "source" in takes:  # the caller's address, for the throttles of the accounts
                given["source"] = ((request.context or {}).get("identity") or {}).get("sourceIp") or "unknown"
            if body is not None:
                given["body"] = parse_body(request.raw_body, body, loadmaster=loadmaster)
            if query is not None:
                given["query"] = parse_query(request.query_params, query)
            return view(**params, **given)

        functools.update_wrapper(view_with_request, view)
        bp.route(path, methods=methods, content_types=["*/*"])(guarded(view_with_request))
        return view

    return register


# Each role of the contract, by the name routes declare it with: the check (given the headers,
# the path's parameters and the method), and what it answers.
AUTHENTICATE: dict[str, Callable[[Mapping[str, str], dict[str, Any], str], Any]] = {
    "operator": lambda headers, params, method: auth.operator(headers),
    # The tenant API key, or an account's access token with its role (a viewer reads only).
    "tenant": lambda headers, params, method: auth.tenant_for(headers, method),
    "tenant_or_operator": lambda headers, params, method: auth.tenant_for_or_operator(headers, method),
    "activation": lambda headers, params, method: auth.activation(headers),
    "device": lambda headers, params, method: auth.device(headers, params["device_id"]),
    # Accounts: any signed-in account; the tenant's owner or an admin (or its API key); the owner.
    "account": lambda headers, params, method: auth.account(headers),
    "tenant_manager": lambda headers, params, method: auth.manager(headers),
    "tenant_owner": lambda headers, params, method: auth.owner(headers),
}
LOADMASTER_ROLES = ("activation", "device")


def guarded(view: Callable[..., Any]) -> Callable[..., Any]:
    """Every refusal becomes its status (a dependency's passing failure, which the store raises
    as UNAVAILABLE, a 503 with Retry-After); anything else a 500 with a generic message, the
    detail going to the log only."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            if not all(_could_be_an_id(value) for value in kwargs.values()):
                raise DomainError(Code.NOT_FOUND)
            return view(*args, **kwargs)
        except DomainError as e:
            return error_response(e)
        except Exception:
            logger.exception("unhandled error")
            return error_response(DomainError(Code.INTERNAL))

    return wrapper


# Every id of ours is a short printable string. A path parameter that is not one names nothing,
# and must not reach DynamoDB, which refuses a key over 2,048 bytes (1,024 for a sort key) or
# empty with a ValidationException: a 500, where a path the API does not have is a 404.
MAX_ID_LENGTH = 128


def _could_be_an_id(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID_LENGTH
        and value.isprintable()
        and not any("\ud800" <= char <= "\udfff" for char in value)
    )


def contract_error_bodies(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: the answers Chalice gives itself, outside any view, in the contract's
    body. Chalice's router answers a known path with an unknown method (on ``chalice local``, in
    the test client and through the LoadMasters' HTTP API, whose routes take any method) with
    ``405 {"Code": "MethodNotAllowedError", ...}`` and an ``Allow`` header: that becomes
    METHOD_NOT_ALLOWED, keeping the header. Any other answer of Chalice's own shape becomes
    INTERNAL if a 5xx, else VALIDATION_ERROR (a client's error: say, an Accept header that
    refuses a binary answer).

    The HTTP API sends a path it has no route for to its ``$default`` route, the function
    (infra/template.py, ``DeviceApi``), with ``$default`` as the resource path (in payload format
    1.0, ``resource``, ``resourcePath`` and ``resourceId`` are all ``$default`` on that route;
    on any other, ``resourcePath`` is the route key's path, Chalice's own route); Chalice would
    look ``$default`` up as a route with no methods and answer 405 with an empty Allow. It is the
    contract's 404, as the REST API's gateway response answers it."""
    if not (event.context or {}).get("resourcePath", "").startswith("/"):
        return error_response(DomainError(Code.NOT_FOUND))
    response = get_response(event)
    body = response.body
    if response.status_code < 400 or not (isinstance(body, dict) and set(body) == {"Code", "Message"}):
        return response
    if body["Code"] == "MethodNotAllowedError":
        allow = {k: v for k, v in (response.headers or {}).items() if k.lower() == "allow"}
        return error_response(DomainError(Code.METHOD_NOT_ALLOWED), allow)
    if response.status_code >= 500:
        logger.error("chalice answered an error outside the views", extra={"chalice_error": body})
        return error_response(DomainError(Code.INTERNAL))
    return error_response(validation(str(body["Message"]), {"request": str(body["Code"])}))


# Limits of a JSON body, checked before or while it is parsed: Python's parser recurses once per
# level (a body nested 1,000 deep is a RecursionError), converts integers of any length (more
# than 4,300 digits is a ValueError, fewer can still cost quadratic time) and accepts NaN and
# Infinity, which are not JSON. No request of the contract comes near these limits.
MAX_JSON_DEPTH = 32
MAX_NUMBER_LENGTH = 40  # characters: 128-bit integers and every float repr fit
_JSON_STRUCTURE = re.compile(r'[\[\]{}"\\]')


def parse_body[M: BaseModel](raw: bytes | str | None, model: type[M], *, loadmaster: bool = False) -> M:
    """The request body as ``model``. A LoadMaster's bad body is the seed's "Invalid local
    license initialization."; anyone else's is VALIDATION_ERROR naming the fields. Whatever
    the bytes, the answer is the model or that refusal: never another exception. (Chalice
    types a raw body as either bytes or text.)"""
    raw = raw.encode() if isinstance(raw, str) else raw or b""
    try:
        if len(raw) > get_settings().max_body_bytes:
            limit = get_settings().max_body_bytes
            raise validation("The request body is too large.", {"body": f"at most {limit} bytes"})
        data = _load_json(raw.decode("utf-8")) if raw.strip() else {}
        if not isinstance(data, dict):
            raise validation("The request body must be a JSON object.", {"body": "not an object"})
        return model.model_validate(data)
    except ValidationError as e:
        fields = _fields(e, "body")
        raise _for_caller(validation("The request is not valid.", fields), loadmaster) from e
    except DomainError as e:
        raise _for_caller(e, loadmaster) from e
    except Exception as e:  # the boundary: bad UTF-8, bad JSON, anything else is the caller's error
        error = validation("The request body is not valid JSON.", {"body": "malformed JSON"})
        raise _for_caller(error, loadmaster) from e


def _load_json(text: str) -> Any:
    if _nesting_depth(text) > MAX_JSON_DEPTH:
        raise validation("The request body is nested too deeply.", {"body": f"at most {MAX_JSON_DEPTH} levels"})
    return json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)


def _nesting_depth(text: str) -> int:
    """How deep the arrays and objects of ``text`` nest, counting brackets outside strings, in
    one pass over the structural characters only (so a long string costs nothing)."""
    depth = deepest = 0
    in_string = False
    skip_to = -1  # the character after a backslash is escaped, whatever it is
    for match in _JSON_STRUCTURE.finditer(text):
        position, char = match.start(), match.group()
        if position < skip_to:
            continue
        if in_string:
            if char == "\\":
                skip_to = position + 2
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _number_too_long() -> DomainError:
    return validation(
        "A number in the request body is too long.", {"body": f"numbers of at most {MAX_NUMBER_LENGTH} characters"}
    )


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_LENGTH:
        raise _number_too_long()
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_LENGTH:
        raise _number_too_long()
    value = float(text)
    if not math.isfinite(value):  # 1e999 is a short text for infinity
        raise validation("A number in the request body is out of range.", {"body": "a finite number"})
    return value


def _refuse_constant(text: str) -> None:
    raise validation("The request body is not valid JSON.", {"body": f"{text} is not a JSON number"})


def _fields(error: ValidationError, where: str) -> dict[str, str]:
    return {".".join(str(p) for p in err["loc"]) or where: err["msg"] for err in error.errors()}


def _for_caller(error: DomainError, loadmaster: bool) -> DomainError:
    if loadmaster:
        return DomainError(Code.INVALID_INITIALIZATION, detail=error.detail)
    return error


# No parameter of the contract is longer than a cursor, and a cursor is a bounded token.
MAX_QUERY_VALUE_LENGTH = 4096


def parse_query[M: BaseModel](params: Mapping[str, str] | None, model: type[M]) -> M:
    """The query string as ``model``, or VALIDATION_ERROR naming the parameters."""
    params = dict(params or {})
    try:
        too_long = sorted(str(k) for k, v in params.items() if len(str(k)) + len(str(v)) > MAX_QUERY_VALUE_LENGTH)
        if too_long:
            raise validation(
                "The query is not valid.", {k: f"at most {MAX_QUERY_VALUE_LENGTH} characters" for k in too_long}
            )
        return model.model_validate(params)
    except ValidationError as e:
        raise validation("The query is not valid.", _fields(e, "query")) from e
    except DomainError:
        raise
    except Exception as e:  # the boundary: whatever the parameters, a 400
        raise validation("The query is not valid.", {"query": "malformed"}) from e


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json")
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json", **(headers or {})})


# Cursors ---------------------------------------------------------------------------------------


def encode_cursor(key: dict | None, scope: str) -> str | None:
    """An opaque paging cursor, signed and bound to ``scope`` (the caller's tenant), so it cannot
    be forged or replayed into another tenant's data (``chalicelib.security.cursors``)."""
    if not key:
        return None
    return cursors.encode(key, scope)


def decode_cursor(cursor: str | None, scope: str) -> dict | None:
    if not cursor:
        return None
    try:
        return cursors.decode(cursor, scope)
    except cursors.InvalidCursor as e:
        raise validation("The cursor is not valid.", {"next": "not a cursor of this listing"}) from e
