"""The Affiliates Rule's in-force periods (configuration) and the outcome of the arithmetic for a party.

The rule (FR Doc 2025-19001, 90 FR 47201) took effect on 2025-09-29; BIS suspended it for one year
from 2025-11-10, set to return on 2026-11-10 unless changed. The periods are data, not code: a
further suspension or extension is a YAML file named by ``SCREENER_AFFILIATES_RULE``, and the date
the state is decided for is ``SCREENER_AS_OF`` (ISO date; default today, UTC), so that a run can be
repeated as of the day it was made.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

RULE_FILE_ENV = "SCREENER_AFFILIATES_RULE"
AS_OF_ENV = "SCREENER_AS_OF"
THRESHOLD_PERCENT = 50.0

RuleState = Literal["in_force", "suspended", "not_yet_effective"]
Outcome = Literal["covered", "unknown_share", "minority", "no_listed_owner"]


class Suspension(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date
    end: date | None = Field(default=None, description="the day the rule applies again; None: open-ended")
    note: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Suspension:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"suspension ends ({self.end}) on or before it starts ({self.start})")
        return self


class AffiliatesRule(BaseModel):
    """When the rule applies. Defaults: the dates published by BIS and the Federal Register."""

    model_config = ConfigDict(extra="forbid")

    citation: str = "FR Doc 2025-19001, 90 FR 47201"
    effective: date = date(2025, 9, 29)
    suspensions: list[Suspension] = Field(default_factory=lambda: [Suspension(
        start=date(2025, 11, 10), end=date(2026, 11, 10),
        note="suspended for one year by BIS on 2025-11-10, set to apply again from 2026-11-10",
    )])

    def state(self, on: date) -> RuleState:
        if on < self.effective:
            return "not_yet_effective"
        return "suspended" if self.suspension(on) is not None else "in_force"

    def suspension(self, on: date) -> Suspension | None:
        """The suspension in effect on `on` (a suspension ends the day before its `end`)."""
        return next((s for s in self.suspensions if s.start <= on and (s.end is None or on < s.end)), None)


def load_rule(path: str | Path | None = None) -> AffiliatesRule:
    """The rule's periods from `path`, else from $SCREENER_AFFILIATES_RULE, else the defaults."""
    path = path or os.environ.get(RULE_FILE_ENV)
    if not path:
        return AffiliatesRule()
    name = Path(path).name
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return AffiliatesRule.model_validate(data)
    except OSError as exc:
        raise ValueError(f"{name}: cannot read the Affiliates Rule periods: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{name}: not valid YAML: {' '.join(str(exc).split())}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(document)"
        raise ValueError(f"{name}: {loc}: {first['msg']}") from None


def evaluation_date(value: str | date | None = None) -> date:
    """The date to decide the rule's state for: `value`, else $SCREENER_AS_OF, else today (UTC)."""
    if isinstance(value, date):
        return value
    text = value or os.environ.get(AS_OF_ENV)
    if not text:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{AS_OF_ENV}: {text!r} is not an ISO date (YYYY-MM-DD)") from None


def outcome_of(listed_percent: float, possible_percent: float, has_listed_owner: bool) -> Outcome:
    """Covered at 50% or more; unknown when unknown shares could reach 50%; else a minority red flag."""
    if listed_percent >= THRESHOLD_PERCENT:
        return "covered"
    if possible_percent >= THRESHOLD_PERCENT:
        return "unknown_share"
    return "minority" if has_listed_owner else "no_listed_owner"


def describe(outcome: Outcome, state: RuleState, rule: AffiliatesRule, on: date,
             listed_percent: float, possible_percent: float) -> tuple[str, bool]:
    """The outcome as an analyst reads it, and whether it needs review (every outcome but none does)."""
    pct = f"{listed_percent:g}%"
    if outcome == "no_listed_owner":
        return "no listed owner among the owners supplied", False
    if outcome == "covered":
        if state == "in_force":
            head = (f"potential match by ownership: listed owners hold {pct} (50% or more) under the "
                    f"Affiliates Rule ({rule.citation}), in force on {on}")
        else:
            head = (f"red flag, not a match: listed owners hold {pct} (50% or more), but on {on} the "
                    f"Affiliates Rule ({rule.citation}) is {_state_words(state, rule, on)}; due diligence")
    elif outcome == "unknown_share":
        head = (f"review: a listed owner's share is unknown; listed owners hold {pct} known and up to "
                f"{possible_percent:g}%: the share must be determined (or a licence obtained)")
    else:
        head = (f"red flag, review: listed minority ownership of {pct} (under 50%, at most "
                f"{possible_percent:g}%); due diligence")
    return head, True


def _state_words(state: RuleState, rule: AffiliatesRule, on: date) -> str:
    if state == "not_yet_effective":
        return f"not yet effective (from {rule.effective})"
    s = rule.suspension(on)
    if s is None:
        return "suspended"
    return f"suspended from {s.start}" + (f" until {s.end}" if s.end else "")


def outcome_label(outcome: Outcome, state: RuleState) -> str:
    """The outcome in a few plain words, for a badge beside a party (the page); `describe` says the rest."""
    if outcome == "covered":
        if state == "in_force":
            return "Potential match by ownership (50% rule)"
        return "Red flag: owned 50% or more by listed parties (rule " + state.replace("_", " ") + ")"
    return {
        "unknown_share": "Listed owner, share unknown: to be determined",
        "minority": "Red flag: listed minority owner",
        "no_listed_owner": "No listed owner",
    }[outcome]
