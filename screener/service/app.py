"""The HTTP service: `create_app` builds the FastAPI app (also the factory for `uvicorn --factory`).

One Screener per process, built at startup, shared by every request. Around the routes sit three
plain ASGI layers, outermost first: errors (any unexpected exception becomes a 500 JSON with an id
to find the traceback in the server log, never the traceback itself), API keys (`/v1` only, before
a byte of the body is read), and body limits (Content-Length and the bytes actually streamed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from screener import __version__
from screener.models import RowResult
from screener.screening import Screener
from screener.service import web
from screener.service.auth import ApiKeyMiddleware, KeyRing, keys_file_path, send_json
from screener.service.settings import Settings
from screener.shipment import field_path

log = logging.getLogger("screener.service")

MULTIPART_SLACK = 64 * 1024  # multipart boundaries and form fields around an upload
DRAIN_BYTES = 16 * 1024 * 1024  # read (and drop) this much of a refused body so the client sees the 413
MAX_CONCURRENT_FILES = 2  # file-screening processes per server process; more uploads wait their turn
STORE_RETRY_SECONDS = 30.0


def build_screener(settings: Settings) -> Screener:
    """The lists the settings name, with the settings' threshold."""
    if settings.lists == ["default"]:
        return Screener.default(threshold=settings.threshold)
    from screener.lists.catalog import load_named_list  # type: ignore[import-not-found]

    return Screener([(name, load_named_list(name)) for name in settings.lists], threshold=settings.threshold)


class Decisions:
    """Analysts' recorded decisions, read from the audit store opened on first need.

    When the store cannot be read, results pass unchanged: a potential match stays an alert, so an
    outage can only hold a shipment, never release one.
    """

    def __init__(self, url: str | None) -> None:
        self.url = url
        self._store: Any = None
        self._failed_at = 0.0
        self._lock = threading.Lock()

    def store(self) -> Any:
        with self._lock:
            if self._store is None and time.monotonic() - self._failed_at > STORE_RETRY_SECONDS:
                try:
                    from screener.review.store import Store

                    self._store = Store.open(self.url)
                except Exception as exc:  # noqa: BLE001 - reported, and the caller holds instead
                    self._failed_at = time.monotonic()
                    log.warning("audit store unavailable (%s); recorded decisions are not applied", type(exc).__name__)
            return self._store

    def apply(self, results: Iterable[RowResult], screener: Screener) -> list[RowResult]:
        results = list(results)
        store = self.store()
        if store is None:
            return results
        try:
            return list(store.apply_decisions(results, screener))
        except Exception as exc:  # noqa: BLE001
            log.warning("cannot read recorded decisions (%s); none applied", type(exc).__name__)
            return results

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


