"""Importers of the published list formats, on the real CSL and OFAC SDN files in ../shared/data."""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from screener.lists.importers import (
    ImportFormatError,
    ImportResult,
    import_csl,
    import_ofac_sdn,
)
from screener.models import AliasKind, EntityType, RestrictedList
from screener.names.normalize import normalize
from screener.screening import Screener

SHARED = Path(os.environ.get("SCREENER_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
DATA = SHARED / "data"
CSL_2023 = DATA / "csl" / "csl_2023-11_watchman_sample.csv"
CSL_2019 = DATA / "csl" / "csl_2019-12_watchman_sample.csv"
CSL_2025 = DATA / "csl" / "csl_us_2025-06_watchman_fixture.csv"
SDN_2019 = DATA / "ofac_sdn_2019-01"
SDN_2021 = DATA / "ofac_sdn_2021-07"


def _needs(path: Path) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not path.exists(), reason=f"shared list data not found at {path}")


@pytest.fixture(scope="module")
def csl2023() -> ImportResult:
    if not CSL_2023.exists():
        pytest.skip(f"shared list data not found at {CSL_2023}")
    return import_csl(CSL_2023)


@pytest.fixture(scope="module")
def sdn2021() -> ImportResult:
    if not SDN_2021.exists():
        pytest.skip(f"shared list data not found at {SDN_2021}")
    return import_ofac_sdn(SDN_2021)


def _by_name(lst: RestrictedList, name: str):
    found = [p for p in lst.parties if p.name.casefold() == name.casefold()]
    assert len(found) == 1, f"{name}: {len(found)} records"
    return found[0]


def _all_text(lst: RestrictedList) -> str:
    return json.dumps([p.model_dump(mode="json") for p in lst.parties], ensure_ascii=False)


@pytest.mark.parametrize("name, listed, kind", [
    ("S7 Airlines", "SIBERIAN AIRLINES D/B/A S7 AIRLINES", AliasKind.BRAND),
    ("Siberian Airlines", "SIBERIAN AIRLINES D/B/A S7 AIRLINES", AliasKind.LISTED),
    ("Frank Sun", "FUYI SUN A/K/A FRANK SUN", AliasKind.LISTED),
    ("Fuyi Sun", "FUYI SUN A/K/A FRANK SUN", AliasKind.LISTED),
    ("Behover Information Technologies", "Behover General Trading/Information Technologies", AliasKind.BRAND),
])
def test_a_listed_name_naming_another_is_two_aliases(csl_screener: Screener, name: str, listed: str,
                                                      kind: AliasKind) -> None:
    """Found from outside: the CSL lists "SIBERIAN AIRLINES D/B/A S7 AIRLINES" as one name (and the
    brand "DBA Behover Information Technologies"); "S7 Airlines" and "Siberian Airlines" came back
    clear and "Frank Sun" matched another party. Each name the field gives is an alias of its own."""
    result = csl_screener.screen_name(name)
    assert result.status.value == "potential_match" and result.best is not None, name
    assert result.best.entity_name.casefold() == listed.casefold()
    assert result.best.matched_alias.casefold() == name.casefold()
    assert result.best.explanation.alias_kind is kind


@pytest.mark.parametrize("cut, listed", [
    ("Semiconductor Manufacturing Interna", "Semiconductor Manufacturing International Corporation"),
    ("China Academy of Launch Vehicle Tec", "China Academy of Launch Vehicle Technology"),
    ("INNER MONGOLIA FIRST MACHINERY GROU", "INNER MONGOLIA FIRST MACHINERY GROUP CO., LTD."),
])
def test_a_name_cut_at_an_erp_fields_length_is_found(csl_screener: Screener, cut: str, listed: str) -> None:
    """Found from outside: SAP's NAME1 holds 35 characters, and half the CSL's organisation names
    longer than that, cut there, were clear; SMIC's ended "Interna", a near miss of "International"
    that capped the score at 70. The last word read as the start of the alias's next one pairs."""
    assert len(cut) == 35
    result = csl_screener.screen_name(cut)
    assert result.status.value == "potential_match", (cut, result.score)
    assert listed.casefold() in {m.matched_alias.casefold() for m in result.matches}
    assert any(t.rule.startswith("cut short") for t in result.best.explanation.tokens)


@pytest.mark.parametrize("cut, listed", [
    ("National Wealth Fund of the Russian", "National Wealth Fund of the Russian Federation"),
    ("Academy of Aerospace Solid Propulsi", "Academy of Aerospace Solid Propulsion Technology (AASPT)"),
])
def test_the_words_a_field_cut_off_weigh_less(csl_screener: Screener, cut: str, listed: str) -> None:
    """A name of a field's length (35 characters, SAP's NAME1) may be a longer name's start: the
    listed name's words past its end were cut off, so they weigh a quarter, and the run says so."""
    result = csl_screener.screen_name(cut)
    assert result.status.value == "potential_match", (cut, result.score)
    assert listed.casefold() in {m.matched_alias.casefold() for m in result.matches}
    assert any("as a field cuts a name" in rule for rule in result.best.explanation.rules)
    whole = csl_screener.screen_name(cut + " Ltd Zentrovia")  # longer than a field: no cut
    assert not any("as a field cuts a name" in rule for m in whole.matches for rule in m.explanation.rules)


def test_the_index_finds_what_exhaustive_comparison_finds_for_cut_names(csl_screener: Screener) -> None:
    """A cut input is bound more loosely (`cut_least`) against the aliases starting as it does (their
    own postings): the index must still return exactly what comparing every alias returns, at the
    usual floor and below it."""
    rng = random.Random(31)
    longer = sorted({a.name for _, lst in csl_screener.lists for p in lst.parties for a in p.all_names()
                     if len(a.name) > 45})
    names = [name[:length].rstrip() for name in rng.sample(longer, 8) for length in (30, 35, 40)]
    assert sum(len(n) in (29, 30, 34, 35, 39, 40) for n in names) >= 20  # each slow pass takes a second
    for i, name in enumerate(names):
        q = normalize(name)
        for floor in (46.0, 75.0) if i % 3 == 0 else (75.0,):  # 46: postings read by share, not prefix keys
            fast = [(a.party, sc.score) for _, a, sc in csl_screener.index.match(q, floor=floor)]
            slow = [(a.party, sc.score) for _, a, sc in csl_screener.index.match(q, floor=floor, exhaustive=True)]
            assert fast == slow, (name, floor)


@pytest.fixture(scope="module")
def csl_screener(csl2023: ImportResult) -> Screener:
    return Screener([("csl", csl2023.list)])


# --- CSL 2023-11: the dirty one --------------------------------------------------------------------


def test_csl_2023_counts_match_the_readme(csl2023: ImportResult) -> None:
    assert csl2023.records == len(csl2023.list.parties) == 4226
    assert csl2023.rows_read == csl2023.records + len(csl2023.skipped) == 4227
    by_list = Counter(p.list_name.split(" (")[0] for p in csl2023.list.parties)
    assert by_list == {
        "Specially Designated Nationals": 1737, "Entity List": 919, "Denied Persons List": 577,
        "Sectoral Sanctions Identifications List": 288, "Unverified List": 186, "Nonproliferation Sanctions": 144,
        "ITAR Debarred": 142, "Palestinian Legislative Council List": 78, "Military End User": 71,
        "Non-SDN Chinese Military-Industrial Complex Companies List": 68, "Non-SDN Menu-Based Sanctions List": 14,
        "Foreign Sanctions Evaders": 1, "Capta List": 1,
    }  # fmt: skip
    dates = [p.date_added for p in csl2023.list.parties if p.date_added]
    assert (min(dates), max(dates)) == (date(1981, 3, 24), date(2023, 11, 16))


def test_csl_2023_truncated_last_record_is_reported_with_its_line(csl2023: ImportResult) -> None:
    assert len(csl2023.skipped) == 1
    skipped = csl2023.skipped[0]
    assert (skipped.file, skipped.line) == (CSL_2023.name, 4233)
    assert "cut off" in skipped.reason and "8 of 29" in skipped.reason and "BERMUDEZ SUAZA" in skipped.reason
    assert not any("BERMUDEZ SUAZA" in p.name for p in csl2023.list.parties)


def test_csl_2023_repeated_header_is_skipped_and_noted(csl2023: ImportResult) -> None:
    assert any(":2: header line repeated" in n for n in csl2023.notes)
    assert not any(p.name in ("name", "source") or p.original_id == "_id" for p in csl2023.list.parties)


def test_csl_2023_c1_control_characters_are_repaired_and_noted(csl2023: ImportResult) -> None:
    assert "\x92" not in _all_text(csl2023.list)
    names = {p.name for p in csl2023.list.parties}
    assert "CAST Xi\u2019an Spaceflight Engine Factory" in names
    assert "XAIC Tech (Xi\u2019an) Industrial Co., Ltd." in names
    repaired = [n for n in csl2023.notes if "U+0092" in n]
    assert len(repaired) == 3 and all("\u2019" in n for n in repaired)


def test_csl_2023_hikvision_on_the_ns_cmic_list(csl2023: ImportResult) -> None:
    party = _by_name(csl2023.list, "HANGZHOU HIKVISION DIGITAL TECHNOLOGY CO., LTD.")
    assert party.list_name == "Non-SDN Chinese Military-Industrial Complex Companies List (CMIC) - Treasury Department"
    assert party.id == "csl:30946" and party.original_id == "30946"
    assert party.programme == "CMIC-EO13959"
    assert party.entity_type == EntityType.COMPANY and party.country == "CN"
    assert "Hikvision" in {a.name for a in party.aliases}
    assert party.addresses[0].text.startswith("555, Qianmo Road") and party.addresses[0].country == "CN"
    source = party.sources[0]
    assert (source.kind, source.id, source.title) == ("list_file", CSL_2023.name, party.list_name)
    assert source.quote == "Hangzhou Hikvision Digital Technology Co., Ltd."
    assert source.url == party.source_list_url


def test_csl_2023_entity_list_fields(csl2023: ImportResult) -> None:
    nudt = [p for p in csl2023.list.parties if p.name.startswith("National University of Defense Technology")]
    assert nudt and nudt[0].list_name == "Entity List (EL) - Bureau of Industry and Security"
    assert "84 FR 29373" in (nudt[0].fr_citation or "")
    assert nudt[0].licence_requirement and nudt[0].licence_policy and nudt[0].date_added


def test_csl_ids_are_unique_and_ids_shared_across_lists_carry_the_list(csl2023: ImportResult) -> None:
    ids = [p.id for p in csl2023.list.parties]
    assert len(set(ids)) == len(ids) and all(i.startswith("csl:") for i in ids)
    assert {"csl:17014:ssi", "csl:17014:ns-mbs-list", "csl:9647:sdn", "csl:9647:plc"} <= set(ids)
    assert any("share an _id" in n for n in csl2023.notes)


def test_screening_finds_hikvision_on_the_imported_list(csl2023: ImportResult) -> None:
    result = Screener([("csl", csl2023.list)]).screen_name("Hikvision")
    assert result.status.value == "potential_match"
    assert result.best.entity_id == "csl:30946" and result.best.list_key == "csl"
    assert result.best.sources[0].id == CSL_2023.name


# --- CSL 2019-12 and 2025-06 ---------------------------------------------------------------------


@_needs(CSL_2019)
def test_csl_2019_layout_without_id_column() -> None:
    result = import_csl(CSL_2019)
    assert result.records == 115 and not result.skipped
    parties = result.list.parties
    assert Counter(p.list_name.split(" (")[0] for p in parties)["Entity List"] == 22
    assert all(re.match(r"^csl:[A-Za-z0-9_.:-]+$", p.id) for p in parties)
    assert any(p.id == "csl:20264" for p in parties)  # entity_number stands in for the missing _id
    migeotte = [p for p in parties if p.name == "Gunther Migeotte"]
    assert len(migeotte) == 5 and len({p.id for p in migeotte}) == 5
    huawei = _by_name(result.list, "Gui\u2019an New District Huawei Investment Co., Ltd., Guiyang, Guizhou")
    assert huawei.fr_citation and "22961" in huawei.fr_citation
    assert import_csl(CSL_2019).list.content_hash == result.list.content_hash  # hashed ids are stable
    assert _by_name(result.list, "ADRIAN MANUEL HERNANDEZ").sources[0].quote == "ADRIAN MANUEL HERNANDEZ"


@_needs(CSL_2025)
def test_csl_2025_fixture() -> None:
    result = import_csl(CSL_2025)
    assert result.records == 13 and result.rows_read == 13 and not result.skipped
    assert len({p.list_name for p in result.list.parties}) == 10


# --- OFAC SDN --------------------------------------------------------------------------------------


@_needs(SDN_2019)
def test_sdn_2019_counts_and_joins() -> None:
    result = import_ofac_sdn(SDN_2019)
    assert result.records == 7379 and not result.skipped
    assert result.files == {"sdn.csv": 7379, "alt.csv": 9682, "add.csv": 11696, "sdn_comments.csv": 3}
    types = Counter(p.entity_type for p in result.list.parties)
    assert types == {EntityType.INDIVIDUAL: 3845, EntityType.COMPANY: 2994, EntityType.VESSEL: 323,
                     EntityType.AIRCRAFT: 217}  # fmt: skip
    programmes = {x for p in result.list.parties for x in (p.programme or "").split("; ") if x}
    assert len(programmes) == 49
    aliases = [a for p in result.list.parties for a in p.aliases]
    assert len(aliases) > 9600
    assert Counter(a.kind for a in aliases)[AliasKind.FORMER] > 300
    assert any(a.kind == AliasKind.LEGAL and a.note == "now known as" for a in aliases)
    assert sum(len(p.addresses) for p in result.list.parties) > 9000
    assert not any(n.startswith("sdn.csv: end-of-file") for n in result.notes)  # LF set, no 0x1A


def test_sdn_2021_xinjiang_psb_with_aliases(sdn2021: ImportResult) -> None:
    assert sdn2021.records == 8976 and not sdn2021.skipped
    party = next(p for p in sdn2021.list.parties if p.id == "sdn:29159")
    assert party.name == "XINJIANG PUBLIC SECURITY BUREAU" and party.original_id == "29159"
    assert party.list_name == "Specially Designated Nationals (SDN) - Treasury Department"
    assert party.programme == "GLOMAG" and party.country == "CN"
    assert {a.name for a in party.aliases} == {
        "XINJIANG BUREAU OF PUBLIC SECURITY",
        "PUBLIC SECURITY DEPARTMENT OF XINJIANG UYGAR AUTONOMOUS REGION",
        "PUBLIC SECURITY DEPARTMENT OF XUAR",
        "PUBLIC SECURITY DEPARTMENT OF THE AUTONOMOUS REGION",
    }
    assert all(a.kind == AliasKind.BRAND for a in party.aliases)  # aka
    assert party.sources[0].id == "sdn.csv" and party.sources[0].quote == party.name
    assert any(p.id == "sdn:29299" and p.name == "XINJIANG PRODUCTION AND CONSTRUCTION CORPS"
               for p in sdn2021.list.parties)  # fmt: skip
    hit = Screener([("sdn", sdn2021.list)]).screen_name("Public Security Department of XUAR")
    assert hit.best.entity_id == "sdn:29159" and hit.status.value == "potential_match"


def test_sdn_2021_crlf_eof_byte_empty_marker_programmes_and_comments(sdn2021: ImportResult) -> None:
    assert sum("end-of-file byte 0x1A removed" in n for n in sdn2021.notes) == 3
    assert not re.search(r'"-0-\s*"', _all_text(sdn2021.list))  # no value is the empty marker
    assert not any("-0-" in a.text for p in sdn2021.list.parties for a in p.addresses)
    assert "\x1a" not in _all_text(sdn2021.list) and "\r" not in _all_text(sdn2021.list)
    programmes = {x for p in sdn2021.list.parties for x in (p.programme or "").split("; ") if x}
    assert len(programmes) == 67 and not any("[" in x or "]" in x for x in programmes)
    multi = next(p for p in sdn2021.list.parties if p.programme and "; " in p.programme)
    assert multi.programme.count("; ") >= 1
    lazarus = next(p for p in sdn2021.list.parties if p.id == "sdn:28263")
    assert lazarus.reason.startswith("Remarks: ") and "'snowsjohn'; Linked To: LAZARUS GROUP." in lazarus.reason
    types = Counter(p.entity_type for p in sdn2021.list.parties)
    assert (types[EntityType.INDIVIDUAL], types[EntityType.VESSEL], types[EntityType.AIRCRAFT]) == (4620, 406, 277)


@_needs(SDN_2021)
def test_sdn_import_from_the_sdn_csv_path_equals_the_folder(sdn2021: ImportResult) -> None:
    assert import_ofac_sdn(SDN_2021 / "sdn.csv").list.content_hash == sdn2021.list.content_hash


# --- dirt the real files do not have, in small files written here ----------------------------------

CSL_HEADER = (
    "_id,source,entity_number,type,programs,name,title,addresses,federal_register_notice,start_date,end_date,"
    "standard_order,license_requirement,license_policy,call_sign,vessel_type,gross_tonnage,"
    "gross_registered_tonnage,vessel_flag,vessel_owner,remarks,source_list_url,alt_names,citizenships,"
    "dates_of_birth,nationalities,places_of_birth,source_information_url,ids"
)


def _csl_row(_id: str, name: str, start: str = "2020-01-02", alt: str = "") -> str:
    cells = [_id, "Entity List (EL) - Bureau of Industry and Security", "", "", "", name, "", "1 Road, Wuhan, CN",
             "85 FR 1", start, "", "", "", "", "", "", "", "", "", "", "", "https://x.test/el", alt, "", "", "",
             "", "", ""]  # fmt: skip
    return ",".join(f'"{c}"' for c in cells)


def test_csl_malformed_rows_are_reported_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "dirty.csv"
    lines = [
        CSL_HEADER,
        _csl_row("a1", "Good One Co", alt="GOOD ONE CO;Good One Co;G1 Brand"),
        '"a2","Entity List","short row"',
        _csl_row("a3", "   "),
        _csl_row("a4", "Bad Date Co", start="2020-13-45"),
        _csl_row("a1", "Good One Co", alt="GOOD ONE CO;Good One Co;G1 Brand"),
    ]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    result = import_csl(path)
    assert result.records == 2 and result.rows_read == 5
    assert [(s.line, s.reason.split(":")[0]) for s in result.skipped] == [
        (3, "3 fields, expected 29"),
        (4, "no name"),
        (6, "exact repeat of the record at line 2"),
    ]
    good = next(p for p in result.list.parties if p.name == "Good One Co")
    assert [a.name for a in good.aliases] == ["G1 Brand"]  # repeats of the name dropped, case-folded
    bad = next(p for p in result.list.parties if p.name == "Bad Date Co")
    assert bad.date_added is None and any("2020-13-45" in n for n in result.notes)


def test_csl_cp1252_file_is_read_and_noted(tmp_path: Path) -> None:
    path = tmp_path / "ansi.csv"
    path.write_bytes((CSL_HEADER + "\n" + _csl_row("b1", "Caf\u00e9 Zhu\u2019s Co") + "\n").encode("cp1252"))
    result = import_csl(path)
    assert result.list.parties[0].name == "Caf\u00e9 Zhu\u2019s Co"
    assert any("Windows-1252" in n for n in result.notes)


def test_not_a_csl_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="not a Consolidated Screening List"):
        import_csl(path)


