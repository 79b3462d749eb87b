"""Errors as JSON: validation errors naming the field, HTTP errors, and any unexpected exception.

Shared by the app (which installs the handlers and the middleware) and the API routes (which build
the same 422 body for their own checks), so neither imports the other.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from screener.service.auth import send_json
from screener.shipment import field_path

log = logging.getLogger("screener.service")


def validation_errors(errors: list[Any]) -> list[dict[str, str]]:
    """FastAPI's errors as {"field", "message"}, the request part ("body", "query") dropped."""
    out = []
    for err in errors:
        loc = list(err.get("loc", ()))
        where = loc[0] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else None
        loc = loc[1:] if where else loc
        if err.get("type") == "json_invalid":
            detail = (err.get("ctx") or {}).get("error", "JSON decode error")
            at = f" at character {loc[0]}" if loc and isinstance(loc[0], int) else ""
            out.append({"field": "body", "message": f"invalid JSON: {detail}{at}"})
            continue
        message = str(err.get("msg", "invalid")).replace("Field required", "field required")
        out.append({"field": field_path(loc) if loc else (where or "body"), "message": message[:1].lower() + message[1:]})
    return out


def error_body(errors: list[dict[str, str]]) -> dict[str, Any]:
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    text = f"{first['field']}: {first['message']}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more)"
    return {"error": " ".join(text.split()), "errors": errors}


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(error_body(validation_errors(list(exc.errors()))), status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    return JSONResponse({"error": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


class ErrorMiddleware:
    """Any exception that escapes the app: logged with an id, answered as `{"error", "id"}` 500 JSON."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            error_id = uuid.uuid4().hex[:12]
            log.exception("internal error %s on %s %s", error_id, scope.get("method"), scope.get("path"))
            if not started:
                await send_json(send, 500, {"error": "internal error", "id": error_id})
