"""Endpoints anyone may call: health and the lease-verification keys."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import json_response, route
from chalicelib.api.schemas import HealthResponse
from chalicelib.services import health

bp = Blueprint(__name__)


@route(bp, "/v1/health", ["GET"])
def get_health():
    report = health.check()
    return json_response(HealthResponse(**report), 200 if report["status"] == "ok" else 503)


@route(bp, "/v1/.well-known/jwks.json", ["GET"])
def jwks():
    return json_response(health.jwks(), headers={"Cache-Control": "public, max-age=300"})
