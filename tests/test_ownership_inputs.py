"""Shares as users write them: Excel percentage formats, text and plain numbers; and a holding whose
share the ownership file and the customer row state differently."""

from __future__ import annotations

import json

import openpyxl
import pytest
from test_ownership import HIKVISION, IN_FORCE, assess, ownership_file, run, write_csv

from screener.ownership.assess import OwnershipAssessment
from screener.ownership.graph import OwnershipError
from screener.ownership.inputs import read_ownership
from screener.screening import Screener


def test_percent_formatted_cells_are_read_as_the_percent_excel_shows(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Ownership"
    ws.append(["Entity", "Owner", "Share %"])
    cells = {"Alpha Optics": (0.6, "0%"), "Bravo Optics": (0.605, "0.00%"), "Charlie Optics": (60, None),
             "Delta Optics": (0.6, None), "Echo Optics": ("60 %", None), "Foxtrot Optics": (0.49, "0%"),
             "Golf Optics": (0.3, "0.0%;[Red]-0.0%"), "Hotel Optics": (55, "#,##0\\%")}
    for entity, (value, fmt) in cells.items():
        ws.append([entity, HIKVISION, value])
        if fmt:
            ws.cell(ws.max_row, 3).number_format = fmt
    wb.save(tmp_path / "ownership.xlsx")
    a = OwnershipAssessment(Screener.default(), read_ownership(tmp_path / "ownership.xlsx"), as_of=IN_FORCE)
    found = {entity: a.of(entity) for entity in cells}
    assert {e: (o.outcome, o.listed_percent) for e, o in found.items()} == {
        "Alpha Optics": ("covered", 60), "Bravo Optics": ("covered", 60.5), "Charlie Optics": ("covered", 60),
        "Delta Optics": ("minority", 0.6), "Echo Optics": ("covered", 60), "Foxtrot Optics": ("minority", 49),
        "Golf Optics": ("minority", 30),
        "Hotel Optics": ("covered", 55),  # an escaped \% is a literal sign: the number is not scaled
    }
    # a plain 0.6 is 0.6 percent, never cleared: a listed minority holding, and the reading is said
    delta = found["Delta Optics"]
    assert delta.alert and "a share of 0.6 is read as that many percent, not as a fraction" in delta.text
    assert "note:" not in found["Alpha Optics"].text


def test_a_percent_formatted_share_on_the_customer_row(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Customers"
    for row in (["Customer", "Country", "Parent", "Parent Share %"], ["Oscar Optics", "DE", HIKVISION, 0.6],
                ["Papa Optics", "DE", HIKVISION, 0.2]):
        ws.append(row)
    for r in (2, 3):
        ws.cell(r, 4).number_format = "0%"
    wb.save(tmp_path / "customers.xlsx")
    proc = run("screen", "customers.xlsx", "-o", "out.json", cwd=tmp_path, SCREENER_AS_OF=IN_FORCE)
    assert proc.returncode == 1, proc.stderr
    oscar, papa = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert oscar["ownership"]["outcome"] == "covered" and oscar["ownership"]["listed_percent"] == 60
    assert papa["ownership"]["outcome"] == "minority" and papa["ownership"]["listed_percent"] == 20
    assert "-60%-> Oscar Optics" in oscar["ownership"]["text"]


def test_csv_shares_as_text(tmp_path):
    a = assess(ownership_file(tmp_path, ("India Ltd", HIKVISION, "60%"), ("Juliet Ltd", HIKVISION, "60 %"),
                              ("Kilo Ltd", HIKVISION, "60"), ("Lima Ltd", HIKVISION, "0.6"),
                              ("Mike Ltd", HIKVISION, "49,5")))
    assert [a.of(e).listed_percent for e in ("India Ltd", "Juliet Ltd", "Kilo Ltd", "Lima Ltd", "Mike Ltd")] == [
        60, 60, 60, 0.6, 49.5]
    lima = a.of("Lima Ltd")
    assert lima.alert and lima.outcome == "minority" and "a share of 0.6 is read as that many percent" in lima.text


def test_an_ownership_line_split_by_an_unquoted_comma_is_refused(tmp_path):
    """Found from outside: "Acme, Inc.,Hikvision,60" unquoted read " Inc." as the owner and 0 as no
    share at all: Hikvision's holding was dropped without a word."""
    path = tmp_path / "ownership.csv"
    path.write_text("entity,owner,share_percent\nNordic Holding AB,Hikvision,60\nAcme, Inc.,Hikvision,60\n",
                    encoding="utf-8")
    with pytest.raises(OwnershipError) as caught:
        read_ownership(path)
    assert str(caught.value) == ("ownership.csv, row 3: 4 fields where the header (row 1) has 3: the delimiter "
                                 "splits this line differently; quote names that contain it")


ROW = 'customers.csv, row 2, columns "Parent" and "Parent Share %"'


@pytest.fixture()
def graph_of(tmp_path):
    def make(*holdings):
        return OwnershipAssessment(Screener.default(), read_ownership(ownership_file(tmp_path, *holdings)),
                                   as_of=IN_FORCE)
    return make


def test_conflicting_shares_use_the_larger_and_are_a_review(graph_of):
    a = graph_of(("November Optics", HIKVISION, 40), ("November Optics", "Lake Fund", 40))
    own = a.of("November Optics", [(HIKVISION, 60.0, ROW)])
    assert own.outcome == "covered" and own.listed_percent == 60 and own.alert
    expected = f'"{HIKVISION}" holds 40% of "November Optics" (ownership.csv, row 2) but 60% ({ROW}): the larger, 60%, is used'
    assert own.conflicts == [expected]
    assert "review: conflicting shares: " in own.text and "-60%-> November Optics" in own.chains[0].text
    assert own.chains[0].links[0].where == f"ownership.csv, row 2; {ROW}"
    # the other way round: the row's smaller share does not lower the file's
    own = graph_of(("November Optics", HIKVISION, 60)).of("November Optics", [(HIKVISION, 40.0, ROW)])
    assert own.outcome == "covered" and own.listed_percent == 60 and len(own.conflicts) == 1
    # two owner columns of one row naming one owner twice, differently
    own = graph_of().of("Oscar Ltd", [(HIKVISION, 30.0, "row 2, Parent"), ("Hangzhou Hikvision Digital Technology",
                                                                           55.0, "row 2, Shareholder")])
    assert own.outcome == "covered" and own.listed_percent == 55 and len(own.conflicts) == 1


def test_agreeing_or_complementary_shares_are_no_conflict_but_unlisted_conflicts_are_reviewed(graph_of):
    own = graph_of(("Papa Optics", HIKVISION, 40)).of("Papa Optics", [(HIKVISION, 40.0, ROW)])
    assert own.outcome == "minority" and own.listed_percent == 40 and own.conflicts == []
    # the file does not know the share, the row does: the row's share is used, without a conflict
    own = graph_of(("Papa Optics", HIKVISION, "")).of("Papa Optics", [(HIKVISION, 30.0, ROW)])
    assert own.outcome == "minority" and own.possible_percent == 30 and own.conflicts == []
    own = graph_of(("Papa Optics", HIKVISION, 30)).of("Papa Optics", [(HIKVISION, None, ROW)])
    assert own.listed_percent == 30 and own.conflicts == []
    # owners not on any list, stated differently: not a match, but never silently one of the two
    a = graph_of(("Quebec Ltd", "Lake Fund", 70))
    result = a.apply(Screener.default().screen_name("Quebec Ltd"), [("Lake Fund", 80.0, ROW)])
    assert result.ownership.outcome == "no_listed_owner" and result.ownership.alert and result.alert
    assert result.ownership.text.startswith("no listed owner among the owners supplied; review: conflicting shares")


def test_conflict_between_ownership_file_and_row_columns_through_the_cli(tmp_path):
    path = ownership_file(tmp_path, ("Romeo Optics", HIKVISION, 40), ("Romeo Optics", "Lake Fund", 20))
    write_csv(tmp_path / "customers.csv", [["Customer", "Parent", "Parent Share %"], ["Romeo Optics", HIKVISION, "55"]])
    proc = run("screen", "customers.csv", "--ownership", str(path), "-o", "out.json", cwd=tmp_path,
               SCREENER_AS_OF=IN_FORCE)
    assert proc.returncode == 1, proc.stderr
    (romeo,) = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert romeo["status"] == "potential_match" and romeo["ownership"]["outcome"] == "covered"
    assert romeo["ownership"]["listed_percent"] == 55
    assert "the larger, 55%, is used" in romeo["ownership"]["conflicts"][0]
    assert 'customers.csv, sheet "customers", row 2, columns "Parent" and "Parent Share %"' in romeo["ownership"]["text"]
