"""Matching quality: recall, false-positive rate and top-1 accuracy, for screener and baselines.

    python benchmarks/quality.py [--dev ../shared/eval/dev_customers.csv] [--synthetic 1] [--csl-negatives]

Prints, for the labelled development set and for a synthetic set made by rule from the list's aliases
(see synth.py), per `kind` and overall:
  * screener at its default threshold, and its recall / false-positive curve against the threshold;
  * a plain baseline in the same run: rapidfuzz WRatio on lower-cased names over every alias, at the
    threshold that is best for it on that set (max recall minus false-positive rate);
  * nomenklatura's name matcher when the optional `bench` extra is installed.
With --csl-negatives, every entity name of the real CSL sample in ../shared/data (less the rows that
are the listed parties themselves) is screened as a name that must stay clear.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from rapidfuzz import fuzz, process

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import Labelled, clean_names, variants  # noqa: E402

from screener.names.normalize import normalize  # noqa: E402
from screener.screening import DEFAULT_THRESHOLD, Screener  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

Scorer = Callable[[str], tuple[float, str | None]]  # name -> (best score, best entity id)


def load_dev(path: Path) -> list[Labelled]:
    with path.open(encoding="utf-8") as fh:
        return [Labelled(r["customer_name"], r["expected_entity_id"] or None, r["kind"]) for r in csv.DictReader(fh)]


def load_csl_negatives(limit: int | None = None) -> list[Labelled]:
    path = SHARED / "data" / "csl" / "csl_2023-11_watchman_sample.csv"
    extract = SHARED / "data" / "csl" / "target_entity_rows_extract.csv"
    if not path.exists():
        return []
    ours: set[str] = set()
    if extract.exists():
        with extract.open(encoding="utf-8", errors="replace") as fh:
            for r in csv.DictReader(fh):
                if "false positive" not in (r.get("match_note") or "").lower():
                    ours.add((r.get("name") or "").strip().lower())
    out: list[Labelled] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for r in csv.DictReader(fh):
            name = (r.get("name") or "").strip()
            if not name or name == "name" or name.lower() in ours or (r.get("type") or "") == "Individual":
                continue
            if any(k in name.lower() for k in ("huawei", "hikvision", "megvii", "sensetime", "yitu", "meiya",
                                               "dawning", "sugon", "iflytek", "dahua technology")):
                continue
            out.append(Labelled(name, None, "csl-entity"))
    return out[:limit] if limit else out


def screener_scorer(screener: Screener) -> Scorer:
    """The best candidate down to a score of 20, so the curve can show thresholds below the report floor."""

    def score(name: str) -> tuple[float, str | None]:
        found = screener.index.match(normalize(name), floor=20.0, limit=1)
        if not found:
            return (0.0, None)
        party, _, scored = found[0]
        return scored.score, screener.index.parties[party][1].id

    return score


def wratio_scorer(screener: Screener) -> Scorer:
    names: list[str] = []
    ids: list[str] = []
    for _, lst in screener.lists:
        for party in lst.parties:
            for alias in party.all_names():
                names.append(alias.name.lower())
                ids.append(party.id)

    def score(name: str) -> tuple[float, str | None]:
        best = process.extractOne(name.lower(), names, scorer=fuzz.WRatio)
        return (best[1], ids[best[2]]) if best else (0.0, None)

    return score


def nomenklatura_scorer(screener: Screener, algorithm: str) -> Scorer | None:
    """nomenklatura's matcher (as yente uses it) over every party, each party one entity with all its names."""
    try:
        from followthemoney import model
        from nomenklatura.matching import get_algorithm
    except Exception:
        return None
    algo = get_algorithm(algorithm)
    if algo is None:
        return None
    config = algo.default_config()
    candidates = []
    for _, lst in screener.lists:
        for party in lst.parties:
            ent = model.make_entity("Organization")
            ent.id = party.id
            ent.add("name", [a.name for a in party.all_names()])
            candidates.append(ent)

    counter = itertools.count()

    def score(name: str) -> tuple[float, str | None]:
        query = model.make_entity("Organization")
        query.id = f"q{next(counter)}"  # nomenklatura caches by entity id: every query needs its own
        query.add("name", name)
        best = (0.0, None)
        for ent in candidates:
            s = float(algo.compare(query, ent, config).score) * 100
            if s > best[0]:
                best = (s, ent.id)
        return best

    return score


def evaluate(rows: Sequence[Labelled], scored: Sequence[tuple[float, str | None]], threshold: float):
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # n, flagged, top1, is_positive
    for row, (score, eid) in zip(rows, scored):
        k = by_kind[row.kind]
        k[0] += 1
        k[3] = int(row.entity_id is not None)
        if score >= threshold:
            k[1] += 1
            if row.entity_id is not None and eid == row.entity_id:
                k[2] += 1
    return by_kind


