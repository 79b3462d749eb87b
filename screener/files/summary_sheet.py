"""The Summary and Legend sheets of the Excel report: what was screened, against what, and how to read it.

Both are written at close, when the run's summary is known; each prints on one landscape page.
The coverage statement of every list screened sits on the Summary, under a warning line, because
a clear row only means "not among these lists' parties".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from screener.files.sheets import (
    Formats,
    page_setup,
    row_points,
    wrapped_lines,
    write_text,
)
from screener.files.wording import (
    ALIAS_KIND_LABELS,
    CLEARED_LABEL,
    REVIEW_LABELS,
    STATUS_LABELS,
    review_label,
)
from screener.lists.coverage import COVERAGE_WARNING, coverage_lines
from screener.models import ListInfo, RunSummary, Status

TITLE = "Restricted-party screening report"
SUMMARY_WIDTHS = (30, 66, 26, 14, 14, 14, 40)
LEGEND_WIDTHS = (30, 110)


@dataclass
class Tally:
    """What the writer counted while the rows went by."""

    written: int = 0
    counts: Counter[Status] = field(default_factory=Counter)
    reviews: Counter[str] = field(default_factory=Counter)  # potential matches by review status
    by_sheet: Counter[str] = field(default_factory=Counter)


class _Lines:
    """Rows written top to bottom; a wrapped cell's row is made tall enough for its text."""

    def __init__(self, ws: Worksheet, fmts: Formats, widths: tuple[int, ...]) -> None:
        self.ws, self.f, self.widths, self.row = ws, fmts, widths, 0
        for col, width in enumerate(widths):
            ws.set_column(col, col, width)

    def line(self, *values: Any, fmt: Format | None = None, wrap: bool = False) -> None:
        ws, f = self.ws, self.f
        if wrap:
            lines = max(wrapped_lines(str(v), self.widths[i]) for i, v in enumerate(values) if v not in (None, ""))
            ws.set_row(self.row, row_points(lines))
        for col, value in enumerate(values):
            if value is None or value == "":
                continue
            if isinstance(value, (int, float)):
                ws.write_number(self.row, col, value, f.decimal if isinstance(value, float) else fmt or f.number)
            else:
                write_text(ws, self.row, col, str(value), fmt or (f.wrap if wrap else None), f.plain)
        self.row += 1

    def section(self, title: str, *headers: str) -> None:
        self.row += 1
        self.line(title, fmt=self.f.section)
        if headers:
            self.line(*headers, fmt=self.f.header)


def print_header(summary: RunSummary, infos: list[ListInfo]) -> str:
    """The page header: which run, against which list versions."""
    lists = ", ".join(f"{i.name} {i.version}" for i in infos)
    return f"Run {summary.run_id} · lists: {lists}"


def write_summary(
    ws: Worksheet, f: Formats, summary: RunSummary, tally: Tally, infos: list[ListInfo], sheets: list[tuple[str, int]]
) -> None:
    out = _Lines(ws, f, SUMMARY_WIDTHS)
    line, section = out.line, out.section
    line(TITLE, fmt=f.title)
    line(f"Complete: all {tally.written:,} data rows read from the inputs are reported in this workbook.", fmt=f.ok)
    line("Coverage", COVERAGE_WARNING, fmt=f.warn, wrap=True)

    section("Run")
    line("Run id", summary.run_id)
    line("User", summary.user or "")
    line("Started (UTC)", summary.started_at)
    line("Duration (seconds)", float(summary.duration_seconds))
    line("Tool version", summary.tool_version)
    line("Match threshold", float(summary.threshold))

    section("Results by status", "Status", "Rows")
    for status in Status:
        line(STATUS_LABELS[status], tally.counts[status])
    line("Total rows", tally.written, fmt=f.bold)
    if tally.counts[Status.POTENTIAL_MATCH]:
        section("Potential matches by review", "Review", "Match lines")
        for status, n in sorted(tally.reviews.items(), key=lambda kv: list(REVIEW_LABELS).index(kv[0])
                                if kv[0] in REVIEW_LABELS else len(REVIEW_LABELS)):
            line(review_label(status), n)
    _write_column_usage(summary, line, section, f)

    section("Inputs", "File", "SHA-256", "Sheet", "Rows read", "Rows reported", "Note")
    listed = {sheet for info in summary.inputs for sheet in info.sheets}  # distinct (`readers.label_sheets`)
    for info in summary.inputs:
        if not info.sheets:
            line(info.file_name, info.sha256)
        for sheet, read in info.sheets.items():
            line(info.file_name, info.sha256, sheet, read, tally.by_sheet.get(sheet, 0))
    for sheet, reported in tally.by_sheet.items():
        if sheet not in listed:  # never hide rows the inputs do not account for
            line("", "", sheet, None, reported, "sheet not listed in any input" if listed else "")
    line("Total", "", "", summary.rows_read, tally.written, fmt=f.bold)

    section("Lists screened", "Key", "Content hash (SHA-256)", "Name", "Version", "Parties", "Aliases")
    for info in infos:
        line(info.key, info.content_hash, info.name, info.version, info.parties, info.aliases)
    section("What the lists cover")
    for name, text in coverage_lines(infos):
        line(name, text, wrap=True)

    section("Sheets in this workbook", "Sheet", "Data rows")
    for name, rows in sheets:
        line(name, rows)
    page_setup(ws, print_header(summary, infos), repeat_header=False, one_page=True)


