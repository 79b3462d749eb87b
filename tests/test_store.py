"""The audit store on a real SQLite file: migrations, users, recording runs, decisions, export."""

from __future__ import annotations

import csv
import io
import resource
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
import sqlalchemy as sa
import typer
from postgres import postgres_server, postgres_url  # noqa: F401 - fixtures; tests/ is on sys.path
from typer.testing import CliRunner

from screener.cli import audit
from screener.lists.partylist import default_list
from screener.models import (
    InputRow,
    Party,
    RestrictedList,
    RowResult,
    RunSummary,
    Status,
)
from screener.pipeline import screen_files
from screener.review.audit import append_event, export_audit, run_event, stored_rows_digest, verify
from screener.review.decisions import DecisionRecord, Evidence, input_key, party_hash
from screener.review.schema import SCHEMA_VERSION, StoreError, migrate
from screener.review.store import Store
from screener.screening import DEFAULT_THRESHOLD, Screener

HIKVISION = "Hangzhou Hikvision Digital Technology Co., Ltd."
FORMULA = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture()
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'audit.db'}"


@pytest.fixture()
def store(url: str) -> Store:
    s = Store.open(url)
    yield s
    s.close()


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.default()


def summary(run_id: str, n: int, counts: dict[str, int] | None = None, threshold: float = 80.0) -> RunSummary:
    return RunSummary(
        run_id=run_id, tool_version="test", started_at="2024-01-01T00:00:00+00:00", threshold=threshold,
        rows_read=n, rows_reported=n, counts=counts or {"clear": n},
    )


def record(store: Store, results: list[RowResult], run_id: str = "run000000001", user: str = "ann") -> str:
    rec = store.recorder(user=user, source="cli")
    for r in results:
        rec.observe(r)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    return rec.finish(summary(run_id, len(results), counts))


# --- schema -----------------------------------------------------------------------------------


def test_fresh_store_is_current_and_reopening_changes_nothing(url: str) -> None:
    first = Store.open(url)
    assert first.schema_version() == SCHEMA_VERSION
    first.close()
    again = Store.open(url)
    with again.engine.connect() as conn:
        versions = [r[0] for r in conn.execute(sa.text("SELECT version FROM schema_version ORDER BY version"))]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    again.close()


def test_upgrade_from_version_1_keeps_data_and_adds_columns(url: str) -> None:
    engine = sa.create_engine(url)
    assert migrate(engine, target=1) == 1
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO runs (id, run_id, status, user, source, started_at, threshold, inputs, lists, counts, "
            "rows_read, rows_reported) VALUES (1, 'oldrun', 'complete', 'bob', 'cli', '2023-05-01 10:00:00', 80, "
            "'[{\"file_name\": \"old.xlsx\", \"sha256\": \"ab\", \"sheets\": {\"S\": 1}}]', '[]', "
            "'{\"clear\": 1}', 1, 1)"
        ))
        conn.execute(sa.text(
            "INSERT INTO run_rows (run, seq, sheet, row, input_name, country, status) "
            "VALUES (1, 1, 'S', 2, 'Old Customer Ltd', 'DE', 'clear')"
        ))
        columns = {c["name"] for c in sa.inspect(conn).get_columns("run_rows")}
    assert "address" not in columns
    engine.dispose()

    store = Store.open(url)
    assert store.schema_version() == SCHEMA_VERSION
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("run_rows")}
    assert {"address", "not_screened_reason", "review", "review_decision", "matches"} <= columns
    old = store.get_run("oldrun")
    assert old is not None and old.user == "bob" and old.inputs[0].file_name == "old.xlsx"
    assert [r.name for r in store.run_inputs("oldrun")] == ["Old Customer Ltd"]
    # the upgraded database takes new rows with the new columns
    run_id = record(store, [RowResult(input_name="New GmbH", input_address="Berlin", status=Status.CLEAR)])
    assert next(store.run_inputs(run_id)).address == "Berlin"


def test_a_newer_schema_is_refused(url: str) -> None:
    Store.open(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO schema_version (version, applied_at) VALUES (99, '2030-01-01 00:00:00')"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer"):
        Store.open(url)


# --- users ------------------------------------------------------------------------------------


