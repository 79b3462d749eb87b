"""The monitored base: re-screened after `lists update`, exactly the new and vanished matches, sent signed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from listserver import Mirror, Receiver, running, serve
from monitorfiles import HAVE_CSL, HIKVISION, MISSING, csl_mirror, csl_v2, customers_csv

from screener.files.readers import open_input
from screener.lists.catalog import load_named_list
from screener.lists.update import update_list
from screener.models import InputRow
from screener.review import webhooks
from screener.review.monitor import Monitor, Screening
from screener.screening import Screener

SECRET = "test-secret"

pytestmark = pytest.mark.skipif(not HAVE_CSL, reason=MISSING)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCREENER_HOME", str(tmp_path / "home"))
    for name in (webhooks.URLS_ENV, webhooks.SECRET_ENV, "SCREENER_DB"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def _first_version(tmp_path: Path) -> Mirror:
    """The mirror serving the 2025 file, and csl updated from it once."""
    mirror = csl_mirror(tmp_path)
    with serve(mirror) as base:
        update_list("csl", url=f"{base}/consolidated.csv")
    return mirror


def _current() -> Screener:
    return Screener([("csl", load_named_list("csl"))])


def _monitored(tmp_path: Path) -> tuple[Monitor, list[InputRow], list[Screening]]:
    """A base of the five customers, added against the current csl."""
    monitor = Monitor.open(f"sqlite:///{tmp_path / 'audit.db'}")
    with open_input(customers_csv(tmp_path / "c.csv")) as source:
        rows = list(source.rows())
    return monitor, rows, monitor.add(rows, _current()).screenings


def test_update_rescreens_the_base_and_signed_alerts_reach_the_webhook(tmp_path: Path, home: Path) -> None:
    mirror = csl_mirror(tmp_path)
    receiver = Receiver()
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    with serve(mirror) as base, serve(receiver) as hook:
        url = f"{base}/consolidated.csv"
        assert update_list("csl", url=url).outcome == "new_version"
        env = {**os.environ, "SCREENER_HOME": str(home), "SCREENER_DB": db,
               webhooks.URLS_ENV: f"{hook}/in", webhooks.SECRET_ENV: SECRET}
        added = subprocess.run([sys.executable, "-m", "screener", "monitor", "add", str(customers_csv(tmp_path / "c.csv")),
                                "--list", "csl"], env=env, capture_output=True, text=True, check=False)
        assert added.returncode == 1, added.stderr  # Atlas and Rosneft Trade match already
        assert "5 customers added" in added.stdout
        initial = receiver.payloads()
        assert len(initial) == 1
        assert {(a["customer_id"], a["kind"]) for a in initial[0]["alerts"]} == {
            ("C-1", "initial_match"), ("C-5", "initial_match"), ("C-3", "initial_match")}

        csl_v2(mirror.root / "consolidated.csv")
        updated = subprocess.run([sys.executable, "-m", "screener", "lists", "update", "--source", "csl",
                                  "--url", url], env=env, capture_output=True, text=True, check=False)
        assert updated.returncode == 0, updated.stderr
        assert "monitor: csl" in updated.stdout and "webhooks" in updated.stdout

    headers, body, status = receiver.received[-1]
    assert status == 204
    assert webhooks.verify(SECRET, headers["x-screener-timestamp"], body, headers["x-screener-signature"])
    assert not webhooks.verify("another secret", headers["x-screener-timestamp"], body, headers["x-screener-signature"])
    sent = json.loads(body)
    got = {(a["customer_id"], a["kind"], a["entity_id"].split(":")[0]) for a in sent["alerts"]}
    assert got == {
        ("C-2", "new_match_added_party", "csl"),  # Hikvision was added
        ("C-1", "match_party_removed", "csl"),  # Atlas Sanatgaran was removed
        ("C-5", "match_party_removed", "csl"),
    }
    new_version = load_named_list("csl")
    assert sent["screening"]["to_version"] == new_version.content_hash
    monitor = Monitor.open(db)
    try:
        assert monitor.lists()["csl"][0] == new_version.content_hash
        listed = monitor.alerts(screening=sent["screening"]["id"])
        assert {(a.customer_id, a.kind) for a in listed} == {(c, k) for c, k, _ in got}
        assert all(a.state == ("open" if a.kind.startswith("new") else "vanished") for a in listed)
        log = webhooks.delivery_log(monitor.engine)
        assert [d["delivered"] for d in log] == [True, True]
    finally:
        monitor.close()

    shown = subprocess.run([sys.executable, "-m", "screener", "monitor", "alerts", "--json"],
                           env={**os.environ, "SCREENER_HOME": str(home), "SCREENER_DB": db},
                           capture_output=True, text=True, check=False)
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) == 6


def test_a_second_run_at_the_same_version_finds_nothing_and_a_failing_receiver_is_retried(
    tmp_path: Path, home: Path
) -> None:
    mirror = csl_mirror(tmp_path)
    with serve(mirror) as base:
        update_list("csl", url=f"{base}/consolidated.csv")
        monitor, _, _ = _monitored(tmp_path)
        try:
            assert monitor.rescreen(_current()) == []
            csl_v2(mirror.root / "consolidated.csv")
            assert update_list("csl", url=f"{base}/consolidated.csv").changed
            (screening,) = monitor.rescreen(_current())
            receiver = Receiver(fail_first=2)
            with serve(receiver) as hook:
                delivered = monitor.notify(screening, urls=[f"{hook}/in"], secret=SECRET, backoff=0.01)
            assert delivered == {f"{hook}/in": True}
            assert [s for _, _, s in receiver.received] == [500, 500, 204]
            bodies = {b for _, b, _ in receiver.received}
            assert len(bodies) == 1  # the same delivery, retried
            ids = {h["x-screener-delivery"] for h, _, _ in receiver.received}
            assert len(ids) == 1
            log = webhooks.delivery_log(monitor.engine)
            assert [(d["attempt"], d["status_code"], d["delivered"]) for d in reversed(log)] == [
                (1, 500, False), (2, 500, False), (3, 204, True)]
        finally:
            monitor.close()


def test_an_unreachable_receiver_is_logged_as_not_delivered(tmp_path: Path, home: Path) -> None:
    _first_version(tmp_path)
    monitor, _, (screening,) = _monitored(tmp_path)
    try:
        with serve(Receiver()) as hook:
            dead = hook  # the port is closed once the server stops
        assert monitor.notify(screening, urls=[f"{dead}/in"], secret=SECRET, attempts=3, backoff=0.01) == {
            f"{dead}/in": False}
        log = webhooks.delivery_log(monitor.engine)
        assert len(log) == 3 and not any(d["delivered"] for d in log) and all(d["error"] for d in log)
    finally:
        monitor.close()


def test_a_clearance_that_holds_for_the_new_version_is_recorded_and_not_sent(tmp_path: Path, home: Path) -> None:
    from screener.lists.importers import import_csl
    from screener.review.decisions import Evidence

    mirror = csl_mirror(tmp_path)
    (tmp_path / "v2").mkdir()
    csl_v2(tmp_path / "v2" / "consolidated.csv")  # named as served: the file name is part of the content hash
    v2 = import_csl(tmp_path / "v2" / "consolidated.csv").list.model_copy(update={"name": "csl"})
    with serve(mirror) as base:
        update_list("csl", url=f"{base}/consolidated.csv")
        monitor, rows, _ = _monitored(tmp_path)
        try:
            # an analyst already cleared C-2 against the Hikvision record of the coming version
            monitor.store.add_user("ann", "a long enough password 1", "analyst")
            c2 = next(r for r in rows if r.fields.get("Customer ID") == "C-2")
            result = Screener([("csl", v2)]).screen_row(InputRow(**c2.model_dump()))
            party = next(p for p in v2.parties if p.id == result.matches[0].entity_id)
            monitor.store.add_user("sue", "a long enough password 2", "supervisor")
            made = monitor.store.decide("ann", Evidence.of(result), result.matches[0], party,
                                        list_hash=v2.content_hash, list_version=v2.version, threshold=75.0,
                                        decision="false_positive", comment="a distributor of that name, registry 123")
            monitor.store.approve("sue", made.id, "checked the registry")  # an exact name needs four eyes
            csl_v2(mirror.root / "consolidated.csv")
            update_list("csl", url=f"{base}/consolidated.csv")
            (screening,) = monitor.rescreen(_current())
            assert load_named_list("csl").content_hash == v2.content_hash
            (cleared,) = [a for a in screening.alerts if a.customer_id == "C-2"]
            assert cleared.state == "cleared" and "ann" in (cleared.review or ""), cleared
            receiver = Receiver()
            with serve(receiver) as hook:
                monitor.notify(screening, urls=[f"{hook}/in"], secret=SECRET)
            (payload,) = receiver.payloads()
            assert {a["customer_id"] for a in payload["alerts"]} == {"C-1", "C-5"}  # the vanished ones only
        finally:
            monitor.close()


def test_the_api_adds_customers_and_lists_their_alerts(tmp_path: Path, home: Path) -> None:
    import httpx

    from screener.service.app import create_app
    from screener.service.settings import Settings

    _first_version(tmp_path)
    settings = Settings(lists=["csl"], api_keys=["k"], db_url=f"sqlite:///{tmp_path / 'audit.db'}")
    with running(create_app(settings)) as url, httpx.Client(base_url=url, timeout=60) as client:
        body = {"customers": [{"name": "Atlas Sanatgaran", "country": "IR", "customer_id": "C-1"},
                              {"name": "Siemens AG", "country": "DE", "customer_id": "C-4"}]}
        assert client.post("/v1/monitor/customers", json=body).status_code == 401  # a key is needed
        added = client.post("/v1/monitor/customers", json=body, headers={"X-API-Key": "k"})
        assert added.status_code == 200, added.text
        (screening,) = added.json()["screenings"]
        assert [(a["customer_id"], a["kind"]) for a in screening["alerts"]] == [("C-1", "initial_match")]
        listed = client.get("/v1/monitor/alerts", headers={"X-API-Key": "k"}).json()
        assert [a["id"] for a in listed] == [a["id"] for a in screening["alerts"]]
        assert added.json()["added"] == 2
        repeated = client.post("/v1/monitor/customers", json=body, headers={"X-API-Key": "k"}).json()
        assert (repeated["added"], repeated["already"]) == (0, 2) and not repeated["screenings"][0]["alerts"]
        refused = client.post("/v1/monitor/customers", json={"customers": []}, headers={"X-API-Key": "k"})
        assert refused.status_code == 422


def test_customers_added_with_a_screener_behind_the_catalog_are_screened_against_the_current_version(
    tmp_path: Path, home: Path
) -> None:
    """A service between two reloads still holds the old version: the base must not go back to it."""
    from screener.lists.catalog import find_version

    mirror = csl_mirror(tmp_path)
    with serve(mirror) as base:
        update_list("csl", url=f"{base}/consolidated.csv")
        monitor, _, _ = _monitored(tmp_path)
        try:
            stale = _current()
            csl_v2(mirror.root / "consolidated.csv")
            assert update_list("csl", url=f"{base}/consolidated.csv").changed
            v2 = find_version("csl").content_hash
            monitor.rescreen(_current())
            later = InputRow(name=HIKVISION, country="CN", row=2, fields={"Customer ID": "C-9"})
            (screening,) = monitor.add([later], stale).screenings
            assert screening.from_version == screening.to_version == v2 and monitor.lists()["csl"][0] == v2
            assert [(a.customer_id, a.kind, a.party_name) for a in screening.alerts] == [
                ("C-9", "initial_match", HIKVISION)]  # a party of the new version only
        finally:
            monitor.close()


def test_every_customer_is_screened_against_every_monitored_list_whichever_upload_named_it(
    tmp_path: Path, home: Path
) -> None:
    """Found from outside: customers added against one list were never screened against a list the
    base was already monitored against (nor the base against a list first named by a later upload)
    until that list's next version, and then alerted as changes of it. A party listed on csl must
    be found the moment its customer is added, whatever list the upload named."""
    _first_version(tmp_path)
    monitor, _, _ = _monitored(tmp_path)  # five customers against csl
    try:
        later = InputRow(name="Rosneft Trade Limited", country="CY", row=2, fields={"Customer ID": "C-6"})
        screenings = monitor.add([later], Screener.default()).screenings  # this upload names the bundled list only
        by_list = {s.list_key: s for s in screenings}
        assert set(by_list) == {"default", "csl"}
        assert by_list["default"].customers == 6  # monitored for the first time: the whole base
        assert by_list["csl"].customers == 1 and by_list["csl"].from_version == by_list["csl"].to_version
        assert [(a.customer_id, a.kind, a.list_key) for a in by_list["csl"].alerts] == [
            ("C-6", "initial_match", "csl")]
        assert {a.customer_id for a in by_list["default"].alerts} == {"C-2"}  # Hikvision, on the bundled list
        again = later.model_copy(update={"address": "Limassol"})  # its id known, its evidence changed
        assert monitor.add([again], Screener.default()).screenings[0].customers == 1  # the upload only
    finally:
        monitor.close()


def test_a_customer_master_uploaded_again_is_kept_once_and_alerts_once(tmp_path: Path, home: Path) -> None:
    """Found from outside: the same file added twice doubled the base, so every later alert came
    twice. A row with a kept customer's id refreshes that customer (screened again when its evidence
    changed); a row without an id that repeats a kept one cell for cell is already monitored."""
    _first_version(tmp_path)
    monitor, rows, first = _monitored(tmp_path)
    try:
        assert monitor.customer_count() == 5 and len(first[0].alerts) == 3
        again = monitor.add(rows, _current())
        assert (again.added, again.updated, again.already) == (0, 0, 5)
        assert [s.customers for s in again.screenings] == [0] and not again.screenings[0].alerts
        assert again.text("c.csv") == "0 customers from c.csv added, 5 already monitored"
        moved = rows[2].model_copy(update={"address": "Limassol"})  # C-3, Rosneft Trade, has moved
        renamed = rows[3].model_copy(update={"name": "Rosneft Trade Limited"})  # C-4 by another name
        anonymous = InputRow(name="Atlas Sanatgaran", country="IR", row=9)  # no id: a customer of its own
        changed = monitor.add([moved, renamed, anonymous, anonymous], _current())
        assert (changed.added, changed.updated, changed.already) == (2, 1, 1)
        assert monitor.customer_count() == 7  # C-4 kept under both names: a name is never dropped
        # C-3's match is held already: refreshing its evidence raises no second alert
        assert sorted((a.customer_id or "", a.kind) for a in changed.screenings[0].alerts) == [
            ("", "initial_match"), ("C-4", "initial_match")]
        assert monitor.add([anonymous], _current()).already == 1 and monitor.customer_count() == 7
        # the party columns of one row share its id: each is a customer of its own
        buyer = InputRow(name="Nordic Precision AB", country="SE", row=3, column="Buyer", fields={"Customer ID": "C-8"})
        consignee = buyer.model_copy(update={"name": "Atlas Sanatgaran", "column": "Consignee"})
        both = monitor.add([buyer, consignee], _current())
        assert (both.added, both.updated) == (2, 0) and monitor.customer_count() == 9
    finally:
        monitor.close()


def test_an_owner_that_a_new_version_lists_raises_an_alert_by_ownership(tmp_path: Path, home: Path) -> None:
    """A monitored customer with a clean name whose Parent column names Hikvision: when a list
    version adds Hikvision, the customer gets a new alert, by ownership, naming the owner and its
    share (an unlisted owner raises none)."""
    mirror = csl_mirror(tmp_path)
    path = tmp_path / "owned.csv"
    path.write_text("Customer ID,Customer name,Country,Parent,Parent Share %\n"
                    f'O-1,Charlie Imaging GmbH,DE,"{HIKVISION}",60\n'
                    "O-2,Delta Optics BV,NL,Nordwind Holding AG,100\n", encoding="utf-8")
    with serve(mirror) as base:
        update_list("csl", url=f"{base}/consolidated.csv")
        monitor = Monitor.open(f"sqlite:///{tmp_path / 'audit.db'}")
        try:
            with open_input(path) as source:
                rows = list(source.rows())
            (added,) = monitor.add(rows, _current()).screenings
            assert monitor.alerts(screening=added.id) == []  # Hikvision is not in the 2025 file
            csl_v2(mirror.root / "consolidated.csv")
            assert update_list("csl", url=f"{base}/consolidated.csv").changed
            (screening,) = monitor.rescreen(_current())
            (alert,) = monitor.alerts(screening=screening.id)
            assert (alert.customer_id, alert.kind, alert.state) == ("O-1", "new_match_added_party", "open")
            assert alert.matched_alias.startswith(f"by ownership: {HIKVISION}")
            assert alert.explanation.startswith(f'by ownership: owner "{HIKVISION}" holds 60%')
            assert monitor.rescreen(_current()) == []  # the same version again: nothing new
        finally:
            monitor.close()


def test_monitor_add_keeps_every_party_column_named(tmp_path: Path, home: Path) -> None:
    """`--name-column` repeated kept the last column only (as `--sheet` did for screen): the buyers
    of the file below were never monitored, without a word."""
    source = tmp_path / "two.csv"
    source.write_text("Buyer,Consignee,Country\nMegvii Technology,Nordic AB,CN\nAcme Ltd,Widgets GmbH,DE\n",
                      encoding="utf-8")
    env = {**os.environ, "SCREENER_HOME": str(home), "SCREENER_DB": f"sqlite:///{tmp_path / 'audit.db'}"}
    added = subprocess.run([sys.executable, "-m", "screener", "monitor", "add", str(source), "--name-column",
                            "Buyer", "--name-column", "Consignee"], env=env, capture_output=True, text=True, check=False)
    assert added.returncode == 1, added.stderr  # Megvii, a buyer, matches
    assert added.stdout.startswith("4 customers added; 4 monitored") and "NEW   Megvii Technology" in added.stdout
