"""Pydantic models at screener's boundaries: list records, input rows, matches and results.

Everything that crosses a boundary (a list file, the HTTP API, a report, the audit store) is one of
these models, so that every shell (CLI, service, hook) speaks the same shapes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    computed_field,
    field_validator,
    model_serializer,
)

QUOTE_MAX = 300


class AliasKind(StrEnum):
    """Why a name stands for a party; shown to analysts next to every hit."""

    LISTED = "listed_name"  # the name as the list itself prints it
    LEGAL = "legal_name"
    BRAND = "brand"  # brand or short name
    FORMER = "former_name"
    VARIANT = "spelling_variant"  # spelling, spacing or romanisation variant
    TRANSLITERATION = "transliteration"  # e.g. pinyin of a Chinese name
    CHINESE = "chinese_script"
    ABBREVIATION = "abbreviation"
    OTHER_SCRIPT = "other_script"


class EntityType(StrEnum):
    COMPANY = "company"
    GOVERNMENT = "government_agency"
    ACADEMIC = "academic_institution"
    INDIVIDUAL = "individual"
    VESSEL = "vessel"
    AIRCRAFT = "aircraft"
    OTHER = "other"


class Source(BaseModel):
    """A citation: which document says so, with a verbatim quote that supports the record."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["article", "notice", "reference", "list_file"]
    id: str = Field(description="article file name, FR document number, or list file id")
    title: str | None = Field(default=None, description="headline or notice title")
    publisher: str | None = None
    date: str | None = Field(default=None, description="date as the document shows it")
    citation: str | None = Field(default=None, description="Federal Register citation, e.g. 84 FR 54002")
    document_number: str | None = None
    url: str | None = None
    quote: str | None = Field(default=None, max_length=QUOTE_MAX)
    note: str | None = Field(default=None, description="what the stored copy does not show, in plain words")

    @model_serializer(mode="wrap")
    def _without_empty_note(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave `note` out when empty, so lists stored before it existed keep their content hash."""
        data = handler(self)
        if data.get("note") is None:
            data.pop("note", None)
        return data

    def reference(self) -> str:
        """The document as a reader looks it up: notice citation and FR Doc, or headline and publisher.

        An article's file id is only a secondary key, shown when it has no headline.
        """
        if self.kind == "notice":
            parts = [self.citation or self.id]
            if self.document_number:
                parts.append(f"FR Doc. {self.document_number}")
            parts += [f'"{self.title}"' if self.title else "", self.date or "", self.url or ""]
        else:
            parts = [f'"{self.title}"' if self.title else self.id, self.publisher or "", self.date or ""]
            if self.kind == "list_file" and self.url:
                parts.append(self.url)
        return ", ".join(p for p in parts if p)

    def short(self) -> str:
        """A few words naming the document, for a match row that links to the full citation."""
        if self.kind == "notice":
            return self.citation or self.id
        if self.publisher:
            return self.publisher
        title = self.title or self.id
        return title if len(title) <= 40 else title[:38].rstrip() + "…"

    def label(self) -> str:
        """One-line human form used in flat outputs: the reference, then the quote."""
        text = self.reference()
        if self.quote:
            text += f': "{self.quote}"'
        return text


class Alias(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    kind: AliasKind
    verified: bool = True
    note: str | None = None


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    country: str | None = None
    verified: bool = True
    note: str | None = None


class Party(BaseModel):
    """One restricted party: one record per party, every alias, every source."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str = Field(min_length=1, description="primary name")
    aliases: list[Alias] = Field(default_factory=list)
    entity_type: EntityType = EntityType.COMPANY
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2")
    addresses: list[Address] = Field(default_factory=list)
    list_name: str = Field(description="e.g. 'US Entity List', 'SDN'")
    programme: str | None = None
    date_added: date | None = None
    fr_citation: str | None = None
    reason: str | None = None
    licence_requirement: str | None = None
    licence_policy: str | None = None
    source_list_url: str | None = None
    original_id: str | None = Field(default=None, description="id in the list the record was imported from")
    unverified: list[str] = Field(
        default_factory=list, description="facts of this record that no stored source confirmed"
    )
    sources: list[Source] = Field(default_factory=list)

    def all_names(self) -> list[Alias]:
        """The primary name first, then every alias, without repeats."""
        seen: set[str] = set()
        out: list[Alias] = []
        for alias in [Alias(name=self.name, kind=AliasKind.LISTED), *self.aliases]:
            key = alias.name.casefold()
            if key not in seen:
                seen.add(key)
                out.append(alias)
        return out


class ListCoverage(BaseModel):
    """What a list covers and what it does not, said next to every result screened against it."""

    model_config = ConfigDict(extra="forbid")

    covers: str
    not_covered: list[str] = Field(default_factory=list)
    advice: str | None = None

    def text(self) -> str:
        parts = [self.covers.rstrip(".") + "."]
        if self.not_covered:
            parts.append("Not covered: " + "; ".join(self.not_covered).rstrip(".") + ".")
        if self.advice:
            parts.append(self.advice)
        return " ".join(parts)


class RestrictedList(BaseModel):
    """A named, versioned list of parties. The content hash identifies the exact version screened."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str | None = None
    version: str = "unversioned"
    description: str | None = None
    coverage: ListCoverage | None = None
    parties: list[Party]

    @field_validator("parties")
    @classmethod
    def _unique_ids(cls, parties: list[Party]) -> list[Party]:
        seen: set[str] = set()
        for party in parties:
            if party.id in seen:
                raise ValueError(f"duplicate party id {party.id!r}")
            seen.add(party.id)
        return parties

    @computed_field  # type: ignore[prop-decorator]
    @property
    def content_hash(self) -> str:
        """SHA-256 over the canonical JSON of the parties; stable across file formatting."""
        payload = json.dumps(
            [p.model_dump(mode="json") for p in self.parties], sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class Status(StrEnum):
    CLEAR = "clear"
    POTENTIAL_MATCH = "potential_match"
    NOT_SCREENED = "not_screened"


class InputRow(BaseModel):
    """One party to screen (one party cell of a file row), traced to its sheet, row and column."""

    name: str | None
    country: str | None = None
    address: str | None = None
    sheet: str = ""
    row: int = 0  # 1-based row number as a spreadsheet user sees it (header included)
    column: str = ""  # the party column's header label ("column B" when blank); "" outside files
    not_screened_reason: str | None = None  # set by readers for rows that cannot be screened
    fields: dict[str, str] = Field(default_factory=dict, description="the row's filled cells by header")


class TokenEvidence(BaseModel):
    """One alias token and what in the input agreed with it."""

    alias_token: str
    input_token: str | None
    weight: float
    similarity: float
    rule: str  # exact | fuzzy | joined | split | variant | missing


class Explanation(BaseModel):
    alias: str
    alias_kind: AliasKind
    input_normalized: str
    alias_normalized: str
    tokens: list[TokenEvidence]
    extra_input_tokens: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    secondary: list[str] = Field(default_factory=list)

    def text(self) -> str:
        """The sentence an analyst reads in a report cell."""
        agreed = [
            f"{t.alias_token}{'' if t.input_token == t.alias_token else '~' + (t.input_token or '')}"
            f" ({t.rule}, w={t.weight:.2f})"
            for t in self.tokens
            if t.input_token
        ]
        missing = [t.alias_token for t in self.tokens if not t.input_token]
        parts = [f'matched alias "{self.alias}" ({self.alias_kind.value})']
        parts.append(f"input [{self.input_normalized}] vs alias [{self.alias_normalized}]")
        if agreed:
            parts.append("agreed: " + ", ".join(agreed))
        if missing:
            parts.append("missing: " + ", ".join(missing))
        if self.extra_input_tokens:
            parts.append("extra in input: " + ", ".join(self.extra_input_tokens))
        if self.rules:
            parts.append("rules: " + ", ".join(self.rules))
        if self.secondary:
            parts.append("; ".join(self.secondary))
        return "; ".join(parts)


class Match(BaseModel):
    """A candidate party for one input name, with the evidence behind its score."""

    entity_id: str
    entity_name: str
    list_name: str
    list_key: str = "default"  # the loaded list this party came from
    programme: str | None = None
    fr_citation: str | None = None
    entity_type: EntityType = EntityType.COMPANY
    country: str | None = None
    score: float = Field(ge=0, le=100)
    matched_alias: str
    explanation: Explanation
    sources: list[Source] = Field(default_factory=list)


class Comparison(BaseModel):
    """Two names scored against each other exactly as screening scores them."""

    name_a: str
    name_b: str
    score: float
    explanation: Explanation


class OwnerLink(BaseModel):
    """One holding in an ownership chain: `owner` holds `share_percent` of `entity` (None: unknown)."""

    owner: str
    entity: str
    share_percent: float | None = None
    owner_status: Literal["listed", "covered", "unknown", "not_listed"] = "not_listed"
    where: str = Field(default="", description="the file, sheet, row and column the holding was read from")


class OwnershipChain(BaseModel):
    """Holdings from a direct owner up to a listed party, and the line an analyst reads."""

    text: str = Field(description="e.g. 'Hikvision (listed: ...) -60%-> B Ltd -50%-> C GmbH'")
    links: list[OwnerLink] = Field(description="the customer's direct owner first, the listed party last")


class ListedOwner(BaseModel):
    """A listed party found among the owners: the list entry an ownership outcome rests on."""

    owner: str = Field(description="the owner's name as supplied")
    entity_id: str
    entity_name: str
    list_name: str
    score: float
    fr_citation: str | None = None
    licence_requirement: str | None = None
    licence_policy: str | None = None


class Ownership(BaseModel):
    """The Affiliates Rule (50 percent) applied to the ownership supplied for one party."""

    outcome: Literal["covered", "unknown_share", "minority", "no_listed_owner"]
    rule_state: Literal["in_force", "suspended", "not_yet_effective"]
    as_of: date = Field(description="the date the rule's state was decided for")
    alert: bool = Field(description="needs review: holds a shipment and sets exit code 1")
    listed_percent: float = Field(description="share held by listed and covered owners, known shares only")
    possible_percent: float = Field(description="the most those owners may hold, counting unknown shares")
    text: str = Field(description="the outcome in one sentence, with the chains")
    chains: list[OwnershipChain] = Field(default_factory=list, description="one per listed or covered direct owner")
    listed_owners: list[ListedOwner] = Field(default_factory=list)
    licence_requirement: str | None = Field(default=None, description="the most restrictive of the owners'")
    conflicts: list[str] = Field(default_factory=list, description="shares given twice for one holding, "
                                 "differently (the larger is used); each makes the outcome a review")


class RowResult(BaseModel):
    """The outcome for one input row: every row gets exactly one."""

    sheet: str = ""
    row: int = 0
    column: str = ""  # the party column screened (one result per screened party cell)
    input_name: str | None
    input_country: str | None = None
    input_address: str | None = None
    status: Status
    score: float | None = None
    matches: list[Match] = Field(default_factory=list)  # best first; above threshold when potential_match
    not_screened_reason: str | None = None
    review: str | None = None  # "cleared by NAME on DATE: comment" when a recorded decision applies
    review_decision: Literal["false_positive", "confirmed"] | None = None
    # the decision as recorded (screener.review.decisions): open | cleared | confirmed | pending_approval | escalated
    review_status: str | None = None
    reviewed_by: str | None = None
    reviewed_at: str | None = None  # ISO 8601, UTC
    review_comment: str | None = None
    approved_by: str | None = None  # the supervisor who approved a strong match's clearance
    fields: dict[str, str] = Field(default_factory=dict, description="the input row's filled cells by header")
    ownership: Ownership | None = None  # the Affiliates Rule outcome when owners were supplied

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None

    @property
    def alert(self) -> bool:
        """A potential match that no analyst has cleared as a false positive, or an ownership outcome
        that needs review (a name clearance does not clear an owner): this holds a shipment."""
        if self.ownership is not None and self.ownership.alert:
            return True
        return self.status == Status.POTENTIAL_MATCH and self.review_decision != "false_positive"

    def record(self) -> dict[str, object]:
        """The flat, machine-readable record (csv/json/jsonl), one per screened party cell."""
        return dict(zip(RECORD_FIELDS, self.record_values()))

    def record_values(self) -> tuple[object, ...]:
        """The record's values in `RECORD_FIELDS` order: what a CSV line carries, without a dict a row."""
        best = self.best
        head = (self.sheet, self.row, self.column, self.input_name, self.input_country, self.status.value,
                None if self.score is None else round(self.score, 1))
        if best is None:
            evidence: tuple[object, ...] = _NO_MATCH
        else:
            evidence = (best.entity_id, best.entity_name, best.matched_alias, best.list_name, best.programme,
                        best.fr_citation, best.explanation.text(), " | ".join(s.label() for s in best.sources))
        review_status = self.review_status or ("open" if self.status is Status.POTENTIAL_MATCH else None)
        return head + evidence + (self.not_screened_reason, self.review, review_status, self.reviewed_by,
                                  self.reviewed_at, self.review_comment, self.approved_by,
                                  self.ownership.text if self.ownership else None)


_NO_MATCH = (None,) * 8  # a record's candidate evidence when it has no candidate
RECORD_FIELDS: tuple[str, ...] = (
    "sheet", "row", "column", "input_name", "input_country", "status", "score",
    "entity_id", "entity_name", "matched_alias", "list", "programme", "fr_citation", "explanation", "sources",
    "not_screened_reason", "review", "review_status", "reviewed_by", "reviewed_at", "review_comment",
    "approved_by", "ownership",
)


class ListInfo(BaseModel):
    """Which exact list version a run screened against."""

    key: str  # how the run referred to it: "default", or an imported list's name
    name: str
    version: str
    content_hash: str
    parties: int
    aliases: int
    coverage: str | None = Field(default=None, description="what the list covers and what it does not")

    @classmethod
    def of(cls, key: str, lst: RestrictedList) -> ListInfo:
        if lst.coverage is not None:
            coverage = lst.coverage.text()
        else:  # an imported official file: it covers what that file held, nothing else
            coverage = (
                f"{lst.title or lst.name} (version {lst.version}): the {len(lst.parties):,} records of the"
                " official file as imported; only that file's parties, as of that file's date, are screened."
            )
        return cls(
            key=key,
            name=lst.name,
            version=lst.version,
            content_hash=lst.content_hash,
            parties=len(lst.parties),
            aliases=sum(len(p.all_names()) for p in lst.parties),
            coverage=coverage,
        )


class InputInfo(BaseModel):
    """One input file of a run: enough for an auditor to prove which file was screened."""

    file_name: str
    sha256: str
    sheets: dict[str, int] = Field(default_factory=dict, description="records (party cells) read per sheet")
    data_rows: dict[str, int] = Field(default_factory=dict, description="data rows read per sheet")


class ColumnUse(BaseModel):
    """What one column of a sheet was used for, and how that was decided."""

    column: str = Field(description="header label, or 'column B' when blank")
    letter: str
    use: Literal["party", "country", "address", "owner", "owner share", "not used"]
    chosen_by: Literal["header", "content", "option"] | None = None
    note: str | None = Field(default=None, description="why it is not screened, or what it pairs with")


class SheetColumns(BaseModel):
    """Per sheet: which column was screened as what, and which were not (the Summary shows it)."""

    file_name: str
    sheet: str
    header_row: int
    columns: list[ColumnUse] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    doubtful: list[str] = Field(
        default_factory=list, description="party columns screened though they hold numbers or codes: never clear")


class RunSummary(BaseModel):
    """The Summary sheet and the audit record of one screening run."""

    run_id: str
    tool_version: str
    started_at: str  # ISO 8601, UTC
    duration_seconds: float = 0.0
    threshold: float
    inputs: list[InputInfo] = Field(default_factory=list)
    lists: list[ListInfo] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict, description="rows by status")
    alerts: int = Field(default=0, description="potential matches no analyst has cleared")
    rows_read: int = Field(default=0, description="records read: one per party cell of each data row")
    rows_reported: int = Field(default=0, description="records reported, which must equal records read")
    data_rows_read: int = 0
    data_rows_reported: int = 0
    columns: list[SheetColumns] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list, description="also printed on standard error")
    notes: list[str] = Field(default_factory=list, description="what reading did that changes no result but "
                             "must be seen: blank rows skipped, title rows above the header, names cut, the "
                             "encoding; printed on standard error unless quiet")
    allow_unscreened: bool = Field(default=False, description="not-screened records were treated as clear")
    clear: bool = Field(default=False, description="every record screened and clear (screener.review.clearance)")
    verdict: str = ""
    user: str | None = None
