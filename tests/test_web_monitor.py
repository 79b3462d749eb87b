"""The monitor page over real HTTP: add a customer file, import a changed list version, run, see exactly what changed."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from listserver import Receiver, running, serve
from monitorfiles import HAVE_CSL, HIKVISION, MISSING, csl_mirror, csl_v2, customers_csv
from test_web import csrf_of

from screener.lists.catalog import find_version, load_named_list
from screener.lists.update import update_list
from screener.review import webhooks
from screener.review.store import Store
from screener.service import refresh
from screener.service.app import create_app
from screener.service.settings import Settings

pytestmark = pytest.mark.skipif(not HAVE_CSL, reason=MISSING)

PASSWORD = "correct horse battery"
TOKEN_PATH = "/in/t0ps3cret"  # a receiver address whose path carries a token: never shown on the page


class Rows(HTMLParser):
    """The `<tr>` attributes and text of one table's body, by the table's id."""

    def __init__(self, html: str, table: str) -> None:
        super().__init__()
        self.table, self.inside, self.rows = table, False, []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.inside = dict(attrs).get("id") == self.table
        elif tag == "tr" and self.inside and any(k.startswith("data-") for k, _ in attrs):
            self.rows.append({k: v or "" for k, v in attrs} | {"text": "", "links": ""})
        elif tag == "a" and self.inside and self.rows:
            self.rows[-1]["links"] += (dict(attrs).get("href") or "") + " "

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside and self.rows:
            self.rows[-1]["text"] += data


def rows(html: str, table: str) -> list[dict[str, str]]:
    return Rows(html, table).rows


def matching(html: str) -> int:
    found = re.search(r'data-tile="matching"><span class="n">(\d+)<', html)
    assert found, "no tile of customers matching now"
    return int(found.group(1))


def sign_in(url: str, user: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=120)
    token = csrf_of(c.get("/signin").text)
    r = c.post("/signin", data={"csrf": token, "username": user, "password": PASSWORD, "next": "/monitor"})
    assert r.status_code == 303 and r.headers["location"] == "/monitor", r.text
    return c


def test_the_page_adds_a_file_and_shows_exactly_the_new_and_vanished_alerts_after_a_new_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCREENER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SCREENER_DB", raising=False)
    monkeypatch.setenv(refresh.HOURS_ENV, "0")  # the run below, and nothing else, re-screens the base
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    mirror = csl_mirror(tmp_path)
    receiver = Receiver(fail_first=1)
    with serve(mirror) as base, serve(receiver) as hook:
        list_url = f"{base}/consolidated.csv"
        monkeypatch.setenv(webhooks.URLS_ENV, hook + TOKEN_PATH)
        monkeypatch.setenv(webhooks.SECRET_ENV, "s")
        update_list("csl", url=list_url)
        first = find_version("csl").content_hash
        store = Store.open(db)
        store.add_user("ann", PASSWORD, "analyst")
        store.add_user("root", PASSWORD, "admin")
        store.close()
        app = create_app(Settings(lists=["csl"], db_url=db, secret_key="monitor-page-secret"))
        with running(app) as url:
            anonymous = httpx.Client(base_url=url, timeout=60)
            assert anonymous.get("/monitor").headers["location"].startswith("/signin")
            assert anonymous.post("/monitor/run", data={"csrf": "x"}).headers["location"].startswith("/signin")

            c = sign_in(url, "ann")
            page = c.get("/monitor")
            assert page.status_code == 200 and 'href="/monitor"' in page.text and "Nothing is monitored yet" in page.text
            assert page.headers["content-security-policy"].startswith("default-src")
            content = customers_csv(tmp_path / "customers.csv").read_bytes()
            assert c.post("/monitor/customers", files={"file": ("customers.csv", content)}).status_code == 403  # no CSRF
            added = c.post("/monitor/customers", data={"csrf": csrf_of(page.text)},
                           files={"file": ("customers.csv", content)})
            assert added.status_code == 200, added.text
            assert "5 customers from customers.csv added; 5 monitored" in added.text

            page = c.get("/monitor").text
            (upload,) = rows(page, "uploads")
            assert upload["data-file"] == "customers.csv" and "ann" in upload["text"] and upload["text"].strip().endswith("5")
            (listed,) = rows(page, "monitor-lists")
            assert listed["data-list"] == "csl" and listed["data-behind"] == "no" and first[:16] in listed["text"]
            assert matching(page) == 3  # C-1, C-3 and C-5
            initial = rows(page, "alerts")
            assert {(a["data-customer-id"], a["data-kind"]) for a in initial} == {
                ("C-1", "initial_match"), ("C-3", "initial_match"), ("C-5", "initial_match")}
            (delivery,) = rows(page, "deliveries")  # the receiver failed once: retried, then delivered
            assert delivery["data-delivered"] == "yes" and "HTTP 500" in delivery["text"]
            assert "t0ps3cret" not in page and hook.removeprefix("http://") in delivery["text"]

            csl_v2(mirror.root / "consolidated.csv")  # Hikvision added, Atlas Sanatgaran removed
            assert update_list("csl", url=list_url).changed
            second = find_version("csl").content_hash
            page = c.get("/monitor").text
            assert rows(page, "monitor-lists")[0]["data-behind"] == "yes"

            ran = c.post("/monitor/run", data={"csrf": csrf_of(page)})
            assert ran.status_code == 303 and ran.headers["location"] == "/monitor?msg=ran"
            page = c.get(ran.headers["location"]).text
            assert "Re-screened against the current list versions" in page
            shown = rows(page, "alerts")
            latest = max(int(a["data-screening"]) for a in shown)
            changed = [a for a in shown if int(a["data-screening"]) == latest]
            assert {(a["data-customer-id"], a["data-kind"], a["data-state"]) for a in changed} == {
                ("C-2", "new_match_added_party", "open"),
                ("C-1", "match_party_removed", "vanished"),
                ("C-5", "match_party_removed", "vanished"),
            }
            assert len(shown) == len(initial) + len(changed)  # nothing else appeared
            assert all(second[:16] in a["text"] for a in changed)
            (new,) = [a for a in changed if a["data-customer-id"] == "C-2"]
            party = next(p for p in load_named_list("csl").parties if p.id == new["data-entity"])
            assert party.name == HIKVISION and HIKVISION in new["text"]
            assert all(s.url and s.url in new["links"] for s in party.sources)  # linked as on the results page
            assert re.search(r"\b\d+\.\d\b", new["text"])  # its score
            (listed,) = rows(page, "monitor-lists")
            assert listed["data-behind"] == "no" and second[:16] in listed["text"]
            assert len(rows(page, "deliveries")) == 2
            assert matching(page) == 2  # C-2 and C-3

            again = c.post("/monitor/run", data={"csrf": csrf_of(page)})
            assert again.headers["location"] == "/monitor?msg=current"
            assert len(rows(c.get("/monitor").text, "alerts")) == len(shown)

            admin = sign_in(url, "root")  # sees the base, does not change it
            page = admin.get("/monitor").text
            assert len(rows(page, "alerts")) == len(shown) and 'action="/monitor/customers"' not in page
            refused = admin.post("/monitor/run", data={"csrf": csrf_of(page)})
            assert refused.status_code == 403
