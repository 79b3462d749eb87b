"""The upload page in headless Chromium (Debian's build, driven by Playwright): the analyst's round trip.

Sign in, upload a workbook, see its potential matches, clear one with a comment, upload again and
see it cleared, download the Excel report and find the review in it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import uvicorn

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery"
HIKVISION = "Hangzhou Hikvision Digital Technology Co., Ltd."
CUSTOMERS = [
    (HIKVISION, "CN", "No. 555 Qianmo Road, Binjiang District, Hangzhou"),
    ("Nordic Precision AB", "SE", "Kungsgatan 12, Stockholm"),
    ("Huawei Technologies Co Ltd", "CN", "Bantian, Longgang District, Shenzhen"),
    ("Acme Widgets GmbH", "DE", "Hauptstrasse 5, Berlin"),
    ("Northwind Traders Ltd", "GB", "12 High Street, Leeds"),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from screener.review.store import Store
    from screener.service.app import create_app
    from screener.service.settings import Settings

    home = tmp_path_factory.mktemp("home")
    saved = {k: os.environ.get(k) for k in ("SCREENER_HOME", "SCREENER_DB")}
    os.environ["SCREENER_HOME"] = str(home)
    os.environ.pop("SCREENER_DB", None)
    db = f"sqlite:///{home / 'audit.db'}"
    Store.open(db).add_user("alice", PASSWORD)
    app = create_app(Settings(db_url=db, secret_key="browser-test-secret"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", home
    server.should_exit = True
    thread.join(10)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture()
def page(site: tuple[str, Path]) -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        pg.errors = []  # type: ignore[attr-defined]
        pg.on("console", lambda m: m.type == "error" and pg.errors.append(m.text))  # type: ignore[attr-defined]
        yield pg
        browser.close()


def customers_xlsx(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Customers"
    sheet.append(["Customer Name", "Country", "Address"])
    for row in CUSTOMERS:
        sheet.append(list(row))
    book.save(path)
    return path


def upload(page, base: str, file: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/")
    page.set_input_files("#file", str(file))
    assert file.name in page.inner_text("#drop-text")
    page.click("button:has-text('Screen')")
    page.wait_for_url("**/runs/*", timeout=60_000)
    page.wait_for_selector("h2:has-text('Potential matches')")


def test_analyst_round_trip(page, site: tuple[str, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, _ = site
    page.goto(base + "/")
    assert "/signin" in page.url
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(base + "/")

    sample = customers_xlsx(tmp_path / "customers.xlsx")
    upload(page, base, sample)
    matches = page.locator("#matches tbody tr")
    names = matches.locator(".name").all_inner_texts()
    assert any(HIKVISION in n for n in names) and any("Huawei" in n for n in names)
    assert not any("Nordic" in n or "Acme" in n for n in names)
    assert page.locator("#rows tbody tr").count() == len(CUSTOMERS)
    assert page.locator("#matches a[href^='https://www.federalregister.gov/']").count() >= 1

    # client-side filter and sort
    page.fill("input[data-filter=matches]", "hikvision")
    assert page.locator("#matches tbody tr:visible").count() == 1
    page.fill("input[data-filter=matches]", "")
    page.click("#matches button.sort[data-key=score]")
    scores = [float(s) for s in page.locator("#matches tbody tr .score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)

    shot = Path(os.environ.get("SCREENER_SCREENSHOT") or tmp_path / "results.png")
    page.screenshot(path=str(shot), full_page=True)

    # clear the Hikvision match as a false positive
    row = page.locator(f"#matches tbody tr[data-name='{HIKVISION}']")
    row.locator("details.decide summary").click()
    row.locator("input[value=false_positive]").check()
    row.locator("textarea[name=comment]").fill("Different company: HK registry 1234 checked")
    row.locator("button:has-text('Record decision')").click()
    page.wait_for_selector("text=Decision recorded")
    row = page.locator(f"#matches tbody tr[data-name='{HIKVISION}']")
    assert "Cleared" in row.inner_text() and "cleared by alice on" in row.inner_text()

    # upload again: the match is shown as cleared, Huawei still needs review
    upload(page, base, sample)
    row = page.locator(f"#matches tbody tr[data-name='{HIKVISION}']")
    text = row.inner_text()
    assert "Cleared" in text and "cleared by alice on" in text
    assert "Needs review" in page.locator("#matches tbody tr[data-name^='Huawei']").inner_text()
    assert "1 cleared" in page.inner_text(".tiles")

    with page.expect_download() as info:
        page.click("text=Download Excel report")
    report = tmp_path / "report.xlsx"
    info.value.save_as(report)
    book = openpyxl.load_workbook(report, read_only=True)
    cells = [str(c) for sheet in book.worksheets for r in sheet.iter_rows(values_only=True) for c in r if c]
    assert any(c.startswith("cleared by alice on") and "HK registry 1234" in c for c in cells)
    assert page.errors == [], page.errors  # no script or CSP errors
