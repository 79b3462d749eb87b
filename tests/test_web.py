"""The upload page over real HTTP: a uvicorn server on 127.0.0.1, httpx as the browser."""

from __future__ import annotations

import os
import re
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openpyxl
import pytest
import uvicorn
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from screener.review.store import Store
from screener.service.app import create_app
from screener.service.settings import Settings

SECRET = "test-secret-for-signing-sessions"
PASSWORD = "correct horse battery"
HIKVISION = "Hangzhou Hikvision Digital Technology Co., Ltd."
SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://evil.example","click")'
HOSTILE_MATCH = 'Hikvision Digital Technology <img src=x onerror="alert(2)">'
MAX_UPLOAD = 256 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.db = f"sqlite:///{home / 'audit.db'}"
        os.environ["SCREENER_HOME"] = str(home)
        self.app = create_app(
            Settings(db_url=self.db, secret_key=SECRET, max_upload_bytes=MAX_UPLOAD, session_hours=1)
        )
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = Store.open(self.db)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    saved = {k: os.environ.get(k) for k in ("SCREENER_HOME", "SCREENER_DB")}
    os.environ.pop("SCREENER_DB", None)
    srv = Server(tmp_path_factory.mktemp("home"))
    srv.store.add_user("alice", PASSWORD)
    srv.store.add_user("mallory", PASSWORD)
    yield srv
    srv.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def signin(server: Server, user: str = "alice", password: str = PASSWORD) -> httpx.Client:
    c = server.client()
    token = csrf_of(c.get("/signin").text)
    r = c.post("/signin", data={"csrf": token, "username": user, "password": password, "next": "/"})
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    return c


def csv_bytes(*names: str, header: str = "Customer,Country") -> bytes:
    lines = [header] + ['"' + n.replace('"', '""') + '",CN' for n in names]
    return ("\n".join(lines) + "\n").encode("utf-8")


def upload(c: httpx.Client, content: bytes, name: str = "customers.csv") -> httpx.Response:
    token = csrf_of(c.get("/").text)
    return c.post("/upload", data={"csrf": token}, files={"file": (name, content)})


