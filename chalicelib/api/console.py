"""The web console (``GET /console``) and its assets, served by the app itself."""

from __future__ import annotations

from chalice import Blueprint

bp = Blueprint(__name__)