def test_users_are_stored_as_argon2id_hashes(store: Store, tmp_path: Path) -> None:
    store.add_user("ann", "correct horse battery")
    assert store.verify_user("ann", "correct horse battery")
    assert not store.verify_user("ann", "wrong password")
    assert not store.verify_user("nobody", "correct horse battery")
    with pytest.raises(StoreError, match="already exists"):
        store.add_user("ann", "another password")
    with pytest.raises(StoreError, match="at least"):
        store.add_user("bob", "short")
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM users")).scalar()
    assert stored.startswith("$argon2id$")
    assert b"correct horse" not in (tmp_path / "audit.db").read_bytes()
    assert [u.name for u in store.list_users()] == ["ann"]


# --- recording runs ---------------------------------------------------------------------------


def test_recorder_keeps_every_row_in_order(store: Store, screener: Screener) -> None:
    n = 100_000
    hits = list(screener.screen_rows([InputRow(name=HIKVISION, country="CN", sheet="S", row=2)]))
    results = hits + [
        RowResult(sheet="S", row=i + 3, input_name=f"Customer {i}", input_country="DE", status=Status.CLEAR)
        for i in range(n)
    ]
    rec = store.recorder(user="ann", source="web")
    for r in results:
        rec.observe(r)
    run_id = rec.finish(summary("bigrun000001", n + 1, {"potential_match": 1, "clear": n}))
    run = store.get_run(run_id)
    assert run is not None and run.source == "web" and run.status == "complete" and run.rows_reported == n + 1
    assert run.lists == [] and run.counts["potential_match"] == 1
    inputs = store.run_inputs(run_id)
    first = next(inputs)
    assert (first.name, first.country, first.row) == (HIKVISION, "CN", 2)
    assert sum(1 for _ in inputs) == n
    (match_row,) = store.run_rows(run_id, status="potential_match")
    assert match_row.entity_id == hits[0].matches[0].entity_id
    assert match_row.matches[0].explanation.alias == hits[0].matches[0].explanation.alias
    assert [r.seq for r in store.run_rows(run_id, offset=10, limit=3)] == [11, 12, 13]


@pytest.mark.slow
def test_recorder_copes_with_a_million_rows(store: Store) -> None:
    n = 1_000_000
    rec = store.recorder(user="ann", source="cli")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i in range(n):
        rec.observe(RowResult(sheet="S", row=i + 2, input_name=f"Customer {i}", status=Status.CLEAR))
    run_id = rec.finish(summary("millionrun01", n))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 100, f"memory grew by {grown_mib:.0f} MiB"
    assert sum(1 for _ in store.run_inputs(run_id)) == n


def test_a_short_run_is_not_recorded_as_complete(store: Store) -> None:
    rec = store.recorder(user="ann", source="cli")
    for i in range(3):
        rec.observe(RowResult(row=i, input_name=f"C {i}", status=Status.CLEAR))
    with pytest.raises(StoreError, match="not recorded completely"):
        rec.finish(summary("shortrun0001", 4))
    assert store.list_runs() == []
    (failed,) = store.list_runs(include_incomplete=True)
    assert failed.status == "failed" and "3 rows recorded" in (failed.error or "")


class _SignalAfterCommit:
    """A store connection whose close (after its transaction committed) raises SIGINT's exception
    at the chosen write: the window between `flush`'s commit and the emptying of its buffer."""

    def __init__(self, conn: sa.Connection, interrupt: bool) -> None:
        self.conn, self.interrupt = conn, interrupt

    def __enter__(self) -> sa.Connection:
        return self.conn.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.conn.__exit__(*exc)
        if self.interrupt and exc[0] is None:
            raise KeyboardInterrupt("signal SIGINT")


@pytest.mark.parametrize("cut_write", [1, 2])  # the write that creates the run record, a later batch
def test_a_run_cut_right_after_a_batch_committed_is_recorded_failed_with_each_row_once(
    store: Store, monkeypatch, cut_write: int
) -> None:
    """Found by a fresh-clone CI run: SIGINT landed after a batch was committed and before the buffer
    was emptied; `abort` wrote those rows again, the primary key refused them and the run stayed
    "running" for ever."""
    real, writes = store._write, []

    def write() -> _SignalAfterCommit:
        writes.append(1)
        return _SignalAfterCommit(real(), interrupt=len(writes) == cut_write)

    monkeypatch.setattr(store, "_write", write)
    rec = store.recorder(user="ann", source="cli")
    rec.batch = 2
    with pytest.raises(KeyboardInterrupt):
        for i in range(1, 7):
            rec.observe(RowResult(row=i, input_name=f"Customer {i} Ltd", status=Status.CLEAR))
    rec.abort("interrupted (signal SIGINT)")
    (run,) = store.list_runs(include_incomplete=True)
    assert run.status == "failed" and run.error == "interrupted (signal SIGINT)"
    assert [r.seq for r in store.run_rows(run.run_id)] == list(range(1, 2 * cut_write + 1))
    assert verify(store).ok, verify(store).problem


