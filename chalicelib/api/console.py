"""The web console (``GET /console``) and its assets, served by the app itself.

The console is three static files in ``chalicelib/web`` (packaged with ``chalicelib``): no build
step, no CDN, no external font. Its HTML refers to the assets and the API by *relative* URLs, so
it works both under ``chalice local`` (``/console``) and behind API Gateway's stage prefix
(``/api/console``). The API key never appears in a URL: the page keeps it in ``sessionStorage``
and sends it as ``Authorization: Bearer``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from chalice import Blueprint, Response

from chalicelib.api.http import route
from chalicelib.domain.errors import Code, DomainError

bp = Blueprint(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

# Only text types: Chalice (and API Gateway) would base64 a binary type such as image/png.
ASSETS: dict[str, str] = {
    "console.html": "text/html; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

# Everything the page needs comes from here; nothing inline, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@functools.cache
def _asset(name: str) -> str:
    return (WEB_DIR / name).read_text(encoding="utf-8")


def _serve(name: str) -> Response:
    return Response(body=_asset(name), status_code=200, headers={
        "Content-Type": ASSETS[name],
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    })


@route(bp, "/console", ["GET"])
def console_page():
    return _serve("console.html")


@route(bp, "/console/{name}", ["GET"])
def console_asset(name: str):
    if name not in ASSETS or name == "console.html":
        raise DomainError(Code.NOT_FOUND)
    return _serve(name)
