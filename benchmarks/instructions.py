"""Instructions per name, counted by valgrind: a measure of the matcher that the machine's noise leaves alone.

    python benchmarks/instructions.py               # a kept index (as `screen --list csl --list sdn` loads it)
    python benchmarks/instructions.py --built       # and an index built in the process (as section (a) of speed.py)
    python benchmarks/instructions.py --names 3000 --warm 2000

On these shared machines the same run's wall time varies by ±40 %, so a change of a tenth cannot be
seen in seconds; `valgrind --tool=callgrind` counts the instructions executed, the same on every run
of the same code and inputs. Each configuration runs in its own process under callgrind, which
counts only inside the screening loop (it is the one `functools.reduce` call, named by
--toggle-collect), not the start-up, list loading or index building. Names are screened as a pool
worker screens them (`engine._screen_encoded`), "cold" as a fresh worker is, or after --warm other
names. Compare two trees by running this in each, or a change against its parent; the digest of
the results shows that both screened alike. Needs valgrind (Debian's package) and ../shared/data.
Under callgrind Python runs about fifty times slower: a kept index takes a minute or two, a built
one five more.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed

ROOT = Path(__file__).resolve().parents[1]


def _prepare_home(home: Path) -> list[str]:
    """Import the CSL sample and both SDN sets into `home` and keep their index (built natively)."""
    from screener.lists.catalog import save_imported
    from screener.lists.importers import import_csl, import_ofac_sdn
    from screener.screening import Screener

    os.environ["SCREENER_HOME"] = str(home)
    csl = speed.SHARED / "data" / "csl" / "csl_2023-11_watchman_sample.csv"
    save_imported("csl", import_csl(csl), csl)
    names = ["csl"]
    for folder in ("ofac_sdn_2019-01", "ofac_sdn_2021-07"):
        source = speed.SHARED / "data" / folder
        save_imported(f"sdn{folder[-7:-3]}", import_ofac_sdn(source), source)
        names.append(f"sdn{folder[-7:-3]}")
    Screener.from_catalog(names)  # built once here and kept: the measured process loads it
    return names


def _measure(kind: str, names: int, warm: int, lists: list[str]) -> None:
    """In the process callgrind runs: screen the sample inside one functools.reduce call."""
    from screener.collector import for_batch
    from screener.models import InputRow
    from screener.runtime.engine import _screen_encoded
    from screener.screening import Screener

    screener = Screener(speed.csl_sized_lists()) if kind == "built" else Screener.from_catalog(lists)
    for name in speed.WARM_UP + (speed.sample_names(warm, seed=7) if warm else []):
        screener.screen_row(InputRow(name=name, row=2))
    for_batch()
    rows = [(name, None, None, None) for name in speed.sample_names(names, seed=6)]
    chunks = [rows[i : i + 100] for i in range(0, len(rows), 100)]

    def step(records: list[object], chunk: list[tuple[str, None, None, None]]) -> list[object]:
        done, _ = _screen_encoded(screener, chunk)
        records.extend(None if r is None else r.record() for r in done)
        return records

    records = functools.reduce(step, chunks, [])
    print(hashlib.sha256(json.dumps(records, sort_keys=True, default=str).encode()).hexdigest()[:16])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", type=int, default=1500, help="Names screened and counted.")
    parser.add_argument("--warm", type=int, default=0, help="Other names screened first (0: a cold worker).")
    parser.add_argument("--built", action="store_true", help="Also count against an index built in the process.")
    parser.add_argument("--measure", choices=["kept", "built"], help=argparse.SUPPRESS)
    parser.add_argument("--lists", nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        _measure(args.measure, args.names, args.warm, args.lists)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed: apt-get install valgrind")
    if not (speed.SHARED / "data" / "csl").is_dir():
        sys.exit(f"the official list files are not under {speed.SHARED / 'data'}")
    with tempfile.TemporaryDirectory() as tmp:
        lists = _prepare_home(Path(tmp) / "home")
        print(f"{args.names:,} names, {'cold' if not args.warm else f'after {args.warm:,} others'}; "
              f"lists {', '.join(lists)}")
        for kind in ["kept", "built"] if args.built else ["kept"]:
            out = Path(tmp) / f"{kind}.callgrind"
            proc = subprocess.run(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--collect-atstart=no",
                 "--toggle-collect=functools_reduce", sys.executable, __file__, "--measure", kind,
                 "--names", str(args.names), "--warm", str(args.warm), "--lists", *lists],
                capture_output=True, text=True, cwd=ROOT, check=False)
            counted = re.search(r"Collected : (\d+)", proc.stderr)
            if proc.returncode != 0 or counted is None:
                sys.exit(f"{kind}: callgrind run failed:\n{proc.stderr[-2000:]}")
            total = int(counted.group(1))
            print(f"  {kind} index: {total:,} instructions, {total / args.names:,.0f} a name; "
                  f"results digest {proc.stdout.split()[-1]}")


if __name__ == "__main__":
    main()
