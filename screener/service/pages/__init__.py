"""The staff page's routes, one module a page, over the page's state (`screener.service.web.Web`):
`signin`, `uploads` (with a job's progress), `runs` (results, review and the report), `monitor` and
`users`. `mount` adds them all, the handlers that turn a refusal into a page, and the static files."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from screener.service.pages import monitor, runs, signin, uploads, users
from screener.service.settings import Settings
from screener.service.web import HERE, Refused, SignInRequired, Web, local_path


def mount(app: FastAPI, settings: Settings) -> None:
    """Add the page routes at `/` and the static files at `/static`."""
    web = Web(app, settings)
    app.state.web = web
    router = APIRouter(include_in_schema=False)

    @app.exception_handler(SignInRequired)
    async def _to_signin(request: Request, exc: SignInRequired) -> Response:
        if exc.json:
            return JSONResponse({"error": "sign in first"}, status_code=401)
        target = request.url.path
        if request.method != "GET" or not local_path(target):
            target = "/"
        return RedirectResponse(f"/signin?next={quote(target, safe='/')}", status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        return web.refused(request, exc.status, exc.message, web.session(request))

    for page in (signin, uploads, runs, monitor, users):
        page.add_routes(router, web)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="web-static")
