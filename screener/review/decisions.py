"""Analysts' decisions, bound to the evidence they were made on, with four-eyes approval.

A decision is logged (never edited) with the evidence the analyst saw: the normalised input name,
the country, the normalised address, the customer's own id, the party id, the hash of the party's
list record and the list version. A later row inherits it only when all of that agrees: a
clearance made for "Dahua Foods Ltd (US)" does not clear "Dahua Foods Ltd, CN, 1199 Bin'an Road",
which instead shows the earlier clearance and how this row differs. A new list version, an edited
party record or another threshold reopens the decision.

Clearing a strong match (score at or above the policy's four-eyes score, or an exact alias) needs a
supervisor other than the proposer; until approved it is "pending approval" and still an alert.

`apply_decisions` is the one function every shell (page, API, `check`, `screen`) uses to put the
decisions on results; `review_rows` is the same judgement for rows already recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel
from rigour.addresses import normalize_address

from screener.models import ListInfo, Match, Party, RowResult, Status
from screener.names.normalize import normalize
from screener.review.audit import append_event, approval_fields, decision_fields
from screener.review.schema import StoreError, approvals, decisions, now

if TYPE_CHECKING:
    from screener.review.store import RunRecord, RunRow
    from screener.screening import Screener

Decision = Literal["false_positive", "confirmed", "escalated"]
DECISIONS: tuple[str, ...] = ("false_positive", "confirmed", "escalated")
ReviewStatus = Literal["open", "cleared", "confirmed", "pending_approval", "escalated"]
DECIDING_ROLES = ("analyst", "supervisor")
LOOKUP_BATCH = 300  # (name, party) keys per query
APPLY_BATCH = 1_000  # results judged together while streaming


# --- evidence -------------------------------------------------------------------------------------


def input_key(name: str | None) -> str:
    """The form of an input name decisions are keyed on: spelling and legal-form noise removed."""
    return normalize(name).text


def country_key(country: str | None) -> str | None:
    return country.strip().upper() or None if country else None


def address_key(address: str | None) -> str | None:
    """Case, punctuation and spacing removed (rigour), so a retyped address is the same address."""
    return normalize_address(address, min_length=1) if address and address.strip() else None


def customer_key(customer_id: str | None) -> str | None:
    return customer_id.strip() or None if customer_id else None


CUSTOMER_ID_HEADERS = frozenset({
    "customer id", "customer no", "customer number", "customer code", "customer ref", "client id",
    "client number", "account", "account id", "account no", "account number", "debtor number", "kundennummer",
})


def customer_id_of(fields: Mapping[str, str]) -> str | None:
    """The customer's own id from the row's cells, when a column is headed like one."""
    for header, value in fields.items():
        if " ".join("".join(ch if ch.isalnum() else " " for ch in header.casefold()).split()) in CUSTOMER_ID_HEADERS:
            return customer_key(value)
    return None


def party_hash(party: Party) -> str:
    """Identifies the exact party record a decision was made against."""
    return hashlib.sha256(party.model_dump_json().encode("utf-8")).hexdigest()


def is_strong(match: Match, four_eyes_score: float) -> bool:
    """A match whose clearance needs a second person: a high score or an exact alias."""
    exact = match.explanation.input_normalized == match.explanation.alias_normalized
    return match.score >= four_eyes_score or exact


def _where(country: str | None, address: str | None, customer_id: str | None) -> str:
    parts = [p.strip() for p in (country, address) if p and p.strip()]
    if customer_id and customer_id.strip():
        parts.append(f"customer id {customer_id.strip()}")
    return ", ".join(parts) or "no country or address"


class Evidence(BaseModel):
    """What a row says about the party: a decision made on it holds only for the same."""

    name: str | None
    country: str | None = None
    address: str | None = None
    customer_id: str | None = None

    @classmethod
    def of(cls, result: RowResult) -> Evidence:
        return cls(name=result.input_name, country=result.input_country, address=result.input_address,
                   customer_id=customer_id_of(result.fields))

    @classmethod
    def recorded(cls, row: RunRow) -> Evidence:
        return cls(name=row.input_name, country=row.country, address=row.address, customer_id=row.customer_id)

    def key(self) -> tuple[str, str | None, str | None, str | None]:
        return (input_key(self.name), country_key(self.country), address_key(self.address),
                customer_key(self.customer_id))

    def where(self) -> str:
        return _where(self.country, self.address, self.customer_id)


# --- records --------------------------------------------------------------------------------------


class ApprovalRecord(BaseModel):
    id: int
    decision_id: int
    user: str
    approved_at: datetime
    comment: str | None = None


class DecisionRecord(BaseModel):
    """One logged decision, with the evidence it was made on and its approval, if any."""

    id: int
    input_name: str
    input_key: str
    entity_id: str
    list_key: str
    party_hash: str
    threshold: float
    decision: Decision
    comment: str
    user: str
    decided_at: datetime
    country: str | None = None
    address: str | None = None
    customer_id: str | None = None
    country_key: str | None = None
    address_key: str | None = None
    list_hash: str | None = None  # None: logged before decisions were bound to their evidence
    list_version: str | None = None
    score: float | None = None
    strong: bool | None = None
    role: str | None = None
    run_id: str | None = None
    approvals: list[ApprovalRecord] = []

    @property
    def approval(self) -> ApprovalRecord | None:
        return self.approvals[0] if self.approvals else None

    @property
    def pending(self) -> bool:
        """A clearance of a strong match that no second person has approved yet."""
        return self.decision == "false_positive" and bool(self.strong) and self.approval is None

    def evidence_key(self) -> tuple[str, str | None, str | None, str | None]:
        return (self.input_key, self.country_key, self.address_key, customer_key(self.customer_id))

    @property
    def verb(self) -> str:
        return {"false_positive": "cleared", "confirmed": "confirmed", "escalated": "escalated"}[self.decision]

    def review_text(self) -> str:
        day = self.decided_at.date().isoformat()
        if self.pending:
            return f"clearance pending approval: proposed by {self.user} on {day}: {self.comment}"
        if self.approval is not None:
            by = f"approved by {self.approval.user} on {self.approval.approved_at.date().isoformat()}"
            return f"{self.verb} by {self.user} on {day}, {by}: {self.comment}"
        return f"{self.verb} by {self.user} on {day}: {self.comment}"

    def elsewhere_text(self, row: Evidence) -> str:
        """Shown on a row this decision does not cover because the evidence differs."""
        day = self.decided_at.date().isoformat()
        made_for = f"{self.input_name} ({_where(self.country, self.address, self.customer_id)})"
        return f"{self.verb} on {day} by {self.user} for {made_for}; this row: {row.where()}"


# --- judging --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Basis:
    """What rows were screened against; a decision holds only when made against the same."""

    threshold: float
    list_hashes: Mapping[str, str]
    party_hash: Callable[[str, str], str | None]  # (list key, entity id) -> record hash, None if unknown


def basis_of(screener: Screener, lists: Sequence[ListInfo] | None = None, threshold: float | None = None) -> Basis:
    """The screener's lists and threshold, or those of a recorded run (`lists`, `threshold`).

    Hashes come from `list_infos` (computed once per screener); the lists themselves are only read
    when a decision's party record must be compared, and a run's party records are known only where
    the screener still holds the list version it ran."""
    loaded = {info.key: info.content_hash for info in screener.list_infos()}
    hashes = {li.key: li.content_hash for li in lists} if lists is not None else loaded
    cache: dict[tuple[str, str], str | None] = {}

    def record_hash(list_key: str, entity_id: str) -> str | None:
        if (list_key, entity_id) not in cache:
            party = None
            if loaded.get(list_key) is not None and loaded[list_key] == hashes.get(list_key):
                lst = dict(screener.lists)[list_key]
                party = next((p for p in lst.parties if p.id == entity_id), None)
            cache[(list_key, entity_id)] = party_hash(party) if party else None
        return cache[(list_key, entity_id)]

    return Basis(threshold=screener.threshold if threshold is None else threshold,
                 list_hashes=hashes, party_hash=record_hash)


class CandidateReview(BaseModel):
    """One candidate of a row under the decision log."""

    status: ReviewStatus
    decision: DecisionRecord | None = None  # in force for this row (cleared, confirmed, pending, escalated)
    earlier: DecisionRecord | None = None  # a decision that does not hold for this row
    note: str | None = None  # why it does not

    def text(self) -> str | None:
        return self.decision.review_text() if self.decision else self.note


class RowReview(BaseModel):
    status: ReviewStatus
    candidates: list[CandidateReview]

    def fields(self, matches: Sequence[Match]) -> dict[str, Any]:
        """The review as RowResult fields, for every output."""
        applied = [(m, c.decision) for m, c in zip(matches, self.candidates, strict=True) if c.decision]
        if len(self.candidates) == 1:
            review = self.candidates[0].text()
        else:
            notes = [f"{m.entity_id}: {c.text()}" for m, c in zip(matches, self.candidates, strict=True) if c.text()]
            undecided = [m.entity_id for m, c in zip(matches, self.candidates, strict=True) if not c.text()]
            if notes and undecided:
                notes.append("not reviewed: " + ", ".join(undecided))
            review = "; ".join(notes) or None
        people = list(dict.fromkeys(d.user for _, d in applied))
        approvers = list(dict.fromkeys(d.approval.user for _, d in applied if d.approval))
        comments = [d.comment if len(applied) == 1 else f"{m.entity_id}: {d.comment}" for m, d in applied]
        return {
            "review": review,
            "review_decision": {"cleared": "false_positive", "confirmed": "confirmed"}.get(self.status),
            "review_status": self.status,
            "reviewed_by": "; ".join(people) or None,
            "reviewed_at": max(d.decided_at for _, d in applied).isoformat() if applied else None,
            "review_comment": "; ".join(comments) or None,
            "approved_by": "; ".join(approvers) or None,
        }


def _stale(d: DecisionRecord, basis: Basis) -> str | None:
    """Why a decision made on this evidence no longer holds, or None when it does."""
    if d.list_hash is None:
        return "it was recorded before decisions were bound to their evidence"
    if d.list_hash != basis.list_hashes.get(d.list_key):
        return "the list version changed"
    current = basis.party_hash(d.list_key, d.entity_id)
    if current is not None and current != d.party_hash:
        return "the party's list record changed"
    if round(float(d.threshold), 6) != round(float(basis.threshold), 6):
        return "the threshold changed"
    return None


def judge(same: DecisionRecord | None, newest: DecisionRecord | None, evidence: Evidence, basis: Basis) -> CandidateReview:
    """The state of one candidate given, for its name and party, the newest decision made on this
    row's evidence (`same`) and the newest decision of all (`newest`)."""
    if same is None:
        if newest is None:
            return CandidateReview(status="open")
        return CandidateReview(status="open", earlier=newest, note=newest.elsewhere_text(evidence))
    why = _stale(same, basis)
    if why is not None:
        note = f"earlier decision no longer applies ({why}): {same.review_text()}"
        return CandidateReview(status="open", earlier=same, note=note)
    if same.pending:
        return CandidateReview(status="pending_approval", decision=same)
    status: ReviewStatus = {"false_positive": "cleared", "confirmed": "confirmed", "escalated": "escalated"}[
        same.decision]  # type: ignore[assignment]
    return CandidateReview(status=status, decision=same)


