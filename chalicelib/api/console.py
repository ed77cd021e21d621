"""The web console (``GET /console``) and its assets, served by the app itself.

The console is static files in ``chalicelib/web`` (packaged with ``chalicelib``): the page, its
stylesheet, its icon and its ES modules (``console.js`` imports the others); no build step, no
CDN, no external font. Its HTML refers to the assets and the API by *relative* URLs, so
it works both under ``chalice local`` (``/console``) and behind API Gateway's stage prefix
(``/api/console``). The API key never appears in a URL: the page keeps it in ``sessionStorage``
and sends it as ``Authorization: Bearer``; an account's tokens are kept the same way (the access
token sent as Bearer, the refresh token only in the body of ``POST /v1/sessions/refresh``).
"""

from __future__ import annotations

import functools
from pathlib import Path

from chalice import Blueprint, Response

from chalicelib.api.http import route

bp = Blueprint(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

# Only text types: Chalice (and API Gateway) would base64 a binary type such as image/png.
PAGE = ("console.html", "text/html; charset=utf-8")
JAVASCRIPT = "text/javascript; charset=utf-8"
# The console's ES modules, by what each does (console.js is the entry point). A fixed list, not
# a directory listing: a module added to chalicelib/web must be added here to be served, and
# tests/browser checks that every import of every module is.
MODULES = (
    "console.js",
    "api.js",
    "session.js",
    "signin.js",
    "accounts.js",
    "tenant.js",
    "license.js",
    "devices.js",
    "usage.js",
    "chart.js",
    "events.js",
    "members.js",
    "tenants.js",
    "feedback.js",
    "dom.js",
    "format.js",
    "state.js",
)
ASSETS: dict[str, str] = {
    **dict.fromkeys(MODULES, JAVASCRIPT),
    "console.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

# Everything the page needs comes from here; nothing inline, nothing from elsewhere. Module
# scripts (<script type="module"> and their imports) are scripts of this origin: 'self' allows them.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@functools.cache
def _asset(name: str) -> str:
    return (WEB_DIR / name).read_text(encoding="utf-8")


def _serve(name: str, content_type: str) -> Response:
    return Response(
        body=_asset(name),
        status_code=200,
        headers={
            "Content-Type": content_type,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
        },
    )


@route(
    bp,
    "/console",
    ["GET"],
    content_type="text/html",
    summary="The web console (sign in with an account, a tenant API key or the operator key)",
)
def console_page():
    return _serve(*PAGE)


def _asset_view(name: str, content_type: str):
    def view():
        return _serve(name, content_type)

    view.__name__ = f"console_{name.replace('.', '_')}"
    return view


# One fixed route per asset (no path parameter): nothing else under /console can be asked for.
for _name, _type in ASSETS.items():
    route(bp, f"/console/{_name}", ["GET"], summary=f"The console's {_name}", content_type=_type.split(";")[0])(
        _asset_view(_name, _type)
    )
