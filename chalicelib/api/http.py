"""What every route shares: turning refusals into the contract's error bodies, and parsing a
JSON body into a pydantic model with the right error code for its caller."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib.api.errors import error_response, is_transient
from chalicelib.domain.errors import Code, DomainError, validation
from chalicelib.observability import logger
from chalicelib.settings import get_settings

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says of a route; declared where the route is."""

    method: str
    path: str
    summary: str
    auth: str | None = None  # operator, tenant, activation, device, tenant_or_operator
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | tuple[type[BaseModel], ...] | None = None
    status: int = 200
    content_type: str = "application/json"
    headers: tuple[str, ...] = ()


OPERATIONS: list[Operation] = []


def route(bp: Blueprint, path: str, methods: list[str], *, summary: str = "", auth: str | None = None,
          body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
          response: type[BaseModel] | tuple[type[BaseModel], ...] | None = None, status: int = 200,
          content_type: str = "application/json",
          headers: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view on ``bp``, ``guarded``, and describe it for the OpenAPI document. Any
    Content-Type is let through: the body must still be JSON, and a wrong one is answered in the
    contract's terms (INVALID_INITIALIZATION for a LoadMaster) instead of Chalice's own 415."""
    for method in methods:
        OPERATIONS.append(Operation(method, path, summary, auth, body, query, response, status, content_type,
                                    headers))

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        bp.route(path, methods=methods, content_types=["*/*"])(guarded(view))
        return view

    return register


def guarded(view: Callable[..., Any]) -> Callable[..., Any]:
    """Every refusal becomes its 4xx; a dependency's passing failure a 503 with Retry-After;
    anything else a 500 with a generic message, the detail going to the log only."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except DomainError as e:
            return error_response(e)
        except Exception as e:
            if is_transient(e):
                logger.warning("dependency unavailable", extra={"error": repr(e)})
                return error_response(DomainError(Code.UNAVAILABLE))
            logger.exception("unhandled error")
            return error_response(DomainError(Code.INTERNAL))

    return wrapper


def parse_body(raw: bytes | None, model: type[M], *, loadmaster: bool = False) -> M:
    """The request body as ``model``. A LoadMaster's bad body is the seed's "Invalid local
    license initialization."; anyone else's is VALIDATION_ERROR naming the fields."""
    raw = raw or b""
    try:
        if len(raw) > get_settings().max_body_bytes:
            limit = get_settings().max_body_bytes
            raise validation("The request body is too large.", {"body": f"at most {limit} bytes"})
        data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        if not isinstance(data, dict):
            raise validation("The request body must be a JSON object.", {"body": "not an object"})
        return model.model_validate(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        error = validation("The request body is not valid JSON.", {"body": "malformed JSON"})
        raise _for_caller(error, loadmaster) from e
    except ValidationError as e:
        fields = {".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in e.errors()}
        raise _for_caller(validation("The request is not valid.", fields), loadmaster) from e
    except DomainError as e:
        raise _for_caller(e, loadmaster) from e


def _for_caller(error: DomainError, loadmaster: bool) -> DomainError:
    if loadmaster:
        return DomainError(Code.INVALID_INITIALIZATION, detail=error.detail)
    return error


def parse_query(params: dict[str, str] | None, model: type[M]) -> M:
    try:
        return model.model_validate(params or {})
    except ValidationError as e:
        fields = {".".join(str(p) for p in err["loc"]) or "query": err["msg"] for err in e.errors()}
        raise validation("The query is not valid.", fields) from e


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json")
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json", **(headers or {})})


# Cursors ---------------------------------------------------------------------------------------


def encode_cursor(key: dict | None, scope: str) -> str | None:
    """An opaque paging cursor, signed and bound to ``scope`` (the caller's tenant), so it cannot
    be forged or replayed into another tenant's data."""
    if not key:
        return None
    from chalicelib.security.signing import key_ring

    return key_ring().sign({"k": key, "s": scope}, "cursor")


def decode_cursor(cursor: str | None, scope: str) -> dict | None:
    if not cursor:
        return None
    from chalicelib.security.signing import InvalidToken, key_ring

    try:
        claims = key_ring().verify(cursor, "cursor")
    except InvalidToken as e:
        raise validation("The cursor is not valid.", {"next": "not a cursor of this listing"}) from e
    if claims.get("s") != scope or not isinstance(claims.get("k"), dict):
        raise validation("The cursor is not valid.", {"next": "not a cursor of this listing"})
    return claims["k"]


