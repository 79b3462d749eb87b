"""The monitor page in headless Chromium: an analyst adds a customer file to the monitored base and sees it listed."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_browser import HIKVISION, OVERFLOW_JS, customers_xlsx, page, sign_in, site  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_an_analyst_adds_a_customer_file_to_the_monitor_and_sees_it_listed(page, site: tuple[str, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    base, _ = site
    sign_in(page, base, "alice")
    page.click("header.top nav a:has-text('Monitor')")
    page.wait_for_url(base + "/monitor")
    assert "Nothing is monitored yet" in page.inner_text("main")

    sample = customers_xlsx(tmp_path / "customers.xlsx")
    page.set_input_files("#file", str(sample))
    assert "customers.xlsx" in page.inner_text("#drop-text")
    page.click("button:has-text('Add to the monitored base')")
    page.wait_for_selector("#monitor-added")
    assert "5 customers from customers.xlsx added; 5 monitored" in page.inner_text("#monitor-added")

    upload = page.locator("#uploads tbody tr[data-file='customers.xlsx']")
    assert "alice" in upload.inner_text() and upload.locator("td.num").inner_text() == "5"
    assert page.locator("#monitor-lists tbody tr[data-list=default]").count() == 1
    assert page.inner_text("[data-tile=customers] .n") == "5"
    found = page.locator("#alerts tbody tr[data-kind=initial_match] .name").all_inner_texts()
    assert HIKVISION in found and any("Huawei" in n for n in found)
    assert not any("Nordic" in n or "Acme" in n for n in found)

    page.fill("input[data-filter=alerts]", "hikvision")
    assert page.locator("#alerts tbody tr:visible").count() == 1
    row = page.locator("#alerts tbody tr:visible")
    row.locator("details.sources summary").click()
    assert row.locator("a[href^='https://www.federalregister.gov/']").first.is_visible()  # its sources, linked

    page.set_viewport_size({"width": 400, "height": 900})
    page.wait_for_timeout(100)
    fits = page.evaluate(OVERFLOW_JS)
    assert fits["scroll"] <= fits["width"] and not fits["out"], fits
    assert page.errors == [], page.errors  # no script or CSP errors
