"""Re-screen recorded runs when a list changes, and report only what changed.

A list update matters to a customer in two ways: they now match a party they did not match before
(a party was added, or a listed record changed), or a match they had is gone (the party was removed,
or its record no longer matches). `rescreen_rows` screens the same input rows against two versions
of one list and returns exactly those differences; a match present in both versions is not a change,
whatever its score did. `diff_lists` compares the two versions record by record (by party id).

Both versions are screened in full rather than only the changed parties, because a list update also
shifts the token weights every score depends on; a customer can cross the threshold without any
record of theirs changing, and that, too, is reported (as `new_match` or `no_longer_matches`).
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from screener.files.writers import inert
from screener.models import InputRow, Party, RestrictedList
from screener.names.normalize import normalize
from screener.names.scoring import Scored, prepare_unindexed, score_alias
from screener.screening import DEFAULT_THRESHOLD, Screener

# Compared to tell "changed" records apart; sources name the imported file, which differs per version.
_COMPARED_EXCLUDE = {"sources"}


class ChangeKind(StrEnum):
    NEW_MATCH_ADDED_PARTY = "new_match_added_party"  # the customer matches a party added to the list
    NEW_MATCH = "new_match"  # the customer now matches a party that was already listed
    MATCH_PARTY_REMOVED = "match_party_removed"  # a matched party is no longer on the list
    NO_LONGER_MATCHES = "no_longer_matches"  # the party is still listed but the customer no longer matches it

    @property
    def is_new(self) -> bool:
        return self in (ChangeKind.NEW_MATCH_ADDED_PARTY, ChangeKind.NEW_MATCH)


class Change(BaseModel):
    """One customer row whose screening outcome against one party differs between list versions."""

    run_id: str = ""
    sheet: str = ""
    row: int = 0
    input_name: str | None
    kind: ChangeKind
    party_id: str
    party_name: str
    list_name: str
    old_score: float | None = None
    new_score: float | None = None
    matched_alias: str | None = None
    explanation: str | None = None

    @property
    def score(self) -> float | None:
        return self.new_score if self.kind.is_new else self.old_score


class PartyChange(BaseModel):
    kind: Literal["added", "removed", "changed"]
    party_id: str
    name: str
    list_name: str
    fields: list[str] = Field(default_factory=list, description="for 'changed': the fields that differ")


class ListDiff(BaseModel):
    """Parties added, removed and changed between two versions of a list, by id."""

    name: str
    from_hash: str
    to_hash: str
    added: list[PartyChange] = Field(default_factory=list)
    removed: list[PartyChange] = Field(default_factory=list)
    changed: list[PartyChange] = Field(default_factory=list)

    def all(self) -> list[PartyChange]:
        return [*self.added, *self.removed, *self.changed]


class RunCovered(BaseModel):
    run_id: str
    started_at: str | None = None
    user: str | None = None
    from_hash: str
    threshold: float
    rows: int = 0


class RescreenReport(BaseModel):
    list_name: str
    to_hash: str
    generated_at: str
    runs: list[RunCovered] = Field(default_factory=list)
    diffs: list[ListDiff] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list)

    def counts(self) -> dict[str, int]:
        found = Counter(c.kind.value for c in self.changes)
        return {kind.value: found.get(kind.value, 0) for kind in ChangeKind}

    @property
    def new_matches(self) -> int:
        return sum(1 for c in self.changes if c.kind.is_new)


class RescreenError(ValueError):
    """The runs or versions asked for cannot be compared; the message says why."""


# --- the core: no store needed ------------------------------------------------------------------


def diff_lists(old: RestrictedList, new: RestrictedList, name: str | None = None) -> ListDiff:
    """Added, removed and changed parties by id; a record is changed when any field but its sources differs."""
    before = {p.id: p for p in old.parties}
    after = {p.id: p for p in new.parties}
    diff = ListDiff(name=name or new.name, from_hash=old.content_hash, to_hash=new.content_hash)
    for pid, party in after.items():
        if pid not in before:
            diff.added.append(_party_change("added", party))
            continue
        fields = _changed_fields(before[pid], party)
        if fields:
            diff.changed.append(_party_change("changed", party, fields))
    diff.removed = [_party_change("removed", p) for pid, p in before.items() if pid not in after]
    return diff


def _party_change(
    kind: Literal["added", "removed", "changed"], party: Party, fields: list[str] | None = None
) -> PartyChange:
    return PartyChange(kind=kind, party_id=party.id, name=party.name, list_name=party.list_name, fields=fields or [])


def _changed_fields(a: Party, b: Party) -> list[str]:
    da = a.model_dump(mode="json", exclude=_COMPARED_EXCLUDE)
    db = b.model_dump(mode="json", exclude=_COMPARED_EXCLUDE)
    return [k for k in da if da[k] != db.get(k)]


def hits_of(screener: Screener, row: InputRow) -> dict[str, tuple[Party, Scored]]:
    """Every party the row matches at or above the screener's threshold (not only the top few)."""
    if row.not_screened_reason or not row.name:
        return {}
    query = normalize(row.name)
    if not query.tokens:
        return {}
    index = screener.index
    found = index.match(query, floor=screener.threshold, limit=len(index.parties))
    return {index.parties[p][1].id: (index.parties[p][1], scored) for p, _, scored in found}


