"""Signing in and out: the sign-in form, with its pre-session CSRF cookie, and the sign-in limit."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from screener.service.web import SESSION_COOKIE, SIGNIN_COOKIE, SIGNIN_MINUTES, Web, local_path


def add_routes(router: APIRouter, web: Web) -> None:
    @router.get("/signin", response_class=HTMLResponse)
    async def signin_page(request: Request, next: str = "/") -> Response:
        if web.session(request):
            return RedirectResponse(next if local_path(next) else "/", status_code=303)
        return _signin_form(request, next, None, 200)

    def _signin_form(request: Request, target: str, error: str | None, status: int) -> Response:
        token = web.signin_token(request) or secrets.token_urlsafe(24)  # other open tabs stay valid
        response = web.page(
            request, "signin.html", status, None, title="Sign in", csrf=token,
            next=target if local_path(target) else "/", error=error,
        )
        response.set_cookie(
            SIGNIN_COOKIE, web.signer.dumps(token, salt="signin"), max_age=SIGNIN_MINUTES * 60,
            httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/",
        )
        return response

    @router.post("/signin")
    async def signin(request: Request) -> Response:
        form = await web.form(request, None)
        name = str(form.get("username") or "").strip()[:200]
        password = str(form.get("password") or "")[:1024]
        target = str(form.get("next") or "/")
        target = target if local_path(target) else "/"
        address = request.client.host if request.client else "unknown"
        shared = web.shared
        # the try is counted before the password is checked, so concurrent guesses cannot overtake the limit
        if not await run_in_threadpool(shared.reserve_signin, name, address):
            return _signin_form(request, target, "Too many failed attempts; wait 15 minutes.", 429)
        if not name or not password or not await run_in_threadpool(web.store.sign_in, name, password):
            return _signin_form(request, target, "Wrong user name or password.", 401)
        await run_in_threadpool(shared.release_signin, name, address)
        return web.start_session(request, name, target)

    @router.post("/signout")
    async def signout(request: Request) -> Response:
        session = web.require(request)
        await web.form(request, session)
        await run_in_threadpool(web.shared.close_session, session.sid)
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
