"""The Excel report: real workbooks written with ReportWriter and read back with openpyxl."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from screener.files import report, sheets
from screener.files.report import ReportWriter, write_report
from screener.files.writers import IncompleteOutputError
from screener.models import (
    Address,
    Alias,
    AliasKind,
    Explanation,
    InputInfo,
    ListInfo,
    Match,
    Party,
    RestrictedList,
    RowResult,
    RunSummary,
    Source,
    Status,
    TokenEvidence,
)

FORMULA_NAMES = ['=HYPERLINK("http://x","y")', "+cmd|'/c calc'!A0", "@SUM(1)", "-2+3"]
# xlsxwriter would copy this into the sheet XML unescaped, creating a formula cell in Z1.
XML_INJECTION = '<r><t>a</t></r></is></c><c r="Z1"><f>1+1</f></c><c r="Z2" t="inlineStr"><is><r><t>b</t></r>'
NOTICE = Source(kind="notice", id="2019-10616", citation="84 FR 22961", title="Addition of Entities")


def lists() -> list[tuple[str, RestrictedList]]:
    """Two lists sharing the id EL-1, so links must follow the match's list key."""
    default = RestrictedList(
        name="US Entity List",
        version="2025-01",
        parties=[
            Party(
                id="EL-1",
                name="Huawei Technologies Co., Ltd.",
                list_name="US Entity List",
                aliases=[
                    Alias(name="华为技术有限公司", kind=AliasKind.CHINESE),
                    Alias(name="Huawei", kind=AliasKind.BRAND, verified=False),
                ],
                country="CN",
                addresses=[Address(text="Bantian, Longgang District, Shenzhen", country="CN")],
                programme="EAR",
                date_added=date(2019, 5, 16),
                fr_citation="84 FR 22961",
                licence_policy="Presumption of denial",
                unverified=["brand alias"],
                sources=[NOTICE.model_copy(update={"quote": "Huawei Technologies Co., Ltd."})],
            ),
            Party(id="EL-2", name=FORMULA_NAMES[0], list_name="US Entity List", sources=[NOTICE]),
            Party(id="EL-3", name=XML_INJECTION, list_name="US Entity List"),
        ],
    )
    extra = RestrictedList(
        name="Extra",
        parties=[
            Party(
                id="EL-1",
                name="Other Party",
                list_name="Extra",
                sources=[Source(kind="article", id="a.md", title="News", publisher="Reuters")],
            )
        ],
    )
    return [("default", default), ("extra", extra)]


def match(entity_id: str, name: str, score: float, list_key: str = "default") -> Match:
    return Match(
        entity_id=entity_id,
        entity_name=name,
        list_name="Extra" if list_key == "extra" else "US Entity List",
        list_key=list_key,
        programme="EAR",
        fr_citation="84 FR 22961",
        score=score,
        matched_alias=name,
        explanation=Explanation(
            alias=name,
            alias_kind=AliasKind.LEGAL,
            input_normalized="in put",
            alias_normalized="al ias",
            tokens=[TokenEvidence(alias_token="al", input_token="in", weight=1, similarity=0.9, rule="fuzzy")],
            rules=["r1"],
        ),
        sources=[NOTICE.model_copy(update={"quote": "quoted text"}), Source(kind="article", id="a.md")],
    )


def results() -> list[RowResult]:
    pm = Status.POTENTIAL_MATCH
    return [
        RowResult(sheet="Orders", row=2, input_name="Acme", status=Status.CLEAR, score=20.04,
                  fields={"Customer no": "C-2", "Name": "Acme", "City": "Hangzhou", "Segment": "retail"}),
        RowResult(
            sheet="Orders",
            row=3,
            input_name="Huawei Tech",
            input_country="CN",
            input_address="Shenzhen",
            status=pm,
            score=90,
            matches=[match("EL-1", "Huawei Technologies Co., Ltd.", 90)],
            fields={"Customer no": "C-3", "Name": "Huawei Tech", "City": "Longgang", "Country": "CN",
                    "Segment": "telecom", "Owner": "ACME Holdings"},
        ),
        RowResult(
            sheet="Orders",
            row=4,
            input_name="hyperlink co",
            status=pm,
            score=97,
            fields={"Customer no": "C-4", "Name": "hyperlink co"},
            matches=[match("EL-2", FORMULA_NAMES[0], 97), match("EL-1", "Other Party", 88, "extra")],
        ),
        RowResult(
            sheet="Orders",
            row=5,
            input_name="xml co",
            status=pm,
            score=90,
            review="cleared: different company",
            matches=[match("EL-3", XML_INJECTION, 90)],
        ),
        RowResult(sheet="Orders", row=6, input_name=None, status=Status.NOT_SCREENED, not_screened_reason="empty"),
        *[
            RowResult(sheet="Suppliers", row=2 + i, input_name=name, input_address=name, status=Status.CLEAR)
            for i, name in enumerate([*FORMULA_NAMES, XML_INJECTION])
        ],
    ]


