"""Endpoints anyone may call: health and the lease-verification keys."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import json_response, route
from chalicelib.api.schemas import HealthResponse, JwksResponse
from chalicelib.security.signing import JWKS_MAX_AGE_S
from chalicelib.services import health

bp = Blueprint(__name__)


@route(
    bp, "/v1/health", ["GET"], summary="Dependencies reachable, signing key loaded, version", response=HealthResponse
)
def get_health():
    report = health.check()
    return json_response(HealthResponse(**report), 200 if report["status"] == "ok" else 503)


@route(bp, "/v1/.well-known/jwks.json", ["GET"], summary="Public keys that verify leases", response=JwksResponse)
def jwks():
    return json_response(health.jwks(), headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE_S}"})


@route(bp, "/openapi.json", ["GET"], summary="This API as OpenAPI 3.1")
def openapi_document():
    from chalicelib.api.openapi import document  # built on first request, not at cold start

    return json_response(document())
