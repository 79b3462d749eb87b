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
With --official N, N generated customer names are screened against the CSL sample and both SDN sets:
the share flagged is the false-alarm rate on a customer base against the official lists.
With --pairs, the labelled pair set in ../shared/eval/name_pairs is scored pair by pair in both
directions (`compare(name1, name2)` and `compare(name2, name1)`): AUC and best F1 per direction, beside
nomenklatura logic-v2's frozen scores on the same pairs, sliced by schema, category and label quality,
and every STRONG pair's verdict at the default threshold (`--pairs-only` skips the other sets).
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
from screener.names.numbers import numbers_of  # noqa: E402
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


PAIRS = SHARED / "eval" / "name_pairs"


def load_pairs() -> list[dict[str, str]]:
    """The labelled pairs, with logic-v2's frozen score (0..1) where it has one."""
    path = PAIRS / "nomenklatura_name_bench.csv"
    if not path.exists():
        return []
    frozen: dict[tuple[str, str], float] = {}
    if (PAIRS / "nomenklatura_logicv2_scores.csv").exists():
        with (PAIRS / "nomenklatura_logicv2_scores.csv").open(encoding="utf-8") as fh:
            frozen = {(r["name1"], r["name2"]): float(r["score"]) for r in csv.DictReader(fh)}
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["logic_v2"] = frozen.get((r["name1"], r["name2"]))  # type: ignore[assignment]
    return rows


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve: the chance a random match outscores a random non-match (ties half)."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    if not n_pos or not n_neg:
        return float("nan")
    return (sum(r for r, y in zip(ranks, labels) if y) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def f1_at(scores: Sequence[float], labels: Sequence[bool], t: float) -> float:
    tp = sum(1 for s, y in zip(scores, labels) if s >= t and y)
    fp = sum(1 for s, y in zip(scores, labels) if s >= t and not y)
    fn = sum(1 for s, y in zip(scores, labels) if s < t and y)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def best_f1(scores: Sequence[float], labels: Sequence[bool]) -> tuple[float, float]:
    """The best F1 over every threshold, and that threshold."""
    return max(((f1_at(scores, labels, t), t) for t in sorted(set(scores))), default=(0.0, 0.0))


def _numbers_differ(a: str, b: str) -> bool:
    """Both names carry numbers and they differ, as the matcher reads them."""
    x, y = numbers_of(normalize(a).tokens), numbers_of(normalize(b).tokens)
    return bool(x and y and x != y)


def pair_report(screener: Screener, rows: list[dict[str, str]], threshold: float, show: int) -> None:
    labels = [r["is_match"] == "true" for r in rows]
    t0 = time.perf_counter()
    fwd = [screener.compare(r["name1"], r["name2"]).score for r in rows]
    bwd = [screener.compare(r["name2"], r["name1"]).score for r in rows]
    per = (time.perf_counter() - t0) / (2 * len(rows)) * 1e6
    print(f"\n## labelled name pairs ({len(rows)} pairs, {sum(labels)} matches; {per:.0f} µs a comparison)")
    frozen = [i for i, r in enumerate(rows) if r["logic_v2"] is not None]
    print(f"{'matcher':<44}{'pairs':>6}{'AUC':>7}{'best F1':>9}{'at':>6}{'F1 at thr':>11}")

    def line(label: str, idx: Sequence[int], scores: Sequence[float], thr: float | None) -> None:
        s = [scores[i] for i in idx]
        y = [labels[i] for i in idx]
        f1, at = best_f1(s, y)
        at_thr = f"{f1_at(s, y, thr):>11.3f}" if thr is not None else f"{'':>11}"
        print(f"{label:<44}{len(idx):>6}{auc(s, y):>7.3f}{f1:>9.3f}{at:>6.1f}{at_thr}")

    everything = range(len(rows))
    line("screener name1 -> name2", everything, fwd, threshold)
    line("screener name2 -> name1", everything, bwd, threshold)
    pooled_s, pooled_y = fwd + bwd, labels + labels
    f1, at = best_f1(pooled_s, pooled_y)
    print(f"{'screener, both directions pooled':<44}{len(pooled_s):>6}{auc(pooled_s, pooled_y):>7.3f}"
          f"{f1:>9.3f}{at:>6.1f}{f1_at(pooled_s, pooled_y, threshold):>11.3f}")
    if frozen:
        v2 = [100 * r["logic_v2"] if r["logic_v2"] is not None else 0.0 for r in rows]  # type: ignore[operator]
        line("screener name1 -> name2, logic-v2's pairs", frozen, fwd, threshold)
        line("screener name2 -> name1, logic-v2's pairs", frozen, bwd, threshold)
        line("nomenklatura logic-v2 (frozen scores)", frozen, v2, None)
    # the set labels some series apart as matches ("Fund VII" / "Fund VIII"); issue 16 asks that numbers
    # carried by both names agree, so screener keeps those pairs below any threshold by design
    series = [i for i, r in enumerate(rows) if labels[i] and _numbers_differ(r["name1"], r["name2"])]
    if series:
        rest = [i for i in everything if i not in set(series)]
        print(f"less the {len(series)} pairs labelled matches whose numbers differ (kept apart by rule):")
        line("  screener name1 -> name2", rest, fwd, threshold)
        line("  screener name2 -> name1", rest, bwd, threshold)
        if frozen:
            line("  nomenklatura logic-v2 (frozen scores)", [i for i in rest if i in set(frozen)], v2, None)

    def slices(key: str) -> None:
        groups: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(rows):
            groups[r[key] or "(none)"].append(i)
        print(f"\nby {key} (screener, worse direction at threshold {threshold:g}; AUC of the worse direction):")
        print(f"  {key:<30}{'n':>5}{'match':>7}{'AUC':>7}{'recall':>8}{'FPR':>7}{'logic-v2 AUC':>14}")
        for name, idx in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            if len(idx) < 5 and key == "category":
                continue
            y = [labels[i] for i in idx]
            low = [min(fwd[i], bwd[i]) for i in idx]
            high = [max(fwd[i], bwd[i]) for i in idx]
            pos, neg = sum(y), len(y) - sum(y)
            recall = sum(1 for s, t in zip(low, y) if t and s >= threshold) / pos if pos else float("nan")
            fpr = sum(1 for s, t in zip(high, y) if not t and s >= threshold) / neg if neg else float("nan")
            a = min(auc([fwd[i] for i in idx], y), auc([bwd[i] for i in idx], y))
            fz = [i for i in idx if rows[i]["logic_v2"] is not None]
            v2a = auc([rows[i]["logic_v2"] for i in fz], [labels[i] for i in fz])  # type: ignore[misc]
            print(f"  {name[:30]:<30}{len(idx):>5}{pos:>7}{a:>7.3f}{recall:>8.1%}{fpr:>7.1%}{v2a:>14.3f}")

    slices("schema")
    slices("quality")
    slices("category")
    strong = [i for i, r in enumerate(rows) if r["quality"] == "STRONG"]
    wrong = [i for i in strong if any((s >= threshold) != labels[i] for s in (fwd[i], bwd[i]))]
    print(f"\nSTRONG pairs right at threshold {threshold:g} in both directions: {len(strong) - len(wrong)} of {len(strong)}")
    for i in wrong:
        r = rows[i]
        print(f"  WRONG {r['is_match']:<5} {r['name1']!r} ~ {r['name2']!r}: {fwd[i]:.1f} / {bwd[i]:.1f}")
    if show:
        errors = sorted(
            (i for i in everything if any((s >= threshold) != labels[i] for s in (fwd[i], bwd[i]))),
            key=lambda i: -abs(min(fwd[i], bwd[i]) - threshold),
        )
        print(f"\n{len(errors)} pairs wrong at {threshold:g} in at least one direction; the {show} furthest off:")
        for i in errors[:show]:
            r = rows[i]
            print(f"  {r['is_match']:<5} {r['quality']:<6} {fwd[i]:5.1f} {bwd[i]:5.1f}  {r['name1']!r} ~ {r['name2']!r}")


def screener_scorer(screener: Screener) -> Scorer:
    """The best candidate down to a score of 20, so the curve can show thresholds below the report floor."""

    def score(name: str) -> tuple[float, str | None]:
        found = screener.index.match_name(name, floor=20.0, limit=1)
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


def official_alerts(names: int, threshold: float) -> None:
    """Generated customer names (benchmarks/generate.py, restricted-party variants of the bundled list
    at their usual share among them) screened against the CSL sample and both SDN sets: the share
    flagged, and the listed names that draw the most alerts. Nearly every name is no listed party, so
    the share is the false-alarm rate an analyst meets on a customer base against the official lists."""
    from collections import Counter

    from speed import csl_sized_lists, sample_names

    from screener.models import InputRow, Status

    official = Screener(csl_sized_lists(), threshold=threshold)
    flagged: Counter[str] = Counter()
    sample = sample_names(names, seed=6)
    for name in sample:
        result = official.screen_row(InputRow(name=name, row=2))
        if result.status is Status.POTENTIAL_MATCH:
            flagged[result.matches[0].matched_alias] += 1
    total = sum(flagged.values())
    print(f"\n## generated customer names against CSL + SDN ({len(sample):,} names, threshold {threshold:g})")
    print(f"potential matches: {total:,} = {total / len(sample):.2%} of the names")
    for alias, n in flagged.most_common(8):
        print(f"  {n:>5}  {alias}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=Path, default=SHARED / "eval" / "dev_customers.csv")
    ap.add_argument("--synthetic", type=int, default=1, help="variants per kind per party (0: none)")
    ap.add_argument("--clean", type=int, default=2000, help="synthetic clean names")
    ap.add_argument("--csl-negatives", action="store_true")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--pairs", action="store_true", help="also score the labelled pair set")
    ap.add_argument("--pairs-only", action="store_true", help="only the labelled pair set")
    ap.add_argument("--show", type=int, default=0, help="with --pairs: print this many wrong pairs")
    ap.add_argument("--official", type=int, default=0, metavar="N",
                    help="also screen N generated customer names against CSL + SDN (the false-alarm rate)")
    args = ap.parse_args(argv)

    screener = Screener.default(threshold=args.threshold)
    if args.pairs or args.pairs_only:
        pairs = load_pairs()
        if pairs:
            pair_report(screener, pairs, args.threshold, args.show)
        else:
            print(f"(pair set not found in {PAIRS}: skipped)")
        if args.pairs_only:
            return 0
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
    if args.official:
        official_alerts(args.official, args.threshold)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