def test_the_cli_records_a_run_through_the_pipeline(store: Store, screener: Screener, tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    source.write_text(f"Customer,Country\n\"{HIKVISION}\",CN\nNordic Precision AB,SE\n", encoding="utf-8")
    rec = store.recorder(user="ann", source="cli")
    summ = screen_files(screener, [source], tmp_path / "out.csv", user="ann", observe=rec.observe)
    run_id = rec.finish(summ)
    run = store.get_run(run_id)
    assert run is not None and run.inputs[0].file_name == "customers.csv"
    assert run.lists[0].content_hash == default_list().content_hash
    assert run.counts == {"clear": 1, "potential_match": 1, "not_screened": 0}


def test_a_run_keeps_its_columns_warnings_and_notes_and_an_older_run_still_verifies(
        url: str, screener: Screener, tmp_path: Path) -> None:
    """What the report's Summary sheet says of a run (which column was screened as what, the warnings,
    the rows skipped) is kept with it and in its audit record; a run recorded before schema 5 has none
    and its audit record still verifies."""
    engine = sa.create_engine(url)
    assert SCHEMA_VERSION >= 5 and migrate(engine, target=4) == 4
    with engine.begin() as conn:  # a run as schema 4 recorded it, with its audit record
        conn.execute(sa.text(
            "INSERT INTO runs (id, run_id, status, user, source, started_at, threshold, inputs, lists, counts, "
            "rows_read, rows_reported) VALUES (1, 'oldrun', 'complete', 'bob', 'cli', '2026-05-01 10:00:00', 75, "
            "'[]', '[]', '{\"clear\": 1}', 1, 1)"))
        conn.execute(sa.text("INSERT INTO run_rows (run, seq, sheet, row, input_name, status) "
                             "VALUES (1, 1, 'S', 2, 'Old Customer Ltd', 'clear')"))
        (row,) = conn.execute(sa.text("SELECT * FROM runs WHERE id = 1"))
        row = SimpleNamespace(**{**row._asdict(), "started_at": datetime(2026, 5, 1, 10, tzinfo=UTC)})
        append_event(conn, "bob", "run", "oldrun", run_event(row, stored_rows_digest(conn, 1)))
    engine.dispose()
    store = Store.open(url)
    assert verify(store).ok
    old = store.get_run("oldrun")
    assert old is not None and (old.columns, old.warnings, old.notes) == ([], [], [])
    source = tmp_path / "customers.csv"
    source.write_text("Customer,Country\nNordic Precision AB,\n\nBeta Tools GmbH,\n", encoding="utf-8")
    rec = store.recorder(user="ann", source="cli")
    summ = screen_files(screener, [source], tmp_path / "out.csv", user="ann", observe=rec.observe)
    run = store.get_run(rec.finish(summ))
    assert run is not None
    assert run.notes == ['customers.csv: sheet "customers": 1 blank row(s) between data rows were skipped, '
                         "no record each (rows 3)"]
    assert run.warnings == summ.warnings and any("country" in w for w in run.warnings)
    assert [c.use for c in run.columns[0].columns] == [c.use for c in summ.columns[0].columns]
    assert verify(store).ok
    store.close()


# --- decisions --------------------------------------------------------------------------------


def hikvision_party() -> Party:
    return next(p for p in default_list().parties if p.id == "hikvision")


def screened(screener: Screener, *names: str) -> list[RowResult]:
    return list(screener.screen_rows([InputRow(name=n, row=i + 2, sheet="S") for i, n in enumerate(names)]))


@pytest.fixture()
def team(store: Store) -> Store:
    store.add_user("ann", "correct horse battery", "analyst")
    store.add_user("sue", "correct horse battery", "supervisor")
    store.add_user("sam", "correct horse battery", "supervisor")
    store.add_user("ada", "correct horse battery", "admin")
    return store


def decide(
    store: Store, decision: str, name: str = HIKVISION, threshold: float = DEFAULT_THRESHOLD, comment: str = "checked",
    *, user: str = "ann", country: str | None = None, address: str | None = None, approve: bool = True,
    screener: Screener | None = None,
) -> DecisionRecord:
    """Decide on the Hikvision candidate of NAME as the page would; a supervisor approves when needed."""
    scr = screener or Screener([("default", default_list())], threshold=threshold)
    (row,) = scr.screen_rows([InputRow(name=name, country=country, address=address, sheet="S", row=2)])
    match = next(m for m in row.matches if m.entity_id == "hikvision")
    lst = dict(scr.lists)["default"]
    made = store.decide(user, Evidence.of(row), match, hikvision_party(), list_hash=lst.content_hash,
                        list_version=lst.version, threshold=scr.threshold, decision=decision, comment=comment)
    if approve and made.pending:
        made = store.approve("sue", made.id)
    return made


def test_a_false_positive_clears_the_match_but_keeps_its_score(team: Store, screener: Screener) -> None:
    decide(team, "false_positive", comment="different company, registry number 123")
    variant = "HANGZHOU HIKVISION DIGITAL TECHNOLOGY CO LTD"  # same normalised name
    (exact, spelled, other) = team.apply_decisions(
        screened(screener, HIKVISION, variant, "Huawei Technologies Co., Ltd."), screener
    )
    for row in (exact, spelled):
        assert row.status is Status.POTENTIAL_MATCH and row.score == 100.0
        assert row.review_decision == "false_positive" and not row.alert and row.review_status == "cleared"
        assert row.review is not None and row.review.startswith("cleared by ann on ")
        assert row.review.endswith(": different company, registry number 123")
        assert (row.reviewed_by, row.approved_by, row.review_comment) == ("ann", "sue", "different company, registry number 123")
    assert other.review is None and other.alert and other.review_status == "open"


def test_a_clearance_is_not_inherited_by_another_country_or_address(team: Store, screener: Screener) -> None:
    name = "Dahua Foods Ltd"
    (row,) = screener.screen_rows([InputRow(name=name, country="US")])
    assert row.status is Status.POTENTIAL_MATCH and row.matches[0].entity_id == "dahua"
    lst = default_list()
    party = next(p for p in lst.parties if p.id == "dahua")
    made = team.decide("ann", Evidence.of(row), row.matches[0], party, list_hash=lst.content_hash,
                       list_version=lst.version, threshold=screener.threshold, decision="false_positive",
                       comment="Ohio grocery importer")
    assert not made.pending  # 92.5 and no exact alias: one person may clear it
    again, hq, other_street, no_country = team.apply_decisions(screener.screen_rows([
        InputRow(name="DAHUA FOODS LTD.", country="us"),
        InputRow(name=name, country="CN", address="1199 Bin'an Road, Binjiang, Hangzhou"),
        InputRow(name=name, country="US", address="12 Main St, Columbus OH"),
        InputRow(name=name),
    ]), screener)
    assert again.review_status == "cleared" and not again.alert
    for row in (hq, other_street, no_country):
        assert row.alert and row.review_decision is None and row.review_status == "open"
    day = made.decided_at.date().isoformat()
    assert hq.review == f"cleared on {day} by ann for Dahua Foods Ltd (US); this row: CN, 1199 Bin'an Road, Binjiang, Hangzhou"
    assert other_street.review.endswith("this row: US, 12 Main St, Columbus OH")
    assert no_country.review.endswith("this row: no country or address")


def test_the_customer_id_is_part_of_the_evidence(team: Store, screener: Screener) -> None:
    def row(customer: str) -> RowResult:
        (r,) = screener.screen_rows([InputRow(name="Dahua Foods Ltd", country="US", fields={"Customer ID": customer})])
        return r

    first = row("C-1001")
    lst = default_list()
    party = next(p for p in lst.parties if p.id == "dahua")
    team.decide("ann", Evidence.of(first), first.matches[0], party, list_hash=lst.content_hash, list_version=lst.version,
                threshold=screener.threshold, decision="false_positive", comment="our customer C-1001")
    same, other = team.apply_decisions([row(" C-1001 "), row("C-2002")], screener)
    assert same.review_status == "cleared" and other.review_status == "open"
    assert other.review.endswith("this row: US, customer id C-2002")


def test_a_strong_match_clearance_waits_for_a_different_supervisor(team: Store, screener: Screener) -> None:
    made = decide(team, "false_positive", comment="HK registry 1234", approve=False)
    assert made.strong and made.pending
    (row,) = team.apply_decisions(screened(screener, HIKVISION), screener)
    assert row.alert and row.review_status == "pending_approval" and row.review_decision is None
    assert row.review.startswith("clearance pending approval: proposed by ann on ")
    with pytest.raises(StoreError, match="only a supervisor"):
        team.approve("ann", made.id)
    with pytest.raises(StoreError, match="only a supervisor"):
        team.approve("ada", made.id)
    own = decide(team, "false_positive", comment="mine", user="sam", approve=False)
    with pytest.raises(StoreError, match="second person"):
        team.approve("sam", own.id)
    with pytest.raises(StoreError, match="replaced"):
        team.approve("sue", made.id)  # sam's later decision on the same evidence is the one in force
    approved = team.approve("sue", own.id)
    assert approved.approval is not None and approved.approval.user == "sue"
    (row,) = team.apply_decisions(screened(screener, HIKVISION), screener)
    assert not row.alert and row.review_status == "cleared" and row.approved_by == "sue"
    with pytest.raises(StoreError, match="not a clearance waiting"):
        team.approve("sue", own.id)


def test_the_four_eyes_score_is_a_policy(team: Store, screener: Screener) -> None:
    (row,) = screener.screen_rows([InputRow(name="Dahua Foods Ltd", country="US")])  # 92.5
    lst = default_list()
    party = next(p for p in lst.parties if p.id == "dahua")
    team.set_policy("four_eyes_score", "90", by="ada")
    made = team.decide("ann", Evidence.of(row), row.matches[0], party, list_hash=lst.content_hash,
                       list_version=lst.version, threshold=screener.threshold, decision="false_positive", comment="x")
    assert made.pending
    with pytest.raises(StoreError, match="0 to 100"):
        team.set_policy("four_eyes_score", "120")


def test_admins_do_not_decide_and_unknown_users_cannot(team: Store) -> None:
    with pytest.raises(StoreError, match="admin"):
        decide(team, "false_positive", user="ada")
    with pytest.raises(StoreError, match="no user"):
        decide(team, "false_positive", user="nobody")
    assert team.list_decisions() == []


def test_a_confirmed_match_stays_an_alert(team: Store, screener: Screener) -> None:
    made = decide(team, "confirmed", comment="same company")
    assert not made.pending  # confirming never waits for a second person
    (row,) = team.apply_decisions(screened(screener, HIKVISION), screener)
    assert row.review_decision == "confirmed" and row.alert and row.review_status == "confirmed"
    assert row.review is not None and row.review.startswith("confirmed by ann on ")


def test_an_escalated_match_stays_an_alert(team: Store, screener: Screener) -> None:
    decide(team, "escalated", comment="ask legal")
    (row,) = team.apply_decisions(screened(screener, HIKVISION), screener)
    assert row.alert and row.review_status == "escalated" and row.review.startswith("escalated by ann on ")


def test_the_newest_decision_is_the_one_in_force(team: Store, screener: Screener) -> None:
    decide(team, "false_positive")
    decide(team, "confirmed", comment="new information: it is them")
    (row,) = team.apply_decisions(screened(screener, HIKVISION), screener)
    assert row.review_decision == "confirmed" and row.alert
    assert len(team.list_decisions()) == 2  # the log keeps both


def test_a_decision_expires_when_the_threshold_changes(team: Store, screener: Screener) -> None:
    decide(team, "false_positive")
    stricter = Screener([("default", default_list())], threshold=DEFAULT_THRESHOLD + 5)
    (row,) = team.apply_decisions(screened(stricter, HIKVISION), stricter)
    assert row.review_decision is None and row.alert and "threshold changed" in (row.review or "")


def test_a_decision_is_reopened_by_a_new_list_version(team: Store, screener: Screener) -> None:
    decide(team, "false_positive")
    lst = default_list()
    newcomer = Party(id="zz-new", name="Zebulon Quartz Trading Company", list_name="US Entity List")
    grown = lst.model_copy(update={"parties": [*lst.parties, newcomer], "version": "next"})
    assert grown.content_hash != lst.content_hash
    changed = Screener([("default", grown)])
    (row,) = team.apply_decisions(screened(changed, HIKVISION), changed)
    assert row.alert and row.review_status == "open" and "the list version changed" in (row.review or "")


def test_a_decision_expires_when_the_party_record_changes(team: Store, screener: Screener) -> None:
    decide(team, "false_positive")
    lst = default_list()
    edited_party = hikvision_party().model_copy(update={"reason": "amended by a later notice"})
    assert party_hash(edited_party) != party_hash(hikvision_party())
    edited = lst.model_copy(update={"parties": [edited_party if p.id == edited_party.id else p for p in lst.parties]})
    changed = Screener([("default", edited)])
    (row,) = team.apply_decisions(screened(changed, HIKVISION), changed)
    assert row.alert and row.review_decision is None


def test_every_candidate_must_be_cleared_to_clear_the_row(team: Store) -> None:
    twins = RestrictedList(
        name="twins",
        parties=[
            Party(id="a1", name="Zebulon Quartz Trading Company", list_name="Test"),
            Party(id="a2", name="Zebulon Quartz Trading Corp", list_name="Test"),
        ],
    )
    s = Screener([("twins", twins)])
    (row,) = screened(s, "Zebulon Quartz Trading")
    assert {m.entity_id for m in row.matches} == {"a1", "a2"}
    by_id = {m.entity_id: m for m in row.matches}

    def clear(party: Party, comment: str) -> None:
        made = team.decide("ann", Evidence.of(row), by_id[party.id], party, list_hash=twins.content_hash,
                           list_version=twins.version, threshold=s.threshold, decision="false_positive", comment=comment)
        if made.pending:
            team.approve("sue", made.id)

    clear(twins.parties[0], "not them")
    (partly,) = team.apply_decisions([row], s)
    assert partly.review_decision is None and partly.alert
    assert "a1: cleared by ann" in (partly.review or "") and "not reviewed: a2" in (partly.review or "")
    clear(twins.parties[1], "nor them")
    (cleared,) = team.apply_decisions([row], s)
    assert cleared.review_decision == "false_positive" and not cleared.alert


@pytest.mark.parametrize("comment", ["", "   \n"])
def test_a_decision_needs_a_comment(team: Store, comment: str) -> None:
    with pytest.raises(StoreError, match="comment"):
        decide(team, "false_positive", comment=comment)
    with pytest.raises(StoreError, match="decision"):
        decide(team, "maybe")
    assert team.list_decisions() == []


def test_a_decision_logged_before_evidence_binding_holds_for_nothing(url: str, screener: Screener) -> None:
    engine = sa.create_engine(url)
    migrate(engine, target=2)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO decisions (input_key, input_name, entity_id, list_key, party_hash, threshold, decision, "
            "comment, user, decided_at) VALUES (:k, :n, 'hikvision', 'default', :h, 75, 'false_positive', 'old', "
            "'ann', '2024-01-01 00:00:00')"
        ), {"k": input_key(HIKVISION), "n": HIKVISION, "h": party_hash(hikvision_party())})
    engine.dispose()
    store = Store.open(url)
    (row,) = store.apply_decisions(screened(screener, HIKVISION), screener)
    assert row.alert and "before decisions were bound to their evidence" in (row.review or "")
    assert verify(store).ok  # rows older than the chain are named by its first record


