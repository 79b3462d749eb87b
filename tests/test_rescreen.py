"""Re-screening when a list changes: only new matches and vanished matches are reported."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from screener.lists.catalog import save_imported
from screener.lists.importers import ImportResult
from screener.models import (
    Alias,
    AliasKind,
    InputRow,
    ListInfo,
    Party,
    RestrictedList,
    Source,
)
from screener.review.rescreen import (
    ChangeKind,
    RescreenError,
    diff_lists,
    rescreen,
    rescreen_rows,
    write_report,
)
from screener.screening import DEFAULT_THRESHOLD, Screener


def _party(pid: str, name: str, *aliases: str) -> Party:
    return Party(
        id=pid,
        name=name,
        aliases=[Alias(name=a, kind=AliasKind.BRAND) for a in aliases],
        list_name="Test List",
        sources=[Source(kind="list_file", id="test.csv", quote=name)],
    )


ALPHA = _party("t:1", "Acme Rocket Works")
BETA = _party("t:2", "Bluefalcon Trading Company")
GAMMA = _party("t:3", "Crimson Lotus Imports")
DELTA_OLD = _party("t:4", "Duskwing Avionics")
DELTA_NEW = _party("t:4", "Duskwing Avionics", "Nightjar Systems")  # gains an alias
ECHO_OLD = _party("t:5", "Emberline Optics", "Zephyrcast Lenses")
ECHO_NEW = _party("t:5", "Emberline Optics")  # loses one

OLD = RestrictedList(name="test", parties=[ALPHA, BETA, DELTA_OLD, ECHO_OLD])
NEW = RestrictedList(name="test", parties=[ALPHA, GAMMA, DELTA_NEW, ECHO_NEW])

ROWS = [
    InputRow(name="Acme Rocket Works", sheet="orders", row=2),  # matches both versions: nothing to report
    InputRow(name="Bluefalcon Trading Company", sheet="orders", row=3),  # party removed
    InputRow(name="Crimson Lotus Imports Ltd", sheet="orders", row=4),  # party added
    InputRow(name="Nightjar Systems", sheet="orders", row=5),  # existing party, new alias
    InputRow(name="Zephyrcast Lenses", sheet="orders", row=6),  # alias removed: no longer matches
    InputRow(name="Plain Bakery", sheet="orders", row=7),
    InputRow(name=None, sheet="orders", row=8, not_screened_reason="empty name"),
]


def test_list_diff_by_id() -> None:
    diff = diff_lists(OLD, NEW, "test")
    assert [p.party_id for p in diff.added] == ["t:3"]
    assert [p.party_id for p in diff.removed] == ["t:2"]
    assert {p.party_id: p.fields for p in diff.changed} == {"t:4": ["aliases"], "t:5": ["aliases"]}
    assert (diff.from_hash, diff.to_hash) == (OLD.content_hash, NEW.content_hash)


def test_only_changes_are_reported() -> None:
    changes = rescreen_rows(ROWS, OLD, NEW, key="test", run_id="run-1")
    got = {(c.row, c.kind, c.party_id) for c in changes}
    assert got == {
        (3, ChangeKind.MATCH_PARTY_REMOVED, "t:2"),
        (4, ChangeKind.NEW_MATCH_ADDED_PARTY, "t:3"),
        (5, ChangeKind.NEW_MATCH, "t:4"),
        (6, ChangeKind.NO_LONGER_MATCHES, "t:5"),
    }
    added = next(c for c in changes if c.kind == ChangeKind.NEW_MATCH_ADDED_PARTY)
    assert added.run_id == "run-1" and added.sheet == "orders" and added.input_name == "Crimson Lotus Imports Ltd"
    assert added.old_score is None and added.new_score >= DEFAULT_THRESHOLD
    assert added.party_name == "Crimson Lotus Imports"
    removed = next(c for c in changes if c.kind == ChangeKind.MATCH_PARTY_REMOVED)
    assert removed.old_score == 100 and removed.new_score is None and removed.score == 100
    gone = next(c for c in changes if c.kind == ChangeKind.NO_LONGER_MATCHES)
    assert gone.old_score == 100 and (gone.new_score or 0) < DEFAULT_THRESHOLD


def test_unchanged_list_reports_nothing() -> None:
    assert rescreen_rows(ROWS, OLD, OLD.model_copy(), key="test") == []


def test_a_match_in_both_versions_is_not_a_change_even_if_its_score_moves() -> None:
    fillers = [_party(f"t:x{i}", f"Rocket Filler {i} Holdings") for i in range(9)]
    busier = RestrictedList(name="test", parties=[ALPHA, *fillers])  # "rocket" is no longer rare
    name = "Acme Rocket Works Holdings"
    before = Screener([("test", OLD)]).screen_name(name).score
    after = Screener([("test", busier)]).screen_name(name).score
    assert before != after and min(before, after) >= DEFAULT_THRESHOLD
    changes = rescreen_rows([InputRow(name=name, row=2)], OLD, busier, key="test")
    assert not any(c.party_id == ALPHA.id for c in changes)


# --- reports ---------------------------------------------------------------------------------------


class FakeRun:
    def __init__(self, run_id: str, lst: RestrictedList, key: str = "test") -> None:
        self.run_id = run_id
        self.threshold = DEFAULT_THRESHOLD
        self.started_at = "2024-01-01T00:00:00+00:00"
        self.user = "tester"
        self.lists = [
            ListInfo(key=key, name=lst.name, version=lst.version, content_hash=lst.content_hash, parties=0, aliases=0)
        ]


class FakeStore:
    """The two calls rescreen makes on the audit store."""

    def __init__(self, runs: list[FakeRun], rows: list[InputRow]) -> None:
        self.runs, self.rows = runs, rows

    def list_runs(self) -> list[FakeRun]:
        return self.runs

    def run_inputs(self, run_id: str) -> list[InputRow]:
        return list(self.rows)


@pytest.fixture()
def catalogued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """OLD then NEW stored as versions of the list 'test'."""
    monkeypatch.setenv("SCREENER_HOME", str(tmp_path / "home"))
    source = tmp_path / "test.csv"
    source.write_text("stand-in for the imported file\n")
    hashes = []
    for lst in (OLD, NEW):
        n = len(lst.parties)
        version = save_imported("test", ImportResult(list=lst, format="csl", rows_read=n, records=n), source)
        hashes.append(version.content_hash)
    return hashes[0], hashes[1]


def test_rescreen_recorded_runs_from_their_own_version(catalogued: tuple[str, str]) -> None:
    old_hash, new_hash = catalogued
    hostile = InputRow(name="=HYPERLINK(\"http://x\",\"Crimson Lotus Imports\")", sheet="s", row=9)
    store = FakeStore([FakeRun("run-1", OLD), FakeRun("run-other", OLD, key="elsewhere")], [*ROWS, hostile])
    report = rescreen(store, "test")
    assert [r.run_id for r in report.runs] == ["run-1"]  # the other run did not use the list
    assert report.runs[0].from_hash == old_hash and report.to_hash == new_hash
    assert report.runs[0].rows == len(ROWS) + 1
    assert report.counts() == {
        "new_match_added_party": 2, "new_match": 1, "match_party_removed": 1, "no_longer_matches": 1,
    }  # fmt: skip
    same = rescreen(store, "test", from_version=new_hash[:8], run_ids=["run-1"])
    assert same.changes == [] and same.runs[0].rows == len(ROWS) + 1
    with pytest.raises(RescreenError, match="did not screen against"):
        rescreen(store, "test", run_ids=["run-other"])
    with pytest.raises(RescreenError, match="no recorded run"):
        rescreen(store, "test", run_ids=["nope"])
    stray = RestrictedList(name="test", parties=[GAMMA])
    with pytest.raises(RescreenError, match="not in the catalog"):
        rescreen(FakeStore([FakeRun("run-2", stray)], ROWS), "test")


def test_reports_in_three_formats_keep_text_as_text(catalogued: tuple[str, str], tmp_path: Path) -> None:
    import openpyxl

    hostile = InputRow(name="=HYPERLINK(\"http://x\",\"Crimson Lotus Imports\")", sheet="s", row=9)
    report = rescreen(FakeStore([FakeRun("run-1", OLD)], [*ROWS, hostile]), "test")

    write_report(report, tmp_path / "r.xlsx")
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert book.sheetnames == ["Summary", "Changes", "List changes"]
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True)}
    assert summary["compared from version"] == catalogued[0] and summary["compared to version"] == catalogued[1]
    assert summary["runs covered"] == 1 and summary["changes: new_match_added_party"] == 2
    changes = list(book["Changes"].iter_rows(values_only=True))
    assert changes[0][:5] == ("run id", "sheet", "row", "customer name", "change")
    cell = next(c for row in book["Changes"].iter_rows() for c in row if str(c.value).startswith("=HYPERLINK"))
    assert cell.data_type == "s"  # a string, not a formula
    kinds = {r[2] for r in list(book["List changes"].iter_rows(values_only=True))[1:]}
    assert kinds == {"added", "removed", "changed"}

    write_report(report, tmp_path / "r.csv")
    raw = (tmp_path / "r.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader((tmp_path / "r.csv").open(encoding="utf-8-sig")))
    assert len(rows) == 1 + len(report.changes) and any(r[3].startswith("'=HYPERLINK") for r in rows)

    write_report(report, tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["counts"]["match_party_removed"] == 1 and len(data["diffs"][0]["added"]) == 1
    with pytest.raises(ValueError):
        write_report(report, tmp_path / "r.txt")


# --- end to end: a recorded run, a new list version, `screener rescreen` -------------------------------


def test_cli_rescreen_of_a_recorded_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("screener.review.store", reason="the audit store is not in this tree yet")
    pytest.importorskip("screener.pipeline", reason="the readers/outputs pipeline is not in this tree yet")
    from screener.cli import app
    from screener.cli.rescreen import register

    monkeypatch.setenv("SCREENER_HOME", str(tmp_path / "home"))
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    runner = CliRunner()
    header = "_id,source,entity_number,type,programs,name,addresses,federal_register_notice,start_date,alt_names\n"
    row = '"{}","Entity List (EL) - Bureau of Industry and Security","","","","{}","","","",""\n'
    v1 = tmp_path / "el-v1.csv"
    v1.write_text(header + row.format("a", "Acme Rocket Works") + row.format("b", "Bluefalcon Trading Company"))
    v2 = tmp_path / "el-v2.csv"
    v2.write_text(header + row.format("a", "Acme Rocket Works") + row.format("c", "Crimson Lotus Imports"))
    assert runner.invoke(app, ["lists", "import", str(v1), "--format", "csl", "--name", "el"]).exit_code == 0
    customers = tmp_path / "customers.csv"
    customers.write_text("name\nAcme Rocket Works\nBluefalcon Trading Company\nCrimson Lotus Imports\nPlain Bakery\n")
    screened = runner.invoke(
        app, ["screen", str(customers), "-o", str(tmp_path / "run.csv"), "--list", "el", "--record", "--db", db, "-q"]
    )
    assert screened.exit_code == 1, screened.output
    assert runner.invoke(app, ["lists", "import", str(v2), "--format", "csl", "--name", "el"]).exit_code == 0

    cli = typer.Typer()
    register(cli)
    cli.command("noop")(lambda: None)  # a second command keeps typer from flattening the app
    out = tmp_path / "changes.json"
    result = runner.invoke(cli, ["rescreen", "--list", "el", "-o", str(out), "--db", db])
    assert result.exit_code == 1, result.output  # a new potential match holds, like screen
    data = json.loads(out.read_text())
    got = {(c["input_name"], c["kind"]) for c in data["changes"]}
    assert got == {
        ("Bluefalcon Trading Company", "match_party_removed"),
        ("Crimson Lotus Imports", "new_match_added_party"),
    }
    assert data["changes"][0]["sheet"] == "customers" and {c["row"] for c in data["changes"]} == {3, 4}
    missing = runner.invoke(cli, ["rescreen", "--list", "nope", "-o", str(out), "--db", db])
    assert missing.exit_code == 2 and "unknown list 'nope'" in missing.output
    # a second --list used to replace the first without a word: the first list's changes went unchecked
    both = tmp_path / "two.json"
    two = runner.invoke(cli, ["rescreen", "--list", "el", "--list", "sdn", "-o", str(both), "--db", db])
    assert two.exit_code == 2 and "one list at a time" in two.output and not both.exists()