def wait_run(c: httpx.Client, job_url: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = c.get(job_url + "/status").json()
        if status["state"] == "done":
            return status["url"]
        assert status["state"] != "failed", status
        time.sleep(0.05)
    raise AssertionError("screening did not finish")


@pytest.fixture(scope="module")
def run_url(server: Server) -> str:
    c = signin(server)
    r = upload(c, csv_bytes(HIKVISION, "Nordic Precision AB", SCRIPT, FORMULA, HOSTILE_MATCH))
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    return wait_run(c, r.headers["location"])


# --- access -----------------------------------------------------------------------------------


def test_every_page_but_signin_refuses_anonymous_access(server: Server, run_url: str) -> None:
    c = server.client()
    run_id = run_url.rsplit("/", 1)[1]
    for path in ("/", "/runs", run_url, f"{run_url}?page=2", f"{run_url}/report.xlsx",
                 "/jobs/AAAAAAAAAAAAAAAAAAAAAAAA", "/runs/nosuchrun"):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/signin"), path
        assert run_id not in r.text and "Hikvision" not in r.text
    assert c.get("/jobs/AAAAAAAAAAAAAAAAAAAAAAAA/status").status_code == 401
    decisions = len(server.store.list_decisions())
    for path in ("/upload", "/signout", f"{run_url}/review", "/upload/AAAAAAAAAAAAAAAAAAAAAAAA/columns"):
        r = c.post(path, data={"csrf": "x", "seq": "1", "candidate": "0", "decision": "false_positive",
                               "comment": "anonymous"})
        assert r.status_code == 303 and r.headers["location"].startswith("/signin"), path
    assert len(server.store.list_decisions()) == decisions
    page = c.get("/signin")
    assert page.status_code == 200 and 'name="password"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert c.get("/static/style.css").status_code == 200


def test_wrong_password_open_redirect_and_throttling(server: Server) -> None:
    c = server.client()
    token = csrf_of(c.get("/signin").text)
    r = c.post("/signin", data={"csrf": token, "username": "alice", "password": "wrong", "next": "/"})
    assert r.status_code == 401 and "Wrong user name or password" in r.text
    assert "screener_session" not in r.cookies
    token = csrf_of(r.text)
    r = c.post("/signin", data={"csrf": token, "username": "alice", "password": PASSWORD,
                                "next": "//evil.example/"})
    assert r.status_code == 303 and r.headers["location"] == "/"

    m = server.client()
    for _ in range(5):
        r = m.post("/signin", data={"csrf": csrf_of(m.get("/signin").text), "username": "mallory",
                                    "password": "guess", "next": "/"})
        assert r.status_code == 401
    r = m.post("/signin", data={"csrf": csrf_of(m.get("/signin").text), "username": "mallory",
                                "password": PASSWORD, "next": "/"})
    assert r.status_code == 429 and "screener_session" not in r.cookies


def test_csrf_token_is_required_on_every_post(server: Server, run_url: str) -> None:
    c = signin(server)
    other = signin(server)
    foreign = csrf_of(other.get("/").text)
    files = {"file": ("customers.csv", csv_bytes("Nordic Precision AB"))}
    assert c.post("/upload", files=files).status_code == 403
    assert c.post("/upload", data={"csrf": foreign}, files=files).status_code == 403
    decisions = len(server.store.list_decisions())
    form = {"seq": "1", "candidate": "0", "decision": "false_positive", "comment": "no token"}
    assert c.post(f"{run_url}/review", data=form).status_code == 403
    assert c.post(f"{run_url}/review", data={**form, "csrf": foreign}).status_code == 403
    assert len(server.store.list_decisions()) == decisions
    assert c.post("/signout", data={}).status_code == 403
    assert c.get("/").status_code == 200  # still signed in
    fresh = server.client()  # no pre-session cookie
    r = fresh.post("/signin", data={"csrf": "guess", "username": "alice", "password": PASSWORD})
    assert r.status_code == 403 and "screener_session" not in r.cookies


def test_sessions_expire_and_signing_out_revokes(server: Server) -> None:
    class Hours10Ago(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 10 * 3600

    old = URLSafeTimedSerializer(SECRET, salt="screener-web", signer=Hours10Ago)
    cookie = old.dumps({"u": "alice", "c": "x", "s": "old"}, salt="session")
    c = server.client()
    c.cookies.set("screener_session", cookie)
    assert c.get("/").status_code == 303
    c.cookies.set("screener_session", cookie[:-2] + "xx")
    assert c.get("/").status_code == 303

    c = signin(server)
    value = c.cookies["screener_session"]
    r = c.post("/signout", data={"csrf": csrf_of(c.get("/").text)})
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    replay = server.client()
    replay.cookies.set("screener_session", value)
    assert replay.get("/").status_code == 303


# --- pages ------------------------------------------------------------------------------------


def test_results_show_matches_first_with_sources_and_escape_names(server: Server, run_url: str) -> None:
    c = signin(server)
    r = c.get(run_url)
    assert r.status_code == 200
    html = r.text
    assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=" in html
    assert "=HYPERLINK(&#34;http://evil.example&#34;" in html
    matches, every_row = html.split('id="rows"', 1)
    assert HIKVISION in matches and "Nordic Precision AB" not in matches and "Nordic Precision AB" in every_row
    assert 'href="https://www.federalregister.gov/d/2019-22210"' in matches  # a cited notice, linked
    assert "Uighur rights: US blacklists Hikvision" in matches  # an article's headline with its quote
    assert "<blockquote>" in matches
    assert f'{run_url}/report.xlsx' in html
    assert r.headers["x-frame-options"] == "DENY"


def test_results_show_the_runs_warnings_and_the_rows_it_skipped(server: Server) -> None:
    """What the report's Summary sheet says of a run shows on its page too, from the audit store."""
    c = signin(server)
    content = b"Customer,Country\nNordic Precision AB,\n,\nBeta Tools GmbH,\n"
    html = c.get(wait_run(c, upload(c, content, "gaps.csv").headers["location"])).text
    assert ('<li>gaps.csv: sheet &#34;gaps&#34;: 1 blank row(s) between data rows were skipped, no record each '
            "(rows 3)</li>") in html
    assert "data-run-warning>Warning: " in html and "is empty in every row" in html


def test_report_download_is_the_run_report(server: Server, run_url: str, tmp_path: Path) -> None:
    c = signin(server)
    r = c.get(f"{run_url}/report.xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    (tmp_path / "r.xlsx").write_bytes(r.content)
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert "Potential matches" in book.sheetnames
    for path in ("/runs/..%2F..%2Faudit.db/report.xlsx", "/runs/nosuchrun/report.xlsx", "/runs/a.b/report.xlsx"):
        r = c.get(path)
        assert r.status_code == 404 and not r.content.startswith(b"PK") and b"SQLite" not in r.content


def test_name_column_is_asked_when_not_recognised(server: Server) -> None:
    c = signin(server)
    r = upload(c, b"Col A,Col B\nNordic Precision AB,SE\nHikvision,CN\n", name="odd headers.csv")
    assert r.status_code == 200 and "Which column holds the names?" in r.text
    assert '<option value="Col A"' in r.text and '<option value="Col B"' in r.text
    action = re.search(r'action="(/upload/[^"]+/columns)"', r.text).group(1)
    bad = c.post(action, data={"csrf": csrf_of(r.text), "name_column": "../../etc/passwd"})
    assert bad.status_code == 400

    r = upload(c, b"Col A,Col B\nNordic Precision AB,SE\nHikvision,CN\n", name="odd headers.csv")
    action = re.search(r'action="(/upload/[^"]+/columns)"', r.text).group(1)
    r = c.post(action, data={"csrf": csrf_of(r.text), "name_column": "Col A", "country_column": "Col B"})
    assert r.status_code == 303
    page = c.get(wait_run(c, r.headers["location"])).text
    assert "odd headers.csv" in page and "Nordic Precision AB" in page


def test_bad_uploads_get_one_line_and_leave_no_file(server: Server) -> None:
    c = signin(server)
    upload_dir = server.app.state.web.upload_dir
    assert stat.S_IMODE(upload_dir.stat().st_mode) == 0o700
    cases = [
        (b"MZ\x90\x00", "tool.exe", 400, "Upload an Excel workbook"),
        (b"PK\x03\x04 not really a zip", "broken.xlsx", 400, "broken.xlsx"),
        (b"", "empty.csv", 400, "empty"),
        (b"x" * (MAX_UPLOAD + 1), "big.csv", 413, ""),
    ]
    for content, name, status, text in cases:
        r = upload(c, content, name=name)
        assert r.status_code == status, (name, r.text[:300])
        assert text in r.text
        assert "Traceback" not in r.text and str(upload_dir) not in r.text and "/tmp" not in r.text
    assert list(upload_dir.iterdir()) == []


def test_review_records_who_and_applies_to_the_next_upload(server: Server) -> None:
    c = signin(server)
    name = "Hikvision Digital Technology Co"
    r = upload(c, csv_bytes(name))
    page_url = wait_run(c, r.headers["location"])
    html = c.get(page_url).text
    seq = re.search(r'name="seq" value="(\d+)"', html).group(1)
    form = {"csrf": csrf_of(html), "seq": seq, "candidate": "0", "decision": "false_positive", "comment": "  "}
    r = c.post(f"{page_url}/review", data=form)
    assert r.status_code == 303 and "msg=comment" in r.headers["location"]
    assert "A comment is required" in c.get(r.headers["location"]).text
    r = c.post(f"{page_url}/review", data={**form, "comment": "Different company: HK registry 1234"})
    # an exact alias: the clearance waits for a supervisor other than alice (issue 13: four eyes)
    assert r.status_code == 303 and "msg=pending" in r.headers["location"]
    (decision,) = [d for d in server.store.list_decisions() if d.input_name == name]
    assert decision.user == "alice" and decision.decision == "false_positive" and decision.pending
    assert "clearance pending approval: proposed by alice on" in c.get(page_url).text
    if not server.store.user_exists("victor"):
        server.store.add_user("victor", PASSWORD, "supervisor")
    v = signin(server, "victor")
    approval = {"csrf": csrf_of(v.get(page_url).text), "seq": seq, "decision_id": str(decision.id)}
    assert "msg=approved" in v.post(f"{page_url}/approve", data=approval).headers["location"]
    assert "cleared by alice on" in c.get(page_url).text

    again = wait_run(c, upload(c, csv_bytes(name)).headers["location"])
    row = next(server.store.run_rows(again.rsplit("/", 1)[1], status="potential_match"))
    assert row.review_decision == "false_positive" and row.review.startswith("cleared by alice on ")
    assert re.search(r'data-tile="cleared"><span class="n">1</span>', c.get(again).text)
    assert list(server.app.state.web.upload_dir.iterdir()) == []


def test_a_failed_run_says_why_on_the_progress_page(server: Server) -> None:
    c = signin(server)
    settings = server.app.state.web.settings
    saved = settings.max_upload_rows
    settings.max_upload_rows = 3
    try:
        r = upload(c, csv_bytes("Alpha AB", "Beta AB", "Gamma AB", "Delta AB", "Epsilon AB"), name="five.csv")
        job = r.headers["location"]
        deadline = time.monotonic() + 30
        while (status := c.get(job + "/status").json())["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        settings.max_upload_rows = saved
    assert status["state"] == "failed" and "more than 3 rows" in status["error"] and status["total"] == 6
    page = c.get(job)
    assert page.status_code == 200 and "more than 3 rows" in page.text and "Traceback" not in page.text
    assert list(server.app.state.web.upload_dir.iterdir()) == []
    assert not [p for p in (server.home / "reports").iterdir() if p.name.startswith(".")]
