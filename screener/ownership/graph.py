"""The 50 percent arithmetic: who holds what of whom, through chains, with cycles refused.

Nodes are entities (customers, owners, intermediates) keyed by the caller; each holding is an edge
owner -> entity with a share in percent or None (not known). Given which nodes are listed (their
names matched a restricted party), `resolve` walks the graph owners first and decides for every
node:

- *restricted*: listed, or held 50% or more in the aggregate by restricted holders (known shares
  only). A covered intermediate passes its coverage on: A listed owns 60% of B, B owns 50% of C,
  so C is covered through B, whether or not B is on a list.
- *possibly restricted*: restricted, or could be held 50% or more if every unknown share held by a
  possibly restricted holder were as large as the shares known leave room for.

Shares are what the user supplied; the arithmetic never guesses one. An entity whose known shares
add up to more than 100%, or a chain of holdings that comes back to where it started, is an input
error naming every row involved: ownership that cannot be true cannot be cleared. Linear in nodes
plus holdings (Kahn's topological order).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from screener.collector import paused
from screener.files.errors import InputError
from screener.models import OwnerLink

FULL = 100.0
EPSILON = 1e-6  # shares are read from text; 33.3 + 33.3 + 33.4 must not be "over 100%"
THRESHOLD = 50.0


class OwnershipError(InputError):
    """Ownership that cannot be true (a cycle, shares over 100%), in one line naming the rows."""


class Holding(NamedTuple):
    owner: int
    share: float | None
    where: str


class OwnershipGraph:
    """Entities and their holders, by key; a name kept per node for explanations."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.holders: list[list[Holding]] = []
        self._ids: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.names)

    def node(self, key: str, name: str) -> int:
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self.names)
            self.names.append(name)
            self.holders.append([])
        return found

    def find(self, key: str) -> int | None:
        return self._ids.get(key)

    def add(self, entity: int, owner: int, share: float | None, where: str) -> None:
        if share is not None and not 0 <= share <= FULL:
            raise OwnershipError(f"{where}: share {share:g}% is not between 0 and 100")
        self.holders[entity].append(Holding(owner, share, where))

    def order(self) -> list[int]:
        """Every node, each after all its holders; raises OwnershipError on >100% or a cycle."""
        owned: list[list[int]] = [[] for _ in self.names]
        waiting = [0] * len(self.names)
        for entity, held in enumerate(self.holders):
            total = 0.0
            for owner, share, _ in held:
                owned[owner].append(entity)
                if share is not None:
                    total += share
            if total > FULL + EPSILON:
                check_total(self.names[entity], [(h.share, h.where) for h in held])
            waiting[entity] = len(held)
        queue = deque(n for n, w in enumerate(waiting) if w == 0)
        out: list[int] = []
        while queue:
            node = queue.popleft()
            out.append(node)
            for entity in owned[node]:
                waiting[entity] -= 1
                if waiting[entity] == 0:
                    queue.append(entity)
        if len(out) < len(self.names):
            raise self._cycle_error(waiting)
        return out

    def _cycle_error(self, waiting: list[int]) -> OwnershipError:
        """Walk holders among the nodes left waiting (each has one) until one repeats: that is a cycle."""
        node = next(n for n, w in enumerate(waiting) if w)
        seen: dict[int, int] = {}
        path: list[Holding] = []
        while node not in seen:
            seen[node] = len(path)
            step = next(h for h in self.holders[node] if waiting[h.owner])
            path.append(step)
            node = step.owner
        loop = path[seen[node]:]  # loop[i].owner holds the entity loop[i - 1].owner; the last is node
        if len(loop) == 1:
            what = f'"{self.names[node]}" is recorded as its own owner'
        else:
            what = " owns ".join(f'"{self.names[n]}"' for n in [h.owner for h in reversed(loop)] + [node])
        rows = "; ".join(h.where for h in reversed(loop))
        return OwnershipError(f"ownership cycle: {what} ({rows})")