# --- the audit trail ----------------------------------------------------------------------------


def test_an_edited_audit_record_is_found_by_verify(team: Store, screener: Screener, url: str) -> None:
    record(team, screened(screener, HIKVISION, "Nordic Precision AB"))
    decide(team, "false_positive", comment="HK registry 1234")
    team.sign_in("ann", "correct horse battery")
    team.sign_in("ann", "wrong password")
    result = verify(team)
    assert result.ok and result.records >= 9, result
    actions = [r.action for r in team.engine.connect().execute(sa.text("SELECT action FROM audit_log ORDER BY id"))]
    assert actions[0] == "chain_started" and {"user_added", "run", "decision", "approval", "signin",
                                                "signin_failed"} <= set(actions)
    with team.engine.begin() as conn:
        seq = conn.execute(sa.text("SELECT id FROM audit_log WHERE action = 'decision'")).scalar()
        conn.execute(sa.text("UPDATE audit_log SET details = replace(details, 'HK registry', 'no registry') "
                             "WHERE id = :i"), {"i": seq})
    broken = verify(team)
    assert not broken.ok and broken.problem.startswith(f"audit record {seq} (decision by ann") and "altered" in broken.problem

    runner = CliRunner()
    app = typer.Typer()
    audit.register(app)
    out = runner.invoke(app, ["audit", "verify", "--db", url])
    assert out.exit_code == 1 and f"audit record {seq}" in out.output


