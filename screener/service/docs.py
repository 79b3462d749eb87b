"""The API documentation page, served from the package so it works offline.

FastAPI's default `/docs` page loads Swagger UI from a CDN, which fails on a closed network and lets a
third party run script on the service's origin. Here the page is our own HTML, Swagger UI's files
come from the `fastapi-offline` package (which ships them), and its start-up script is a static file
of ours, so the page needs no inline script and passes the service's Content-Security-Policy.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from screener.service.headers import CSP

DOCS_URL = "/docs"
ASSETS_URL = "/docs-assets"
# Swagger UI's React components set style attributes; only the docs page allows that.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API documentation</title>
<link rel="icon" href="{assets}/favicon.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body>
</html>
"""


def mount_docs(app: FastAPI) -> None:
    """Serve `/docs` and its assets from the package (the app is built with `docs_url=None`)."""
    vendor = resources.files("fastapi_offline").joinpath("static")
    app.mount(ASSETS_URL, StaticFiles(directory=str(vendor)), name="docs-assets")
    page = _PAGE.format(title=app.title, assets=ASSETS_URL, openapi=app.openapi_url)

    @app.get(DOCS_URL, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"content-security-policy": DOCS_CSP, "cache-control": "no-store"})