def summary(rows: list[RowResult]) -> RunSummary:
    return RunSummary(
        run_id="run-42",
        tool_version="0.1.0",
        started_at="2025-01-01T00:00:00+00:00",
        duration_seconds=1.5,
        threshold=85,
        user="analyst",
        inputs=[
            InputInfo(
                file_name="orders.xlsx",
                sha256="ab" * 32,
                sheets={"Orders": sum(r.sheet == "Orders" for r in rows), "Suppliers": sum(r.sheet == "Suppliers" for r in rows)},
            )
        ],
        lists=[ListInfo(key="default", name="US Entity List", version="2025-01", content_hash="cd" * 32, parties=3, aliases=5)],
        rows_read=len(rows),
        rows_reported=len(rows),
    )


def build(path: Path, rows: list[RowResult] | None = None) -> openpyxl.Workbook:
    rows = results() if rows is None else rows
    write_report(path, summary(rows), rows, lists())
    return openpyxl.load_workbook(path)


def values(ws: Worksheet) -> list[tuple[Any, ...]]:
    return [tuple(c.value for c in row) for row in ws.iter_rows()]


def header(ws: Worksheet) -> list[str]:
    return [c.value for c in ws[1]]


def row_after(ws: Worksheet, label: str, offset: int = 1) -> tuple[Any, ...]:
    """The row `offset` rows below the first row whose column A is `label`."""
    rows = values(ws)
    at = next(i for i, r in enumerate(rows) if r[0] == label)
    return rows[at + offset]


def col(ws: Worksheet, name: str) -> int:
    """0-based index of the column headed `name`."""
    return header(ws).index(name)


def column(ws: Worksheet, name: str) -> list[Any]:
    at = col(ws, name)
    return [r[at] for r in values(ws)[1:]]


def test_sheets_in_order_with_human_headers(tmp_path: Path) -> None:
    wb = build(tmp_path / "r.xlsx")
    assert wb.sheetnames == ["Summary", "Legend", "Potential matches", "All rows", "Restricted parties", "Sources"]
    own = ["Customer no", "City", "Segment", "Other input cells"]
    assert header(wb["Potential matches"]) == [
        "Score", "Input name", "Sheet", "Row", "Column", "Country", *own, "Matched party", "Party id", "List",
        "Why it matched", "Sources", "Review", "Decision", "Comment", "Technical trace",
    ]  # fmt: skip
    assert header(wb["All rows"]) == [
        "Sheet", "Row", "Column", "Input name", "Country", "Address", *own, "Status", "Score", "Best candidate",
        "Party id", "Matched name", "Note",
    ]  # fmt: skip
    assert header(wb["Restricted parties"]) == [c.header for c in report.PARTY_COLUMNS]
    assert header(wb["Sources"]) == [c.header for c in report.SOURCE_COLUMNS]
    for ws in wb.worksheets:  # no raw field names anywhere a reader looks first
        assert not any(h and "_" in h for h in header(ws)), ws.title


def test_potential_matches_sorted_by_score_then_input_order(tmp_path: Path) -> None:
    ws = build(tmp_path / "r.xlsx")["Potential matches"]
    got = list(zip(column(ws, "Row"), column(ws, "Score"), column(ws, "Party id"), column(ws, "Review"), strict=True))
    assert got == [
        (4, 97, "EL-2", "Open"),
        (4, 88, "EL-1", "Open"),  # a row's candidates stay together
        (3, 90, "EL-1", "Open"),
        (5, 90, "EL-3", "cleared: different company"),
    ]
    why, trace = column(ws, "Why it matched")[1], column(ws, "Technical trace")[1]
    assert why.startswith("Matched the legal name 'Other Party'") and "w=" not in why
    assert "matched alias" in trace and "rules: r1" in trace  # the trace keeps the technical detail
    assert column(ws, "Sources")[0] == "S1 84 FR 22961, S2"  # short references, no quotes repeated


