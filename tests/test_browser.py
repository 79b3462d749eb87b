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
    store = Store.open(db)
    store.add_user("alice", PASSWORD)
    store.add_user("sue", PASSWORD, "supervisor")
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


def sign_in(page, base: str, user: str) -> None:  # type: ignore[no-untyped-def]
    page.context.clear_cookies()
    page.goto(base + "/")
    assert "/signin" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(base + "/")


def record_decision(page, name: str, decision: str, comment: str) -> None:  # type: ignore[no-untyped-def]
    row = page.locator(f"#matches tbody tr[data-name='{name}']").first
    row.locator("details.decide summary").click()
    row.locator(f"input[value={decision}]").check()
    row.locator("textarea[name=comment]").fill(comment)
    row.locator("button:has-text('Record decision')").click()
    page.wait_for_load_state()


def test_analyst_round_trip(page, site: tuple[str, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, _ = site
    sign_in(page, base, "alice")

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

    # clear the Hikvision match as a false positive: an exact alias, so it waits for a supervisor
    record_decision(page, HIKVISION, "false_positive", "Different company: HK registry 1234 checked")
    page.wait_for_selector("text=pending approval")
    row = page.locator(f"#matches tbody tr[data-name='{HIKVISION}']")
    assert "Pending approval" in row.inner_text() and "proposed by alice on" in row.inner_text()
    assert row.locator("button:has-text('Approve clearance')").count() == 0  # never by its proposer
    run_url = page.url.split("?")[0]
    sign_in(page, base, "sue")
    page.goto(run_url)
    page.locator(f"#matches tbody tr[data-name='{HIKVISION}'] button:has-text('Approve clearance')").click()
    page.wait_for_selector("text=Clearance approved")
    row = page.locator(f"#matches tbody tr[data-name='{HIKVISION}']")
    assert "Cleared" in row.inner_text() and "cleared by alice on" in row.inner_text()
    assert "approved by sue on" in row.inner_text()
    sign_in(page, base, "alice")

    # upload again: the match is shown as cleared, Huawei still needs review
    upload(page, base, sample)
    row = page.locator(f"#matches tbody tr[data-name='{HIKVISION}']")
    text = row.inner_text()
    assert "Cleared" in text and "cleared by alice on" in text
    assert "Needs review" in page.locator("#matches tbody tr[data-name^='Huawei']").inner_text()
    assert page.inner_text("[data-tile=cleared] .n") == "1"

    with page.expect_download() as info:
        page.click("text=Download Excel report")
    report = tmp_path / "report.xlsx"
    info.value.save_as(report)
    book = openpyxl.load_workbook(report, read_only=True)
    cells = [str(c) for sheet in book.worksheets for r in sheet.iter_rows(values_only=True) for c in r if c]
    assert any(c.lower().startswith("cleared by alice on") and "HK registry 1234" in c for c in cells)
    assert page.errors == [], page.errors  # no script or CSP errors


def test_evidence_binding_and_the_report_round_trip(page, site: tuple[str, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A clearance holds for the same customer only; the downloaded report shows it; a filled-in
    report uploaded back records its decisions row by row."""
    base, _ = site
    sign_in(page, base, "alice")
    book = openpyxl.Workbook()
    book.active.title = "Customers"
    book.active.append(["Customer Name", "Country", "Address"])
    book.active.append(["Dahua Foods Ltd", "US", "12 Main St, Columbus OH"])
    book.active.append(["Huawei Technologies Co Ltd", "CN", "Bantian, Longgang District, Shenzhen"])
    first = tmp_path / "foods.xlsx"
    book.save(first)
    upload(page, base, first)
    record_decision(page, "Dahua Foods Ltd", "false_positive", "Ohio grocery importer")
    page.wait_for_selector("text=Decision recorded")

    with page.expect_download() as info:  # after the review, without screening again
        page.click("text=Download Excel report")
    report = tmp_path / "reviewed.xlsx"
    info.value.save_as(report)
    filled = openpyxl.load_workbook(report)
    sheet = filled["Potential matches"]
    headers = [c.value for c in sheet[1]]
    lines = {r[headers.index("Input name")].value: r for r in sheet.iter_rows(min_row=2)}
    assert lines["Dahua Foods Ltd"][headers.index("Review")].value.startswith("Cleared by alice on ")
    assert lines["Huawei Technologies Co Ltd"][headers.index("Review")].value == "Open"
    huawei = lines["Huawei Technologies Co Ltd"]
    huawei[headers.index("Decision")].value = "confirmed"
    huawei[headers.index("Comment")].value = "same company, Shenzhen HQ"
    filled.save(report)
    page.locator("details.import summary").click()
    page.set_input_files("#decisions-file", str(report))
    page.click("button:has-text('Import decisions')")
    page.wait_for_selector("#imported")
    outcome = page.locator("#imported tbody tr").first.inner_text()
    assert "Huawei" in outcome and "taken" in outcome and "confirmed by alice on" in outcome

    book.active["B2"] = "CN"  # the same name at the listed party's headquarters
    book.active["C2"] = "1199 Bin'an Road, Binjiang, Hangzhou"
    book.active.append(["Dahua Foods Ltd", "US", "12 Main St, Columbus OH"])
    second = tmp_path / "foods2.xlsx"
    book.save(second)
    upload(page, base, second)
    rows = page.locator("#matches tbody tr[data-name='Dahua Foods Ltd']")
    texts = rows.all_inner_texts()
    hq = next(t for t in texts if "this row: CN" in t)
    assert "Needs review" in hq and "cleared on " in hq and "for Dahua Foods Ltd (US, 12 Main St, Columbus OH)" in hq
    assert any("Cleared" in t and "cleared by alice on" in t for t in texts if t != hq)
    assert "Confirmed" in page.locator("#matches tbody tr[data-name^='Huawei']").inner_text()
    assert page.errors == [], page.errors


OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;  // folded away in a closed <details>
    if (r.right > width + 1 || r.left < -1) out.push(`${el.tagName}.${el.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
  }
  return {width, scroll: document.documentElement.scrollWidth, out: out.slice(0, 10)};
}"""


def test_results_page_fits_1366_and_400_px(page, site: tuple[str, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """No element wider than the window, at a laptop's width and a phone's; matches stay compact."""
    base, _ = site
    page.goto(base + "/signin")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(base + "/")
    upload(page, base, customers_xlsx(tmp_path / "customers.xlsx"))
    text = page.inner_text("main")
    assert "What this screen covers" in text and "34 parties" in text and "more than 100" in text
    assert page.locator(".tiles [data-tile=cleared]").count() == 1  # counts by decision
    why = page.locator(f"#matches tbody tr[data-name='{HIKVISION}'] td.why")
    assert why.locator("p.plain").inner_text().startswith("Matched the legal name")
    assert why.locator("details.sources").get_attribute("open") is None  # sources folded away
    assert not why.locator(".trace-text").is_visible()  # and the technical trace
    for width in (1366, 400):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(100)
        page.screenshot(path=str(tmp_path / f"results-{width}.png"), full_page=True)
        found = page.evaluate(OVERFLOW_JS)
        assert found["scroll"] <= found["width"] and not found["out"], (width, found)
        header = page.locator("header.top").bounding_box()
        assert header and header["width"] <= width
        for link in page.locator("header.top nav a, header.top nav button").all():
            box = link.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (width, link.inner_text())
        sentence = why.locator("p.plain").bounding_box()
        assert sentence and sentence["width"] >= min(250, width * 0.6), (width, sentence)  # not a syllable a line
        rows = page.locator("#matches tbody tr").all()
        tallest = max(r.bounding_box()["height"] for r in rows)
        assert tallest < (400 if width > 1000 else 900), (width, tallest)  # one compact row per match
    for path in ("/", "/runs"):  # the upload page and the runs list fit the phone's width too
        page.goto(base + path)
        found = page.evaluate(OVERFLOW_JS)
        assert found["scroll"] <= found["width"] and not found["out"], (path, found)
    assert page.errors == [], page.errors