def row_status(candidates: Sequence[CandidateReview]) -> ReviewStatus:
    """Confirmed if any candidate is; cleared only if all are; else the most urgent state."""
    states = {c.status for c in candidates}
    if "confirmed" in states:
        return "confirmed"
    if states == {"cleared"}:
        return "cleared"
    for state in ("escalated", "open"):
        if state in states:
            return state  # type: ignore[return-value]
    return "pending_approval" if states else "open"


def _record(row: Any, found: Sequence[ApprovalRecord] = ()) -> DecisionRecord:
    return DecisionRecord.model_validate({**row._asdict(), "approvals": list(found)})


# --- the log --------------------------------------------------------------------------------------


class DecisionLog:
    """The decisions half of `Store` (needs `engine`, `_write`, `role_of`, `four_eyes_score`)."""

    engine: sa.Engine
    _write: Callable[[], Any]
    role_of: Callable[[str], str | None]
    four_eyes_score: Callable[[], float]

    def decide(
        self,
        user: str,
        evidence: Evidence,
        match: Match,
        party: Party,
        *,
        list_hash: str,
        list_version: str,
        threshold: float,
        decision: Decision | str,
        comment: str,
        run_id: str | None = None,
    ) -> DecisionRecord:
        """Log a decision on one (row, candidate) pair, bound to the row's evidence."""
        if decision not in DECISIONS:
            raise StoreError("decision must be false_positive, confirmed or escalated", "decision")
        comment = (comment or "").strip()
        if not comment:
            raise StoreError("a comment is required: say why", "comment")
        user = (user or "").strip()
        role = self.role_of(user) if user else None
        if role is None:
            raise StoreError(f"no user {user!r}: decisions are made by named analysts or supervisors", "role")
        if role not in DECIDING_ROLES:
            raise StoreError(f"{user} is an {role}: decisions are made by analysts and supervisors", "role")
        key = evidence.key()
        if not key[0]:
            raise StoreError("the input name has no letters or digits to match on")
        if party.id != match.entity_id:
            raise StoreError(f"party record {party.id!r} is not entity {match.entity_id!r}")
        values: dict[str, Any] = {
            "input_key": key[0], "input_name": evidence.name or "", "entity_id": match.entity_id, "list_key": match.list_key,
            "party_hash": party_hash(party), "threshold": float(threshold), "decision": decision, "comment": comment,
            "user": user, "decided_at": now(), "country": evidence.country, "address": evidence.address,
            "customer_id": evidence.customer_id, "country_key": key[1], "address_key": key[2], "list_hash": list_hash,
            "list_version": list_version, "score": float(match.score), "strong": is_strong(match, self.four_eyes_score()),
            "role": role, "run_id": run_id,
        }
        with self._write() as conn, conn.begin():
            new_id = conn.execute(decisions.insert().values(**values)).inserted_primary_key[0]
            row = conn.execute(sa.select(decisions).where(decisions.c.id == new_id)).one()
            append_event(conn, user, "decision", str(new_id), {"record": decision_fields(row)})
        return _record(row)

    def decide_on_run(
        self, user: str, run: RunRecord, row: RunRow, match: Match, screener: Screener,
        decision: str, comment: str,
    ) -> DecisionRecord:
        """A decision on a candidate of a recorded row (the page, an imported report), made against
        the party record and list version loaded now, which must be the version the run screened."""
        restricted = dict(screener.lists).get(match.list_key)
        party = next((p for p in restricted.parties if p.id == match.entity_id), None) if restricted else None
        if restricted is None or party is None:
            raise StoreError(f"{match.entity_id} is not on the lists loaded now, so it cannot be reviewed here",
                             "party")
        ran = {li.key: li.content_hash for li in run.lists}
        if ran.get(match.list_key) != restricted.content_hash:
            raise StoreError(f"run {run.run_id} screened another version of list {match.list_key}; screen the "
                             "file again to review it against the list loaded now", "version")
        return self.decide(
            user, Evidence.recorded(row), match, party, list_hash=restricted.content_hash, list_version=restricted.version,
            threshold=run.threshold, decision=decision, comment=comment, run_id=run.run_id,
        )

    def approve(self, user: str, decision_id: int, comment: str | None = None) -> DecisionRecord:
        """A supervisor other than the proposer approves a pending clearance: four eyes."""
        user = (user or "").strip()
        role = self.role_of(user) if user else None
        if role != "supervisor":
            raise StoreError(f"only a supervisor can approve a clearance; {user or 'nobody'} is "
                             f"{'an ' + role if role else 'not a user'}", "approver")
        with self._write() as conn, conn.begin():
            row = conn.execute(sa.select(decisions).where(decisions.c.id == decision_id)).first()
            if row is None:
                raise StoreError(f"no decision {decision_id}")
            d = _record(row, [ApprovalRecord.model_validate(a._asdict()) for a in conn.execute(
                sa.select(approvals).where(approvals.c.decision_id == decision_id))])
            if not d.pending:
                raise StoreError(f"decision {decision_id} is not a clearance waiting for approval", "approval")
            if d.user == user:
                raise StoreError(f"{user} proposed this clearance: a second person must approve it", "four_eyes")
            newer = conn.execute(sa.select(decisions.c.id).where(
                decisions.c.entity_id == d.entity_id, decisions.c.list_key == d.list_key,
                decisions.c.input_key == d.input_key, decisions.c.id > d.id,
            )).scalars()
            if any(self._same_evidence(conn, i, d) for i in newer):
                raise StoreError(f"decision {decision_id} was replaced by a later decision on the same evidence",
                                 "approval")
            new_id = conn.execute(approvals.insert().values(
                decision_id=decision_id, user=user, approved_at=now(), comment=(comment or "").strip() or None,
            )).inserted_primary_key[0]
            approval = conn.execute(sa.select(approvals).where(approvals.c.id == new_id)).one()
            append_event(conn, user, "approval", str(new_id), {"record": approval_fields(approval)})
        return d.model_copy(update={"approvals": [ApprovalRecord.model_validate(approval._asdict())]})

    @staticmethod
    def _same_evidence(conn: sa.Connection, other_id: int, d: DecisionRecord) -> bool:
        other = _record(conn.execute(sa.select(decisions).where(decisions.c.id == other_id)).one())
        return other.evidence_key() == d.evidence_key()

    def get_decision(self, decision_id: int) -> DecisionRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(decisions).where(decisions.c.id == decision_id)).first()
            if row is None:
                return None
            found = conn.execute(sa.select(approvals).where(approvals.c.decision_id == decision_id))
            return _record(row, [ApprovalRecord.model_validate(a._asdict()) for a in found])

    def list_decisions(self) -> list[DecisionRecord]:
        """The whole decision log, oldest first (for exports; lookups use `review_rows`)."""
        with self.engine.connect() as conn:
            given: dict[int, list[ApprovalRecord]] = {}
            for a in conn.execute(sa.select(approvals).order_by(approvals.c.id)):
                given.setdefault(a.decision_id, []).append(ApprovalRecord.model_validate(a._asdict()))
            rows = conn.execute(sa.select(decisions).order_by(decisions.c.decided_at, decisions.c.id))
            return [_record(r, given.get(r.id, [])) for r in rows]

    def in_force_ids(self) -> set[int]:
        """The newest decision per (evidence, party): the one a matching row would inherit."""
        latest: dict[tuple[Any, ...], int] = {}
        for d in self.list_decisions():
            latest[(*d.evidence_key(), d.entity_id, d.list_key)] = d.id
        return set(latest.values())

    def review_rows(self, rows: Sequence[tuple[Evidence, Sequence[Match]]], basis: Basis) -> list[RowReview]:
        """The review state of each (row evidence, candidates) pair under the log.

        Indexed by (party, normalised name), never a scan of the log: first the evidence keys of the
        decisions on those pairs, then only the records that decide: per candidate, the newest made
        on the same evidence and the newest of all."""
        keyed = [(ev, ev.key(), matches) for ev, matches in rows]
        pairs = sorted({(m.entity_id, m.list_key, key[0]) for _, key, matches in keyed for m in matches})
        history: dict[tuple[str, str, str], list[tuple[int, tuple[Any, ...]]]] = {}
        chosen: dict[tuple[Any, ...], tuple[int | None, int | None]] = {}
        with self.engine.connect() as conn:
            c = decisions.c
            for start in range(0, len(pairs), LOOKUP_BATCH):
                query = sa.select(c.id, c.entity_id, c.list_key, c.input_key, c.country_key, c.address_key,
                                  c.customer_id).where(
                    sa.tuple_(c.entity_id, c.list_key, c.input_key).in_(pairs[start:start + LOOKUP_BATCH]))
                for r in conn.execute(query.order_by(c.id.desc())):
                    evidence = (r.input_key, r.country_key, r.address_key, customer_key(r.customer_id))
                    history.setdefault((r.entity_id, r.list_key, r.input_key), []).append((r.id, evidence))
            for _, key, matches in keyed:
                for m in matches:
                    found = history.get((m.entity_id, m.list_key, key[0]), [])
                    same = next((i for i, evidence in found if evidence == key), None)
                    chosen[(m.entity_id, m.list_key, key)] = (same, found[0][0] if found else None)
            records = self._records(conn, sorted({i for pair in chosen.values() for i in pair if i is not None}))
        out = []
        for ev, key, matches in keyed:
            cands = []
            for m in matches:
                same, newest = chosen[(m.entity_id, m.list_key, key)]
                cands.append(judge(records.get(same), records.get(newest), ev, basis))  # type: ignore[arg-type]
            out.append(RowReview(status=row_status(cands), candidates=cands))
        return out

    @staticmethod
    def _records(conn: sa.Connection, ids: list[int]) -> dict[int, DecisionRecord]:
        """Decision records by id, with the approvals of those that need four eyes."""
        out: dict[int, DecisionRecord] = {}
        for start in range(0, len(ids), LOOKUP_BATCH):
            rows = list(conn.execute(sa.select(decisions).where(decisions.c.id.in_(ids[start:start + LOOKUP_BATCH]))))
            given: dict[int, list[ApprovalRecord]] = {}
            waiting = [r.id for r in rows if r.strong and r.decision == "false_positive"]
            if waiting:
                for a in conn.execute(sa.select(approvals).where(approvals.c.decision_id.in_(waiting))
                                      .order_by(approvals.c.id)):
                    given.setdefault(a.decision_id, []).append(ApprovalRecord.model_validate(a._asdict()))
            out.update((r.id, _record(r, given.get(r.id, []))) for r in rows)
        return out

    def apply_decisions(self, results: Iterable[RowResult], screener: Screener) -> Iterator[RowResult]:
        """Put the decisions that hold on each potential match; streams, judging a batch at a time.

        A row is cleared (no longer an alert) only when every candidate's clearance holds and is
        approved where four eyes are needed; any confirmed candidate makes it confirmed.
        """
        basis = basis_of(screener)
        it = iter(results)
        while batch := list(islice(it, APPLY_BATCH)):
            todo = [r for r in batch if r.status is Status.POTENTIAL_MATCH and r.matches]
            reviews = iter(self.review_rows([(Evidence.of(r), r.matches) for r in todo], basis)) if todo else None
            for r in batch:
                if reviews is not None and r.status is Status.POTENTIAL_MATCH and r.matches:
                    yield r.model_copy(update=next(reviews).fields(r.matches))
                else:
                    yield r
