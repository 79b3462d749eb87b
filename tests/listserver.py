"""Real HTTP servers on 127.0.0.1 for the update and monitor tests: a list mirror and a webhook receiver."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Mirror:
    """Serves the files of `root` with ETag and Last-Modified, answering conditional requests with 304.

    `validators=False` sends neither (the same-hash path), `truncate=True` declares the full length
    but sends half the body and closes the connection.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.validators = True
        self.truncate = False
        self.requests: list[tuple[str, dict[str, str], int]] = []  # path, headers, status

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = self.root / handler.path.lstrip("/").split("?")[0]
        headers = {k.lower(): v for k, v in handler.headers.items()}
        if not path.is_file():
            self.requests.append((handler.path, headers, 404))
            handler.send_error(404)
            return
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        modified = formatdate(path.stat().st_mtime, usegmt=True)
        if self.validators and headers.get("if-none-match") == etag:
            self.requests.append((handler.path, headers, 304))
            handler.send_response(304)
            handler.send_header("ETag", etag)
            handler.end_headers()
            return
        self.requests.append((handler.path, headers, 200))
        handler.send_response(200)
        handler.send_header("Content-Type", "text/csv")
        handler.send_header("Content-Length", str(len(body)))
        if self.validators:
            handler.send_header("ETag", etag)
            handler.send_header("Last-Modified", modified)
        handler.end_headers()
        if self.truncate:
            handler.wfile.write(body[: len(body) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            return
        handler.wfile.write(body)


class Receiver:
    """A webhook receiver: records every POST; answers 500 to the first `fail_first` of them."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.received: list[tuple[dict[str, str], bytes, int]] = []

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        status = 500 if len(self.received) < self.fail_first else 204
        self.received.append(({k.lower(): v for k, v in handler.headers.items()}, body, status))
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body, status in self.received if status < 300]


@contextmanager
def running(app: Any) -> Iterator[str]:
    """An ASGI app (the screener service) under uvicorn on a free port of 127.0.0.1; yields its base URL."""
    import socket
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the service did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def serve(app: Mirror | Receiver) -> Iterator[str]:
    """Run `app` on a free port of 127.0.0.1 in a thread; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            app.handle(self)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