def _write_column_usage(summary: RunSummary, line: Any, section: Any, f: Formats) -> None:
    """The verdict and, per sheet, which column was screened as what and which not (issue 12)."""
    section("Verdict")
    line("Exit code 0 / clear" if summary.clear else "Needs review", summary.verdict,
         fmt=f.ok if summary.clear else f.bold)
    if summary.allow_unscreened:
        line("Not-screened records", "treated as clear (--allow-unscreened)", fmt=f.bold)
    line("Records / data rows", f"{summary.rows_reported:,} records from {summary.data_rows_read:,} data rows")
    for warning in summary.warnings:
        line("Warning", warning, fmt=f.bold)
    for note in summary.notes:
        line("Note", note)
    section("Columns", "File", "Sheet", "Column", "Used as", "Chosen by", "Note")
    for usage in summary.columns:
        for c in usage.columns:
            line(usage.file_name, usage.sheet, f"{c.column} ({c.letter})", c.use, c.chosen_by or "", c.note or "")


def write_legend(ws: Worksheet, f: Formats, summary: RunSummary, infos: list[ListInfo]) -> None:
    """Statuses, score, threshold, reviews and what a clearance means, in words."""
    out = _Lines(ws, f, LEGEND_WIDTHS)
    line, section = out.line, out.section
    threshold = f"{summary.threshold:g}"
    line("How to read this report", fmt=f.title)
    section("Statuses", "Status", "Meaning")
    line(STATUS_LABELS[Status.POTENTIAL_MATCH], f"A party of a list screened scored {threshold} or more against the "
         "input name. It needs an analyst's review before the business goes ahead; it is not a finding that "
         "the customer is the listed party.", wrap=True)
    line(STATUS_LABELS[Status.CLEAR], f"No party of the lists screened scored {threshold} or more. It says nothing "
         "about parties those lists do not hold: see What the lists cover on the Summary.", wrap=True)
    line(STATUS_LABELS[Status.NOT_SCREENED], "The row could not be screened (an empty name, a formula without a "
         "value, no letters or digits); the Note says why. It is never counted as clear.", wrap=True)
    line(CLEARED_LABEL, "A potential match an analyst recorded as a false positive, with a comment; it stays "
         "cleared until the party's list record or the threshold changes.", wrap=True)
    section("Scores and threshold", "Term", "Meaning")
    line("Score", "0 to 100: the weighted share of the listed name found in the input, lowered a little by "
         "extra words. 100 means the input equals a listed name once spelling, spacing, script and legal "
         "form are set aside. Country and address never change the score.", wrap=True)
    line("Match threshold", f"{threshold} in this run: rows scoring at or above it are potential matches.", wrap=True)
    line("Why it matched", "Which of the party's names matched and what differed, in words. The Technical "
         "trace column (not printed) keeps every token, weight and rule for an expert.", wrap=True)
    line("Sources", "Short references (S1, S2…) to the Sources sheet, which gives each Federal Register notice "
         "(citation, FR Doc number, date, link) and article (headline, publisher, date).", wrap=True)
    section("Reviews", "Review", "Meaning")
    meanings = {
        "open": "No decision yet: the match must be reviewed.",
        "cleared": "An analyst recorded it as a false positive, with who, when and why.",
        "confirmed": "An analyst confirmed the customer is the listed party: the list's licence requirement applies.",
        "pending_approval": "A clearance of a strong match waits for a second person's approval; it still holds.",
        "escalated": "Passed to a senior reviewer; it still holds.",
    }
    for status, label in REVIEW_LABELS.items():
        line(label, meanings.get(status, ""), wrap=True)
    line("Decision / Comment", "Fill in a Decision (false positive, confirmed, escalate) and a Comment on the "
         "Potential matches sheet and import the file with `screener decisions import` to record them.", wrap=True)
    section("What a clearance means", "", "")
    line("Clear", "A clear run means every row was screened and none scored at or above the threshold against "
         "the lists named on the Summary, in the versions named there. It is not clearance against lists "
         "or entries those lists do not cover.", wrap=True)
    section("Kinds of names", "Kind", "Meaning")
    line(", ".join(ALIAS_KIND_LABELS.values()), "How a name stands for the party: the name the list prints, the "
         "company's legal or brand name, a former name, a spelling variant, a transliteration, the name in Chinese "
         "script, an abbreviation, or a name in another script.", wrap=True)
    page_setup(ws, print_header(summary, infos), repeat_header=False, one_page=True)