@pytest.mark.parametrize("edit", [
    "UPDATE decisions SET comment = 'edited later'",
    "UPDATE approvals SET user = 'mallory'",
    "UPDATE run_rows SET status = 'clear' WHERE status = 'potential_match'",
    "UPDATE runs SET threshold = 99",
    "DELETE FROM audit_log WHERE action = 'signin'",
])
def test_an_edited_decision_run_or_gap_is_found_by_verify(team: Store, screener: Screener, edit: str) -> None:
    record(team, screened(screener, HIKVISION))
    decide(team, "false_positive")
    team.sign_in("ann", "correct horse battery")
    team.add_user("zoe", "correct horse battery")
    assert verify(team).ok
    with team.engine.begin() as conn:
        conn.execute(sa.text(edit))
    result = verify(team)
    assert not result.ok and result.problem, edit


def test_the_store_only_ever_appends_audit_records(team: Store, screener: Screener) -> None:
    statements: list[str] = []
    sa.event.listen(team.engine, "before_cursor_execute",
                    lambda conn, cursor, stmt, *a: statements.append(stmt.upper()))
    record(team, screened(screener, HIKVISION))
    made = decide(team, "false_positive")
    team.set_role("ann", "supervisor", by="ada")
    team.set_policy("run_visibility", "owner", by="ada")
    assert made.approval is not None
    touching = [s for s in statements if "AUDIT_LOG" in s or "DECISIONS" in s or "APPROVALS" in s]
    assert touching and not any(s.lstrip().startswith(("UPDATE", "DELETE")) for s in touching)