def test_input_columns_are_carried_over(tmp_path: Path) -> None:
    wb = build(tmp_path / "r.xlsx")
    ws = wb["Potential matches"]
    assert column(ws, "Customer no")[2] == "C-3" and column(ws, "City")[2] == "Longgang"
    assert column(ws, "Other input cells")[2] == "Owner: ACME Holdings"
    rows = wb["All rows"]
    assert column(rows, "Customer no")[:3] == ["C-2", "C-3", "C-4"]
    assert "Customer no" not in column(rows, "Other input cells")[1]
    assert all(v != "Huawei Tech" for v in column(rows, "City"))  # the name column is not repeated


def test_party_ids_and_sources_link_to_their_rows(tmp_path: Path) -> None:
    wb = build(tmp_path / "r.xlsx")
    parties, sources, ws = wb["Restricted parties"], wb["Sources"], wb["Potential matches"]
    expected = {2: ("US Entity List", "EL-2"), 3: ("Extra", "EL-1"), 4: ("US Entity List", "EL-1"),
                5: ("US Entity List", "EL-3")}
    for row, (list_name, entity_id) in expected.items():
        cell = ws.cell(row=row, column=col(ws, "Party id") + 1)
        assert cell.data_type == "s" and cell.value == entity_id
        sheet, target = cell.hyperlink.location.rsplit("!", 1)
        assert sheet == "'Restricted parties'"
        n = int(target.removeprefix("A"))
        assert (parties.cell(row=n, column=1).value, parties.cell(row=n, column=2).value) == (list_name, entity_id)
        link = ws.cell(row=row, column=col(ws, "Sources") + 1).hyperlink
        sheet, target = link.location.rsplit("!", 1)
        ref = ws.cell(row=row, column=col(ws, "Sources") + 1).value.split()[0].rstrip(",")
        assert sheet == "'Sources'" and sources[target].value == ref


def test_data_that_looks_like_formulas_or_markup_stays_literal_text(tmp_path: Path) -> None:
    wb = build(tmp_path / "r.xlsx")
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
    all_rows = wb["All rows"]
    name_at, address_at = col(all_rows, "Input name"), col(all_rows, "Address")
    suppliers = [r for r in all_rows.iter_rows(min_row=2) if r[0].value == "Suppliers"]
    for cells, name in zip(suppliers, [*FORMULA_NAMES, XML_INJECTION], strict=True):
        assert (cells[name_at].data_type, cells[name_at].value) == ("s", name)
        assert (cells[address_at].data_type, cells[address_at].value) == ("s", name)
    parties = wb["Restricted parties"]
    assert [c.value for c in parties["C"][1:4]] == ["Huawei Technologies Co., Ltd.", FORMULA_NAMES[0], XML_INJECTION]
    assert all(c.data_type == "s" for c in parties["C"][1:4])
    matched = column(wb["Potential matches"], "Matched party")
    assert XML_INJECTION in matched and FORMULA_NAMES[0] in matched


def test_all_rows_in_input_order_with_human_statuses(tmp_path: Path) -> None:
    rows = results()
    ws = build(tmp_path / "r.xlsx")["All rows"]
    got = values(ws)[1:]
    assert [(r[0], r[1]) for r in got] == [(r.sheet, r.row) for r in rows]
    assert column(ws, "Status")[:5] == ["Clear", "Potential match", "Potential match", "Potential match",
                                        "Not screened"]
    assert column(ws, "Score")[0] == 20.0
    second = dict(zip(header(ws), got[1], strict=True))
    assert (second["Input name"], second["Country"], second["Address"], second["Best candidate"],
            second["Party id"]) == ("Huawei Tech", "CN", "Shenzhen", "Huawei Technologies Co., Ltd.", "EL-1")
    assert column(ws, "Note")[3] == "cleared: different company" and column(ws, "Note")[4] == "empty"


