"""The spreadsheet round trip: a recorded run's report with today's decisions, and the decisions an
analyst filled in on its Potential matches sheet, recorded like the page's.

The report names its run (Summary sheet, "Run id"); each line with a Decision is found among that
run's recorded potential matches by sheet, input row, input name, party id and list, so the
evidence bound to the decision is what the run recorded, never what the spreadsheet was edited to
say. The same rules as on the page apply (`DecisionLog.decide_on_run`): a comment is required, the
run's list version must be the one loaded, a strong match's clearance waits for a supervisor. Every
filled-in line gets an answer: taken (and how), already recorded, or refused and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from screener.files.errors import InputError, one_line
from screener.files.report import (
    MATCH_KEY_HEADERS,
    SHEET_DECISIONS,
    ReportWriter,
    page_name,
)
from screener.files.xlsx import Book, check_zip
from screener.models import AliasKind, Explanation, Match, RowResult, Status
from screener.review.decisions import APPLY_BATCH, Evidence, basis_of
from screener.review.schema import StoreError

if TYPE_CHECKING:
    from screener.review.store import RunRecord, RunRow, Store
    from screener.screening import Screener

MATCHES_SHEET = "Potential matches"
NEEDED = ("sheet", "input row", "input name", "entity id", "list", "Decision", "Comment")


class ImportLine(BaseModel):
    line: int  # the row on the Potential matches sheet
    input_name: str
    entity_id: str
    outcome: Literal["taken", "unchanged", "refused"]
    message: str

    def text(self) -> str:
        return one_line(f"{MATCHES_SHEET} row {self.line}: {one_line(self.input_name)} / {self.entity_id}: "
                        f"{self.outcome}: {self.message}")


class ImportReport(BaseModel):
    run_id: str
    lines: list[ImportLine]

    def count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)


def _cell(values: list[Any], index: int) -> str:
    value = values[index] if index < len(values) else None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def _run_id(book: Book, file_name: str) -> str:
    if "Summary" not in book.workbook.sheetnames:
        raise InputError("not a screener report: no Summary sheet", file=file_name)
    for n, values in book.records("Summary"):
        if _cell(values, 0) == "Run id" and _cell(values, 1):
            return _cell(values, 1)
        if n > 50:
            break
    raise InputError('not a screener report: the Summary sheet names no "Run id"', file=file_name, sheet="Summary")


def import_decisions(
    store: Store, path: Path, user: str, screener_for: Callable[[RunRecord], Screener], *,
    file_name: str | None = None, viewer: str | None = None,
) -> ImportReport:
    """Record the Decision/Comment cells of a filled-in report; one answer per filled-in line.

    `screener_for(run)` gives the lists to decide against (the run's, as loaded now)."""
    name = file_name or path.name
    check_zip(path, {"file": name})
    book = Book.open(path, name)
    try:
        run_id = _run_id(book, name)
        run = store.get_run(run_id, viewer=viewer)  # a run the viewer may not see is no run
        if run is None:
            raise InputError(f"run {run_id} is not in the audit store: only recorded runs (the page, "
                             "`screen --record`) can be reviewed", file=name)
        screener = screener_for(run)
        recorded: dict[tuple[str, int], list[RunRow]] = {}
        for row in store.run_rows(run_id, status=Status.POTENTIAL_MATCH):
            recorded.setdefault((row.sheet, row.row), []).append(row)
        basis = basis_of(screener, run.lists, run.threshold)
        lines: list[ImportLine] = []
        page = 0
        while (sheet := page_name(MATCHES_SHEET, page)) in book.workbook.sheetnames:
            page += 1
            records = book.records(sheet)
            header = next(records, (0, []))[1]
            at = {_cell(header, i): i for i in range(len(header))}  # printed headers: report.MATCH_KEY_HEADERS
            columns = {key: at[printed] for key, printed in MATCH_KEY_HEADERS.items() if printed in at}
            missing = [MATCH_KEY_HEADERS[h] for h in NEEDED if h not in columns]
            if missing:
                raise InputError(f"no {', '.join(repr(h) for h in missing)} column: not a report of this "
                                 "screener version", file=name, sheet=sheet, row=1)
            for n, values in records:
                label = _cell(values, columns["Decision"]).casefold()
                if not label:
                    continue
                lines.append(_one(store, user, screener, run, recorded, basis, n, label,
                                  {h: _cell(values, columns[h]) for h in NEEDED}))
        if page == 0:
            raise InputError(f"not a screener report: no {MATCHES_SHEET} sheet", file=name)
    finally:
        book.close()
    return ImportReport(run_id=run_id, lines=lines)


def _one(store: Store, user: str, screener: Screener, run: Any, recorded: dict[tuple[str, int], list[RunRow]],
         basis: Any, n: int, label: str, cells: dict[str, str]) -> ImportLine:
    def answer(outcome: Literal["taken", "unchanged", "refused"], message: str) -> ImportLine:
        return ImportLine(line=n, input_name=cells["input name"], entity_id=cells["entity id"], outcome=outcome,
                          message=message)

    decision = SHEET_DECISIONS.get(label)
    if decision is None:
        return answer("refused", f"Decision {label!r} is not one of: {', '.join(SHEET_DECISIONS)}")
    if not cells["Comment"]:
        return answer("refused", "a comment is required: say why")
    try:
        at = (cells["sheet"], int(cells["input row"]))
    except ValueError:
        return answer("refused", f"input row {cells['input row']!r} is not a row number")
    rows = [r for r in recorded.get(at, []) if (r.input_name or "") == cells["input name"]]
    found = [(r, m) for r in rows for m in r.matches
             if m.entity_id == cells["entity id"] and m.list_name == cells["list"]]
    if len(found) != 1:
        why = "is not" if not found else "is more than one"
        return answer("refused", f"{why} potential match of run {run.run_id} at {at[0]} row {at[1]} "
                      f"with this name and party")
    row, match = found[0]
    evidence = Evidence.recorded(row)
    (review,) = store.review_rows([(evidence, [match])], basis)
    current = review.candidates[0]
    if current.decision is not None and current.decision.decision == decision and \
            current.decision.comment == cells["Comment"]:
        return answer("unchanged", f"already recorded: {current.decision.review_text()}")
    try:
        made = store.decide_on_run(user, run, row, match, screener, decision, cells["Comment"])
    except StoreError as exc:
        return answer("refused", str(exc))
    if made.pending:
        return answer("taken", f"{made.review_text()} (a strong match: a supervisor other than {user} "
                      "must approve it before it clears)")
    return answer("taken", made.review_text())


# --- the report of a recorded run, with today's decisions ---------------------------------------------


def _result(row: RunRow, parties: Mapping[tuple[str, str], str]) -> RowResult:
    """A recorded row as a result. Potential matches kept every candidate with its evidence; other
    rows kept only their best candidate's id and alias, which is all the All rows sheet shows."""
    matches = row.matches
    if not matches and row.entity_id and row.score is not None:
        alias = row.matched_alias or ""
        matches = [Match(
            entity_id=row.entity_id, entity_name=parties.get((row.list_key or "", row.entity_id), row.entity_id),
            list_name="", list_key=row.list_key or "default", score=row.score, matched_alias=alias,
            explanation=Explanation(alias=alias, alias_kind=AliasKind.LISTED, input_normalized="",
                                    alias_normalized="", tokens=[]),
        )]
    return RowResult(
        sheet=row.sheet, row=row.row, input_name=row.input_name, input_country=row.country,
        input_address=row.address, status=row.status, score=row.score, matches=matches,
        not_screened_reason=row.not_screened_reason,
    )


def write_reviewed_report(store: Store, run: RunRecord, screener: Screener, path: Path) -> bool:
    """The run's Excel report again, each potential match with the decision in force today.

    Only while the screener holds the list versions the run screened (its Restricted parties sheet
    must be the one the run used): False, and nothing written, otherwise."""
    current = {key: lst for key, lst in screener.lists}
    if any(current.get(li.key) is None or current[li.key].content_hash != li.content_hash for li in run.lists):
        return False
    basis = basis_of(screener, run.lists, run.threshold)
    parties = {(key, p.id): p.name for key, lst in current.items() for p in lst.parties}
    writer = ReportWriter(path, [(li.key, current[li.key]) for li in run.lists])
    alerts = 0
    try:
        rows = store.run_rows(run.run_id)
        while batch := list(islice(rows, APPLY_BATCH)):
            todo = [r for r in batch if r.status is Status.POTENTIAL_MATCH and r.matches]
            reviews = dict(zip((r.seq for r in todo), store.review_rows(
                [(Evidence.recorded(r), r.matches) for r in todo], basis), strict=True))
            for r in batch:
                result = _result(r, parties)
                if r.seq in reviews:
                    result = result.model_copy(update=reviews[r.seq].fields(result.matches))
                alerts += result.alert
                writer.write(result)
        writer.close(run.model_copy(update={"alerts": alerts}))
    except BaseException:
        writer.abort()
        raise
    return True