def test_runs_can_be_limited_to_their_owner_and_supervisors(team: Store, screener: Screener) -> None:
    mine = record(team, screened(screener, "Nordic Precision AB"), run_id="annsrun00001", user="ann")
    theirs = record(team, screened(screener, "Nordic Precision AB"), run_id="bobsrun00001", user="bob")
    assert {r.run_id for r in team.list_runs(viewer="ann")} == {mine, theirs}  # default: one team
    team.set_policy("run_visibility", "owner", by="ada")
    assert [r.run_id for r in team.list_runs(viewer="ann")] == [mine]
    assert team.get_run(theirs, viewer="ann") is None and team.get_run(mine, viewer="ann") is not None
    assert {r.run_id for r in team.list_runs(viewer="sue")} == {mine, theirs}


# --- audit export and CLI ---------------------------------------------------------------------


def test_audit_export_keeps_formulas_as_text(team: Store, screener: Screener, tmp_path: Path) -> None:
    store = team
    run_id = record(store, screened(screener, FORMULA, HIKVISION))
    decide(store, "false_positive", comment="=1+1 is not a formula here")

    out_csv = tmp_path / "rows.csv"
    assert export_audit(store, out_csv, run_id=run_id) == 2
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8-sig"))))
    assert rows[0]["input_name"] == "'" + FORMULA and rows[0]["run_id"] == run_id
    assert rows[1]["status"] == "potential_match" and rows[1]["entity_id"] == hikvision_party().id
    decisions_csv = tmp_path / "decisions.csv"
    export_audit(store, decisions_csv, table="decisions")
    (line,) = csv.DictReader(io.StringIO(decisions_csv.read_text(encoding="utf-8-sig")))
    assert line["comment"] == "'=1+1 is not a formula here" and line["in_force"] == "yes"
    assert line["approved_by"] == "sue" and line["strong"] == "True" and line["list_hash"] == default_list().content_hash

    out_xlsx = tmp_path / "audit.xlsx"
    export_audit(store, out_xlsx, run_id=run_id)
    book = openpyxl.load_workbook(out_xlsx)
    assert book.sheetnames == ["Runs", "Decisions", "Approvals", "Rows", "Events"]
    cell = book["Rows"]["G2"]
    assert book["Rows"]["G1"].value == "input_name"
    assert cell.value == FORMULA and cell.data_type == "s"
    headers = [c.value for c in book["Decisions"][1]]
    comment = book["Decisions"].cell(2, headers.index("comment") + 1)
    assert comment.value == "=1+1 is not a formula here" and comment.data_type == "s"
    assert book["Runs"]["A2"].value == run_id

    with pytest.raises(StoreError, match="no run"):
        export_audit(store, tmp_path / "x.csv", run_id="nosuchrun")
    assert not (tmp_path / "x.csv").exists()


