"""Owners screened through the same Screener as parties, the 50 percent arithmetic applied, and the
outcome attached to each party's result.

An owner is *listed* when its name is a potential match (the same threshold and lists as the
parties). A party with an ownership outcome that needs review (covered, unknown share, listed
minority, or covered while the rule is suspended) is never "clear": a name result that was clear
becomes a potential match and the `ownership` field says why, so exit codes, HOLD and the report
treat it like a name match. A name clearance by an analyst does not clear an ownership outcome.
A holding stated twice with different shares (the ownership file and the row's owner columns) is
counted once at the larger share, and the conflict makes the outcome a review, in its own words.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from functools import cached_property
from typing import Any

from screener.models import (
    InputRow,
    ListedOwner,
    OwnerLink,
    Ownership,
    OwnershipChain,
    Party,
    RowResult,
    Status,
)
from screener.ownership.graph import (
    EPSILON,
    OwnershipGraph,
    aggregate,
    check_total,
    resolve,
)
from screener.ownership.inputs import add_owners, name_key, owner_columns, row_owners
from screener.ownership.rule import (
    AffiliatesRule,
    describe,
    evaluation_date,
    load_rule,
    outcome_of,
)
from screener.screening import Screener

# (owner name, share or None, where) for owners supplied next to a party rather than in the graph
OwnerEntry = tuple[str, float | None, str]


class OwnershipAssessment:
    """One resolved graph against one Screener, as of one date; reusable for every party of a run."""

    def __init__(self, screener: Screener, graph: OwnershipGraph | None = None, *,
                 rule: AffiliatesRule | None = None, as_of: date | str | None = None) -> None:
        self.screener = screener
        self.graph = graph if graph is not None else OwnershipGraph()
        self.rule = rule or load_rule()
        self.as_of = evaluation_date(as_of)
        self.state = self.rule.state(self.as_of)
        self._screened: dict[str, ListedOwner | None] = {}
        listed = [self.listed(name) is not None for name in self.graph.names]
        self.resolution = resolve(self.graph, listed)

    @cached_property
    def _parties(self) -> dict[tuple[str, str], Party]:
        """List records by (list key, id), for the licence requirements of listed owners."""
        return {(key, p.id): p for key, lst in self.screener.lists for p in lst.parties}

    def listed(self, name: str) -> ListedOwner | None:
        """The list entry an owner's name matches (screened once per name), or None."""
        if name not in self._screened:
            result = self.screener.screen_name(name)
            best = result.best if result.status is Status.POTENTIAL_MATCH else None
            party = self._parties.get((best.list_key, best.entity_id)) if best else None
            self._screened[name] = None if best is None else ListedOwner(
                owner=name, entity_id=best.entity_id, entity_name=best.entity_name, list_name=best.list_name,
                score=round(best.score, 1), fr_citation=best.fr_citation,
                licence_requirement=party.licence_requirement if party else None,
                licence_policy=party.licence_policy if party else None)
        return self._screened[name]

    def of(self, name: str | None, extra: Sequence[OwnerEntry] = ()) -> Ownership | None:
        """The outcome for a party: its holders in the graph plus `extra` owners; None without owners.

        An `extra` owner the graph already records for this party (or named twice in `extra`) is
        not counted twice. Where the two give different shares, the larger is used (the conservative
        reading) and the conflict is said in the outcome, which then needs review; where only one
        gives a share, that share is used.
        """
        res, graph = self.resolution, self.graph
        if not extra and not len(graph):
            return None  # the common case, kept cheap: no ownership supplied at all
        node = graph.find(name_key(name)) if name and len(graph) else None
        entity = graph.names[node] if node is not None else (name or "")
        held = graph.holders[node] if node is not None else []
        inputs = [(h.share, bool(res.restricted[h.owner]), bool(res.possible[h.owner])) for h in held]
        shares = [(h.share, h.where) for h in held]
        chains = res.chains(node) if node is not None else []
        seen = {name_key(graph.names[h.owner]): i for i, h in enumerate(held)}  # owner -> its place in inputs
        conflicts: list[str] = []
        for owner, share, where in extra:
            key = name_key(owner)
            if key in seen:
                conflict = self._merge(seen[key], owner, entity, share, where, inputs, shares, chains)
                if conflict:
                    conflicts.append(conflict)
                continue
            seen[key] = len(inputs)
            owner_node = graph.find(key)
            if owner_node is not None:
                status, up = res.status(owner_node), res.above(owner_node)
            else:
                status, up = ("listed" if self.listed(owner) is not None else "not_listed"), []
            inputs.append((share, status in ("listed", "covered"), status != "not_listed"))
            shares.append((share, where))
            if status != "not_listed":
                chains.append([OwnerLink(owner=owner, entity=entity, share_percent=share,
                                         owner_status=status, where=where), *up])  # type: ignore[arg-type]
        if not inputs:
            return None
        if extra:
            check_total(entity, shares)
        listed_pct, possible_pct = aggregate(inputs)
        return self._outcome(listed_pct, possible_pct, chains, conflicts)

    @staticmethod
    def _merge(at: int, owner: str, entity: str, share: float | None, where: str,
               inputs: list[tuple[float | None, bool, bool]], shares: list[tuple[float | None, str]],
               chains: list[list[OwnerLink]]) -> str | None:
        """Fold a second statement of one holding into the first (at `at`); the conflict, if any."""
        known, first_where = shares[at]
        if share is None or (known is not None and abs(share - known) <= EPSILON):
            return None  # nothing new, or the same share
        used = share if known is None else max(share, known)
        inputs[at] = (used, *inputs[at][1:])
        shares[at] = (used, first_where)
        key = name_key(owner)
        for i, chain in enumerate(chains):
            if name_key(chain[0].owner) == key:
                chains[i] = [chain[0].model_copy(update={"share_percent": used,
                                                         "where": f"{chain[0].where}; {where}"}), *chain[1:]]
        if known is None:
            return None  # a share where the other said "unknown": more facts, not a contradiction
        return (f'"{owner}" holds {known:g}% of "{entity}" ({first_where}) but {share:g}% ({where}): '
                f"the larger, {used:g}%, is used")

    def _outcome(self, listed_pct: float, possible_pct: float, chains: list[list[OwnerLink]],
                 conflicts: Sequence[str] = ()) -> Ownership:
        outcome = outcome_of(listed_pct, possible_pct, bool(chains))
        head, alert = describe(outcome, self.state, self.rule, self.as_of, listed_pct, possible_pct)
        chains.sort(key=lambda c: (c[0].owner_status not in ("listed", "covered"), -(c[0].share_percent or 0)))
        owners: dict[str, ListedOwner] = {}
        for chain in chains:
            root = chain[-1]
            entry = self.listed(root.owner) if root.owner_status == "listed" else None
            if entry is not None:
                owners.setdefault(entry.entity_id, entry)
        applies = self.state == "in_force" and outcome in ("covered", "unknown_share")
        licence = most_restrictive(owners.values()) if applies else None
        explained = [OwnershipChain(text=chain_text(c, self.listed), links=c) for c in chains]
        parts = [head]
        if chains:
            parts.append("chains: " + " | ".join(c.text for c in explained))
        if licence:
            parts.append(f"licence: {licence}")
        fractions = sorted({f"{link.share_percent:g}" for c in chains for link in c
                            if link.share_percent is not None and 0 < link.share_percent < 1})
        if fractions:
            parts.append(f"note: a share of {' or '.join(fractions)} is read as that many percent, not as a "
                         "fraction (60% is 60, or a cell formatted as a percentage)")
        if conflicts:
            alert = True  # two shares for one holding: which is true is for an analyst to find out
            parts.append("review: conflicting shares: " + "; ".join(conflicts))
        return Ownership(outcome=outcome, rule_state=self.state, as_of=self.as_of, alert=alert,
                         listed_percent=listed_pct, possible_percent=possible_pct, text="; ".join(parts),
                         chains=explained, listed_owners=list(owners.values()), licence_requirement=licence,
                         conflicts=list(conflicts))

    def apply(self, result: RowResult, extra: Sequence[OwnerEntry] = ()) -> RowResult:
        """The result with its ownership outcome; a clear result that needs review becomes a potential match."""
        found = self.of(result.input_name, extra)
        if found is None:
            return result
        update: dict[str, object] = {"ownership": found}
        if found.alert and result.status is Status.CLEAR:
            update["status"] = Status.POTENTIAL_MATCH
        return result.model_copy(update=update)

    def screen_fn(self, screen: Callable[[Iterable[InputRow]], Iterator[RowResult]], file_name: str = "",
                  labels: Sequence[str] | None = None) -> Callable[[Iterable[InputRow]], Iterator[RowResult]]:
        """Wrap a run's screen function for one file: each result gets the ownership of its row.

        `labels`, the file's column labels when known: with no ownership file and no owner column
        among them, no row can have an owner, and `screen` is returned as it is."""
        if labels is not None and not self.graph and not owner_columns(tuple(labels)):
            return screen

        def run(rows: Iterable[InputRow]) -> Iterator[RowResult]:
            pending: deque[InputRow] = deque()

            def feed() -> Iterator[InputRow]:
                for row in rows:
                    pending.append(row)
                    yield row

            graph = len(self.graph)
            for result in screen(feed()):
                if not pending:  # more results than rows: passed on for the run's accounting to refuse
                    yield result
                    continue
                row = pending.popleft()
                if not graph and not owner_columns(tuple(row.fields)):
                    yield result  # no ownership for this row: nothing to pay for
                    continue
                where = ", ".join(filter(None, (file_name, row.sheet and f'sheet "{row.sheet}"', f"row {row.row}")))
                yield self.apply(result, row_owners(row.fields, where))

        return run