def test_sdn_orphans_bad_rows_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "SDN.CSV").write_bytes(
        b'10,"ACME \x92 TRADING",-0- ,"SDGT] [IRGC",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"remark one. "\r\n'
        b'11,"DOE, John",individual,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
        b'12,"broken"\r\n\x1a'
    )
    (tmp_path / "ALT.CSV").write_bytes(
        b'10,1,"fka","OLD ACME",-0- \r\n10,2,"aka","ACME",-0- \r\n99,3,"aka","NOBODY",-0- \r\n\x1a'
    )
    result = import_ofac_sdn(tmp_path)
    acme = next(p for p in result.list.parties if p.id == "sdn:10")
    assert acme.name == "ACME \u2019 TRADING" and acme.programme == "SDGT; IRGC"
    assert [(a.name, a.kind) for a in acme.aliases] == [("OLD ACME", AliasKind.FORMER), ("ACME", AliasKind.BRAND)]
    assert acme.reason == "Remarks: remark one." and acme.entity_type == EntityType.COMPANY
    assert next(p for p in result.list.parties if p.id == "sdn:11").entity_type == EntityType.INDIVIDUAL
    assert [(s.file, s.line) for s in result.skipped] == [("ALT.CSV", 3), ("SDN.CSV", 3)]
    assert "no record in SDN.CSV" in result.skipped[0].reason
    assert any("add.csv not found" in n for n in result.notes)
    assert result.rows_read == 6 and result.records == 2


