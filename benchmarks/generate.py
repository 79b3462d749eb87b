"""Synthetic customer master files for the speed benchmarks: csv and xlsx, 100k to millions of rows.

    python benchmarks/generate.py                       # 100k and 1M rows, csv and xlsx
    python benchmarks/generate.py --rows 20000 --formats csv

Files go to benchmarks/data/ (git-ignored) as customers_<rows>.<csv|xlsx>, columns
Customer ID, Customer Name, Country, Address. The same seed and row count give the same file.

What "realistic" means here, and the assumptions behind it:

* Names are invented by a seeded generator in the styles a US exporter's customer master holds:
  Chinese (Hangzhou Xinrui Digital Technology Co., Ltd., sometimes in Chinese script), German
  (Keller Maschinenbau GmbH), French (SARL), Japanese (K.K.), Korean, Indian (Pvt. Ltd.),
  Brazilian (Ltda.), Russian (OOO, sometimes in Cyrillic), US/UK corporate names and individuals,
  with upper-case and punctuation noise. Stems are built from syllables, so the vocabulary is large
  (tens of thousands of distinct tokens), as it is in a real master, and caches cannot cheat.
* Repeats: a customer master repeats names (one row per ship-to site, order or contract). We
  assume DISTINCT_SHARE = 0.3, i.e. 1M rows drawn from 300k distinct customers, with a skew
  (a few big accounts appear hundreds of times, most customers once to three times). A repeated
  customer keeps its name and country; one in four repeats has another site address.
* About 0.5 % of rows (RESTRICTED_SHARE) are restricted-party variants made by `synth.variants`
  from the bundled list (legal forms, spacing, typos, homoglyphs, affiliates, Chinese script),
  plus as many near misses from `synth.clean_names` (look-alikes, unlisted bureaus).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import clean_names, variants  # noqa: E402

from screener.lists.partylist import default_list  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
HEADER = ("Customer ID", "Customer Name", "Country", "Address")
DISTINCT_SHARE = 0.33  # size of the customer pool; the skew leaves ~30 % of rows distinct
RESTRICTED_SHARE = 0.005
SKEW = 1.6  # row -> customer index = distinct * u**SKEW: larger means a heavier head of big accounts

ONSETS = ["b", "br", "c", "ch", "d", "f", "g", "gr", "h", "j", "k", "kr", "l", "m", "n", "p", "pr", "qu",
          "r", "s", "sh", "st", "t", "tr", "v", "w", "x", "y", "z", "zh"]
NUCLEI = ["a", "e", "i", "o", "u", "ai", "ao", "ei", "ia", "ie", "io", "ou", "ua", "ue"]
CODAS = ["", "", "", "n", "ng", "r", "l", "s", "x", "m", "t", "k"]
PINYIN = ["an", "bao", "bei", "chang", "chen", "da", "fang", "feng", "fu", "guang", "hai", "hao", "heng",
          "hong", "hua", "jia", "jian", "jin", "jing", "kai", "kang", "li", "lian", "long", "mei", "ming",
          "nan", "ning", "peng", "qi", "qiang", "rui", "sheng", "shi", "tai", "tian", "tong", "wei", "xin",
          "xing", "yang", "yi", "yong", "yu", "yuan", "zhi", "zhong", "zhou"]
HANZI = "安宝北昌晨达方丰富广海豪恒宏华佳建金晶凯康立联龙美明南宁鹏齐强瑞盛世泰天通伟新兴阳益永宇远志中舟"
CN_PLACES = ["Hangzhou", "Shenzhen", "Beijing", "Shanghai", "Suzhou", "Ningbo", "Xiamen", "Dongguan",
             "Foshan", "Qingdao", "Tianjin", "Wuhan", "Chengdu", "Nanjing", "Guangzhou", "Hefei", "Jinan"]
CN_WORDS = ["Technology", "Electronics", "Digital", "Intelligent", "Precision", "Machinery", "Trading",
            "Import & Export", "New Material", "Optoelectronic", "Automation", "Industrial", "Supply Chain",
            "Semiconductor", "Communication", "Instrument", "Plastic", "Textile", "Hardware", "Medical"]
CN_LEGAL = ["Co., Ltd.", "Co., Ltd", "Co Ltd", "CO.,LTD.", "Company Limited", "Limited"]
CN_SCRIPT_WORDS = ["科技", "电子", "贸易", "精密机械", "智能", "新材料", "进出口"]
CN_SCRIPT_LEGAL = ["有限公司", "股份有限公司"]
DE_SURNAMES = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Keller",
               "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Neumann", "Zimmermann"]
DE_WORDS = ["Maschinenbau", "Elektrotechnik", "Anlagenbau", "Präzisionstechnik", "Handels", "Antriebstechnik",
            "Messtechnik", "Kunststofftechnik", "Feinmechanik", "Automatisierung", "Logistik"]
DE_LEGAL = ["GmbH", "GmbH & Co. KG", "AG", "KG", "e.K."]
FR_WORDS = ["Industries", "Composants", "Mécanique", "Électronique", "Distribution", "Systèmes", "Ingénierie"]
FR_LEGAL = ["SARL", "SAS", "S.A.", "SA"]
JP_SUFFIX = ["Seiki", "Denki", "Kogyo", "Shoji", "Seisakusho", "Denshi", "Kiki", "Tsusho"]
JP_LEGAL = ["K.K.", "Co., Ltd.", "Corporation", "Kabushiki Kaisha"]
KR_WORDS = ["Tech", "Electronics", "Precision", "Industrial", "Materials", "Systems", "Hi-Tech"]
IN_WORDS = ["Engineering", "Exports", "Industries", "Enterprises", "Technologies", "Traders", "Instruments"]
IN_SURNAMES = ["Sharma", "Patel", "Gupta", "Reddy", "Iyer", "Mehta", "Agarwal", "Singh", "Rao", "Joshi"]
BR_WORDS = ["Comércio", "Indústria", "Equipamentos", "Soluções", "Tecnologia", "Distribuidora"]
RU_LATIN = {"a": "а", "b": "б", "v": "в", "g": "г", "d": "д", "e": "е", "z": "з", "i": "и", "k": "к",
            "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "r": "р", "s": "с", "t": "т", "u": "у",
            "f": "ф", "h": "х", "c": "ц", "y": "ы"}
US_WORDS = ["Technologies", "Systems", "Solutions", "Industries", "Manufacturing", "Electronics", "Controls",
            "Instruments", "Components", "Labs", "Devices", "Aerospace", "Robotics", "Networks", "Supply"]
US_LEGAL = ["Inc.", "Inc", "LLC", "Corp.", "Corporation", "Ltd", "Co.", "L.P.", "PLC", "Limited"]
FIRST = ["James", "Mary", "Robert", "Linda", "Michael", "Sarah", "David", "Karen", "Daniel", "Laura", "Wei",
         "Li", "Hans", "Anna", "Pierre", "Marie", "Hiroshi", "Yuki", "Raj", "Priya", "Carlos", "Ana", "Ivan"]
LAST = ["Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Moore",
        "Zhang", "Wang", "Chen", "Tanaka", "Sato", "Kim", "Park", "Nguyen", "Silva", "Santos", "Ivanov"]
STREETS = ["Main", "Oak", "Industrial", "Harbor", "Station", "Park", "River", "Hill", "Market", "Science",
           "Innovation", "Lake", "Mill", "Airport", "Technology", "Commerce", "Garden", "Bridge"]
STREET_KIND = {"CN": "Road", "DE": "Straße", "FR": "Rue", "JP": "Chome", "KR": "-ro", "IN": "Marg",
               "BR": "Rua", "RU": "ulitsa"}
CITIES = {
    "US": ["Austin", "San Jose", "Chicago", "Houston", "Boston", "Phoenix", "Seattle", "Detroit", "Denver"],
    "CN": CN_PLACES, "DE": ["Stuttgart", "München", "Hamburg", "Köln", "Dortmund", "Leipzig"],
    "FR": ["Lyon", "Toulouse", "Paris", "Lille", "Grenoble"], "JP": ["Osaka", "Nagoya", "Tokyo", "Kobe"],
    "KR": ["Seoul", "Busan", "Incheon", "Suwon"], "IN": ["Pune", "Chennai", "Bengaluru", "Mumbai"],
    "BR": ["São Paulo", "Campinas", "Curitiba"], "RU": ["Moscow", "Kazan", "Novosibirsk"],
    "GB": ["Manchester", "Leeds", "Bristol", "Reading"], "CA": ["Toronto", "Montreal", "Calgary"],
    "MX": ["Monterrey", "Tijuana", "Guadalajara"], "SG": ["Singapore"], "NL": ["Eindhoven", "Rotterdam"],
    "IT": ["Milano", "Torino", "Bologna"],
}
# customer styles and their share of distinct customers (a US exporter's master, roughly)
STYLES = [("us", 0.30), ("cn", 0.22), ("de", 0.08), ("jp", 0.06), ("kr", 0.05), ("in", 0.06),
          ("gb", 0.05), ("fr", 0.04), ("br", 0.03), ("ru", 0.02), ("other", 0.04), ("person", 0.05)]
OTHER_COUNTRIES = ["CA", "MX", "SG", "NL", "IT"]


def _stem(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(ONSETS) + rng.choice(NUCLEI) + rng.choice(CODAS) for _ in range(syllables))


def _pinyin(rng: random.Random) -> str:
    return "".join(rng.choice(PINYIN) for _ in range(rng.choice([2, 2, 3])))


def _noise(name: str, rng: random.Random) -> str:
    """Upper case, stray spaces and punctuation the way ERP exports carry them."""
    r = rng.random()
    if r < 0.25:
        name = name.upper()
    elif r < 0.30:
        name = name.replace(",", "").replace(".", "")
    elif r < 0.33:
        name = "  " + name + " "
    return name


def _company(rng: random.Random, style: str) -> tuple[str, str]:
    """One invented customer: (name, ISO country)."""
    if style == "cn":
        if rng.random() < 0.08:
            stem = "".join(rng.choice(HANZI) for _ in range(rng.choice([2, 3])))
            return f"{stem}{rng.choice(CN_SCRIPT_WORDS)}{rng.choice(CN_SCRIPT_LEGAL)}", "CN"
        words = " ".join(rng.sample(CN_WORDS, rng.choice([1, 2])))
        place = f"{rng.choice(CN_PLACES)} " if rng.random() < 0.7 else ""
        return f"{place}{_pinyin(rng).capitalize()} {words} {rng.choice(CN_LEGAL)}", "CN"
    if style == "de":
        head = rng.choice(DE_SURNAMES) if rng.random() < 0.5 else _stem(rng, 2).capitalize()
        return f"{head} {rng.choice(DE_WORDS)} {rng.choice(DE_LEGAL)}", "DE"
    if style == "fr":
        return f"{_stem(rng, 2).capitalize()} {rng.choice(FR_WORDS)} {rng.choice(FR_LEGAL)}", "FR"
    if style == "jp":
        return f"{_stem(rng, 3).capitalize()} {rng.choice(JP_SUFFIX)} {rng.choice(JP_LEGAL)}", "JP"
    if style == "kr":
        return f"{_stem(rng, 2).capitalize()} {rng.choice(KR_WORDS)} Co., Ltd.", "KR"
    if style == "in":
        head = rng.choice(IN_SURNAMES) if rng.random() < 0.4 else _stem(rng, 3).capitalize()
        return f"{head} {rng.choice(IN_WORDS)} Pvt. Ltd.", "IN"
    if style == "br":
        return f"{_stem(rng, 2).capitalize()} {rng.choice(BR_WORDS)} Ltda.", "BR"
    if style == "ru":
        stem = _stem(rng, 3)
        if rng.random() < 0.3:
            return "ООО «" + "".join(RU_LATIN.get(c, c) for c in stem).capitalize() + "»", "RU"
        return f'OOO "{stem.capitalize()}"', "RU"
    if style == "person":
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}", rng.choice(["US", "GB", "DE", "CN", "JP", "BR"])
    country = "GB" if style == "gb" else "US" if style == "us" else rng.choice(OTHER_COUNTRIES)
    head = _stem(rng, rng.choice([2, 3])).capitalize()
    if rng.random() < 0.3:
        head += " " + _stem(rng, 2).capitalize()
    return f"{head} {rng.choice(US_WORDS)} {rng.choice(US_LEGAL)}", country


def _address(rng: random.Random, country: str) -> str:
    kind = STREET_KIND.get(country, "Street" if rng.random() < 0.6 else "Avenue")
    city = rng.choice(CITIES.get(country, CITIES["US"]))
    return f"{rng.randrange(1, 9999)} {rng.choice(STREETS)} {kind}, {city}"


def customers(rows: int, seed: int = 7) -> Iterator[tuple[str, str, str, str]]:
    """Rows of (customer id, name, country, address), deterministic for a seed and row count."""
    rng = random.Random(seed)
    distinct = max(1, int(rows * DISTINCT_SHARE))
    styles, weights = zip(*STYLES, strict=True)
    lst = default_list()
    listed = [(v.name, "CN") for v in variants(lst, rng, per_kind=3)]
    near = [(c.name, "CN") for c in clean_names(lst, rng, max(50, len(listed)))]
    pool: list[tuple[str, str, str]] = []
    for _ in range(distinct):
        name, country = _company(rng, rng.choices(styles, weights)[0])
        pool.append((_noise(name, rng), country, _address(rng, country)))
    rng.shuffle(pool)  # big accounts (the head of the skew) of every style
    for i in range(rows):
        r = rng.random()
        if r < RESTRICTED_SHARE:
            name, country = rng.choice(listed)
            yield f"R{i:08d}", name, country, _address(rng, country)
            continue
        if r < 2 * RESTRICTED_SHARE:
            name, country = rng.choice(near)
            yield f"N{i:08d}", name, country, _address(rng, country)
            continue
        k = int(distinct * rng.random() ** SKEW)
        name, country, address = pool[k]
        if rng.random() < 0.25:
            address = _address(rng, country)
        yield f"C{k:08d}", name, country, address


def write_csv(path: Path, rows: int, seed: int) -> int:
    """Write the file; returns the number of distinct names."""
    names: set[str] = set()
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for row in customers(rows, seed):
            names.add(row[1])
            out.writerow(row)
    return len(names)


def write_xlsx(path: Path, rows: int, seed: int) -> int:
    """Write the file with xlsxwriter in constant_memory mode; returns the number of distinct names."""
    import xlsxwriter

    if rows > 1_048_575:
        raise SystemExit(f"{rows:,} rows do not fit one Excel sheet (1,048,575 data rows)")
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                           "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet("Customers")
    sheet.write_row(0, 0, HEADER)
    names: set[str] = set()
    for r, row in enumerate(customers(rows, seed), start=1):
        names.add(row[1])
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    book.close()
    return len(names)


def path_for(rows: int, fmt: str) -> Path:
    return DATA / f"customers_{rows}.{fmt}"


def ensure(rows: int, fmt: str, seed: int = 7) -> tuple[Path, int | None]:
    """The file for this row count and format, written if it is not there yet (then with its distinct names)."""
    path = path_for(rows, fmt)
    distinct = None
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".part.{fmt}")
        distinct = (write_csv if fmt == "csv" else write_xlsx)(tmp, rows, seed)
        tmp.replace(path)
    return path, distinct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--formats", nargs="+", choices=["csv", "xlsx"], default=["csv", "xlsx"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--force", action="store_true", help="Rewrite files that exist.")
    args = parser.parse_args()
    for rows in args.rows:
        for fmt in args.formats:
            path = path_for(rows, fmt)
            if args.force:
                path.unlink(missing_ok=True)
            t0 = time.perf_counter()
            _, distinct = ensure(rows, fmt, args.seed)
            how = "exists" if distinct is None else (
                f"{distinct:,} distinct names, written in {time.perf_counter() - t0:.1f} s")
            print(f"{path}: {rows:,} rows, {path.stat().st_size / 1e6:.1f} MB ({how})")


if __name__ == "__main__":
    main()