def test_cli_users_and_audit(url: str, screener: Screener, tmp_path: Path) -> None:
    app = typer.Typer()
    audit.register(app)
    runner = CliRunner()

    added = runner.invoke(app, ["users", "add", "carol", "--password-stdin", "--db", url], input="s3cret-pass\n")
    assert added.exit_code == 0, added.output
    piped = runner.invoke(app, ["users", "add", "dave", "--db", url], input="pw-dave-123\n")  # not a terminal
    assert piped.exit_code == 0 and "Password" not in piped.output, piped.output
    short = runner.invoke(app, ["users", "add", "erin", "--db", url], input="short\n")
    assert short.exit_code != 0
    listed = runner.invoke(app, ["users", "list", "--db", url])
    assert "carol" in listed.output and "dave" in listed.output and "erin" not in listed.output
    assert Store.open(url).verify_user("dave", "pw-dave-123")
    assert Store.open(url).verify_user("carol", "s3cret-pass")

    store = Store.open(url)
    run_id = record(store, screened(screener, HIKVISION, "Nordic Precision AB"), user="carol")
    runs = runner.invoke(app, ["audit", "runs", "--db", url])
    assert runs.exit_code == 0 and run_id in runs.output and "carol" in runs.output
    shown = runner.invoke(app, ["audit", "show", run_id, "--db", url])
    assert shown.exit_code == 0 and HIKVISION in shown.output and "threshold 80" in shown.output  # summary()
    missing = runner.invoke(app, ["audit", "show", "nosuchrun", "--db", url])
    assert missing.exit_code == 2
    out = tmp_path / "export.xlsx"
    exported = runner.invoke(app, ["audit", "export", "--run", run_id, "-o", str(out), "--db", url])
    assert exported.exit_code == 0, exported.output
    assert openpyxl.load_workbook(out)["Rows"].max_row == 3
    bad = runner.invoke(app, ["audit", "export", "-o", str(tmp_path / "x.txt"), "--db", url])
    assert bad.exit_code == 2


