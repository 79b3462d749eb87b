"""Cost of the printable report: the Excel writer against the flat CSV writer, on the same results.

    python benchmarks/report_writer.py               # 100,000 rows, 2% potential matches
    python benchmarks/report_writer.py --rows 1000000

Each writer runs in a fresh process (so peak RSS is its own) over the same generated results, with
the input's own columns filled in. Prints rows/s, wall time and peak RSS for both, measured in this
run: the CSV writer is the baseline (no sorting, no row heights, no sheets). The report must stay
flat in memory as rows grow (constant_memory): compare RSS at two sizes with --rows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from screener.models import (
    AliasKind,
    Explanation,
    Match,
    RowResult,
    RunSummary,
    Status,
    TokenEvidence,
)


def results(rows: int) -> Iterator[RowResult]:
    from screener.lists.partylist import default_list

    party = default_list().parties[21]  # a company with notice and article sources
    for i in range(rows):
        fields = {"Customer ID": f"C-{i:07d}", "Customer Name": f"Customer {i} Trading Co", "City": "Leeds"}
        if i % 50 == 0:
            expl = Explanation(alias=party.name, alias_kind=AliasKind.LISTED, input_normalized="x",
                               alias_normalized="x", extra_input_tokens=["europe"],
                               tokens=[TokenEvidence(alias_token="hikvision", input_token="hikvision", weight=1,
                                                     similarity=1, rule="exact")], rules=["legal form removed: bv"])
            match = Match(entity_id=party.id, entity_name=party.name, list_name=party.list_name, score=96.0,
                          matched_alias=party.name, explanation=expl, sources=party.sources)
            yield RowResult(sheet="Customers", row=i + 2, column="Customer Name", input_name=f"{party.name} Europe BV",
                            status=Status.POTENTIAL_MATCH, score=96.0, matches=[match], fields=fields)
        else:
            yield RowResult(sheet="Customers", row=i + 2, column="Customer Name", input_name=fields["Customer Name"],
                            input_country="GB", status=Status.CLEAR, score=12.0, fields=fields)


def run(kind: str, rows: int, out: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from screener.files.outputs import open_writer
    from screener.lists.partylist import default_list

    summary = RunSummary(run_id="bench", tool_version="bench", started_at="2026-01-01T00:00:00+00:00",
                         threshold=75, rows_read=rows, rows_reported=rows)
    started = time.perf_counter()
    writer = open_writer(Path(out) / f"r.{kind}", [("default", default_list())])
    for result in results(rows):
        writer.write(result)
    writer.close(summary)
    wall = time.perf_counter() - started
    queue.put((wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    print(f"{args.rows:,} rows, 2% potential matches, 3 input columns each")
    figures = {}
    with tempfile.TemporaryDirectory() as out:
        for kind in ("csv", "xlsx"):
            queue = ctx.Queue()
            proc = ctx.Process(target=run, args=(kind, args.rows, out, queue))
            proc.start()
            wall, rss = queue.get()
            proc.join()
            figures[kind] = wall
            size = (Path(out) / f"r.{kind}").stat().st_size / 1e6
            print(f"  {kind:4}  {wall:7.1f} s  {args.rows / wall:9,.0f} rows/s  peak RSS {rss:6.0f} MB  file {size:.1f} MB")
    print(f"  the Excel report costs {figures['xlsx'] / figures['csv']:.1f}x the CSV writer's time (baseline)")


if __name__ == "__main__":
    main()
