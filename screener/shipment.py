"""The pre-shipment check: every party of a shipment screened, one RELEASE or HOLD for the whole.

The decision is conservative by construction. A shipment is released only when every party was
screened and none is an alert (a potential match that no analyst cleared); a party whose name
cannot be screened holds the shipment, because "we could not look" must never read as "clear".
A document that does not validate is a `ShipmentError`, which every shell turns into an error
(exit 2, HTTP 422), never into a decision.

The Screener and its index are built once per process (`Screener.default()` is cached), so a check
costs only the screening of its parties.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from screener import __version__
from screener.files.errors import one_line
from screener.files.missing import NameText, OptionalFact
from screener.models import InputRow, ListInfo, Ownership, RowResult, Source, Status
from screener.review.clearance import verdict
from screener.screening import Screener

MAX_PARTIES = 1_000
MAX_NAME_CHARS = 1_000
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_OWNERS = 100  # per party or owner

# (results, screener) -> results with analysts' decisions applied, e.g. `Store.apply_decisions`.
ApplyDecisions = Callable[[Iterable[RowResult], Screener], Iterable[RowResult]]


class ShipmentError(ValueError):
    """A shipment document that cannot be checked, in one line naming the document and the field."""


class PartyRole(StrEnum):
    PURCHASER = "purchaser"
    INTERMEDIATE_CONSIGNEE = "intermediate_consignee"
    ULTIMATE_CONSIGNEE = "ultimate_consignee"
    END_USER = "end_user"
    FORWARDING_AGENT = "forwarding_agent"
    OTHER = "other"


ROLE_SYNONYMS = {  # how people write the roles; anything else that is not a role is refused
    "buyer": PartyRole.PURCHASER, "sold_to": PartyRole.PURCHASER, "customer": PartyRole.PURCHASER,
    "consignee": PartyRole.ULTIMATE_CONSIGNEE, "ship_to": PartyRole.ULTIMATE_CONSIGNEE,
    "intermediate": PartyRole.INTERMEDIATE_CONSIGNEE, "enduser": PartyRole.END_USER,
    "freight_forwarder": PartyRole.FORWARDING_AGENT, "forwarder": PartyRole.FORWARDING_AGENT,
}


def party_role(value: object) -> object:
    """'End User', 'end-user', 'Ultimate Consignee', 'Sold To' -> the role; other values pass to validation."""
    if not isinstance(value, str):
        return value
    key = "_".join(value.strip().lower().replace("-", " ").replace("/", " ").split())
    if key in PartyRole._value2member_map_:
        return PartyRole(key)
    return ROLE_SYNONYMS.get(key, value)


class ShipmentOwner(BaseModel):
    """An owner of a party or of another owner: screened like a party for the 50% Affiliates Rule."""

    model_config = ConfigDict(extra="forbid")

    name: NameText = Field(max_length=MAX_NAME_CHARS)
    share_percent: float | None = Field(default=None, ge=0, le=100, description="absent or null: not known")
    owners: list[ShipmentOwner] = Field(default_factory=list, max_length=MAX_OWNERS)


class ShipmentParty(BaseModel):
    # Unknown keys are refused so that a misspelt field is an error, not a silently ignored value.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    role: Annotated[PartyRole, BeforeValidator(party_role)] = PartyRole.OTHER
    # NaN, Infinity, "n/a"... as a name are errors naming the field (screener.files.missing), never a name.
    name: NameText = Field(max_length=MAX_NAME_CHARS, description="as on the shipping documents")
    country: OptionalFact = Field(default=None, max_length=100, description="ISO 3166-1 alpha-2, e.g. CN")
    address: OptionalFact = Field(default=None, max_length=2_000)
    customer_id: OptionalFact = Field(
        default=None, max_length=200, description="your own id for this party: a review decision holds only for the same id"
    )
    owners: list[ShipmentOwner] = Field(
        default_factory=list, max_length=MAX_OWNERS, description="owners with their share, for the Affiliates Rule"
    )


class Shipment(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    id: str = Field(min_length=1, max_length=200, description="the shipment's id in your system")
    parties: list[ShipmentParty] = Field(min_length=1, max_length=MAX_PARTIES)


class PartyDecision(BaseModel):
    """One party's outcome, with the best candidate's evidence when there is one."""

    role: PartyRole
    name: str
    country: str | None = None
    address: str | None = None
    status: Status
    alert: bool = Field(description="a potential match not cleared by an analyst: holds the shipment")
    score: float | None = None
    entity_id: str | None = None
    entity_name: str | None = None
    matched_alias: str | None = None
    list_name: str | None = None
    programme: str | None = None
    fr_citation: str | None = None
    explanation: str | None = None
    sources: list[Source] = Field(default_factory=list)
    not_screened_reason: str | None = None
    review: str | None = None
    ownership: Ownership | None = None


class ShipmentDecision(BaseModel):
    shipment_id: str
    decision: Literal["RELEASE", "HOLD"]
    reason: str
    parties: list[PartyDecision]
    threshold: float
    lists: list[ListInfo]
    checked_at: str = Field(description="ISO 8601, UTC")
    tool_version: str = __version__


def check_shipment(
    shipment: Shipment | dict[str, Any],
    screener: Screener | None = None,
    *,
    apply_decisions: ApplyDecisions | None = None,
) -> ShipmentDecision:
    """Screen every party and decide: HOLD on any alert or any party that could not be screened.

    `apply_decisions` (e.g. `Store(...).apply_decisions`) lets analysts' recorded false-positive
    clearances release a shipment; it is only called when some party is a potential match.
    """
    if not isinstance(shipment, Shipment):
        shipment = parse_shipment_data(shipment)
    screener = screener or Screener.default()
    results = screen_parties(shipment, screener)
    if apply_decisions is not None and any(r.status is Status.POTENTIAL_MATCH for r in results):
        results = list(apply_decisions(results, screener))
    return decide(shipment, results, screener)


def screen_parties(shipment: Shipment, screener: Screener) -> list[RowResult]:
    """One result per party, in order (`row` is the 1-based party number), with the ownership
    outcome of every party that has owners (ShipmentError when that ownership cannot be true)."""
    results = [
        screener.screen_row(InputRow(name=p.name, country=p.country, address=p.address, row=i,
                                     fields={"Customer ID": p.customer_id} if p.customer_id else {}))
        for i, p in enumerate(shipment.parties, start=1)
    ]
    if any(p.owners for p in shipment.parties):
        results = _assess_owners(shipment, screener, results)
    return results


def _assess_owners(shipment: Shipment, screener: Screener, results: list[RowResult]) -> list[RowResult]:
    """Owners screened and the 50% rule applied per party; impossible ownership is a ShipmentError."""
    from screener.ownership.assess import with_owners
    from screener.ownership.graph import OwnershipError

    try:
        return with_owners(screener, results, [(p.name, p.owners, f"parties[{i}]")
                                               for i, p in enumerate(shipment.parties)])
    except (OwnershipError, ValueError) as exc:
        raise ShipmentError(f"{shipment.id}: {exc}") from None


def _alert_note(i: int, p: PartyDecision, threshold: float) -> str:
    by_name = p.entity_name is not None and p.score is not None and p.score >= threshold
    found = [f"potential match {p.entity_name} ({p.list_name}, score {p.score:.1f})"] if by_name else []
    if p.ownership is not None and p.ownership.alert:
        found.append(p.ownership.text)
    return f'parties[{i}] {p.role.value} "{one_line(p.name or "")}": ' + "; ".join(found)


def decide(shipment: Shipment, results: list[RowResult], screener: Screener) -> ShipmentDecision:
    """The decision for screened parties (results in party order, analysts' decisions applied)."""
    parties = [_party_decision(p, r) for p, r in zip(shipment.parties, results, strict=True)]
    alerts = [(i, p) for i, p in enumerate(parties) if p.alert]
    unscreened = [(i, p) for i, p in enumerate(parties) if p.status is Status.NOT_SCREENED]
    outcome = verdict(alerts=len(alerts), not_screened=len(unscreened), screened=len(parties) - len(unscreened))
    if not outcome.clear:
        decision: Literal["RELEASE", "HOLD"] = "HOLD"
        notes = [_alert_note(i, p, screener.threshold) for i, p in alerts]
        notes += [
            f'parties[{i}] {p.role.value} "{one_line(p.name or "")}": not screened ({p.not_screened_reason}); '
            "a party that cannot be screened holds the shipment"
            for i, p in unscreened
        ]
        reason = "; ".join(notes) or outcome.reason
    else:
        decision = "RELEASE"
        cleared = sum(1 for p in parties if p.status is Status.POTENTIAL_MATCH)
        n = len(parties)
        reason = f"{n} part{'y' if n == 1 else 'ies'} screened, no alert at threshold {screener.threshold:g}"
        if cleared:
            reason += f" ({cleared} potential match{'' if cleared == 1 else 'es'} cleared by an analyst)"
    return ShipmentDecision(
        shipment_id=shipment.id,
        decision=decision,
        reason=reason,
        parties=parties,
        threshold=screener.threshold,
        lists=screener.list_infos(),
        checked_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
    )


def _party_decision(party: ShipmentParty, result: RowResult) -> PartyDecision:
    best = result.best
    return PartyDecision(
        role=party.role,
        name=party.name,
        country=party.country,
        address=party.address,
        status=result.status,
        alert=result.alert,
        score=None if result.score is None else round(result.score, 1),
        entity_id=best.entity_id if best else None,
        entity_name=best.entity_name if best else None,
        matched_alias=best.matched_alias if best else None,
        list_name=best.list_name if best else None,
        programme=best.programme if best else None,
        fr_citation=best.fr_citation if best else None,
        explanation=best.explanation.text() if best else None,
        sources=best.sources if best else [],
        not_screened_reason=result.not_screened_reason,
        review=result.review,
        ownership=result.ownership,
    )


# --- documents ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _string_loader() -> Any:
    """Safe YAML where every scalar stays text (`country: NO` is Norway, `id: 007` keeps its zeros)
    except null, and aliases are refused (they allow exponential "billion laughs" documents).

    Made on first use, so that a check of --party names or of a JSON document never imports PyYAML."""
    import yaml

    class _StringLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.YAMLError(f"YAML aliases (*name) are not supported (line {event.start_mark.line + 1})")
            return super().compose_node(parent, index)

    _StringLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag == "tag:yaml.org,2002:null"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return _StringLoader


def parse_shipment(data: bytes | str, *, source: str = "shipment", fmt: str | None = None) -> Shipment:
    """A shipment from JSON or YAML text; `fmt` is "json", "yaml" or None to accept either."""
    if isinstance(data, bytes):
        if len(data) > MAX_DOCUMENT_BYTES:
            raise ShipmentError(f"{source}: larger than {MAX_DOCUMENT_BYTES // 2**20} MiB")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ShipmentError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    if not data.strip():
        raise ShipmentError(f"{source}: empty document")
    if fmt == "json" or (fmt is None and data.lstrip().startswith(("{", "["))):
        try:
            doc = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ShipmentError(f"{source}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    else:
        import yaml

        try:
            doc = yaml.load(data, Loader=_string_loader())  # noqa: S506 - a safe loader, see above
        except yaml.YAMLError as exc:
            raise ShipmentError(f"{source}: not valid YAML: {_yaml_message(exc)}") from None
    return parse_shipment_data(doc, source=source)


def parse_shipment_data(doc: object, *, source: str = "shipment") -> Shipment:
    """A shipment from already decoded data, with pydantic's first complaint as one line."""
    if not isinstance(doc, dict):
        raise ShipmentError(f"{source}: the document must be a mapping with 'id' and 'parties'")
    try:
        return Shipment.model_validate(doc)
    except ValidationError as exc:
        raise ShipmentError(f"{source}: {validation_message(exc.errors())}") from None


def load_shipment(path: str | Path) -> Shipment:
    """Read a shipment file (.json, .yaml/.yml, or anything holding either)."""
    path = Path(path)
    name = path.name
    suffix = path.suffix.lower()
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise ShipmentError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ShipmentError(f"{name}: is a folder, not a file") from None
    except OSError as exc:
        raise ShipmentError(f"{name}: cannot read: {exc.strerror or type(exc).__name__}") from None
    fmt = "json" if suffix == ".json" else "yaml" if suffix in (".yaml", ".yml") else None
    return parse_shipment(data, source=name, fmt=fmt)


def field_path(loc: Iterable[object]) -> str:
    """pydantic's loc as a path a person reads: ("parties", 2, "name") -> parties[2].name."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def validation_message(errors: list[Any], skip: tuple[str, ...] = ()) -> str:
    """The first validation error as "field: message", with a count of the others."""
    first = errors[0]
    loc = [p for p in first.get("loc", ()) if p not in skip]
    message = str(first.get("msg", "invalid")).replace("Field required", "field required").removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    text = f"{field_path(loc)}: {message}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more error{'' if len(errors) == 2 else 's'})"
    return " ".join(text.split())


def _yaml_message(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return " ".join(f"{problem}{where}".split())
