"""The service's cache of analysts' reviews (`state.Decisions`): a repeated check reads no decision,
yet a decision or approval recorded by any other process (another engine on the same SQLite file)
is seen by the very next check, in both directions: a clearance releases, a later confirmation holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_decisions import HIKVISION, team

from screener.models import InputRow, RowResult
from screener.review.decisions import Evidence
from screener.review.store import Store
from screener.screening import Screener
from screener.service.state import Decisions


def decide(store: Store, screener: Screener, row: RowResult, decision: str, user: str) -> int:
    m = row.matches[0]
    lst = dict(screener.lists)[m.list_key]
    party = next(p for p in lst.parties if p.id == m.entity_id)
    return store.decide(user, Evidence.of(row), m, party, list_hash=lst.content_hash, list_version=lst.version,
                        threshold=screener.threshold, decision=decision, comment="checked the registry").id


def test_reviews_are_cached_until_another_process_records_a_decision(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'screener.db'}"
    other = team(Store.open(url))  # the analysts' page, in another process
    screener = Screener.default()
    (row,) = screener.screen_rows([InputRow(name=HIKVISION, country="CN")])
    decisions = Decisions(url)
    lookups: list[int] = []
    store = decisions.store()
    real = store.review_rows
    monkeypatch.setattr(store, "review_rows", lambda rows, basis: lookups.append(len(rows)) or real(rows, basis))

    def check() -> RowResult:
        (result,) = decisions.apply([row], screener)
        return result

    assert check().alert and check().alert
    assert lookups == [1]  # the second check was answered from the cache

    made = decide(other, screener, row, "false_positive", "ann")
    assert check().review_status == "pending_approval" and check().alert  # four eyes: still held
    other.approve("sue", made)
    cleared = check()
    assert not cleared.alert and cleared.review_decision == "false_positive" and cleared.approved_by == "sue"

    decide(other, screener, row, "confirmed", "sam")  # a later decision on the same evidence
    confirmed = check()
    assert confirmed.alert and confirmed.review_decision == "confirmed"
    assert lookups == [1, 1, 1, 1]  # one lookup per change of the log, none in between
    other.close()
    decisions.close()