def test_cli_roles_policy_and_export_by_date(url: str, screener: Screener, tmp_path: Path) -> None:
    app = typer.Typer()
    audit.register(app)
    runner = CliRunner()
    for name, role in (("ann", "analyst"), ("sue", "supervisor"), ("ada", "admin")):
        added = runner.invoke(app, ["users", "add", name, "--role", role, "--password-stdin", "--db", url],
                              input="correct horse battery\n")
        assert added.exit_code == 0 and f"added as {role}" in added.output, added.output
    bad = runner.invoke(app, ["users", "add", "x", "--role", "boss", "--password-stdin", "--db", url],
                        input="correct horse battery\n")
    assert bad.exit_code == 2 and "role must be one of" in bad.output
    assert runner.invoke(app, ["users", "set-role", "ann", "supervisor", "--db", url]).exit_code == 0
    listed = runner.invoke(app, ["users", "list", "--db", url]).output
    assert "ann\tsupervisor" in listed and "ada\tadmin" in listed
    policy = runner.invoke(app, ["users", "policy", "--four-eyes-score", "90", "--run-visibility", "owner", "--db", url])
    assert policy.exit_code == 0 and "four_eyes_score\t90" in policy.output and "run_visibility\towner" in policy.output

    store = Store.open(url)
    run_id = record(store, screened(screener, HIKVISION), user="ann")
    decide(store, "false_positive", user="ann")
    today = datetime.now(UTC).date()
    out = tmp_path / "period.xlsx"
    args = ["audit", "export", "-o", str(out), "--db", url]
    assert runner.invoke(app, [*args, "--from", today.isoformat(), "--to", today.isoformat()]).exit_code == 0
    book = openpyxl.load_workbook(out)
    assert book["Runs"]["A2"].value == run_id and book["Decisions"].max_row == 2 and book["Approvals"].max_row == 2
    events = [r[3] for r in book["Events"].iter_rows(min_row=2, values_only=True)]
    assert {"user_added", "role_changed", "policy_changed", "run", "decision", "approval"} <= set(events)
    later = (today + timedelta(days=1)).isoformat()
    assert runner.invoke(app, [*args, "--from", later]).exit_code == 0
    book = openpyxl.load_workbook(out)
    assert book["Runs"].max_row == 1 and book["Decisions"].max_row == 1 and book["Events"].max_row == 1
    verified = runner.invoke(app, ["audit", "verify", "--db", url])
    assert verified.exit_code == 0 and "audit trail intact" in verified.output


def test_decisions_approvals_and_the_chain_on_postgresql(postgres_url, screener: Screener) -> None:  # noqa: F811
    """The same store code on PostgreSQL: migrations, evidence binding, four eyes, verify."""
    store = Store.open(postgres_url())
    try:
        for name, role in (("ann", "analyst"), ("sue", "supervisor")):
            store.add_user(name, "correct horse battery", role)
        made = decide(store, "false_positive", country="CN", approve=False)
        assert made.pending
        store.approve("sue", made.id)
        same, other = store.apply_decisions(screener.screen_rows([
            InputRow(name=HIKVISION, country="CN"), InputRow(name=HIKVISION, country="HK")]), screener)
        assert same.review_status == "cleared" and other.review_status == "open" and other.alert
        record(store, screened(screener, HIKVISION))
        assert verify(store).ok
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE decisions SET comment = 'edited'"))
        assert not verify(store).ok
    finally:
        store.close()
