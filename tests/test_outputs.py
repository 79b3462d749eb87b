"""Flat outputs: real files written, read back with csv/json, one record per input row."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from screener.files.outputs import open_writer
from screener.files.report import ReportWriter
from screener.files.writers import (
    CsvWriter,
    IncompleteOutputError,
    JsonLinesWriter,
    JsonWriter,
    ResultWriter,
    inert,
)
from screener.models import (
    RECORD_FIELDS,
    AliasKind,
    Explanation,
    Match,
    RowResult,
    RunSummary,
    Source,
    Status,
    TokenEvidence,
)

FORMULA_NAMES = ['=HYPERLINK("http://x","y")', "+cmd|'/c calc'!A0", "@SUM(1)", "-2+3", "\tTAB", "\rCR"]


def match(entity_id: str = "EL-1", score: float = 92.3, alias: str = "Huawei Technologies") -> Match:
    return Match(
        entity_id=entity_id,
        entity_name="Huawei Technologies Co., Ltd.",
        list_name="US Entity List",
        programme="EAR",
        fr_citation="84 FR 22961",
        score=score,
        matched_alias=alias,
        explanation=Explanation(
            alias=alias,
            alias_kind=AliasKind.LEGAL,
            input_normalized="huawei technology",
            alias_normalized="huawei technologies",
            tokens=[
                TokenEvidence(alias_token="huawei", input_token="huawei", weight=0.8, similarity=1.0, rule="exact"),
                TokenEvidence(
                    alias_token="technologies", input_token="technology", weight=0.2, similarity=0.9, rule="fuzzy"
                ),
            ],
            rules=["legal-suffix-dropped"],
        ),
        sources=[Source(kind="notice", id="2019-10616", citation="84 FR 22961", quote="Huawei Technologies")],
    )


def result(row: int, name: str | None = "Acme", status: Status = Status.CLEAR, **kw: object) -> RowResult:
    if status is Status.POTENTIAL_MATCH and "matches" not in kw:
        kw["matches"] = [match()]
        kw.setdefault("score", 92.3)
    return RowResult(sheet="Orders", row=row, input_name=name, status=status, **kw)  # type: ignore[arg-type]


def summary(rows: int) -> RunSummary:
    return RunSummary(
        run_id="run-1",
        tool_version="0.1.0",
        started_at="2025-01-01T00:00:00+00:00",
        threshold=85,
        rows_read=rows,
        rows_reported=rows,
    )


def sample() -> list[RowResult]:
    return [
        result(2, "华为技术有限公司", Status.POTENTIAL_MATCH, input_country="CN"),
        result(3, "Acme GmbH", score=31.5),
        result(4, None, Status.NOT_SCREENED, not_screened_reason="empty name"),
        *[result(5 + i, name) for i, name in enumerate(FORMULA_NAMES)],
    ]


def run(writer: ResultWriter, rows: list[RowResult]) -> None:
    for r in rows:
        writer.write(r)
    writer.close(summary(len(rows)))


def test_csv_one_record_per_row_in_order_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    rows = sample()
    run(CsvWriter(path), rows)

    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        records = list(csv.DictReader(fh))
    assert tuple(records[0].keys()) == RECORD_FIELDS
    assert [int(r["row"]) for r in records] == [r.row for r in rows]
    assert records[0]["input_name"] == "华为技术有限公司"
    assert records[0]["status"] == "potential_match"
    assert records[0]["entity_id"] == "EL-1"
    assert records[0]["score"] == "92.3"
    assert records[1]["entity_id"] == ""
    assert records[2]["not_screened_reason"] == "empty name"


def test_csv_makes_formula_looking_text_inert(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    run(CsvWriter(path), [result(2 + i, name) for i, name in enumerate(FORMULA_NAMES)])
    with open(path, encoding="utf-8-sig", newline="") as fh:
        names = [r["input_name"] for r in csv.DictReader(fh)]
    assert names == ["'" + n for n in FORMULA_NAMES]


def test_csv_lines_of_clear_rows_carry_the_same_cells_as_any_record(tmp_path: Path) -> None:
    """A clear record without evidence is written by a shorter path (most lines): each of its cells,
    a formula in any text field included, reads back as `record()` made inert."""
    rows = [*sample(), result(20, "Acme", input_country="=1+1"), result(21, "Acme", column="+col"),
            RowResult(sheet="@s", row=22, input_name="Acme", status=Status.CLEAR),
            result(23, "Acme", review="cleared by Ann", review_status="cleared"),
            result(24, "Acme", Status.POTENTIAL_MATCH, review_comment="=2")]
    path = tmp_path / "out.csv"
    run(CsvWriter(path), rows)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        got = list(csv.DictReader(fh))
    for line, r in zip(got, rows, strict=True):
        want = {k: "" if v is None else str(inert(v)) for k, v in r.record().items()}
        assert line == want


def test_json_array_carries_full_explanations(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    rows = sample()
    run(JsonWriter(path), rows)

    records = json.loads(path.read_text(encoding="utf-8"))
    assert [r["row"] for r in records] == [r.row for r in rows]
    assert all(set(RECORD_FIELDS) | {"matches"} == set(r) for r in records)
    assert [r["input_name"] for r in records[3:]] == FORMULA_NAMES  # JSON values are not altered
    candidate = records[0]["matches"][0]
    assert candidate["explanation"]["alias_normalized"] == "huawei technologies"
    assert candidate["explanation"]["tokens"][1]["rule"] == "fuzzy"
    assert candidate["explanation"]["rules"] == ["legal-suffix-dropped"]
    assert candidate["sources"][0]["quote"] == "Huawei Technologies"
    assert records[1]["matches"] == []


def test_json_empty_run_is_an_empty_array(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    run(JsonWriter(path), [])
    assert json.loads(path.read_text(encoding="utf-8")) == []


def test_jsonl_one_line_per_row(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    rows = sample()
    run(JsonLinesWriter(path), rows)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["row"] for line in lines] == [r.row for r in rows]
    assert json.loads(lines[0])["matches"][0]["explanation"]["tokens"][0]["alias_token"] == "huawei"


def test_dash_writes_json_lines_to_stdout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = sample()
    run(open_writer("-", []), rows)
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["row"] for line in lines] == [r.row for r in rows]
    assert list(tmp_path.iterdir()) == []


def test_dash_with_stream(tmp_path: Path) -> None:
    stream = io.StringIO()
    run(open_writer("-", [], stream=stream), sample()[:2])
    assert len(stream.getvalue().splitlines()) == 2


@pytest.mark.parametrize(
    ("name", "kind"),
    [("r.csv", CsvWriter), ("r.JSON", JsonWriter), ("r.jsonl", JsonLinesWriter), ("r.xlsx", ReportWriter)],
)
def test_open_writer_picks_by_extension(tmp_path: Path, name: str, kind: type) -> None:
    writer = open_writer(tmp_path / name, [])
    assert isinstance(writer, kind)
    assert isinstance(writer, ResultWriter)
    writer.abort()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["r.txt", "r", "r.xls"])
def test_open_writer_rejects_other_extensions(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="output must be") as err:
        open_writer(tmp_path / name, [])
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["r.csv", "r.json", "r.jsonl"])
def test_nothing_at_target_until_close_and_nothing_after_abort(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    writer = open_writer(target, [])
    for r in sample():
        writer.write(r)
    assert not target.exists()
    (temp,) = tmp_path.iterdir()
    assert temp.name.startswith(".") and temp.name.endswith(".tmp")
    writer.abort()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["r.csv", "r.json", "r.jsonl"])
def test_abort_keeps_previous_complete_output(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    target.write_text("previous run", encoding="utf-8")
    writer = open_writer(target, [])
    writer.write(result(2))
    writer.abort()
    assert target.read_text(encoding="utf-8") == "previous run"
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("name", ["r.csv", "r.json", "r.jsonl"])
def test_close_refuses_an_output_missing_rows(tmp_path: Path, name: str) -> None:
    writer = open_writer(tmp_path / name, [])
    writer.write(result(2))
    with pytest.raises(IncompleteOutputError, match="1 rows written but the run read 2"):
        writer.close(summary(2))
    assert list(tmp_path.iterdir()) == []


def test_abort_after_close_keeps_the_output_and_writes_after_close_fail(tmp_path: Path) -> None:
    target = tmp_path / "r.csv"
    writer = CsvWriter(target)
    run(writer, [result(2)])
    writer.abort()
    assert target.exists()
    with pytest.raises(RuntimeError):
        writer.write(result(3))


def test_jsonl_survives_unicode_line_separators(tmp_path):
    from screener.files.writers import json_text
    from screener.screening import Screener

    result = Screener.default().screen_name("Acme\u2028Trading\x85Co\u2029")
    text = json_text(result)
    assert len(text.splitlines()) == 1
    assert json.loads(text)["input_name"] == "Acme\u2028Trading\x85Co\u2029"
