"""The 50 percent arithmetic at scale: a 100,000-entity ownership graph with 300,000 holdings.

    python benchmarks/ownership.py                       # 100k entities, 300k holdings, 1% listed
    python benchmarks/ownership.py --entities 20000 --edges 60000

Prints, measured in this run (target: resolved in under 10 s on this 2-core machine):

(a) the arithmetic alone: building the graph from (entity, owner, share) triples, the checks for
    shares over 100% and cycles, and `resolve` (every node's covered / unknown status);
(b) the chains of every covered or unknown entity (what the report's Ownership sheet shows);
(c) the same graph read from a csv ownership file (`read_ownership`: the file decoded, each name
    normalised as a key, each share parsed) and resolved, which is what `screen --ownership` pays
    before its owners are screened;
(d) what a run without any ownership pays for the ownership step: rows through its wrapper;
(e) rows with owner columns whose holding the ownership file also states, half of them with another
    share (each a conflict, merged and explained), against the same rows without the file.

The graph is random but acyclic (owners come before what they own in a shuffled order), each entity
held by up to a few owners whose shares add up to at most 100%, 5% of shares unknown.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screener.models import InputRow, RowResult, Status
from screener.ownership.assess import OwnershipAssessment
from screener.ownership.graph import OwnershipGraph, building, resolve
from screener.ownership.inputs import name_key, read_ownership
from screener.screening import Screener


def make_holdings(entities: int, edges: int, seed: int) -> list[tuple[int, int, float | None]]:
    """(entity, owner, share) with owner earlier than entity in a random order: no cycles."""
    rng = random.Random(seed)
    order = list(range(entities))
    rng.shuffle(order)
    rank = {node: i for i, node in enumerate(order)}
    left = [100.0] * entities
    out: list[tuple[int, int, float | None]] = []
    seen: set[tuple[int, int]] = set()
    while len(out) < edges:
        a, b = rng.randrange(entities), rng.randrange(entities)
        if a == b:
            continue
        owner, entity = (a, b) if rank[a] < rank[b] else (b, a)
        if (entity, owner) in seen or left[entity] < 1:
            continue
        seen.add((entity, owner))
        if rng.random() < 0.05:
            out.append((entity, owner, None))
            continue
        share = round(min(left[entity], rng.choice((10, 20, 25, 30, 50, 60))), 1)
        left[entity] -= share
        out.append((entity, owner, share))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=300_000)
    parser.add_argument("--listed", type=float, default=0.01, help="share of entities whose name is listed")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--rows", type=int, default=200_000, help="rows for the wrapper overhead (d)")
    parser.add_argument("--owned-rows", type=int, default=20_000, help="rows with owner columns (e)")
    args = parser.parse_args()

    holdings = make_holdings(args.entities, args.edges, args.seed)
    rng = random.Random(args.seed + 1)
    listed_ids = set(rng.sample(range(args.entities), int(args.entities * args.listed)))
    names = [f"Entity {i:06d} Holdings Ltd" for i in range(args.entities)]
    print(f"graph: {args.entities:,} entities, {len(holdings):,} holdings, {len(listed_ids):,} listed; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (the machine is shared)")

    t0 = time.perf_counter()
    graph = OwnershipGraph()
    with building():  # as read_ownership builds a graph
        nodes = [graph.node(name, name) for name in names]
        for entity, owner, share in holdings:
            graph.add(nodes[entity], nodes[owner], share, f"row {entity}")
    t1 = time.perf_counter()
    res = resolve(graph, [i in listed_ids for i in range(args.entities)])
    t2 = time.perf_counter()
    covered = sum(1 for n in range(len(graph)) if res.status(n) == "covered")
    unknown = sum(1 for n in range(len(graph)) if res.status(n) == "unknown")
    flagged = [n for n in range(len(graph)) if res.has_listed_owner(n)]
    chains = sum(len(res.chains(n)) for n in flagged)
    t3 = time.perf_counter()
    print(f"(a) build {t1 - t0:.2f} s + checks and resolve {t2 - t1:.2f} s = {t2 - t0:.2f} s "
          f"(target under 10 s): {covered:,} covered, {unknown:,} unknown share")
    print(f"(b) chains of the {len(flagged):,} entities with a listed or covered owner: {chains:,} chains "
          f"in {t3 - t2:.2f} s")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ownership.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["entity", "owner", "share_percent"])
            for entity, owner, share in holdings:
                out.writerow([names[entity], names[owner], "" if share is None else share])
        size = path.stat().st_size
        t4 = time.perf_counter()
        read = read_ownership(path)
        t5 = time.perf_counter()
        again = resolve(read, [int(n.split()[1]) in listed_ids for n in read.names])
        t6 = time.perf_counter()
    same = sum(1 for n in range(len(read)) if again.status(n) == "covered") == covered
    print(f"(c) from a {size:,}-byte csv: read {t5 - t4:.2f} s + resolve {t6 - t5:.2f} s = {t6 - t4:.2f} s; "
          f"same covered count as (a): {same}")
    overhead(args.rows)
    conflicts(args.owned_rows)


def conflicts(count: int) -> None:
    """(e) rows whose owner columns repeat a holding of the ownership file, half of them differently."""
    owners = [f"Parent {i:03d} Holdings" for i in range(100)]  # parents repeat across customers
    graph = OwnershipGraph()
    with building():
        for i in range(count):
            customer, owner = f"Customer {i} Ltd", owners[i % 100]
            graph.add(graph.node(name_key(customer), customer), graph.node(name_key(owner), owner), 40.0,
                      f"ownership.csv, row {i + 2}")
    screener = Screener.default()
    rows = [(f"Customer {i} Ltd", [(owners[i % 100], 40.0 + 10 * (i % 2), f"row {i + 2}")]) for i in range(count)]
    with_file, without = OwnershipAssessment(screener, graph), OwnershipAssessment(screener)
    for name in owners:  # owners screened once, outside the timing: the same for both
        with_file.listed(name), without.listed(name)
    t0 = time.perf_counter()
    plain = [without.of(name, extra) for name, extra in rows]
    t1 = time.perf_counter()
    merged = [with_file.of(name, extra) for name, extra in rows]
    t2 = time.perf_counter()
    found = sum(1 for o in merged if o is not None and o.conflicts)
    print(f"(e) {count:,} rows with owner columns: {t1 - t0:.2f} s without the file, {t2 - t1:.2f} s with "
          f"it ({(t2 - t1) / max(t1 - t0, 1e-9):.2f}x), {found:,} conflicts found; "
          f"{sum(o is not None for o in plain):,} outcomes without it")


def overhead(count: int) -> None:
    """(d) what every run pays when no ownership is supplied: rows through the ownership wrapper."""
    rows = [InputRow(name=f"Customer {i} Ltd", sheet="S", row=i,
                     fields={"Customer": f"Customer {i} Ltd", "Country": "DE", "City": "Berlin"})
            for i in range(count)]

    def plain(batch: Iterable[InputRow]) -> Iterator[RowResult]:
        return (RowResult(input_name=r.name, status=Status.CLEAR) for r in batch)

    wrapped = OwnershipAssessment(Screener.default()).screen_fn(plain, "f.csv")
    t0 = time.perf_counter()
    for _ in plain(rows):
        pass
    t1 = time.perf_counter()
    for _ in wrapped(rows):
        pass
    t2 = time.perf_counter()
    print(f"(d) {count:,} rows without ownership: {t1 - t0:.2f} s bare, {t2 - t1:.2f} s through the "
          f"ownership wrapper (+{(t2 - t1) - (t1 - t0):.2f} s)")

if __name__ == "__main__":
    main()