def test_restricted_parties_and_sources(tmp_path: Path) -> None:
    wb = build(tmp_path / "r.xlsx")
    first = dict(zip(header(wb["Restricted parties"]), values(wb["Restricted parties"])[1], strict=True))
    assert (first["List"], first["Party id"], first["Name"], first["Entity type"], first["Country"]) == (
        "US Entity List", "EL-1", "Huawei Technologies Co., Ltd.", "Company", "CN")
    assert first["Aliases"].splitlines() == ["华为技术有限公司 (Chinese script)",
                                             "Huawei (brand name; not verified: no source seen)"]
    assert first["Addresses"] == "Bantian, Longgang District, Shenzhen (CN)"
    assert (first["Date added"], first["FR citation"], first["Licence"], first["Not verified"]) == (
        "2019-05-16", "84 FR 22961", "Presumption of denial", "brand alias")
    assert first["Sources"] == 'S1 84 FR 22961: "Huawei Technologies Co., Ltd."'
    sources = [dict(zip(header(wb["Sources"]), r, strict=True)) for r in values(wb["Sources"])[1:]]
    assert [(s["Ref"], s["Kind"]) for s in sources] == [("S1", "Federal Register notice"), ("S2", "News article")]
    assert sources[0]["Document"] == "Addition of Entities" and sources[0]["FR citation"] == "84 FR 22961"
    assert sources[0]["File id"] is None  # a notice is looked up by citation, not by a file
    assert sources[0]["Cited by"].splitlines() == ["Huawei Technologies Co., Ltd.", FORMULA_NAMES[0]]
    assert sources[1]["Publisher"] == "Reuters" and sources[1]["File id"] == "a.md"
    assert sources[1]["Cited by"] == "Other Party (Extra)"


def test_summary_counts_coverage_and_audit_facts(tmp_path: Path) -> None:
    rows = results()
    ws = build(tmp_path / "r.xlsx")["Summary"]
    assert ws["A1"].value == report.TITLE
    assert ws["A2"].value.startswith(f"Complete: all {len(rows)} data rows")
    assert ws["A3"].value == "Coverage" and "says nothing about parties those lists do not hold" in ws["B3"].value
    counts = {r[0]: r[1] for r in values(ws)[values(ws).index(row_after(ws, "Results by status")) + 1 :][:4]}
    assert counts == {"Clear": 6, "Potential match": 3, "Not screened": 1, "Total rows": len(rows)}
    assert row_after(ws, "Potential matches by review", 2)[:2] == ("Open", 4)  # match lines
    assert row_after(ws, "Inputs", 2)[:5] == ("orders.xlsx", "ab" * 32, "Orders", 5, 5)
    assert row_after(ws, "Inputs", 3)[2:5] == ("Suppliers", 5, 5)
    assert row_after(ws, "Inputs", 4)[:5] == ("Total", None, None, len(rows), len(rows))
    assert row_after(ws, "Lists screened", 2)[:6] == ("default", "cd" * 32, "US Entity List", "2025-01", 3, 5)
    covered = row_after(ws, "What the lists cover")
    assert covered[0] == "US Entity List 2025-01" and "these 3 parties only" in covered[1]
    facts = {r[0]: r[1] for r in values(ws)}
    assert facts["Run id"] == "run-42" and facts["User"] == "analyst"
    assert facts["Started (UTC)"] == "2025-01-01T00:00:00+00:00"
    assert facts["Duration (seconds)"] == 1.5 and facts["Match threshold"] == 85
    assert facts["Tool version"] == "0.1.0"
    assert facts["Potential matches"] == 4 and facts["All rows"] == len(rows)


def test_legend_explains_statuses_score_and_clearance(tmp_path: Path) -> None:
    legend = {r[0]: r[1] for r in values(build(tmp_path / "r.xlsx")["Legend"]) if r[0]}
    assert {"Potential match", "Clear", "Not screened", "Cleared by review", "Score", "Match threshold",
            "Open", "Cleared", "Confirmed"} <= set(legend)
    assert "85 in this run" in legend["Match threshold"]
    assert "does not hold" in legend["Clear"] or "not clearance against lists" in legend["Clear"]


def test_every_sheet_is_set_up_to_print(tmp_path: Path) -> None:
    wb = build(tmp_path / "r.xlsx")
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.fitToWidth in (None, 1), ws.title  # absent means 1 in OOXML
        assert "run-42" in ws.oddHeader.right.text and "US Entity List 2025-01" in ws.oddHeader.right.text
        assert ws.oddHeader.left.text == "&A" and ws.oddFooter.right.text == "Page &P of &N"
        if ws.title in ("Summary", "Legend"):
            assert ws.page_setup.fitToHeight in (None, 1)  # one page tall
        else:
            assert ws.page_setup.fitToHeight == 0 and ws.print_title_rows == "$1:$1", ws.title  # any pages tall
            assert ws.freeze_panes == "A2"
            assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(ws.max_column)}{ws.max_row}"
            assert all(c.font.b for c in ws[1])
    matches = wb["Potential matches"]
    trace = openpyxl.utils.get_column_letter(col(matches, "Technical trace") + 1)
    assert matches.print_area and trace not in matches.print_area[0].split("!")[-1]  # the trace is not printed


