"""Endpoints anyone may call: health and the lease-verification keys."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import guarded, json_response
from chalicelib.api.schemas import HealthResponse
from chalicelib.services import health

bp = Blueprint(__name__)


@bp.route("/v1/health", methods=["GET"])
@guarded
def get_health():
    report = health.check()
    return json_response(HealthResponse(**report), 200 if report["status"] == "ok" else 503)


@bp.route("/v1/.well-known/jwks.json", methods=["GET"])
@guarded
def jwks():
    return json_response(health.jwks(), headers={"Cache-Control": "public, max-age=300"})