def _compare(
    rows: Iterable[InputRow],
    old: Screener,
    new: Screener,
    added: set[str],
    removed: set[str],
    run_id: str,
    tally: RunCovered | None = None,
) -> list[Change]:
    changes: list[Change] = []
    for row in rows:
        if tally is not None:
            tally.rows += 1
        before, after = hits_of(old, row), hits_of(new, row)
        base = {"run_id": run_id, "sheet": row.sheet, "row": row.row, "input_name": row.name}
        for pid in after.keys() - before.keys():
            party, scored = after[pid]
            kind = ChangeKind.NEW_MATCH_ADDED_PARTY if pid in added else ChangeKind.NEW_MATCH
            old_score = score_if_listed(old, row, pid)
            changes.append(_change(base, kind, party, scored, old_score, scored.score))
        for pid in before.keys() - after.keys():
            party, scored = before[pid]
            kind = ChangeKind.MATCH_PARTY_REMOVED if pid in removed else ChangeKind.NO_LONGER_MATCHES
            new_score = None if pid in removed else score_if_listed(new, row, pid)
            changes.append(_change(base, kind, party, scored, scored.score, new_score))
    changes.sort(key=lambda c: (c.run_id, c.sheet, c.row, c.kind.value, c.party_id))
    return changes


def score_if_listed(screener: Screener, row: InputRow, pid: str) -> float | None:
    """The row's best score (below the threshold) against one party of this version, for context."""
    index = screener.index
    idx = next((i for i, (_, p) in enumerate(index.parties) if p.id == pid), None)
    if idx is None or not row.name:
        return None
    query = prepare_unindexed(normalize(row.name))
    return max((score_alias(query, a, index.weight).score for a in index.aliases if a.party == idx), default=None)


def _change(base: dict[str, Any], kind: ChangeKind, party: Party, scored: Scored, old: float | None,
            new: float | None) -> Change:
    return Change(
        **base,
        kind=kind,
        party_id=party.id,
        party_name=party.name,
        list_name=party.list_name,
        old_score=old,
        new_score=new,
        matched_alias=scored.explanation.alias,
        explanation=scored.explanation.text(),
    )


def rescreen_rows(
    rows: Iterable[InputRow],
    old: RestrictedList,
    new: RestrictedList,
    key: str = "default",
    threshold: float = DEFAULT_THRESHOLD,
    run_id: str = "",
) -> list[Change]:
    """What changes for these rows when the list `key` goes from `old` to `new`; nothing else."""
    diff = diff_lists(old, new, key)
    return _compare(
        rows,
        Screener([(key, old)], threshold=threshold),
        Screener([(key, new)], threshold=threshold),
        {c.party_id for c in diff.added},
        {c.party_id for c in diff.removed},
        run_id,
    )


