"""Official CSL files and a changed copy of one, for the tests of list versions, the monitor and its page."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

from listserver import Mirror

SHARED = Path(os.environ.get("SCREENER_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
CSL_2025 = SHARED / "data" / "csl" / "csl_us_2025-06_watchman_fixture.csv"
CSL_2023 = SHARED / "data" / "csl" / "csl_2023-11_watchman_sample.csv"
HIKVISION = "Hangzhou Hikvision Digital Technology Co., Ltd."
HAVE_CSL = CSL_2025.is_file() and CSL_2023.is_file()
MISSING = f"official CSL files not found under {SHARED}/data"


def csl_v2(path: Path) -> None:
    """The 2025 file with Atlas Sanatgaran removed and the 2023 file's Hikvision (CMIC) record added."""
    rows = CSL_2025.read_text(encoding="utf-8").splitlines(keepends=True)
    hikvision = next(line for line in CSL_2023.read_text(encoding="utf-8").splitlines(keepends=True)
                     if f',"{HIKVISION}",' in line)
    kept = "".join(r for r in rows if "Atlas Sanatgaran" not in r).rstrip("\r\n") + "\n"  # the file ends unended
    path.write_text(kept + hikvision, encoding="utf-8")


def customers_csv(path: Path) -> Path:
    """Five customers: Atlas Sanatgaran (twice) and Rosneft Trade match the 2025 file, Hikvision its v2."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["Customer ID", "Customer name", "Country", "Address"])
        out.writerow(["C-1", "Atlas Sanatgaran", "IR", "Tehran"])
        out.writerow(["C-2", HIKVISION, "CN", "Qianmo Road, Hangzhou"])
        out.writerow(["C-3", "Rosneft Trade Limited", "CY", ""])
        out.writerow(["C-4", "Siemens AG", "DE", "Munich"])
        out.writerow(["C-5", "Atlas Sanatgaran", "IR", "Isfahan"])  # the same name twice: screened once
    return path


def csl_mirror(tmp_path: Path) -> Mirror:
    """A mirror of `tmp_path/mirror/` serving the 2025 file as consolidated.csv."""
    root = tmp_path / "mirror"
    root.mkdir()
    shutil.copyfile(CSL_2025, root / "consolidated.csv")
    return Mirror(root)
