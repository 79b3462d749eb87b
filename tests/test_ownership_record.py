"""The ownership outcome recorded with a run: a real SQLite file written and read back, the schema
upgraded from the version before, the audit export, and the results page over real HTTP."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_store import record
from test_web import Server, signin, upload, wait_run

from screener.models import RowResult, Status
from screener.ownership.assess import OwnershipAssessment
from screener.review.audit import export_audit, verify
from screener.review.schema import SCHEMA_VERSION, audit_log, migrate, run_rows
from screener.review.store import Store
from screener.screening import Screener

IN_FORCE = "2026-12-01"
HIKVISION = "Hangzhou Hikvision Digital Technology Co Ltd"


def covered(name: str = "Charlie Imaging GmbH") -> RowResult:
    """A customer whose name is clear, owned 60% by Hikvision through its row's owner columns."""
    assessment = OwnershipAssessment(Screener.default(), as_of=IN_FORCE)
    result = Screener.default().screen_name(name).model_copy(update={"sheet": "Customers", "row": 2})
    return assessment.apply(result, [(HIKVISION, 60.0, 'customers.xlsx, row 2, columns "Parent" and "Share"')])


def test_the_ownership_outcome_is_recorded_and_read_back_from_the_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    row = covered()
    assert row.status is Status.POTENTIAL_MATCH and row.ownership.outcome == "covered"
    store = Store.open(url)
    run_id = record(store, [row, RowResult(input_name="Nordic AB", status=Status.CLEAR)])
    store.close()
    again = Store.open(url)  # a new engine on the same file: nothing kept in memory
    first, second = again.run_rows(run_id)
    assert first.ownership == row.ownership and second.ownership is None
    assert first.ownership.chains[0].links[0].where == 'customers.xlsx, row 2, columns "Parent" and "Share"'
    assert again.get_run_row(run_id, 1).ownership.listed_owners[0].entity_id == "hikvision"
    out = tmp_path / "rows.csv"
    export_audit(again, out, run_id=run_id)
    with out.open(encoding="utf-8-sig") as fh:
        lines = list(csv.DictReader(fh))
    assert lines[0]["ownership"].startswith("potential match by ownership: listed owners hold 60%")
    assert f"{HIKVISION} (listed: hikvision" in lines[0]["ownership"] and lines[1]["ownership"] == ""
    again.close()


def test_an_edited_ownership_outcome_breaks_the_audit_chain(tmp_path: Path) -> None:
    """The ownership outcome is in the run's rows digest (digest version 2): turning "covered" into
    nothing outside the application is found by `verify`, like an edited status or score."""
    store = Store.open(f"sqlite:///{tmp_path / 'audit.db'}")
    run_id = record(store, [covered(), RowResult(input_name="Nordic AB", status=Status.CLEAR)])
    assert verify(store).ok
    with store.engine.begin() as conn:
        conn.execute(run_rows.update().where(run_rows.c.seq == 1).values(ownership=None))
    check = verify(store)
    assert not check.ok and f"the rows of run {run_id} differ" in (check.problem or "")
    store.close()


def test_a_run_recorded_before_digest_version_2_still_verifies(tmp_path: Path) -> None:
    """A run's audit record written before the ownership column names no digest version: its
    rows are checked over the ten columns it was digested on, so upgrading breaks nothing."""
    import json

    from screener.review.audit import canonical, record_hash, rows_digest

    store = Store.open(f"sqlite:///{tmp_path / 'audit.db'}")
    record(store, [RowResult(input_name="Nordic AB", status=Status.CLEAR, score=12.0)])
    with store.engine.begin() as conn:  # rewrite the last record as the old code wrote it, rehashed
        last = conn.execute(sa.select(audit_log).order_by(audit_log.c.id.desc())).first()
        details = json.loads(last.details)
        assert details.pop("rows_digest") == 2
        cols = [run_rows.c[c] for c in ("seq", "sheet", "row", "input_name", "country", "address", "status",
                                         "score", "entity_id", "list_key")]
        details["rows_sha256"] = rows_digest(tuple(x) for x in conn.execute(sa.select(*cols)))
        text = canonical(details)
        conn.execute(audit_log.update().where(audit_log.c.id == last.id).values(
            details=text, hash=record_hash(last.id, last.at, last.actor, last.action, last.subject, text,
                                           last.prev_hash)))
    assert verify(store).ok
    store.close()