# --- recorded runs ----------------------------------------------------------------------------


class StoreLike(Protocol):
    def list_runs(self) -> Sequence[Any]: ...

    def run_inputs(self, run_id: str) -> Iterable[InputRow]: ...


def run_id_of(run: Any) -> str:
    return str(getattr(run, "run_id", None) or run.id)


def rescreen(
    store: StoreLike,
    name: str,
    *,
    from_version: str | None = None,
    to_version: str | None = None,
    run_ids: Sequence[str] | None = None,
    threshold: float | None = None,
) -> RescreenReport:
    """Re-screen recorded runs against two versions of list `name`.

    By default every run that screened against `name` is compared from the version it used to the
    current one, at the run's own threshold. `run_ids` picks runs (they must have used the list
    unless `from_version` is given); `from_version`/`to_version` are content-hash prefixes.
    """
    from screener.lists.catalog import load_named_list

    def load(version: str | None) -> RestrictedList:
        try:
            return load_named_list(name, version)
        except KeyError as exc:
            raise RescreenError(str(exc.args[0]) if exc.args else f"unknown list {name!r}") from None

    new = load(to_version)
    runs = list(store.list_runs())
    if run_ids:
        by_id = {run_id_of(r): r for r in runs}
        unknown = [r for r in run_ids if r not in by_id]
        if unknown:
            raise RescreenError(f"no recorded run {', '.join(unknown)}")
        runs = [by_id[r] for r in dict.fromkeys(run_ids)]
    fixed_old = load(from_version) if from_version is not None else None

    plan: list[tuple[Any, RestrictedList]] = []
    for run in runs:
        used = next((i for i in run.lists if i.key == name), None)
        if fixed_old is not None:
            plan.append((run, fixed_old))
        elif used is not None:
            try:
                plan.append((run, load_named_list(name, used.content_hash)))
            except KeyError:
                raise RescreenError(
                    f"run {run_id_of(run)} screened against {name} version {used.content_hash[:16]},"
                    " which is not in the catalog; give --from"
                ) from None
        elif run_ids:
            raise RescreenError(f"run {run_id_of(run)} did not screen against {name!r}; give --from")
    if not plan and fixed_old is None:
        raise RescreenError(f"no recorded run screened against {name!r}; give --run and --from")

    report = RescreenReport(
        list_name=name, to_hash=new.content_hash, generated_at=datetime.now(UTC).isoformat(timespec="seconds")
    )
    diffs: dict[str, ListDiff] = {}
    screeners: dict[tuple[str, float], Screener] = {}

    def screener(lst: RestrictedList, limit: float) -> Screener:
        key = (lst.content_hash, limit)
        if key not in screeners:
            screeners[key] = Screener([(name, lst)], threshold=limit)
        return screeners[key]

    if fixed_old is not None:
        diffs[fixed_old.content_hash] = diff_lists(fixed_old, new, name)
    for run, old in plan:
        limit = float(threshold if threshold is not None else getattr(run, "threshold", DEFAULT_THRESHOLD))
        if old.content_hash not in diffs:
            diffs[old.content_hash] = diff_lists(old, new, name)
        diff = diffs[old.content_hash]
        tally = RunCovered(
            run_id=run_id_of(run),
            started_at=getattr(run, "started_at", None),
            user=getattr(run, "user", None),
            from_hash=old.content_hash,
            threshold=limit,
        )
        if old.content_hash != new.content_hash:
            report.changes.extend(
                _compare(
                    store.run_inputs(tally.run_id),
                    screener(old, limit),
                    screener(new, limit),
                    {c.party_id for c in diff.added},
                    {c.party_id for c in diff.removed},
                    tally.run_id,
                    tally,
                )
            )
        else:
            tally.rows = sum(1 for _ in store.run_inputs(tally.run_id))
        report.runs.append(tally)
    report.diffs = list(diffs.values())
    return report