# --- the CLI, end to end ---------------------------------------------------------------------------


def test_lists_import_then_screen_against_default_and_csl(
    csl2023: ImportResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("screener.pipeline", reason="the readers/outputs pipeline is not in this tree yet")
    from screener.cli import app

    monkeypatch.setenv("SCREENER_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    imported = runner.invoke(app, ["lists", "import", str(CSL_2023), "--format", "csl"])
    assert imported.exit_code == 0, imported.output
    assert "4226 records from 4227 rows read" in imported.output
    assert f"SKIPPED {CSL_2023.name}:4233:" in imported.output and "WARNING: 1 row(s)" in imported.output
    customers = tmp_path / "customers.csv"
    customers.write_text("name,country\nHikvision,CN\nMegvii Technology Limited,CN\nPlain Bakery GmbH,DE\n")
    out = tmp_path / "out.json"
    screened = runner.invoke(
        app, ["screen", str(customers), "-o", str(out), "--list", "default", "--list", "csl", "-q"]
    )
    assert screened.exit_code == 1, screened.output
    records = json.loads(out.read_text(encoding="utf-8"))
    keys = {(r["input_name"], m["list_key"]) for r in records for m in r["matches"]}
    assert {("Hikvision", "default"), ("Hikvision", "csl"), ("Megvii Technology Limited", "csl")} <= keys
    assert next(r for r in records if r["input_name"] == "Plain Bakery GmbH")["status"] == "clear"


def test_lists_import_of_an_unreadable_file_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from screener.cli import app

    monkeypatch.setenv("SCREENER_HOME", str(tmp_path / "home"))
    only_bad = tmp_path / "bad.csv"
    only_bad.write_text(CSL_HEADER + '\n"x","y"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["lists", "import", str(only_bad), "--format", "csl"])
    assert result.exit_code == 2
    assert "SKIPPED bad.csv:2: 2 fields, expected 29" in result.output
    assert "no record could be read" in result.output
    assert not (tmp_path / "home" / "lists" / "csl").exists()
