"""Ownership and the 50 percent Affiliates Rule, on files of our own: real csv/xlsx ownership files
and customer files written and read back, the real CLI in a subprocess, the real HTTP service."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from screener.models import Status
from screener.ownership.assess import OwnershipAssessment
from screener.ownership.graph import OwnershipError, OwnershipGraph, aggregate, resolve
from screener.ownership.inputs import read_ownership
from screener.ownership.rule import AffiliatesRule, load_rule
from screener.screening import Screener
from screener.shipment import ShipmentError, check_shipment

ROOT = Path(__file__).resolve().parents[1]
IN_FORCE = "2026-12-01"  # after the suspension ended (2026-11-10)
SUSPENDED = "2026-01-01"
HIKVISION = "Hangzhou Hikvision Digital Technology Co Ltd"


def write_csv(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def ownership_file(tmp_path: Path, *holdings: tuple[str, str, object]) -> Path:
    return write_csv(tmp_path / "ownership.csv", [["entity", "owner", "share_percent"], *holdings])


def assess(path: Path, as_of: str = IN_FORCE) -> OwnershipAssessment:
    return OwnershipAssessment(Screener.default(), read_ownership(path), as_of=as_of)


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("SCREENER_DEBUG", "SCREENER_DB", "SCREENER_AS_OF", "SCREENER_AFFILIATES_RULE")}
    environ.update(PYTHONIOENCODING="utf-8", SCREENER_HOME=str(cwd), **env)
    return subprocess.run([sys.executable, "-m", "screener", *args], check=False, capture_output=True, text=True,
                          cwd=cwd, env=environ, timeout=120)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("screener: error: "), proc.stderr
    return lines[0]


# --- the arithmetic, on ownership files -----------------------------------------------------------


def test_single_50_percent_owner_is_covered_with_the_owners_licence_requirement(tmp_path):
    a = assess(ownership_file(tmp_path, ("Acme Optics Ltd", HIKVISION, 50), ("Acme Optics Ltd", "Nordic AB", 50)))
    own = a.of("ACME OPTICS LIMITED")  # as a customer file would write it
    assert own is not None and own.outcome == "covered" and own.alert and own.rule_state == "in_force"
    assert own.listed_percent == 50
    assert [o.entity_id for o in own.listed_owners] == ["hikvision"]
    assert "For all items subject to the EAR" in own.licence_requirement
    assert own.text.startswith("potential match by ownership")
    assert own.chains[0].text.startswith(f"{HIKVISION} (listed: hikvision")
    assert own.chains[0].text.endswith("-50%-> Acme Optics Ltd")
    result = a.apply(Screener.default().screen_name("Acme Optics Ltd"))
    assert result.status is Status.POTENTIAL_MATCH and result.alert and result.ownership == own


def test_two_listed_30_percent_owners_add_up(tmp_path):
    own = assess(ownership_file(tmp_path, ("Gamma Trading", "Megvii Technology", 30),
                                ("Gamma Trading", "SenseTime Group", 30),
                                ("Gamma Trading", "Harbour Capital", 40))).of("Gamma Trading")
    assert own.outcome == "covered" and own.listed_percent == 60
    assert {o.entity_id for o in own.listed_owners} == {"megvii", "sensetime"}
    assert len(own.chains) == 2


def test_chain_through_an_unlisted_intermediate_that_is_itself_covered(tmp_path):
    a = assess(ownership_file(tmp_path, ("Bravo Holdings", HIKVISION, 60), ("Bravo Holdings", "Lake Fund", 40),
                              ("Charlie Imaging GmbH", "Bravo Holdings", 50),
                              ("Charlie Imaging GmbH", "Other Investors", 50)))
    own = a.of("Charlie Imaging GmbH")
    assert own.outcome == "covered" and own.listed_percent == 50
    links = own.chains[0].links
    assert [(x.owner, x.entity, x.share_percent, x.owner_status) for x in links] == [
        ("Bravo Holdings", "Charlie Imaging GmbH", 50.0, "covered"),
        (HIKVISION, "Bravo Holdings", 60.0, "listed"),
    ]
    assert own.chains[0].text.endswith("-60%-> Bravo Holdings -50%-> Charlie Imaging GmbH")
    assert links[0].where == "ownership.csv, row 4"
    assert a.of("Bravo Holdings").outcome == "covered"
    # the intermediate held 40% only: the chain stops there and the customer is a minority red flag
    b = assess(ownership_file(tmp_path, ("Bravo Holdings", HIKVISION, 40), ("Charlie Imaging GmbH", "Bravo Holdings", 90)))
    assert b.of("Charlie Imaging GmbH").outcome == "no_listed_owner"
    assert b.of("Bravo Holdings").outcome == "minority"


def test_unknown_share_of_a_listed_owner_is_a_review(tmp_path):
    a = assess(ownership_file(tmp_path, ("Delta Imaging", "Zhejiang Dahua Technology", ""),
                              ("Echo Ltd", "Zhejiang Dahua Technology", "unknown"), ("Echo Ltd", "Founders", 70)))
    own = a.of("Delta Imaging")
    assert own.outcome == "unknown_share" and own.alert
    assert own.listed_percent == 0 and own.possible_percent == 100
    assert "share must be determined" in own.text
    assert own.chains[0].links[0].share_percent is None and "-?%->" in own.chains[0].text
    # the known 70% of others leaves at most 30% to the listed owner: a minority, not unknown
    echo = a.of("Echo Ltd")
    assert echo.outcome == "minority" and echo.possible_percent == 30


def test_49_percent_owner_is_a_minority_red_flag_not_a_match(tmp_path):
    a = assess(ownership_file(tmp_path, ("Foxtrot Sensors", "iFlytek Co Ltd", 49), ("Foxtrot Sensors", "Nordic AB", 51)))
    own = a.of("Foxtrot Sensors")
    assert own.outcome == "minority" and own.alert and own.listed_percent == 49
    assert own.text.startswith("red flag, review") and own.licence_requirement is None
    assert a.of("Nordic AB") is None  # an owner without owners has no outcome


def test_no_listed_owner_changes_nothing(tmp_path):
    a = assess(ownership_file(tmp_path, ("Golf GmbH", "Nordic AB", 100)))
    result = a.apply(Screener.default().screen_name("Golf GmbH"))
    assert result.status is Status.CLEAR and not result.alert
    assert result.ownership.outcome == "no_listed_owner"


def test_cycle_is_an_input_error_naming_the_rows(tmp_path):
    path = ownership_file(tmp_path, ("Alpha", "Bravo", 50), ("Bravo", "Charlie", 50), ("Charlie", "Alpha", 50),
                          ("Delta", HIKVISION, 60))
    with pytest.raises(OwnershipError) as err:
        assess(path)
    text = str(err.value)
    assert text.startswith("ownership cycle:") and "\n" not in text
    for row in (2, 3, 4):
        assert f"ownership.csv, row {row}" in text
    assert "row 5" not in text
    with pytest.raises(OwnershipError, match="own owner"):
        assess(ownership_file(tmp_path, ("Alpha", "ALPHA", 10)))


def test_shares_over_100_percent_are_an_input_error(tmp_path):
    path = ownership_file(tmp_path, ("Hotel Ltd", "Bravo", 60), ("Hotel Ltd", "Charlie", 50))
    with pytest.raises(OwnershipError, match=r'owners of "Hotel Ltd" hold 110% in total') as err:
        assess(path)
    assert "ownership.csv, row 2; ownership.csv, row 3" in str(err.value)
    with pytest.raises(OwnershipError, match=r'row 2, column "share_percent": share 120% is not between'):
        assess(ownership_file(tmp_path, ("Hotel Ltd", "Bravo", 120)))
    with pytest.raises(OwnershipError, match=r'"about half" is not a share in percent'):
        assess(ownership_file(tmp_path, ("Hotel Ltd", "Bravo", "about half")))


def test_suspension_window_on_and_off_by_date(tmp_path):
    path = ownership_file(tmp_path, ("India Corp", HIKVISION, 75))
    expected = {"2025-09-01": "not_yet_effective", "2025-10-15": "in_force", "2025-11-10": "suspended",
                SUSPENDED: "suspended", "2026-11-09": "suspended", "2026-11-10": "in_force", IN_FORCE: "in_force"}
    for day, state in expected.items():
        own = assess(path, as_of=day).of("India Corp")
        assert own.rule_state == state and own.outcome == "covered" and own.alert, day
        assert own.text.startswith("potential match by ownership" if state == "in_force" else "red flag, not a match")
    suspended = assess(path, as_of=SUSPENDED).of("India Corp")
    assert "suspended from 2025-11-10 until 2026-11-10" in suspended.text and suspended.licence_requirement is None
    # a further suspension is configuration, not a release
    rule_file = tmp_path / "rule.yaml"
    rule_file.write_text("suspensions:\n  - {start: 2025-11-10, end: 2027-11-10, note: extended}\n", encoding="utf-8")
    assert load_rule(rule_file).state(date(2026, 12, 1)) == "suspended"
    assert AffiliatesRule().state(date(2026, 12, 1)) == "in_force"
    rule_file.write_text("suspensions:\n  - {start: 2026-01-01, end: 2025-01-01}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="rule.yaml"):
        load_rule(rule_file)


def test_owners_matched_by_fuzzy_name(tmp_path):
    own = assess(ownership_file(tmp_path, ("Juliet Vision", "Hik-Vision Digital Tech Co", 30),
                                ("Juliet Vision", "Zhejiang Dahua Tech. Co., Ltd.", 25))).of("Juliet Vision")
    assert own.outcome == "covered" and own.listed_percent == 55
    assert {(o.owner, o.entity_id) for o in own.listed_owners} == {
        ("Hik-Vision Digital Tech Co", "hikvision"), ("Zhejiang Dahua Tech. Co., Ltd.", "dahua")}


def test_aggregate_bounds_unknown_shares_by_what_the_known_ones_leave():
    assert aggregate([(None, True, True), (60.0, False, False)]) == (0.0, 40.0)
    assert aggregate([(None, True, True), (30.0, True, True)]) == (30.0, 100.0)
    assert aggregate([(33.3, True, True), (33.3, True, True), (33.4, False, False)]) == (66.6, 66.6)
    g = OwnershipGraph()
    listed, mid, leaf = (g.node(k, k) for k in ("L", "M", "C"))
    g.add(mid, listed, None, "r2")
    g.add(leaf, mid, 80.0, "r3")
    res = resolve(g, [True, False, False])
    assert [res.status(n) for n in (listed, mid, leaf)] == ["listed", "unknown", "unknown"]


# --- every shell: CLI report, JSON, CSV, row owner columns, check, API -----------------------------


def customers_xlsx(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Customers"
    for row in (["Customer Name", "Country"], ["Charlie Imaging GmbH", "DE"], ["Foxtrot Sensors", "SG"],
                ["Nordic Precision AB", "SE"]):
        ws.append(row)
    own = wb.create_sheet("Ownership")
    for row in (["Entity", "Owner", "Share %"], ["Bravo Holdings", HIKVISION, 60],
                ["Charlie Imaging GmbH", "Bravo Holdings", 50], ["Foxtrot Sensors", "iFlytek", 20]):
        own.append(row)
    wb.save(path)
    return path


def test_cli_report_has_an_ownership_sheet_with_each_chain(tmp_path):
    book = customers_xlsx(tmp_path / "customers.xlsx")
    out = tmp_path / "report.xlsx"
    proc = run("screen", str(book), "--sheet", "Customers", "--ownership", str(book), "-o", str(out),
               cwd=tmp_path, SCREENER_AS_OF=SUSPENDED)
    assert proc.returncode == 1, proc.stderr
    wb = openpyxl.load_workbook(out)
    rows = list(wb["Ownership"].iter_rows(values_only=True))
    header = rows[0]
    by_name = {r[header.index("input name")]: r for r in rows[1:]}
    assert set(by_name) == {"Charlie Imaging GmbH", "Foxtrot Sensors"}
    charlie = by_name["Charlie Imaging GmbH"]
    assert charlie[header.index("outcome")] == "covered (red flag: rule suspended)"
    assert charlie[header.index("rule state")] == "suspended"
    assert "-60%-> Bravo Holdings -50%-> Charlie Imaging GmbH" in charlie[header.index(
        "chain: listed party -share-> ... -> customer")]
    assert "hikvision" in charlie[header.index("list entry")]
    assert by_name["Foxtrot Sensors"][header.index("outcome")] == "minority"
    head, *body = wb["All rows"].iter_rows(values_only=True)
    labels = [str(h).casefold() for h in head]
    status = {r[labels.index("input name")]: str(r[labels.index("status")]).casefold() for r in body}
    assert status["Nordic Precision AB"] == "clear"
    assert status["Charlie Imaging GmbH"].replace("_", " ") == "potential match"


def test_cli_json_and_csv_carry_the_ownership_field_and_exit_codes(tmp_path):
    path = ownership_file(tmp_path, ("Kilo Optics", HIKVISION, 50))
    customers = write_csv(tmp_path / "customers.csv", [["Customer"], ["Kilo Optics"], ["Lima Traders"]])
    proc = run("screen", str(customers), "--ownership", str(path), "-o", "out.json", cwd=tmp_path, SCREENER_AS_OF=IN_FORCE)
    assert proc.returncode == 1, proc.stderr
    kilo, lima = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert kilo["status"] == "potential_match" and kilo["ownership"]["outcome"] == "covered"
    assert kilo["ownership"]["chains"][0]["links"][0]["owner"] == HIKVISION
    assert lima["status"] == "clear" and lima["ownership"] is None
    proc = run("screen", str(customers), "--ownership", str(path), "-o", "out.csv", cwd=tmp_path, SCREENER_AS_OF=IN_FORCE)
    assert proc.returncode == 1, proc.stderr
    with (tmp_path / "out.csv").open(encoding="utf-8-sig") as fh:
        records = list(csv.DictReader(fh))
    assert records[0]["ownership"].startswith("potential match by ownership: listed owners hold 50%")
    assert records[1]["ownership"] == ""
    clean = ownership_file(tmp_path, ("Kilo Optics", "Nordic AB", 100))
    proc = run("screen", str(customers), "--ownership", str(clean), "-o", "out.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_cli_refuses_impossible_ownership_in_one_line_without_output(tmp_path):
    customers = write_csv(tmp_path / "customers.csv", [["Customer"], ["Kilo Optics"]])
    path = ownership_file(tmp_path, ("Kilo Optics", "Mike Ltd", 60), ("Mike Ltd", "Kilo Optics", 60))
    line = one_line_error(run("screen", str(customers), "--ownership", str(path), "-o", "out.xlsx", cwd=tmp_path))
    assert "ownership cycle" in line and "ownership.csv, row 2" in line and "ownership.csv, row 3" in line
    assert not (tmp_path / "out.xlsx").exists()
    path = ownership_file(tmp_path, ("Kilo Optics", "Mike Ltd", 60), ("Kilo Optics", "November Ltd", 41))
    line = one_line_error(run("screen", str(customers), "--ownership", str(path), "-o", "out.xlsx", cwd=tmp_path))
    assert "shares over 100%" in line and "101%" in line
    line = one_line_error(run("screen", str(customers), "-o", "out.xlsx", cwd=tmp_path, SCREENER_AS_OF="soon"))
    assert "SCREENER_AS_OF" in line


def test_owner_columns_on_the_customer_row(tmp_path):
    customers = write_csv(tmp_path / "customers.csv", [
        ["Customer", "Country", "Parent", "Parent Share %", "Shareholder", "Ownership %"],
        ["Oscar Optics", "DE", "Hik Vision Digital Technology", "55", "", ""],
        ["Papa Ltd", "GB", "Nordic AB", "60", "Zhejiang Dahua Technology", ""],
        ["Quebec SA", "FR", "Nordic AB", "80", "iFlytek", "20"],
        ["Romeo AG", "CH", "Nordic AB", "100", "", ""],
    ])
    proc = run("screen", str(customers), "-o", "out.json", cwd=tmp_path, SCREENER_AS_OF=IN_FORCE)
    assert proc.returncode == 1, proc.stderr
    records = {r["input_name"]: r for r in json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))}
    assert records["Oscar Optics"]["ownership"]["outcome"] == "covered"
    assert records["Oscar Optics"]["ownership"]["chains"][0]["links"][0]["where"] == \
        'customers.csv, sheet "customers", row 2, columns "Parent" and "Parent Share %"'
    assert records["Papa Ltd"]["ownership"]["outcome"] == "minority"  # 60% known elsewhere: at most 40%
    assert records["Quebec SA"]["ownership"]["outcome"] == "minority"
    assert records["Quebec SA"]["ownership"]["listed_percent"] == 20
    assert records["Romeo AG"]["status"] == "clear"
    proc = run("screen", str(customers), "-o", "out.xlsx", cwd=tmp_path, SCREENER_AS_OF=IN_FORCE)
    assert proc.returncode == 1, proc.stderr
    summary = [r for r in openpyxl.load_workbook(tmp_path / "out.xlsx")["Summary"].iter_rows(values_only=True)]
    uses = {r[2]: r[3] for r in summary if r[0] == "customers.csv" and len(r) > 3 and r[2]}
    assert uses["Parent (C)"] == "owner" and uses["Parent Share % (D)"] == "owner share"
    assert uses["Shareholder (E)"] == "owner" and uses["Ownership % (F)"] == "owner share"
    over = write_csv(tmp_path / "over.csv", [["Customer", "Ultimate Parent", "Share", "Owner", "Owner Share %"],
                                             ["Sierra Ltd", "Nordic AB", "70", "Lake Fund", "40"]])
    line = one_line_error(run("screen", str(over), "-o", "out.csv", cwd=tmp_path))
    assert 'shares over 100%: the owners of "Sierra Ltd" hold 110%' in line
    assert 'over.csv, sheet "over", row 2, columns "Ultimate Parent" and "Share"' in line
    assert 'row 2, columns "Owner" and "Owner Share %"' in line
    assert not (tmp_path / "out.csv").exists()


def shipment_doc(owners: list[dict]) -> dict:
    return {"id": "SO-18", "parties": [{"role": "end_user", "name": "Sierra Vision GmbH", "owners": owners},
                                       {"role": "purchaser", "name": "Northwind Traders Ltd"}]}


def test_check_holds_on_covered_and_unknown_and_releases_otherwise(tmp_path):
    covered = shipment_doc([{"name": "Tango Holdings", "share_percent": 50,
                             "owners": [{"name": "Megvii Technology", "share_percent": 60}]}])
    decision = check_shipment(covered)
    assert decision.decision == "HOLD" and decision.parties[0].ownership.outcome == "covered"
    assert "-60%-> Tango Holdings -50%-> Sierra Vision GmbH" in decision.reason
    unknown = shipment_doc([{"name": "Megvii Technology"}])
    assert check_shipment(unknown).parties[0].ownership.outcome == "unknown_share"
    doc = tmp_path / "s.json"
    doc.write_text(json.dumps(unknown), encoding="utf-8")
    proc = run("check", str(doc), cwd=tmp_path, SCREENER_AS_OF=IN_FORCE)
    assert proc.returncode == 1 and "HOLD" in proc.stdout and "share must be determined" in proc.stdout, proc.stderr
    doc.write_text(json.dumps(shipment_doc([{"name": "Nordic AB", "share_percent": 100}])), encoding="utf-8")
    proc = run("check", str(doc), cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("RELEASE"), proc.stdout + proc.stderr
    cycle = shipment_doc([{"name": "Uniform Ltd", "share_percent": 50,
                           "owners": [{"name": "Sierra Vision GmbH", "share_percent": 50}]}])
    with pytest.raises(ShipmentError, match=r"ownership cycle.*parties\[0\]\.owners\[0\]"):
        check_shipment(cycle)
    doc.write_text(json.dumps(cycle), encoding="utf-8")
    assert "ownership cycle" in one_line_error(run("check", str(doc), cwd=tmp_path))


def test_api_check_and_screen_accept_owners_per_party(tmp_path, monkeypatch):
    from test_service_api import KEY, Server

    from screener.service.app import create_app
    from screener.service.settings import Settings

    monkeypatch.setenv("SCREENER_HOME", str(tmp_path))
    monkeypatch.setenv("SCREENER_AS_OF", IN_FORCE)
    monkeypatch.delenv("SCREENER_DB", raising=False)
    server = Server(create_app(Settings(api_keys=[KEY])))
    try:
        with server.client(Authorization=f"Bearer {KEY}") as client:
            r = client.post("/v1/check", json=shipment_doc([{"name": "SenseTime Group", "share_percent": 30},
                                                            {"name": "Megvii Technology", "share_percent": "30"}]))
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["decision"] == "HOLD" and r.headers["X-Screener-Decision"] == "HOLD"
            assert body["parties"][0]["ownership"]["outcome"] == "covered"
            assert body["parties"][0]["ownership"]["listed_percent"] == 60
            assert body["parties"][1]["ownership"] is None
            r = client.post("/v1/check", json=shipment_doc([{"name": "A", "share_percent": 70},
                                                            {"name": "B", "share_percent": 40}]))
            assert r.status_code == 422 and "shares over 100%" in r.json()["error"], r.text
            r = client.post("/v1/check", json=shipment_doc([{"name": "A", "share_percent": 170}]))
            assert r.status_code == 422 and "share_percent" in r.json()["error"], r.text
            r = client.post("/v1/screen", json={"parties": [
                {"name": "Victor Optics", "owners": [{"name": "Hik Vision", "share_percent": 51}]},
                {"name": "Whiskey GmbH", "owners": [{"name": "Nordic AB", "share_percent": 51}]},
                {"name": "Xray Ltd"}]})
            assert r.status_code == 200, r.text
            body = r.json()
            assert not body["clear"] and body["counts"]["potential_match"] == 1
            victor, whiskey, xray = body["results"]
            assert victor["ownership"]["outcome"] == "covered" and victor["status"] == "potential_match"
            assert whiskey["ownership"]["outcome"] == "no_listed_owner" and whiskey["status"] == "clear"
            assert xray["ownership"] is None
            r = client.post("/v1/screen", json={"parties": [
                {"name": "Yankee", "owners": [{"name": "Zulu", "owners": [{"name": "Yankee"}]}]}]})
            assert r.status_code == 422 and "ownership cycle" in r.json()["error"], r.text
    finally:
        server.stop()


def test_check_party_options_take_an_owner_and_its_share(tmp_path):
    party = ["check", "--party", "Sierra Vision GmbH", "--country", "DE", "--role", "end_user",
             "--party", "Northwind Traders Ltd", "--role", "purchaser"]
    proc = run(*party, "--owner", "Hik Vision Digital Technology", "--owner-share", "60%",
               cwd=tmp_path, SCREENER_AS_OF=IN_FORCE)
    assert proc.returncode == 1 and proc.stdout.startswith("HOLD"), proc.stdout + proc.stderr
    assert "Sierra Vision GmbH (DE): potential match by ownership: listed owners hold 60%" in proc.stdout
    assert "-60%-> Sierra Vision GmbH" in proc.stdout
    assert "ok    purchaser              Northwind Traders Ltd: clear" in proc.stdout
    proc = run(*party, "--owner", "", "--owner", "Megvii Technology", "--json", cwd=tmp_path, SCREENER_AS_OF=IN_FORCE)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    sierra, northwind = json.loads(proc.stdout)["parties"]
    assert sierra["ownership"] is None and northwind["ownership"]["outcome"] == "unknown_share"
    assert "share must be determined" in northwind["ownership"]["text"]
    proc = run(*party, "--owner", "Nordic AB", "--owner-share", "100", cwd=tmp_path, SCREENER_AS_OF=IN_FORCE)
    assert proc.returncode == 0 and proc.stdout.startswith("RELEASE"), proc.stdout + proc.stderr
    assert "--owner-share" in run("check", "--help", cwd=tmp_path).stdout
    assert "3 --owner values for 2 --party" in one_line_error(run(*party, "--owner", "A", "--owner", "B", "--owner", "C",
                                                                  cwd=tmp_path))
    assert "2 --owner-share values for 1 --owner" in one_line_error(run(*party, "--owner", "A", "--owner-share", "1",
                                                                        "--owner-share", "2", cwd=tmp_path))
    assert '"lots" is not a share in percent' in one_line_error(run(*party, "--owner", "A", "--owner-share", "lots",
                                                                    cwd=tmp_path))
