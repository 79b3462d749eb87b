"""The audit store on a real SQLite file: migrations, users, recording runs, decisions, export."""

from __future__ import annotations

import csv
import io
import resource
import time
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
import typer
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
from screener.review.store import (
    SCHEMA_VERSION,
    Store,
    StoreError,
    export_audit,
    migrate,
    party_hash,
)
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
    started = time.perf_counter()
    for r in results:
        rec.observe(r)
    run_id = rec.finish(summary("bigrun000001", n + 1, {"potential_match": 1, "clear": n}))
    elapsed = time.perf_counter() - started
    assert elapsed < 20, f"recording {n} rows took {elapsed:.1f} s"
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


# --- decisions --------------------------------------------------------------------------------


def hikvision_party() -> Party:
    return next(p for p in default_list().parties if p.id == "hikvision")


def screened(screener: Screener, *names: str) -> list[RowResult]:
    return list(screener.screen_rows([InputRow(name=n, row=i + 2, sheet="S") for i, n in enumerate(names)]))


def decide(
    store: Store, decision: str, name: str = HIKVISION, threshold: float = DEFAULT_THRESHOLD, comment: str = "checked"
) -> None:
    party = hikvision_party()
    store.decide("ann", name, party.id, "default", party, threshold, decision, comment)


def test_a_false_positive_clears_the_match_but_keeps_its_score(store: Store, screener: Screener) -> None:
    decide(store, "false_positive", comment="different company, registry number 123")
    variant = "HANGZHOU HIKVISION DIGITAL TECHNOLOGY CO LTD"  # same normalised name
    (exact, spelled, other) = store.apply_decisions(
        screened(screener, HIKVISION, variant, "Huawei Technologies Co., Ltd."), screener
    )
    for row in (exact, spelled):
        assert row.status is Status.POTENTIAL_MATCH and row.score == 100.0
        assert row.review_decision == "false_positive" and not row.alert
        assert row.review is not None and row.review.startswith("cleared by ann on ")
        assert row.review.endswith(": different company, registry number 123")
    assert other.review is None and other.alert


def test_a_confirmed_match_stays_an_alert(store: Store, screener: Screener) -> None:
    decide(store, "confirmed", comment="same company")
    (row,) = store.apply_decisions(screened(screener, HIKVISION), screener)
    assert row.review_decision == "confirmed" and row.alert
    assert row.review is not None and row.review.startswith("confirmed by ann on ")


def test_the_newest_decision_is_the_one_in_force(store: Store, screener: Screener) -> None:
    decide(store, "false_positive")
    decide(store, "confirmed", comment="new information: it is them")
    (row,) = store.apply_decisions(screened(screener, HIKVISION), screener)
    assert row.review_decision == "confirmed" and row.alert
    assert len(store.list_decisions()) == 2  # the log keeps both


def test_a_decision_expires_when_the_threshold_changes(store: Store, screener: Screener) -> None:
    decide(store, "false_positive")
    stricter = Screener([("default", default_list())], threshold=DEFAULT_THRESHOLD + 5)
    (row,) = store.apply_decisions(screened(stricter, HIKVISION), stricter)
    assert row.review is None and row.review_decision is None and row.alert


def test_a_decision_expires_when_the_party_record_changes(store: Store, screener: Screener) -> None:
    decide(store, "false_positive")
    lst = default_list()
    edited_party = hikvision_party().model_copy(update={"reason": "amended by a later notice"})
    assert party_hash(edited_party) != party_hash(hikvision_party())
    edited = lst.model_copy(update={"parties": [edited_party if p.id == edited_party.id else p for p in lst.parties]})
    changed = Screener([("default", edited)])
    (row,) = store.apply_decisions(screened(changed, HIKVISION), changed)
    assert row.review is None and row.alert


def test_every_candidate_must_be_cleared_to_clear_the_row(store: Store) -> None:
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
    store.decide("ann", "Zebulon Quartz Trading", "a1", "twins", twins.parties[0], s.threshold, "false_positive", "not them")
    (partly,) = store.apply_decisions([row], s)
    assert partly.review_decision is None and partly.alert
    assert "a1: cleared by ann" in (partly.review or "") and "not reviewed: a2" in (partly.review or "")
    store.decide("ann", "Zebulon Quartz Trading", "a2", "twins", twins.parties[1], s.threshold, "false_positive", "nor them")
    (cleared,) = store.apply_decisions([row], s)
    assert cleared.review_decision == "false_positive" and not cleared.alert


@pytest.mark.parametrize("comment", ["", "   \n"])
def test_a_decision_needs_a_comment(store: Store, comment: str) -> None:
    with pytest.raises(StoreError, match="comment"):
        decide(store, "false_positive", comment=comment)
    with pytest.raises(StoreError, match="decision"):
        decide(store, "maybe")
    assert store.list_decisions() == []


# --- audit export and CLI ---------------------------------------------------------------------


def test_audit_export_keeps_formulas_as_text(store: Store, screener: Screener, tmp_path: Path) -> None:
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

    out_xlsx = tmp_path / "audit.xlsx"
    export_audit(store, out_xlsx, run_id=run_id)
    book = openpyxl.load_workbook(out_xlsx)
    assert book.sheetnames == ["Runs", "Decisions", "Rows"]
    cell = book["Rows"]["G2"]
    assert book["Rows"]["G1"].value == "input_name"
    assert cell.value == FORMULA and cell.data_type == "s"
    comment = book["Decisions"]["H2"]
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
    prompted = runner.invoke(app, ["users", "add", "dave", "--db", url], input="pw-dave-123\npw-dave-123\n")
    assert prompted.exit_code == 0, prompted.output
    mismatch = runner.invoke(app, ["users", "add", "erin", "--db", url], input="pw-erin-123\nother-pw-1\n")
    assert mismatch.exit_code != 0
    listed = runner.invoke(app, ["users", "list", "--db", url])
    assert "carol" in listed.output and "dave" in listed.output and "erin" not in listed.output
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