def test_upgrade_from_version_3_keeps_rows_and_records_ownership(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    engine = sa.create_engine(url)
    assert SCHEMA_VERSION >= 4 and migrate(engine, target=3) == 3
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO runs (id, run_id, status, user, source, started_at, threshold, inputs, lists, counts, "
            "rows_read, rows_reported) VALUES (1, 'oldrun', 'complete', 'bob', 'cli', '2026-05-01 10:00:00', 75, "
            "'[]', '[]', '{\"potential_match\": 1}', 1, 1)"))
        conn.execute(sa.text(
            "INSERT INTO run_rows (run, seq, sheet, row, input_name, country, status, score, entity_id, "
            "customer_id) VALUES (1, 1, 'S', 2, 'Old Customer Ltd', 'DE', 'potential_match', 91, 'hikvision', 'C-7')"))
        assert "ownership" not in {c["name"] for c in sa.inspect(conn).get_columns("run_rows")}
    engine.dispose()
    store = Store.open(url)
    assert store.schema_version() == SCHEMA_VERSION
    assert "ownership" in {c["name"] for c in sa.inspect(store.engine).get_columns("run_rows")}
    (old,) = store.run_rows("oldrun")
    assert (old.input_name, old.customer_id, old.score, old.ownership) == ("Old Customer Ltd", "C-7", 91, None)
    run_id = record(store, [covered("Delta Optics")])
    assert next(store.run_rows(run_id)).ownership.outcome == "covered"
    store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    saved = {k: os.environ.get(k) for k in ("SCREENER_HOME", "SCREENER_DB", "SCREENER_AS_OF")}
    os.environ.pop("SCREENER_DB", None)
    os.environ["SCREENER_AS_OF"] = IN_FORCE  # inherited by the job worker that screens the upload
    srv = Server(tmp_path_factory.mktemp("home"))
    srv.store.add_user("alice", "correct horse battery")
    yield srv
    srv.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_results_page_shows_the_ownership_chain_and_the_list_entry(server: Server) -> None:
    c = signin(server)
    content = ("Customer,Country,Parent,Parent Share %\n"
               f"Charlie Imaging GmbH,DE,{HIKVISION},60\n"
               "Nordic Precision AB,SE,Lake Fund,100\n").encode()
    r = upload(c, content, "customers.csv")
    assert r.status_code == 303, r.text
    run_url = wait_run(c, r.headers["location"])
    rows = list(server.store.run_rows(run_url.rsplit("/", 1)[-1]))
    assert rows[0].status is Status.POTENTIAL_MATCH and rows[0].ownership.outcome == "covered"
    assert rows[1].status is Status.CLEAR and rows[1].ownership.outcome == "no_listed_owner"
    html = c.get(run_url).text
    matches, rest = html.split('id="ownership"', 1)
    section, every_row = rest.split('id="rows"', 1)
    assert 'href="#own-1">by ownership</a>' in matches  # the row is listed among the potential matches
    assert "Potential match by ownership (50% rule)" in section
    assert "Listed owners hold <strong>60%</strong>" in section and "in force on 2026-12-01" in section
    assert f"{HIKVISION} (listed) holds 60% of Charlie Imaging GmbH." in section
    assert "List entry: <code>hikvision</code>" in section and "US Entity List" in section
    assert 'customers.csv, sheet &#34;customers&#34;, row 2, columns &#34;Parent&#34; and &#34;Parent Share %&#34;' \
        in section
    assert "Nordic Precision AB" not in section  # no listed owner: nothing to explain
    assert "No listed owner" in every_row and "Potential match by ownership (50% rule)" in every_row


def test_clearing_the_name_on_the_page_leaves_the_ownership_outcome_open(server: Server) -> None:
    from test_web import csrf_of

    server.store.set_policy("four_eyes_score", "100")  # one analyst may clear this name alone
    c = signin(server)
    content = b"Customer,Parent,Parent Share %\nHikvision Digitl Technology,Megvii Technology,60\n"
    run_url = wait_run(c, upload(c, content, "owned.csv").headers["location"])
    html = c.get(run_url).text
    assert "Potential match by ownership (50% rule)</a>: clearing the name does not clear the ownership" in html
    form = {"csrf": csrf_of(html), "seq": "1", "candidate": "0", "decision": "false_positive",
            "comment": "Different company: registry 42"}
    r = c.post(f"{run_url}/review", data=form)
    assert r.status_code == 303 and "msg=saved" in r.headers["location"], r.headers
    html = c.get(run_url).text
    assert 'data-tile="cleared"><span class="n">0</span>' in html
    assert 'class="verdict hit"' in html and "1 potential match not cleared by review" in html
    every_row = html.split('id="rows"', 1)[1]
    assert 'data-status="potential_match"' in every_row and 'data-status="cleared"' not in every_row


def test_a_run_cut_between_buffering_and_digesting_a_row_still_verifies(tmp_path: Path, monkeypatch) -> None:
    """SIGINT lands anywhere in the main thread, also after a row was buffered and before it was
    digested; `abort` then writes that row as evidence, and the failed run's record must agree with
    the rows as stored (found by a fresh-clone CI run, where verify said "they were edited")."""
    import screener.review.store as store_module

    store = Store.open(f"sqlite:///{tmp_path / 'audit.db'}")
    rec = store_module.Recorder(store, "ann", "cli", batch=2)
    real, calls = store_module.digest_line, []

    def interrupted(values):
        calls.append(values)
        if len(calls) == 3:
            raise KeyboardInterrupt("signal SIGINT")
        return real(values)

    monkeypatch.setattr(store_module, "digest_line", interrupted)
    with pytest.raises(KeyboardInterrupt):
        for name in ("Alpha AB", "Beta GmbH", "Gamma SA"):
            rec.observe(RowResult(input_name=name, status=Status.CLEAR))
    rec.abort("interrupted")
    (run,) = store.list_runs(include_incomplete=True)
    assert run.status == "failed" and len(list(store.run_rows(run.run_id))) == 3
    assert verify(store).ok, verify(store).problem
    store.close()
