"""The Excel report: real workbooks written with ReportWriter and read back with openpyxl."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from screener.files import report
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
        RowResult(sheet="Orders", row=2, input_name="Acme", status=Status.CLEAR, score=20.04),
        RowResult(
            sheet="Orders",
            row=3,
            input_name="Huawei Tech",
            input_country="CN",
            input_address="Shenzhen",
            status=pm,
            score=90,
            matches=[match("EL-1", "Huawei Technologies Co., Ltd.", 90)],
        ),
        RowResult(
            sheet="Orders",
            row=4,
            input_name="hyperlink co",
            status=pm,
            score=97,
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


def test_sheets_in_order_with_headers(tmp_path: Path) -> None:
    wb = build(tmp_path / "r.xlsx")
    assert wb.sheetnames == ["Summary", "Potential matches", "All rows", "Restricted parties", "Sources"]
    assert header(wb["Potential matches"]) == [c.header for c in report.MATCH_COLUMNS]
    assert header(wb["All rows"]) == [
        "sheet", "row", "input name", "input country", "input address", "status", "score",
        "entity id", "entity name", "matched alias", "not-screened reason", "review",
    ]  # fmt: skip
    assert header(wb["Restricted parties"]) == [c.header for c in report.PARTY_COLUMNS]
    assert header(wb["Sources"]) == [c.header for c in report.SOURCE_COLUMNS]


def test_potential_matches_sorted_by_score_then_input_order(tmp_path: Path) -> None:
    ws = build(tmp_path / "r.xlsx")["Potential matches"]
    got = [(r[1], r[4], r[5], r[6], r[7]) for r in values(ws)[1:]]
    assert got == [
        (4, 97, 1, "potential_match", "EL-2"),
        (4, 88, 2, "potential_match", "EL-1"),  # a row's candidates stay together
        (3, 90, 1, "potential_match", "EL-1"),
        (5, 90, 1, "cleared: different company", "EL-3"),
    ]
    first = values(ws)[2]
    assert "matched alias" in first[11] and "rules: r1" in first[11]
    assert first[15].splitlines() == ['84 FR 22961, "Addition of Entities": "quoted text"', "a.md"]


def test_entity_names_link_to_their_party_row(tmp_path: Path) -> None:
    wb = build(tmp_path / "r.xlsx")
    parties = wb["Restricted parties"]
    expected = {2: ("default", "EL-2"), 3: ("extra", "EL-1"), 4: ("default", "EL-1"), 5: ("default", "EL-3")}
    for row, (key, entity_id) in expected.items():
        cell = wb["Potential matches"].cell(row=row, column=report.MATCH_LINK_COLUMN + 1)
        assert cell.data_type == "s"
        if entity_id == "EL-3":  # markup-looking names are written as plain text, without a link
            assert cell.hyperlink is None and cell.value == XML_INJECTION
            continue
        sheet, target = cell.hyperlink.location.rsplit("!", 1)
        assert sheet == "'Restricted parties'"
        n = int(target.removeprefix("A"))
        assert (parties.cell(row=n, column=1).value, parties.cell(row=n, column=3).value) == (key, entity_id)
        assert cell.value == parties.cell(row=n, column=4).value


def test_data_that_looks_like_formulas_or_markup_stays_literal_text(tmp_path: Path) -> None:
    wb = build(tmp_path / "r.xlsx")
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
    all_rows = wb["All rows"]
    suppliers = [r for r in all_rows.iter_rows(min_row=2) if r[0].value == "Suppliers"]
    for cells, name in zip(suppliers, [*FORMULA_NAMES, XML_INJECTION], strict=True):
        assert (cells[2].data_type, cells[2].value) == ("s", name)
        assert (cells[4].data_type, cells[4].value) == ("s", name)
    parties = wb["Restricted parties"]
    assert [c.value for c in parties["D"][1:4]] == ["Huawei Technologies Co., Ltd.", FORMULA_NAMES[0], XML_INJECTION]
    assert all(c.data_type == "s" for c in parties["D"][1:4])


def test_all_rows_in_input_order(tmp_path: Path) -> None:
    rows = results()
    ws = build(tmp_path / "r.xlsx")["All rows"]
    got = values(ws)[1:]
    assert [(r[0], r[1]) for r in got] == [(r.sheet, r.row) for r in rows]
    assert got[0][5:7] == ("clear", 20.0)
    assert got[1][2:10] == ("Huawei Tech", "CN", "Shenzhen", "potential_match", 90, "EL-1",
                            "Huawei Technologies Co., Ltd.", "Huawei Technologies Co., Ltd.")  # fmt: skip
    assert got[3][11] == "cleared: different company"
    assert got[4][5] == "not_screened" and got[4][10] == "empty"


def test_restricted_parties_and_sources(tmp_path: Path) -> None:
    wb = build(tmp_path / "r.xlsx")
    first = values(wb["Restricted parties"])[1]
    assert first[:6] == ("default", "US Entity List", "EL-1", "Huawei Technologies Co., Ltd.", "company", "CN")
    assert first[6].splitlines() == ["华为技术有限公司 [chinese_script]", "Huawei [brand] (unverified)"]
    assert first[7] == "Bantian, Longgang District, Shenzhen (CN)"
    assert first[9:14] == ("2019-05-16", "84 FR 22961", None, "Presumption of denial", "brand alias")
    assert "Huawei Technologies Co., Ltd." in first[14]
    sources = values(wb["Sources"])[1:]
    assert [(s[0], s[1]) for s in sources] == [("notice", "2019-10616"), ("article", "a.md")]
    assert sources[0][7].splitlines() == [
        "Huawei Technologies Co., Ltd. (default:EL-1)",
        f"{FORMULA_NAMES[0]} (default:EL-2)",
    ]
    assert sources[1][3] == "Reuters" and sources[1][7] == "Other Party (extra:EL-1)"


def test_summary_counts_and_audit_facts(tmp_path: Path) -> None:
    rows = results()
    ws = build(tmp_path / "r.xlsx")["Summary"]
    assert ws["A1"].value == report.TITLE
    assert ws["A2"].value.startswith(f"Complete: all {len(rows)} data rows")
    counts = {r[0]: r[1] for r in values(ws)[values(ws).index(row_after(ws, "Results by status")) + 1 :][:4]}
    assert counts == {"clear": 6, "potential_match": 3, "not_screened": 1, "total": len(rows)}
    assert row_after(ws, "Inputs", 2)[:5] == ("orders.xlsx", "ab" * 32, "Orders", 5, 5)
    assert row_after(ws, "Inputs", 3)[2:5] == ("Suppliers", 5, 5)
    assert row_after(ws, "Inputs", 4)[:5] == ("Total", None, None, len(rows), len(rows))
    assert row_after(ws, "Lists screened", 2)[:6] == ("default", "cd" * 32, "US Entity List", "2025-01", 3, 5)
    facts = {r[0]: r[1] for r in values(ws)}
    assert facts["Run id"] == "run-42" and facts["User"] == "analyst"
    assert facts["Started (UTC)"] == "2025-01-01T00:00:00+00:00"
    assert facts["Duration (seconds)"] == 1.5 and facts["Match threshold"] == 85
    assert facts["Tool version"] == "0.1.0"
    assert facts["Potential matches"] == 4 and facts["All rows"] == len(rows)


def test_readability_features(tmp_path: Path) -> None:
    wb = build(tmp_path / "r.xlsx")
    for name in ["Potential matches", "All rows", "Restricted parties", "Sources"]:
        ws = wb[name]
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(ws.max_column)}{ws.max_row}"
        assert all(c.font.b for c in ws[1])
        assert all(d.width <= report.MAX_COLUMN_WIDTH + 2 for d in ws.column_dimensions.values())
    for name, col in [("Potential matches", "E"), ("All rows", "G")]:
        (rule_range,) = [str(r.sqref) for r in wb[name].conditional_formatting]
        assert rule_range == f"{col}2:{col}{wb[name].max_row}"
        rule = next(iter(wb[name].conditional_formatting)).rules[0]
        assert rule.type == "colorScale" and len(rule.colorScale.color) == 3
    assert wb["Potential matches"]["L2"].alignment.wrap_text


def test_rows_overflow_onto_numbered_sheets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "MAX_DATA_ROWS", 3)
    rows = results()  # 10 rows, 4 potential-match lines, 4 parties
    wb = build(tmp_path / "r.xlsx", rows)
    assert wb.sheetnames == [
        "Summary", "Potential matches", "All rows", "All rows (2)", "All rows (3)", "All rows (4)",
        "Potential matches (2)", "Restricted parties", "Restricted parties (2)", "Sources",
    ]  # fmt: skip
    pages = ["All rows", "All rows (2)", "All rows (3)", "All rows (4)"]
    assert [wb[p].max_row - 1 for p in pages] == [3, 3, 3, 1]
    assert all(header(wb[p]) == header(wb["All rows"]) for p in pages)
    assert [(r[0], r[1]) for p in pages for r in values(wb[p])[1:]] == [(r.sheet, r.row) for r in rows]
    matches = [r for p in ["Potential matches", "Potential matches (2)"] for r in values(wb[p])[1:]]
    assert [r[1] for r in matches] == [4, 4, 3, 5]
    link = wb["Potential matches"]["I3"].hyperlink.location  # Other Party, the 4th party
    assert link == "'Restricted parties (2)'!A2"
    assert wb["Restricted parties (2)"]["C2"].value == "EL-1" and wb["Restricted parties (2)"]["D2"].value == "Other Party"


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
    value = wb["All rows"]["C2"].value
    assert len(value) == report.MAX_CELL_CHARS and value.endswith(report.TRUNCATED)
