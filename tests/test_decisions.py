"""Decisions an auditor would accept, through every shell: `check` and `screen` as real processes, the
API and the page over real HTTP on 127.0.0.1, a real report filled in with openpyxl and imported back,
and the audit trail edited behind the application's back in the real SQLite file."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openpyxl
import pytest
from test_service_api import Server as ApiServer
from test_web import PASSWORD, Server, csrf_of, signin, upload, wait_run

from screener.files.report import MATCH_KEY_HEADERS
from screener.lists.partylist import default_list
from screener.models import InputRow
from screener.review.decisions import Evidence
from screener.review.store import Store
from screener.screening import Screener
from screener.service.app import create_app
from screener.service.settings import Settings

DAHUA_FOODS = "Dahua Foods Ltd"
DAHUA_HQ = "1199 Bin'an Road, Binjiang, Hangzhou"
HIKVISION = "Hangzhou Hikvision Digital Technology Co., Ltd."  # an exact alias: four eyes
KEY = "decisions-test-key-0123456789"


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "SCREENER_HOME": str(home)}
    for var in ("SCREENER_DEBUG", "SCREENER_DB"):
        env.pop(var, None)
    return subprocess.run([sys.executable, "-m", "screener", *args], capture_output=True, text=True, env=env,
                          cwd=home, timeout=180, check=False)


def team(store: Store) -> Store:
    for name, role in (("ann", "analyst"), ("sue", "supervisor"), ("sam", "supervisor"), ("ada", "admin")):
        if not store.user_exists(name):
            store.add_user(name, PASSWORD, role)
    return store


def older_list_screener() -> Screener:
    """The bundled list as it was one version ago (one party fewer): a decision made then."""
    lst = default_list()
    before = lst.model_copy(update={"parties": [p for p in lst.parties if p.id != "hikvision"], "version": "previous"})
    return Screener([("default", before)])


def clear(store: Store, screener: Screener, name: str, country: str | None = None, address: str | None = None,
          user: str = "ann") -> object:
    (row,) = screener.screen_rows([InputRow(name=name, country=country, address=address)])
    m = row.matches[0]
    lst = dict(screener.lists)[m.list_key]
    party = next(p for p in lst.parties if p.id == m.entity_id)
    return store.decide(user, Evidence.of(row), m, party, list_hash=lst.content_hash, list_version=lst.version,
                        threshold=screener.threshold, decision="false_positive", comment="Ohio grocery importer")


# --- check, as a process ------------------------------------------------------------------------


def test_check_does_not_release_a_clearance_made_for_another_customer(tmp_path: Path) -> None:
    store = team(Store.open(f"sqlite:///{tmp_path / 'screener.db'}"))
    clear(store, Screener.default(), DAHUA_FOODS, country="US")
    store.close()

    same = run("check", "--party", "DAHUA FOODS LTD.", "--country", "US", home=tmp_path)
    assert same.returncode == 0 and "RELEASE" in same.stdout, same.stdout + same.stderr
    hq = run("check", "--party", DAHUA_FOODS, "--country", "CN", "--address", DAHUA_HQ, home=tmp_path)
    assert hq.returncode == 1 and "HOLD" in hq.stdout, hq.stdout + hq.stderr
    assert re.search(r"cleared on \d{4}-\d\d-\d\d by ann for Dahua Foods Ltd \(US\); this row: CN, 1199 Bin'an Road",
                     hq.stdout), hq.stdout
    bare = run("check", "--party", DAHUA_FOODS, "--json", home=tmp_path)
    assert bare.returncode == 1 and json.loads(bare.stdout)["decision"] == "HOLD"


def test_check_holds_a_strong_clearance_until_another_supervisor_approves(tmp_path: Path) -> None:
    store = team(Store.open(f"sqlite:///{tmp_path / 'screener.db'}"))
    made = clear(store, Screener.default(), HIKVISION, country="CN")
    assert made.pending
    pending = run("check", "--party", HIKVISION, "--country", "CN", home=tmp_path)
    assert pending.returncode == 1 and "clearance pending approval: proposed by ann" in pending.stdout
    refused = run("decisions", "approve", str(made.id), "--user", "ann", home=tmp_path)
    assert refused.returncode == 2 and "only a supervisor" in refused.stderr
    listed = run("decisions", "pending", home=tmp_path)
    assert listed.returncode == 0 and f"{made.id}\t" in listed.stdout
    approved = run("decisions", "approve", str(made.id), "--user", "sue", home=tmp_path)
    assert approved.returncode == 0 and "approved by sue" in approved.stdout, approved.stderr
    released = run("check", "--party", HIKVISION, "--country", "CN", home=tmp_path)
    assert released.returncode == 0 and "RELEASE" in released.stdout, released.stdout


def test_check_reopens_a_clearance_made_on_another_list_version(tmp_path: Path) -> None:
    store = team(Store.open(f"sqlite:///{tmp_path / 'screener.db'}"))
    clear(store, older_list_screener(), DAHUA_FOODS, country="US")
    store.close()
    proc = run("check", "--party", DAHUA_FOODS, "--country", "US", home=tmp_path)
    assert proc.returncode == 1 and "the list version changed" in proc.stdout, proc.stdout


# --- the API, over HTTP -------------------------------------------------------------------------


@pytest.fixture()
def api(tmp_path: Path) -> Iterator[tuple[httpx.Client, Store]]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SCREENER_HOME", str(tmp_path))
        env.delenv("SCREENER_DB", raising=False)
        env.delenv("SCREENER_API_KEYS", raising=False)
        db = f"sqlite:///{tmp_path / 'audit.db'}"
        store = team(Store.open(db))
        server = ApiServer(create_app(Settings(db_url=db, api_keys=[KEY], secret_key="x")))
        with server.client(Authorization=f"Bearer {KEY}") as client:
            yield client, store
        server.stop()


def check(client: httpx.Client, name: str, country: str | None = None, address: str | None = None,
          customer_id: str | None = None) -> dict:
    party = {"role": "end_user", "name": name, "country": country, "address": address, "customer_id": customer_id}
    r = client.post("/v1/check", json={"id": "SO-1", "parties": [party]})
    assert r.status_code == 200, r.text
    return r.json()


def test_the_api_applies_decisions_only_where_the_evidence_agrees(api: tuple[httpx.Client, Store]) -> None:
    client, store = api
    assert check(client, DAHUA_FOODS, "US")["decision"] == "HOLD"
    clear(store, Screener.default(), DAHUA_FOODS, country="US")
    assert check(client, DAHUA_FOODS, "US")["decision"] == "RELEASE"
    hq = check(client, DAHUA_FOODS, "CN", DAHUA_HQ)
    assert hq["decision"] == "HOLD" and "this row: CN, 1199 Bin'an Road" in hq["parties"][0]["review"]
    screened = client.post("/v1/screen", json={"parties": [{"name": DAHUA_FOODS, "country": "US"},
                                                          {"name": DAHUA_FOODS, "country": "CN"}]}).json()
    first, second = screened["results"]
    assert (first["review_status"], first["reviewed_by"], first["review_comment"]) == (
        "cleared", "ann", "Ohio grocery importer")
    assert second["review_status"] == "open" and second["reviewed_by"] is None


def test_the_api_binds_a_clearance_to_the_customer_id(api: tuple[httpx.Client, Store]) -> None:
    client, store = api
    screener = Screener.default()
    (row,) = screener.screen_rows([InputRow(name=DAHUA_FOODS, country="US", fields={"Customer ID": "C-1"})])
    lst = default_list()
    party = next(p for p in lst.parties if p.id == "dahua")
    store.decide("ann", Evidence.of(row), row.matches[0], party, list_hash=lst.content_hash, list_version=lst.version,
                 threshold=screener.threshold, decision="false_positive", comment="our customer C-1")
    assert check(client, DAHUA_FOODS, "US", customer_id="C-1")["decision"] == "RELEASE"
    other = check(client, DAHUA_FOODS, "US", customer_id="C-2")
    assert other["decision"] == "HOLD" and other["parties"][0]["review"].endswith("this row: US, customer id C-2")
    assert check(client, DAHUA_FOODS, "US")["decision"] == "HOLD"


def test_the_api_holds_a_strong_clearance_until_approved_and_reopens_on_a_new_version(
    api: tuple[httpx.Client, Store],
) -> None:
    client, store = api
    made = clear(store, Screener.default(), HIKVISION, country="CN")
    d = check(client, HIKVISION, "CN")
    assert d["decision"] == "HOLD" and d["parties"][0]["review"].startswith("clearance pending approval")
    store.approve("sue", made.id)
    assert check(client, HIKVISION, "CN")["decision"] == "RELEASE"
    clear(store, older_list_screener(), DAHUA_FOODS, country="US")
    old = check(client, DAHUA_FOODS, "US")
    assert old["decision"] == "HOLD" and "the list version changed" in old["parties"][0]["review"]


# --- screen, the report and its round trip ------------------------------------------------------


def fill_in(report: Path, decisions: dict[str, tuple[str, str]]) -> None:
    """What an analyst does in Excel: pick a Decision and write a Comment on the Potential matches sheet."""
    book = openpyxl.load_workbook(report)
    sheet = book["Potential matches"]
    headers = [c.value for c in sheet[1]]
    name_at = headers.index(MATCH_KEY_HEADERS["input name"])
    for line in sheet.iter_rows(min_row=2):
        if line[name_at].value in decisions:
            line[headers.index("Decision")].value, line[headers.index("Comment")].value = decisions[line[name_at].value]
    book.save(report)


def test_a_filled_in_report_is_imported_back_row_by_row(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'screener.db'}"
    team(Store.open(db)).close()
    source = tmp_path / "customers.csv"
    source.write_text(
        "Customer,Country,Address,Customer ID\n"
        f"{DAHUA_FOODS},US,12 Main St Columbus,C-1\n"
        f"\"{HIKVISION}\",CN,,C-2\n"
        "Hikvision Europe BV,NL,,C-3\n"
        "Huawei Technologies Co Ltd,CN,,C-4\n"
        "Nordic Precision AB,SE,,C-5\n", encoding="utf-8")
    report = tmp_path / "report.xlsx"
    first = run("screen", str(source), "-o", str(report), "--record", "--user", "ann", home=tmp_path)
    assert first.returncode == 1, first.stderr

    book = openpyxl.load_workbook(report)
    sheet = book["Potential matches"]
    headers = [c.value for c in sheet[1]]
    assert {"Review", "Decision", "Comment"} <= set(headers)
    (validation,) = [v for v in sheet.data_validations.dataValidation if v.type == "list"]
    assert validation.formula1 == '"false positive,confirmed,escalate"'
    assert {line[headers.index("Review")] for line in sheet.iter_rows(min_row=2, values_only=True)} == {"Open"}

    fill_in(report, {
        DAHUA_FOODS: ("false positive", "Ohio grocery importer"),
        HIKVISION: ("false positive", "HK registry 1234"),
        "Hikvision Europe BV": ("escalate", "ask legal"),
        "Huawei Technologies Co Ltd": ("confirmed", ""),
    })
    imported = run("decisions", "import", str(report), "--user", "ann", "--db", db, home=tmp_path)
    assert imported.returncode == 1, imported.stdout + imported.stderr  # one line was refused
    lines = imported.stdout.splitlines()
    assert any(DAHUA_FOODS in line and ": taken: cleared by ann" in line for line in lines), lines
    assert any(HIKVISION in line and "taken: clearance pending approval" in line and "supervisor" in line
               for line in lines), lines
    assert any("Hikvision Europe BV" in line and "taken: escalated by ann" in line for line in lines), lines
    assert any("Huawei" in line and "refused: a comment is required" in line for line in lines), lines
    assert "3 taken, 0 already recorded, 1 refused" in imported.stderr
    again = run("decisions", "import", str(report), "--user", "ann", "--db", db, home=tmp_path)
    assert "0 taken, 3 already recorded, 1 refused" in again.stderr, again.stdout + again.stderr
    fill_in(report, {"Hikvision Europe BV": ("confirmed", "it is them after all")})
    admin = run("decisions", "import", str(report), "--user", "ada", "--db", db, home=tmp_path)
    assert "Hikvision Europe BV / " in admin.stdout and "refused: ada is an admin" in admin.stdout, admin.stdout

    out = tmp_path / "second.jsonl"
    second = run("screen", str(source), "-o", str(out), home=tmp_path)
    assert second.returncode == 1, second.stderr  # Hikvision waits for a supervisor; the rest stays open
    records = {r["input_name"]: r for r in map(json.loads, out.read_text().splitlines())}
    dahua = records[DAHUA_FOODS]
    assert (dahua["review_status"], dahua["reviewed_by"], dahua["review_comment"]) == (
        "cleared", "ann", "Ohio grocery importer")
    assert dahua["reviewed_at"].startswith(dahua["reviewed_at"][:4]) and "T" in dahua["reviewed_at"]
    assert records[HIKVISION]["review_status"] == "pending_approval"
    assert records["Hikvision Europe BV"]["review_status"] == "escalated"
    assert records["Huawei Technologies Co Ltd"]["review_status"] == "open"
    assert records["Nordic Precision AB"]["review_status"] is None

    csv_out = tmp_path / "second.csv"
    assert run("screen", str(source), "-o", str(csv_out), home=tmp_path).returncode == 1
    header = csv_out.read_text(encoding="utf-8-sig").splitlines()[0]
    for field in ("review_status", "reviewed_by", "reviewed_at", "review_comment", "approved_by"):
        assert field in header


def test_an_edited_audit_row_is_named_by_audit_verify(tmp_path: Path) -> None:
    path = tmp_path / "screener.db"
    store = team(Store.open(f"sqlite:///{path}"))
    clear(store, Screener.default(), DAHUA_FOODS, country="US")
    store.close()
    ok = run("audit", "verify", home=tmp_path)
    assert ok.returncode == 0 and "audit trail intact" in ok.stdout, ok.stdout + ok.stderr
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE decisions SET country = 'CN'")  # someone widens a clearance by hand
    broken = run("audit", "verify", home=tmp_path)
    assert broken.returncode == 1 and "decision 1 differs from audit record" in broken.stdout
    assert "country" in broken.stdout
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE decisions SET country = 'US'")
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE action = 'decision'")
    tampered = run("audit", "verify", home=tmp_path)
    assert tampered.returncode == 1 and re.search(r"audit record \d+ \(decision by mallory", tampered.stdout)


# --- the page, over HTTP ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with pytest.MonkeyPatch.context() as env:  # Server sets SCREENER_HOME; both are restored after
        env.setenv("SCREENER_HOME", os.environ.get("SCREENER_HOME", ""))
        env.delenv("SCREENER_DB", raising=False)
        srv = Server(tmp_path_factory.mktemp("home"))
        team(srv.store)
        yield srv
        srv.stop()


def customers(*rows: tuple[str, str, str]) -> bytes:
    lines = ["Customer,Country,Address"] + [",".join('"' + c.replace('"', '""') + '"' for c in r) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def decide_on_page(c: httpx.Client, run_url: str, name: str, decision: str, comment: str) -> str:
    html = c.get(run_url).text
    row = re.search(r'<tr id="row-(\d+)"[^>]*data-name="' + re.escape(name) + '"', html)
    assert row, f"{name} is not on the page"
    form = {"csrf": csrf_of(html), "seq": row.group(1), "candidate": "0", "decision": decision, "comment": comment}
    r = c.post(f"{run_url}/review", data=form)
    assert r.status_code == 303
    return r.headers["location"]


def test_the_page_keeps_four_eyes_and_evidence(site: Server) -> None:
    ann = signin(site, "ann")
    first = wait_run(ann, upload(ann, customers((HIKVISION, "CN", ""), (DAHUA_FOODS, "US", ""))).headers["location"])
    assert "msg=pending" in decide_on_page(ann, first, HIKVISION, "false_positive", "HK registry 1234")
    assert "msg=saved" in decide_on_page(ann, first, DAHUA_FOODS, "false_positive", "Ohio grocery importer")
    html = ann.get(first).text
    assert "Pending approval" in html and "A supervisor other than ann must approve it" in html
    assert "Approve clearance" not in html  # an analyst never sees the button
    tiles = dict(re.findall(r'data-tile="(\w+)"><span class="n">(\d+)</span>', html))
    assert tiles == {"open": "0", "pending": "1", "cleared": "1", "confirmed": "0"}
    assert 'name="decision_id"' not in html

    pending = next(d for d in site.store.list_decisions() if d.input_name == HIKVISION)
    forged = {"csrf": csrf_of(html), "seq": "1", "decision_id": str(pending.id)}
    assert "msg=approver" in ann.post(f"{first}/approve", data=forged).headers["location"]
    sue = signin(site, "sue")
    page = sue.get(first).text
    assert "Approve clearance" in page
    r = sue.post(f"{first}/approve", data={**forged, "csrf": csrf_of(page)})
    assert "msg=approved" in r.headers["location"]
    html = sue.get(first).text
    assert re.search(r"cleared by ann on [\d-]+, approved by sue on [\d-]+: HK registry 1234", html)

    second = wait_run(ann, upload(ann, customers(
        (HIKVISION, "CN", ""), (DAHUA_FOODS, "US", ""), (DAHUA_FOODS, "CN", DAHUA_HQ))).headers["location"])
    rows = list(site.store.run_rows(second.rsplit("/", 1)[1], status="potential_match"))
    by = {(r.input_name, r.country): r for r in rows}
    assert by[(HIKVISION, "CN")].review_decision == "false_positive"
    assert by[(DAHUA_FOODS, "US")].review_decision == "false_positive"
    hq = by[(DAHUA_FOODS, "CN")]
    assert hq.review_decision is None and "this row: CN, 1199 Bin&#39;an Road" in ann.get(second).text


def test_the_downloaded_report_shows_the_decisions_and_comes_back_through_the_page(site: Server, tmp_path: Path) -> None:
    ann = signin(site, "ann")
    name = DAHUA_FOODS  # 92.5, not an exact alias: one person may clear it
    run_url = wait_run(ann, upload(ann, customers((name, "GB", ""), ("Huawei Technologies Co Ltd", "CN", ""))
                                   ).headers["location"])
    assert "msg=saved" in decide_on_page(ann, run_url, name, "false_positive", "Dutch distributor, KvK 1234")
    report = tmp_path / "report.xlsx"
    report.write_bytes(ann.get(f"{run_url}/report.xlsx").content)
    sheet = openpyxl.load_workbook(report)["Potential matches"]
    headers = [c.value for c in sheet[1]]
    lines = {r[headers.index(MATCH_KEY_HEADERS["input name"])]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    review = lines[name][headers.index("Review")]
    assert re.fullmatch(r"Cleared by ann on \d{4}-\d\d-\d\d: Dutch distributor, KvK 1234", review), review
    assert lines["Huawei Technologies Co Ltd"][headers.index("Review")] == "Open"

    fill_in(report, {"Huawei Technologies Co Ltd": ("confirmed", "same company, Shenzhen")})
    page = ann.get(run_url).text
    r = ann.post(f"{run_url}/decisions", data={"csrf": csrf_of(page)},
                 files={"file": ("filled.xlsx", report.read_bytes())})
    assert r.status_code == 200, r.text[:500]
    assert "1 taken" in r.text and "confirmed by ann on" in r.text
    huawei = next(d for d in site.store.list_decisions() if d.input_name == "Huawei Technologies Co Ltd")
    assert huawei.decision == "confirmed" and huawei.run_id == run_url.rsplit("/", 1)[1]
    assert list(site.app.state.web.upload_dir.iterdir()) == []
    broken = ann.post(f"{run_url}/decisions", data={"csrf": csrf_of(page)},
                      files={"file": ("broken.xlsx", b"PK\x03\x04 not a zip")})
    assert broken.status_code == 400 and "broken.xlsx" in broken.text and "Traceback" not in broken.text


def test_admins_manage_users_and_run_visibility(site: Server) -> None:
    ann = signin(site, "ann")
    assert ann.get("/users").status_code == 403
    ada = signin(site, "ada")
    page = ada.get("/users").text
    assert 'data-user="ann"' in page and "(admin)" in page
    token = csrf_of(page)
    r = ada.post("/users", data={"csrf": token, "action": "add", "name": "tom", "password": PASSWORD,
                                 "role": "analyst"})
    assert r.status_code == 303 and site.store.role_of("tom") == "analyst"
    ada.post("/users", data={"csrf": token, "action": "role", "name": "tom", "role": "supervisor"})
    assert site.store.role_of("tom") == "supervisor"
    tom_run = wait_run(signin(site, "tom"), upload(signin(site, "tom"), customers(("Acme GmbH", "DE", ""))
                                                    ).headers["location"])
    ada.post("/users", data={"csrf": token, "action": "policy", "run_visibility": "owner", "four_eyes_score": "95"})
    try:
        assert ann.get(tom_run).status_code == 404
        assert tom_run.rsplit("/", 1)[1] not in ann.get("/runs").text
        assert signin(site, "sue").get(tom_run).status_code == 200
    finally:
        ada.post("/users", data={"csrf": token, "action": "policy", "run_visibility": "team", "four_eyes_score": "95"})
    actions = [e for e in site.store.engine.connect().exec_driver_sql("SELECT action, actor FROM audit_log")]
    assert ("role_changed", "ada") in actions and ("policy_changed", "ada") in actions and ("signin", "ann") in actions