class ServiceState:
    """What every request shares, on `app.state.service`."""

    def __init__(self, settings: Settings, keyring: KeyRing) -> None:
        self.settings = settings
        self.keyring = keyring
        self.screener: Screener | None = None
        self.decisions = Decisions(settings.db_url)
        self._pool: ProcessPoolExecutor | None = None

    async def run_file_job(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` in the file-screening pool (started on first use; restarted if broken)."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=MAX_CONCURRENT_FILES,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_pool_worker,
                initargs=(self.settings.model_dump(),),
            )
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except BrokenProcessPool:
            if self._pool is pool:
                self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self.decisions.close()


def _init_pool_worker(settings_data: dict[str, Any]) -> None:
    from screener.service.api import _init_file_worker

    _init_file_worker(settings_data)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service app; with no settings, `Settings.from_env()`. Usable as `uvicorn --factory`."""
    settings = settings or Settings.from_env()
    keyring = KeyRing.from_settings(settings)
    state = ServiceState(settings, keyring)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        screener = await asyncio.to_thread(build_screener, settings)
        screener.screen_name("warm up")  # first-call caches, so the first request is not the slow one
        screener.list_infos()  # hashes the lists once, here rather than in the first request
        state.screener = screener
        if not keyring.configured:
            log.warning(
                "no API key configured: every /v1 call is refused; set SCREENER_API_KEYS or run "
                "`screener keys add` (keys file: %s)", keys_file_path(settings)
            )
        try:
            yield
        finally:
            state.close()

    from screener.service.api import router

    app = FastAPI(
        title="screener",
        version=__version__,
        description="Restricted-party screening for US export compliance. Every /v1 call needs an API "
        "key: `Authorization: Bearer KEY` or `X-API-Key: KEY`.",
        lifespan=lifespan,
    )
    app.state.service = state
    _document_keys(app)
    app.include_router(router)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # add_middleware wraps: the last added runs first.
    app.add_middleware(BodyLimitMiddleware, max_json=settings.max_body_bytes, max_upload=settings.max_upload_bytes)
    app.add_middleware(ApiKeyMiddleware, keyring=keyring)
    app.add_middleware(ErrorMiddleware)
    web.mount(app, settings)
    return app


def _document_keys(app: FastAPI) -> None:
    """Show the key schemes on the OpenAPI page (its "Authorize" button) for every /v1 operation.

    Declared here rather than as route dependencies, which would cost every request a little for
    what the middleware already enforces."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer KEY"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
            for path, operations in schema.get("paths", {}).items():
                if path.startswith("/v1/"):
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}, {"apiKey": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class HttpProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP protocol with TCP_NODELAY set on every connection.

    With `--workers` > 1 uvicorn binds the socket itself without naming TCP as its protocol, and
    asyncio then leaves Nagle's algorithm on for accepted connections: each response (headers and
    body are two writes) waits for the client's delayed ACK, ~40 ms. `screener serve` uses this
    class; pass `--http screener.service.app:HttpProtocol` when running uvicorn yourself.
    """

    def connection_made(self, transport: Any) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


HTTP_PROTOCOL = f"{__name__}:HttpProtocol"


# --- errors ---------------------------------------------------------------------------------------


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


# --- body limits ----------------------------------------------------------------------------------


class BodyTooLarge(StarletteHTTPException):
    """Raised from `receive` when the streamed body passes its limit; the middleware answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit:,} bytes")


class BodyLimitMiddleware:
    """413 for bodies over the limit: multipart uploads `max_upload`, anything else `max_json`.

    Content-Length is checked first; the bytes actually received are counted too (chunked bodies
    have no length). Once over, whatever the app tries to answer is replaced by the 413.
    """

    def __init__(self, app: Any, max_json: int, max_upload: int) -> None:
        self.app = app
        self.max_json = max_json
        self.max_upload = max_upload

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        ctype = headers.get(b"content-type", b"").decode("latin-1").lower()
        upload = ctype.startswith("multipart/form-data")
        limit = self.max_upload + MULTIPART_SLACK if upload else self.max_json
        shown = self.max_upload if upload else self.max_json
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await send_json(send, 400, {"error": "invalid Content-Length header"})
                return
            if length > limit:
                if length <= limit + DRAIN_BYTES:
                    await _drain(receive, DRAIN_BYTES + limit)
                await _too_large(send, shown, upload)
                return

        received = 0
        over = False
        started = False
        more_body = True

        async def counting_receive() -> Any:
            nonlocal received, over, more_body
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                more_body = message.get("more_body", False)
                if received > limit:
                    over = True
                    raise BodyTooLarge(shown)
            return message

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if over:
                return  # the app's answer to a refused body is replaced below
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            if more_body:
                await _drain(receive, DRAIN_BYTES)
            await _too_large(send, shown, upload)


async def _drain(receive: Any, budget: int) -> None:
    """Read and drop up to `budget` bytes, so a client still sending can read our answer."""
    seen = 0
    while seen <= budget:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _too_large(send: Any, limit: int, upload: bool) -> None:
    what = "upload" if upload else "request body"
    await send_json(send, 413, {"error": f"{what} larger than the limit of {limit:,} bytes"})