def test_row_heights_fit_their_wrapped_text(tmp_path: Path) -> None:
    long_name = "Zhejiang " * 20 + "Trading Company Limited"
    rows = results()
    rows[0] = rows[0].model_copy(update={"input_name": long_name})
    wb = build(tmp_path / "r.xlsx", rows)
    ws = wb["All rows"]
    width = ws.column_dimensions[openpyxl.utils.get_column_letter(col(ws, "Input name") + 1)].width
    assert ws.row_dimensions[2].height >= 15 * (len(long_name) // width)
    parties = wb["Restricted parties"]
    assert parties.row_dimensions[2].height >= 2 * 15  # two aliases, one a line
    for name in ("Potential matches", "All rows"):
        (rule_range,) = [str(r.sqref) for r in wb[name].conditional_formatting]
        at = openpyxl.utils.get_column_letter(col(wb[name], "Score") + 1)
        assert rule_range == f"{at}2:{at}{wb[name].max_row}"
    assert wb["Potential matches"].cell(row=2, column=col(wb["Potential matches"], "Why it matched") + 1
                                        ).alignment.wrap_text


def test_rows_overflow_onto_numbered_sheets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "MAX_DATA_ROWS", 3)
    rows = results()  # 10 rows, 4 potential-match lines, 4 parties
    wb = build(tmp_path / "r.xlsx", rows)
    assert wb.sheetnames == [
        "Summary", "Legend", "Potential matches", "All rows", "All rows (2)", "All rows (3)", "All rows (4)",
        "Potential matches (2)", "Restricted parties", "Restricted parties (2)", "Sources",
    ]  # fmt: skip
    pages = ["All rows", "All rows (2)", "All rows (3)", "All rows (4)"]
    assert [wb[p].max_row - 1 for p in pages] == [3, 3, 3, 1]
    assert all(header(wb[p]) == header(wb["All rows"]) for p in pages)
    assert [(r[0], r[1]) for p in pages for r in values(wb[p])[1:]] == [(r.sheet, r.row) for r in rows]
    matches = [r for p in ["Potential matches", "Potential matches (2)"] for r in values(wb[p])[1:]]
    assert [r[3] for r in matches] == [4, 4, 3, 5]
    ws = wb["Potential matches"]
    link = ws.cell(row=3, column=col(ws, "Party id") + 1).hyperlink.location  # Other Party, the 4th party
    assert link == "'Restricted parties (2)'!A2"
    assert wb["Restricted parties (2)"]["B2"].value == "EL-1" and wb["Restricted parties (2)"]["C2"].value == "Other Party"


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    writer = ReportWriter(out / "r.xlsx", lists(), tmpdir=scratch)
    for r in results():
        writer.write(r)
    assert not (out / "r.xlsx").exists()
    writer.abort()
    assert list(out.iterdir()) == [] and list(scratch.iterdir()) == []


def test_failed_run_keeps_the_previous_report_and_leaves_no_partial(tmp_path: Path) -> None:
    target = tmp_path / "r.xlsx"
    target.write_bytes(b"previous")

    def interrupted() -> Any:
        yield from results()[:3]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_report(target, summary(results()), interrupted(), lists())
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]


def test_close_refuses_a_report_missing_rows(tmp_path: Path) -> None:
    rows = results()
    with pytest.raises(IncompleteOutputError):
        write_report(tmp_path / "r.xlsx", summary(rows), rows[:-1], lists())
    assert list(tmp_path.iterdir()) == []


def test_empty_run_and_overlong_text(tmp_path: Path) -> None:
    wb = build(tmp_path / "empty.xlsx", [])
    assert wb["All rows"].max_row == 1 and wb["Potential matches"].max_row == 1
    long_name = "x" * 40_000
    wb = build(tmp_path / "long.xlsx", [RowResult(sheet="S", row=2, input_name=long_name, status=Status.CLEAR)])
    value = wb["All rows"]["D2"].value
    assert len(value) == sheets.MAX_CELL_CHARS and value.endswith(sheets.TRUNCATED)