# --- output -------------------------------------------------------------------------------------

CHANGE_COLUMNS = (
    "run id", "sheet", "row", "customer name", "change", "party id", "party name", "list",
    "score before", "score after", "matched alias", "explanation",
)  # fmt: skip
PARTY_COLUMNS = ("from version", "to version", "change", "party id", "party name", "list", "fields changed")


def _change_values(c: Change) -> list[object]:
    return [
        c.run_id, c.sheet, c.row, c.input_name, c.kind.value, c.party_id, c.party_name, c.list_name,
        c.old_score, c.new_score, c.matched_alias, c.explanation,
    ]  # fmt: skip


def _party_values(d: ListDiff, p: PartyChange) -> list[object]:
    return [d.from_hash[:16], d.to_hash[:16], p.kind, p.party_id, p.name, p.list_name, ", ".join(p.fields)]


def _summary_rows(report: RescreenReport) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [
        ("list", report.list_name),
        ("compared to version", report.to_hash),
        ("generated at (UTC)", report.generated_at),
    ]
    for d in report.diffs:
        rows.append(("compared from version", d.from_hash))
        rows.append((f"  parties added / removed / changed ({d.from_hash[:16]})",
                     f"{len(d.added)} / {len(d.removed)} / {len(d.changed)}"))
    rows.append(("runs covered", len(report.runs)))
    for r in report.runs:
        detail = f"{r.rows} rows, from {r.from_hash[:16]}, threshold {r.threshold:g}, started {r.started_at or '?'}"
        rows.append((f"  run {r.run_id}", detail))
    for kind, n in report.counts().items():
        rows.append((f"changes: {kind}", n))
    rows.append(("changes: total", len(report.changes)))
    return rows


def write_report(report: RescreenReport, output: str | Path) -> None:
    """Write .xlsx (Summary, Changes, List changes), .csv (the changes) or .json (everything), atomically."""
    path = Path(output)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv", ".json"):
        raise ValueError(f"{path}: output must be .xlsx, .csv or .json")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if suffix == ".xlsx":
            _write_xlsx(report, tmp)
        elif suffix == ".csv":
            with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(CHANGE_COLUMNS)
                for c in report.changes:
                    writer.writerow([inert(v) for v in _change_values(c)])
        else:
            data = report.model_dump(mode="json")
            data["counts"] = report.counts()
            Path(tmp).write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_xlsx(report: RescreenReport, path: str) -> None:
    """Every text cell is written as a string: list data must never run as a formula or become a link."""
    import xlsxwriter

    book = xlsxwriter.Workbook(
        path, {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    )
    try:
        bold = book.add_format({"bold": True})

        def put(sheet: Any, r: int, c: int, value: object) -> None:
            if value is None:
                return
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value))

        summary = book.add_worksheet("Summary")
        summary.set_column(0, 0, 48)
        summary.set_column(1, 1, 80)
        for r, (label, value) in enumerate(_summary_rows(report)):
            summary.write_string(r, 0, label, bold if not label.startswith(" ") else None)
            put(summary, r, 1, value)

        for title, columns, rows in (
            ("Changes", CHANGE_COLUMNS, [_change_values(c) for c in report.changes]),
            ("List changes", PARTY_COLUMNS, [_party_values(d, p) for d in report.diffs for p in d.all()]),
        ):
            sheet = book.add_worksheet(title)
            for c, col in enumerate(columns):
                sheet.write_string(0, c, col, bold)
                sheet.set_column(c, c, 60 if col in ("explanation", "fields changed") else 20)
            for r, values in enumerate(rows, start=1):
                for c, value in enumerate(values):
                    put(sheet, r, c, value)
            sheet.freeze_panes(1, 0)
            if rows:
                sheet.autofilter(0, 0, len(rows), len(columns) - 1)
    finally:
        book.close()