def with_owners(screener: Screener, results: Sequence[RowResult],
                parties: Sequence[tuple[str | None, Sequence[Any], str]]) -> list[RowResult]:
    """Results of parties given with nested owners (check, API), in order, each with its outcome.

    `parties` is (name, owners, where) per result; raises OwnershipError for a cycle or >100%.
    """
    graph = add_owners(None, [(name, owners, where) for name, owners, where in parties if name and owners])
    assessment = OwnershipAssessment(screener, graph)
    return [assessment.apply(r) for r in results]


def chain_text(chain: list[OwnerLink], listed: Callable[[str], ListedOwner | None]) -> str:
    """'Hikvision (listed: CN-X Hangzhou Hikvision..., US Entity List) -60%-> B -50%-> C'."""
    root = chain[-1]
    entry = listed(root.owner) if root.owner_status == "listed" else None
    if entry is not None:
        head = f"{root.owner} (listed: {entry.entity_id} {entry.entity_name}, {entry.list_name}, score {entry.score:g})"
    else:
        head = f"{root.owner} ({root.owner_status.replace('_', ' ')})"
    steps = "".join(
        f" -{'?' if link.share_percent is None else f'{link.share_percent:g}'}%-> {link.entity}"
        for link in reversed(chain))
    return head + steps


def _restrictiveness(owner: ListedOwner) -> tuple[bool, bool, bool]:
    requirement = (owner.licence_requirement or "").casefold()
    policy = (owner.licence_policy or "").casefold()
    return ("all items" in requirement,
            "no licence exception" in requirement or "no license exception" in requirement,
            "case-by-case" not in policy and "denial" in policy)


def most_restrictive(owners: Iterable[ListedOwner]) -> str | None:
    """The licence requirement (and policy) of the most restrictive listed owner, with whose it is."""
    ranked = [o for o in owners if o.licence_requirement or o.licence_policy]
    if not ranked:
        return None
    top = max(ranked, key=_restrictiveness)
    text = top.licence_requirement or "see the list entry"
    if top.licence_policy:
        text += f" Licence policy: {top.licence_policy}"
    return f"{text} ({top.entity_id} {top.entity_name}, {top.list_name})"

