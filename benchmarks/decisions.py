"""Decision lookups: a pre-shipment check with a potential match, against an audit store holding no
decisions and one holding 100,000.

    python benchmarks/decisions.py                 # 100,000 decisions, 200 checks each
    python benchmarks/decisions.py --decisions 20000 --checks 50

Prints, all measured in this run on real SQLite files in a temporary folder:

(a) `check_shipment` of one potential match with `Store.apply_decisions` (the path `screener check`,
    `POST /v1/check` and the page take), median and p95 per check, with an empty store and with the
    full one; the target is the full one at no more than twice the empty one;
(b) the same, counting `Store.open` (what one `screener check` process pays: it opens the store);
(c) the baseline in the same run: reading the whole decision log (`list_decisions`), which is what
    the lookup cost before it was indexed by (party, normalised name), on the full store.

The decisions are spread over every party of the bundled list, 1,000 generated customer names,
five countries and 100 addresses, with 20 of them on the checked name and party for other countries
and addresses, so the lookup has to find and judge them (none applies: the check must still HOLD).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from screener.lists.partylist import default_list
from screener.review.decisions import address_key, country_key, input_key, party_hash
from screener.review.schema import decisions
from screener.review.store import Store
from screener.screening import Screener
from screener.shipment import check_shipment

NAME = "Dahua Foods Ltd"
DOC = {"id": "SO-1", "parties": [{"role": "end_user", "name": NAME, "country": "CN",
                                  "address": "1199 Bin'an Road, Binjiang, Hangzhou"}]}


def fill(store: Store, n: int) -> None:
    """n decisions in one bulk insert (the lookup is measured, not how they got there): 1,000
    customer names, each decided on for many parties, countries and addresses."""
    lst = default_list()
    parties = lst.parties
    dahua = next(p for p in parties if p.id == "dahua")
    hashes = {p.id: party_hash(p) for p in parties}
    rng = random.Random(13)
    words = ["Nordic", "Atlas", "Vertex", "Lumen", "Harbor", "Kestrel", "Orion", "Cedar", "Summit", "Delta"]
    names = [f"{rng.choice(words)} {rng.choice(words)} Trading {i} Ltd" for i in range(1_000)]
    keys = {name: input_key(name) for name in [NAME, *names]}
    addresses = [f"{i} Main Street, Springfield" for i in range(100)]
    address_keys = {a: address_key(a) for a in addresses}
    at = datetime.now(UTC).replace(microsecond=0)
    list_hash = lst.content_hash  # a computed property: hash once
    rows = []
    for i in range(n):
        near = i < 20  # on the checked name and party, for other customers
        party = dahua if near else rng.choice(parties)
        name = NAME if near else rng.choice(names)
        country = rng.choice(["US", "DE", "GB", "NL", "FR"])
        address = rng.choice(addresses)
        rows.append({
            "input_key": keys[name], "input_name": name, "entity_id": party.id, "list_key": "default",
            "party_hash": hashes[party.id], "threshold": 75.0, "decision": "false_positive", "comment": "bench",
            "user": "ann", "decided_at": at, "country": country, "address": address,
            "country_key": country_key(country), "address_key": address_keys[address],
            "list_hash": list_hash, "list_version": lst.version, "score": 90.0, "strong": False,
            "role": "analyst",
        })
    with store.engine.begin() as conn:
        for start in range(0, n, 10_000):
            conn.execute(decisions.insert(), rows[start:start + 10_000])
    with store.engine.connect() as conn:  # as SQLite's auto-checkpoint does once the writers pause
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def timed(a: Callable[[], object], b: Callable[[], object], repeat: int) -> tuple[list[float], list[float]]:
    """Both alternately, so that the shared machine's load falls on both alike."""
    a(), b()  # warm: the first calls compile statements and fill caches
    out: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, times in ((a, out[0]), (b, out[1])):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
    return out


def line(label: str, ms: list[float]) -> str:
    p95 = sorted(ms)[max(0, int(len(ms) * 0.95) - 1)]
    return f"  {label:44} median {statistics.median(ms):8.2f} ms   p95 {p95:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--checks", type=int, default=200)
    args = parser.parse_args()
    screener = Screener.default()
    with tempfile.TemporaryDirectory() as tmp:
        empty_url = f"sqlite:///{Path(tmp) / 'empty.db'}"
        full_url = f"sqlite:///{Path(tmp) / 'full.db'}"
        empty, full = Store.open(empty_url), Store.open(full_url)
        t0 = time.perf_counter()
        fill(full, args.decisions)
        print(f"{args.decisions:,} decisions inserted in {time.perf_counter() - t0:.1f} s")

        def check(store: Store) -> str:
            return check_shipment(DOC, screener, apply_decisions=store.apply_decisions).decision

        assert check(empty) == "HOLD" and check(full) == "HOLD"
        print("(a) check with one potential match, store already open")
        a0, a1 = timed(lambda: check(empty), lambda: check(full), args.checks)
        print(line("no decisions", a0))
        print(line(f"{args.decisions:,} decisions", a1))
        print("(b) the same, opening the store each time (one `screener check` process)")
        b0, b1 = timed(lambda: check(Store.open(empty_url)), lambda: check(Store.open(full_url)), args.checks // 4 or 1)
        print(line("no decisions", b0))
        print(line(f"{args.decisions:,} decisions", b1))
        print("(c) baseline: reading the whole decision log, as the lookup did before the index")
        c1 = timed(full.list_decisions, full.list_decisions, 1)[0]
        print(line(f"{args.decisions:,} decisions", c1))
        ratio_a = statistics.median(a1) / statistics.median(a0)
        ratio_b = statistics.median(b1) / statistics.median(b0)
        print(f"ratio full/empty: {ratio_a:.2f}x (store open), {ratio_b:.2f}x (opened per check); target <= 2x: "
              f"{'met' if max(ratio_a, ratio_b) <= 2 else 'NOT met'}")
        print(f"the whole-log read alone is {statistics.median(c1) / statistics.median(a1):.0f}x an indexed check")


if __name__ == "__main__":
    main()
