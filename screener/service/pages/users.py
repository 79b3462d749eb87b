"""Accounts and policy, for admins: users and their roles, who sees whose runs, the four-eyes score."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from screener.review.store import StoreError
from screener.review.users import ROLES
from screener.service.web import Web

USER_MESSAGES = {"add": "User added.", "role": "Role changed.", "policy": "Policy saved."}


def add_routes(router: APIRouter, web: Web) -> None:
    @router.get("/users", response_class=HTMLResponse)
    async def users_page(request: Request, msg: str = "") -> Response:
        session = web.require(request)
        web.require_role(session, "admin")
        return web.page(request, "users.html", 200, session, title="Users", users=web.store.list_users(),
                        policy=web.store.policy(), roles=ROLES, message=USER_MESSAGES.get(msg))

    @router.post("/users")
    async def users_change(request: Request) -> Response:
        session = web.require(request)
        form = await web.form(request, session)
        web.require_role(session, "admin")
        action = str(form.get("action") or "")
        try:
            if action == "add":
                await run_in_threadpool(web.store.add_user, str(form.get("name") or ""),
                                        str(form.get("password") or ""), str(form.get("role") or ""),
                                        by=session.user)
            elif action == "role":
                web.store.set_role(str(form.get("name") or ""), str(form.get("role") or ""), by=session.user)
            elif action == "policy":
                web.store.set_policy("run_visibility", str(form.get("run_visibility") or ""), by=session.user)
                web.store.set_policy("four_eyes_score", str(form.get("four_eyes_score") or ""), by=session.user)
            else:
                raise StoreError("unknown action")
        except StoreError as exc:
            return web.refused(request, 400, str(exc).capitalize() + ".", session)
        return RedirectResponse(f"/users?msg={action}", status_code=303)
