"""The HTTP service: `create_app` builds the FastAPI app (also the factory for `uvicorn --factory`).

One Screener per process, built at startup, shared by every request. Around the routes sit three
plain ASGI layers, outermost first: errors (any unexpected exception becomes a 500 JSON with an id
to find the traceback in the server log, never the traceback itself), API keys (`/v1` only, before
a byte of the body is read), and body limits (Content-Length and the bytes actually streamed).
Each process also runs the job dispatcher (`jobs.Runner`), started and stopped with the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from screener import __version__
from screener.runtime.lifetime import die_with_parent
from screener.service import monitoring, pages
from screener.service.api import router
from screener.service.auth import ApiKeyMiddleware, KeyRing, keys_file_path, send_json
from screener.service.docs import mount_docs
from screener.service.errors import ErrorMiddleware, install_handlers
from screener.service.headers import SecurityHeadersMiddleware
from screener.service.jobs import Runner
from screener.service.refresh import Refresher
from screener.service.runs import fail_dead_runs
from screener.service.settings import Settings
from screener.service.state import ServiceState, build_screener, log

MULTIPART_SLACK = 64 * 1024  # multipart boundaries and form fields around an upload
DRAIN_BYTES = 16 * 1024 * 1024  # read (and drop) this much of a refused body so the client sees the 413


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service app; with no settings, `Settings.from_env()`. Usable as `uvicorn --factory`."""
    settings = settings or Settings.from_env()
    keyring = KeyRing.from_settings(settings)
    state = ServiceState(settings, keyring)
    state.runner = Runner(settings, state.shared)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if multiprocessing.parent_process() is not None:
            die_with_parent()  # a worker of `serve --workers N`: it ends with the supervisor
        screener = await asyncio.to_thread(build_screener, settings)
        screener.screen_name("warm up")  # first-call caches, so the first request is not the slow one
        screener.list_infos()  # hashes the lists once, here rather than in the first request
        state.screener = screener
        # The index is ~300,000 long-lived objects: a full collection walks them all (~150 ms, a
        # stall for every request in flight). Frozen, collections see only what requests allocate.
        gc.collect()
        gc.freeze()
        if not keyring.configured:
            log.warning(
                "no API key configured: every /v1 call is refused; set SCREENER_API_KEYS or run "
                "`screener keys add` (keys file: %s)", keys_file_path(settings)
            )
        await asyncio.to_thread(_fail_dead_runs, state)
        state.runner.start()
        refresher = Refresher(state)  # the scheduled list refresh (screener.service.refresh)
        refresher.start()
        try:
            yield
        finally:
            await refresher.stop()
            await state.runner.stop()
            state.close()

    app = FastAPI(
        title="screener",
        version=__version__,
        description="Restricted-party screening for US export compliance. Every /v1 call needs an API "
        "key: `Authorization: Bearer KEY` or `X-API-Key: KEY`.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    mount_docs(app)
    app.state.service = state
    _document_keys(app)
    app.include_router(router)
    app.include_router(monitoring.router)  # /v1/monitor (screener.service.monitoring)
    install_handlers(app)
    # add_middleware wraps: the last added runs first.
    app.add_middleware(BodyLimitMiddleware, max_json=settings.max_body_bytes, max_upload=settings.max_upload_bytes)
    app.add_middleware(ApiKeyMiddleware, keyring=keyring)
    app.add_middleware(ErrorMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    pages.mount(app, settings)
    return app


def _fail_dead_runs(state: ServiceState) -> None:
    """At start: runs that `screen --record` processes killed with -9 left "running" are failed."""
    store = state.decisions.store()
    if store is None:
        return
    try:
        for run_id in fail_dead_runs(store.engine):
            log.warning("run %s: its process stopped without finishing; marked failed", run_id)
    except Exception as exc:  # noqa: BLE001 - the next open of the store tries again
        log.warning("cannot look for dead runs (%s)", type(exc).__name__)


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