def check_total(entity: str, shares: Iterable[tuple[float | None, str]]) -> None:
    """Raise OwnershipError, naming every row, when the known shares of one entity exceed 100%."""
    known = [(share, where) for share, where in shares if share is not None]
    total = sum(share for share, _ in known)
    if total > FULL + EPSILON:
        rows = "; ".join(where for _, where in known)
        raise OwnershipError(f'shares over 100%: the owners of "{entity}" hold {total:g}% in total ({rows})')


def aggregate(holdings: Iterable[tuple[float | None, bool, bool]]) -> tuple[float, float]:
    """(known share held by restricted holders, the most possibly restricted holders may hold).

    Each holding is (share or None, holder restricted, holder possibly restricted). Unknown shares
    of possibly restricted holders may fill whatever the known shares of all holders leave.
    """
    known_total = listed = possible = 0.0
    unknown = False
    for share, restricted, maybe in holdings:
        if share is None:
            unknown = unknown or maybe
            continue
        known_total += share
        if restricted:
            listed += share
        if maybe:
            possible += share
    if unknown:
        possible += max(0.0, FULL - known_total)
    return round(listed, 6), round(min(possible, FULL), 6)


class Resolution:
    """Every node's status after `resolve`, with the chains that explain it."""

    def __init__(self, graph: OwnershipGraph, listed: Sequence[bool]) -> None:
        n = len(graph)
        self.graph = graph
        self.listed = list(listed)
        self.restricted = bytearray(n)
        self.possible = bytearray(n)
        self.listed_pct = [0.0] * n
        self.possible_pct = [0.0] * n
        self.best = [-1] * n  # the holder a chain goes up through

    def status(self, node: int) -> str:
        if self.listed[node]:
            return "listed"
        if self.restricted[node]:
            return "covered"
        return "unknown" if self.possible[node] else "not_listed"

    def has_listed_owner(self, node: int) -> bool:
        return any(self.possible[h.owner] for h in self.graph.holders[node])

    def chains(self, node: int) -> list[list[OwnerLink]]:
        """One chain per possibly restricted direct holder, up to a listed party, largest share first."""
        holders = sorted((h for h in self.graph.holders[node] if self.possible[h.owner]),
                         key=lambda h: (-self.restricted[h.owner], -(h.share or 0.0)))
        return [[self._link(h, node), *self.above(h.owner)] for h in holders]

    def above(self, node: int) -> list[OwnerLink]:
        """The links from `node` up through its largest restricted holder to a listed party."""
        out: list[OwnerLink] = []
        for _ in range(len(self.graph)):  # acyclic: never longer than the graph
            if self.listed[node] or self.best[node] < 0:
                break
            holding = next(h for h in self.graph.holders[node] if h.owner == self.best[node])
            out.append(self._link(holding, node))
            node = holding.owner
        return out

    def _link(self, holding: Holding, entity: int) -> OwnerLink:
        names = self.graph.names
        return OwnerLink(owner=names[holding.owner], entity=names[entity], share_percent=holding.share,
                         owner_status=self.status(holding.owner), where=holding.where)  # type: ignore[arg-type]


def resolve(graph: OwnershipGraph, listed: Sequence[bool]) -> Resolution:
    """Decide every node, owners before what they own (raises OwnershipError first if impossible)."""
    with paused():
        return _resolve(graph, Resolution(graph, listed))


def _resolve(graph: OwnershipGraph, res: Resolution) -> Resolution:
    listed, restricted, possible = res.listed, res.restricted, res.possible
    for node in graph.order():
        held = graph.holders[node]
        candidates = [h for h in held if possible[h.owner]]  # usually none: no listed owner above
        lp = pp = 0.0
        if candidates:
            lp, pp = aggregate((h.share, bool(restricted[h.owner]), bool(possible[h.owner])) for h in held)
            res.listed_pct[node], res.possible_pct[node] = lp, pp
            res.best[node] = max(candidates, key=lambda h: (restricted[h.owner], h.share or 0.0)).owner
        if listed[node] or lp >= THRESHOLD:
            restricted[node] = possible[node] = 1
        elif pp >= THRESHOLD:
            possible[node] = 1
    return res
