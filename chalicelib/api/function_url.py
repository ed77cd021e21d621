"""The LoadMasters' optional front door, a Lambda function URL (infra/template.py,
``DeviceFrontDoor=FunctionUrl``): the app reads its events as it reads the REST API's.

A function URL sends payload format 2.0 only, which Chalice's handler cannot read (it looks its
route up by ``requestContext.resourcePath``). ``App`` turns such an event into the 1.0 shape
before Chalice sees it, and Chalice's answer back into 2.0. It serves only the LoadMasters'
routes, the JWKS and health, as the HTTP API does: any other path is the contract's 404 (a
resource path that is not one, as ``contract_error_bodies`` answers the HTTP API's
``$default``), a served path with another method the contract's 405.

The 2.0 request, as AWS documents it ("Invoking Lambda function URLs", request payload,
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads): ``rawPath``,
``rawQueryString`` and ``queryStringParameters``, ``headers`` in lower case with repeated
headers joined by commas, ``cookies`` apart as a list, ``requestContext.http`` with ``method``,
``path``, ``sourceIp`` and ``userAgent``, ``body`` with ``isBase64Encoded``. The response is
``statusCode``, ``headers``, ``body``, ``isBase64Encoded`` and ``cookies``: no multi-value
headers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

from chalice import Chalice

from chalicelib.api.http import LOADMASTER_ROLES, OPERATIONS

# Served besides the LoadMasters' own routes: what a LoadMaster fetches anonymously.
PUBLIC_PATHS = ("/v1/.well-known/jwks.json", "/v1/health")
# What ``contract_error_bodies`` answers with the contract's 404, as the HTTP API's default route.
NO_ROUTE = "$default"


class App(Chalice):
    """Chalice, reading a function URL's events too (any other event goes through unchanged)."""

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        if not (isinstance(event, dict) and event.get("version") == "2.0" and "rawPath" in event):
            return super().__call__(event, context)
        return _v2_response(super().__call__(_v1_event(event, self.route_of), context))

    @functools.cached_property
    def served(self) -> tuple[tuple[str, ...], ...]:
        """The served routes' paths in segments, taken at the first request (the app complete)."""
        paths = {op.path for op in OPERATIONS if op.auth in LOADMASTER_ROLES} | set(PUBLIC_PATHS)
        return tuple(tuple(path.split("/")) for path in sorted(paths) if path in self.routes)

    def route_of(self, path: str) -> tuple[str, dict[str, str] | None]:
        """The served route (its resource path) ``path`` is on, with its parameters,
        percent-decoded as API Gateway decodes them; ``NO_ROUTE`` if none."""
        parts = path.split("/")
        for route in self.served:
            if len(route) != len(parts):
                continue
            params = {}
            for template, part in zip(route, parts, strict=True):
                if template.startswith("{") and part:
                    params[template[1:-1]] = unquote(part)
                elif template != part:
                    break
            else:
                return "/".join(route), params or None
        return NO_ROUTE, None


def _v1_event(event: dict[str, Any], route_of: Callable[[str], tuple[str, dict[str, str] | None]]) -> dict[str, Any]:
    context = event.get("requestContext") or {}
    http = context.get("http") or {}
    method, path = http.get("method", ""), event.get("rawPath") or "/"
    resource, params = route_of(path)
    headers = dict(event.get("headers") or {})
    if event.get("cookies"):
        headers["cookie"] = "; ".join(event["cookies"])
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(event.get("rawQueryString") or "", keep_blank_values=True):
        query.setdefault(name, []).append(value)
    return {
        "version": "1.0",
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},  # a joined value stays joined
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            **{k: v for k, v in context.items() if k != "http"},
            "httpMethod": method,
            "path": path,
            "resourcePath": resource,
            "resourceId": resource,
            "protocol": http.get("protocol"),
            "requestTimeEpoch": context.get("timeEpoch"),
            "identity": {"sourceIp": http.get("sourceIp"), "userAgent": http.get("userAgent")},
        },
        "body": event.get("body"),
        "isBase64Encoded": bool(event.get("isBase64Encoded")),
    }


def _v2_response(response: dict[str, Any]) -> dict[str, Any]:
    """Chalice's 1.0 answer in 2.0: each multi-value header joined with commas, Set-Cookie as
    ``cookies``."""
    headers = dict(response.get("headers") or {})
    cookies: list[str] = []
    for name, values in (response.get("multiValueHeaders") or {}).items():
        if name.lower() == "set-cookie":
            cookies.extend(values)
        else:
            headers[name] = ",".join(str(v) for v in values)
    answer = {
        "statusCode": response["statusCode"],
        "headers": headers,
        "body": response.get("body"),
        "isBase64Encoded": bool(response.get("isBase64Encoded")),
    }
    if cookies:
        answer["cookies"] = cookies
    return answer