def totals(by_kind) -> tuple[float, float, float, int, int]:
    pos = [v for v in by_kind.values() if v[3]]
    neg = [v for v in by_kind.values() if not v[3]]
    n_pos = sum(v[0] for v in pos)
    n_neg = sum(v[0] for v in neg)
    recall = sum(v[1] for v in pos) / n_pos if n_pos else float("nan")
    top1 = sum(v[2] for v in pos) / n_pos if n_pos else float("nan")
    fpr = sum(v[1] for v in neg) / n_neg if n_neg else float("nan")
    return recall, top1, fpr, n_pos, n_neg


def best_threshold(rows, scored) -> float:
    best, best_t = -1.0, 0.0
    for t in range(40, 101):
        recall, _, fpr, _, _ = totals(evaluate(rows, scored, t))
        j = (0 if recall != recall else recall) - (0 if fpr != fpr else fpr)
        if j > best:
            best, best_t = j, float(t)
    return best_t


def report(title: str, rows: Sequence[Labelled], scorers: dict[str, tuple[Scorer, float | None]]) -> None:
    print(f"\n## {title} ({len(rows)} names)")
    results = {}
    for label, (scorer, _) in scorers.items():
        t0 = time.perf_counter()
        results[label] = [scorer(r.name) for r in rows]
        results[label + ":time"] = time.perf_counter() - t0  # type: ignore[assignment]
    header = f"{'matcher':<34}{'thr':>5}{'recall':>9}{'top-1':>8}{'FPR':>8}{'µs/name':>10}"
    print(header)
    for label, (_, thr) in scorers.items():
        scored = results[label]
        t = thr if thr is not None else best_threshold(rows, scored)
        recall, top1, fpr, n_pos, n_neg = totals(evaluate(rows, scored, t))
        per = results[label + ":time"] / max(len(rows), 1) * 1e6  # type: ignore[operator]
        name = label + ("" if thr is not None else " (best thr)")
        print(f"{name:<34}{t:>5.0f}{recall:>9.1%}{top1:>8.1%}{fpr:>8.2%}{per:>10.0f}")
    ours = results["screener"]
    thr = scorers["screener"][1] or DEFAULT_THRESHOLD
    print(f"\nscreener per kind at threshold {thr:g} (recall and top-1 for parties; flagged share for clear rows):")
    for kind, (n, flagged, top1, positive) in sorted(evaluate(rows, ours, thr).items()):
        if positive:
            print(f"  {kind:<20} n={n:<5} recall={flagged / n:6.1%} top-1={top1 / n:6.1%}")
        else:
            print(f"  {kind:<20} n={n:<5} flagged={flagged / n:6.1%}")
    missed = [(r, s) for r, s in zip(rows, ours) if r.entity_id and (s[0] < thr or s[1] != r.entity_id)]
    false = [(r, s) for r, s in zip(rows, ours) if not r.entity_id and s[0] >= thr]
    for r, s in missed[:15]:
        print(f"  MISSED {r.kind:<12} {r.name!r} expected {r.entity_id}, got {s[1]} at {s[0]:.1f}")
    for r, s in false[:15]:
        print(f"  FALSE  {r.kind:<12} {r.name!r} flagged {s[1]} at {s[0]:.1f}")
    print("\nscreener recall / top-1 / false-positive rate against the threshold:")
    print(f"{'thr':>5}{'recall':>9}{'top-1':>8}{'FPR':>8}")
    for t in range(30, 101, 5):
        recall, top1, fpr, _, _ = totals(evaluate(rows, ours, t))
        print(f"{t:>5}{recall:>9.1%}{top1:>8.1%}{fpr:>8.2%}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=Path, default=SHARED / "eval" / "dev_customers.csv")
    ap.add_argument("--synthetic", type=int, default=1, help="variants per kind per party (0: none)")
    ap.add_argument("--clean", type=int, default=2000, help="synthetic clean names")
    ap.add_argument("--csl-negatives", action="store_true")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    screener = Screener.default(threshold=args.threshold)
    scorers: dict[str, tuple[Scorer, float | None]] = {
        "screener": (screener_scorer(screener), args.threshold),
        "baseline: WRatio lower-case": (wratio_scorer(screener), None),
    }
    for algorithm in ("logic-v2", "name-based"):
        nk = nomenklatura_scorer(screener, algorithm)
        if nk:
            scorers[f"nomenklatura {algorithm}"] = (nk, None)
        else:
            print(f"(nomenklatura {algorithm} not available: pip install -e '.[bench]' to include it)")

    if args.dev.exists():
        report("development set", load_dev(args.dev), scorers)
    else:
        print(f"(development set not found at {args.dev}: skipped)")
    if args.synthetic:
        rng = random.Random(args.seed)
        (_, lst), = screener.lists[:1]
        rows = list(variants(lst, rng, args.synthetic)) + list(clean_names(lst, rng, args.clean))
        report(f"synthetic set, seed {args.seed}", rows, scorers)
    if args.csl_negatives:
        negs = load_csl_negatives()
        if negs:
            report("real CSL entity names (all must stay clear)", negs, {"screener": scorers["screener"],
                   "baseline: WRatio lower-case": scorers["baseline: WRatio lower-case"]})
        else:
            print("(CSL sample not found: skipped)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
