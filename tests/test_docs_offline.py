"""`/docs` renders with the network cut off, and every response carries a same-origin CSP.

Chromium loads the page from a real server on 127.0.0.1; every request the page makes is routed
through the test, which refuses (and records) any that leaves 127.0.0.1. The test fails if one was
made, so a CDN link anywhere in the docs page fails it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from screener.service.app import create_app
    from screener.service.settings import Settings

    home = tmp_path_factory.mktemp("home")
    app = create_app(Settings(db_url=f"sqlite:///{home / 'audit.db'}", secret_key="docs-test", api_keys=["k"]))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.mark.parametrize("path", ["/docs", "/healthz", "/signin", "/openapi.json", "/no-such-page"])
def test_every_response_carries_a_same_origin_csp(base_url: str, path: str) -> None:
    response = httpx.get(base_url + path)
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "script-src 'self'" in csp, (path, csp)
    assert "http" not in csp  # no other origin is allowed anywhere
    assert response.headers.get("x-content-type-options") == "nosniff"


def test_docs_page_names_no_other_origin(base_url: str) -> None:
    html = httpx.get(base_url + "/docs").text
    assert "cdn" not in html.lower() and "https://" not in html and "<script>" not in html


@pytest.mark.browser
def test_docs_render_offline_in_the_browser(base_url: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    outside: list[str] = []

    def only_local(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith("data:"):
            route.continue_()  # type: ignore[attr-defined]
        else:
            outside.append(url)
            route.abort()  # type: ignore[attr-defined]

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_local)
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.goto(base_url + "/docs")
            page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
            assert "screener" in page.inner_text(".swagger-ui .info .title")
            page.wait_for_selector("[data-path=\"/v1/check\"]", timeout=20_000)
            assert not [e for e in errors if "Content Security Policy" in e], errors
        finally:
            browser.close()
    assert outside == [], f"the docs page asked for other origins: {outside}"
