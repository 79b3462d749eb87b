"""The pre-shipment hook: the library call, shipment documents, and `screener check` exit codes as a
pipeline sees them (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from screener.screening import Screener
from screener.shipment import Shipment, ShipmentError, check_shipment, load_shipment

ROOT = Path(__file__).resolve().parents[1]
HIKVISION = "Hangzhou Hikvision Digital Technology Co., Ltd."
CLEAN = ["Nordic Precision AB", "Acme Widgets GmbH", "Northwind Traders Ltd"]


def run(*args: str, stdin: str | None = None, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "SCREENER_HOME": str(home)}
    env.pop("SCREENER_DEBUG", None)
    env.pop("SCREENER_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "screener", *args],
        capture_output=True, text=True, input=stdin, env=env, cwd=home, timeout=120,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("screener: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# --- library --------------------------------------------------------------------------------------


def test_check_shipment_hold_and_release():
    hold = check_shipment({"id": "A", "parties": [{"role": "end_user", "name": HIKVISION}]})
    assert hold.decision == "HOLD" and hold.parties[0].alert and hold.parties[0].entity_id
    release = check_shipment(Shipment(id="B", parties=[{"name": n} for n in CLEAN]))
    assert release.decision == "RELEASE" and release.lists and release.checked_at


def test_unscreenable_party_holds_and_says_why():
    d = check_shipment({"id": "C", "parties": [{"name": CLEAN[0]}, {"name": "  "}, {"name": "#!?"}]})
    assert d.decision == "HOLD"
    assert [p.status.value for p in d.parties] == ["clear", "not_screened", "not_screened"]
    assert "parties[1]" in d.reason and "parties[2]" in d.reason and "cannot be screened" in d.reason


def test_cleared_false_positive_releases_and_store_outage_holds():
    """An analyst's clearance releases; with no decisions the same shipment holds."""
    screener = Screener.default()
    doc = {"id": "D", "parties": [{"name": HIKVISION}]}

    def cleared(results, scr):  # what Store.apply_decisions yields for a cleared row
        return [r.model_copy(update={"review_decision": "false_positive", "review": "cleared by ann"}) for r in results]

    assert check_shipment(doc, screener, apply_decisions=cleared).decision == "RELEASE"
    assert check_shipment(doc, screener, apply_decisions=lambda r, s: r).decision == "HOLD"


def clear_in_store(store, screener: Screener, name: str, country: str | None = None, address: str | None = None) -> None:
    """Record analyst ann's false-positive decision for every candidate `name` (country, address) matches,
    approved by supervisor sue where four eyes are needed."""
    from screener.review.decisions import Evidence

    for user, role in (("ann", "analyst"), ("sue", "supervisor")):
        if not store.user_exists(user):
            store.add_user(user, "correct horse battery", role)
    parties = {(key, p.id): p for key, lst in screener.lists for p in lst.parties}
    lists = dict(screener.lists)
    row = screener.screen_name(name, country=country, address=address)
    for m in row.matches:
        made = store.decide("ann", Evidence.of(row), m, parties[(m.list_key, m.entity_id)],
                            list_hash=lists[m.list_key].content_hash, list_version=lists[m.list_key].version,
                            threshold=screener.threshold, decision="false_positive", comment="other firm")
        if made.pending:
            store.approve("sue", made.id)


def test_clearance_recorded_in_the_store_releases(tmp_path):
    from screener.review.store import Store

    screener = Screener.default()
    name = "Hikvision Europe BV"
    store = Store.open(f"sqlite:///{tmp_path / 'screener.db'}")
    doc = {"id": "E", "parties": [{"role": "end_user", "name": name}]}
    assert check_shipment(doc, screener, apply_decisions=store.apply_decisions).decision == "HOLD"
    clear_in_store(store, screener, name)
    d = check_shipment(doc, screener, apply_decisions=store.apply_decisions)
    assert d.decision == "RELEASE" and "cleared" in d.reason and d.parties[0].review
    store.close()
    proc = run("check", "--party", name, home=tmp_path)  # the CLI reads the store under SCREENER_HOME
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_in_process_latency_per_party():
    screener = Screener.default()
    s = Shipment(id="P", parties=[{"name": n} for n in [*CLEAN, "Shenzhen Logistics Co", "Globex Corporation"]])
    check_shipment(s, screener)
    n = 200
    t0 = time.perf_counter()
    for _ in range(n):
        check_shipment(s, screener)
    per_party_ms = (time.perf_counter() - t0) / n / len(s.parties) * 1000
    assert per_party_ms < 1.0, per_party_ms


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("shipment.json", '{"id": "S", "parties": [{"name": "A"}, {"name": "B"}, {"role": "end_user"}]}',
         "shipment.json: parties[2].name: field required"),
        ("s.json", '{"id": "S", "parties": []}', "s.json: parties: "),
        ("s.json", '{"id": "S", "parties": [', "s.json: not valid JSON"),
        ("s.yaml", "id: S\nparties:\n  - name: A\n    role: pilot\n", "s.yaml: parties[0].role: "),
        ("s.yaml", "id: S\nparties: [\n", "s.yaml: not valid YAML"),
        ("s.yaml", "a: &x [1]\nb: *x\n", "aliases"),
        ("s.yaml", "- just a list\n", "s.yaml: the document must be a mapping"),
        ("s.yml", "", "s.yml: empty document"),
    ],
)
def test_load_shipment_errors_name_file_and_field(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ShipmentError) as err:
        load_shipment(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_yaml_values_stay_text(tmp_path):
    """`NO` is Norway and `007` keeps its zeros: YAML 1.1 would make them False and 7."""
    path = tmp_path / "s.yaml"
    path.write_text("id: 007\nparties:\n  - name: Fjord Fisk AS\n    country: NO\n    role: end_user\n")
    s = load_shipment(path)
    assert s.id == "007" and s.parties[0].country == "NO"


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_release_exits_0(tmp_path):
    proc = run("check", "--party", CLEAN[0], "--country", "SE", "--party", CLEAN[1], home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    first, *rest = proc.stdout.splitlines()
    parties = [line for line in rest if not line.lstrip().startswith("coverage of")]
    assert first.startswith("RELEASE") and len(parties) == 2 and "(SE)" in parties[0]
    assert any(line.lstrip().startswith("coverage of") for line in rest)  # what the clear rests on


def test_cli_hold_exits_1_with_json(tmp_path):
    proc = run("check", "--party", HIKVISION, "--role", "end_user", "--json", home=tmp_path)
    assert proc.returncode == 1, proc.stderr
    d = json.loads(proc.stdout)
    assert d["decision"] == "HOLD" and d["parties"][0]["role"] == "end_user" and d["parties"][0]["alert"]


def test_cli_file_and_stdin(tmp_path):
    doc = {"id": "S-9", "parties": [{"role": "purchaser", "name": CLEAN[0]}, {"role": "end_user", "name": HIKVISION}]}
    path = tmp_path / "shipment.json"
    path.write_text(json.dumps(doc))
    proc = run("check", str(path), home=tmp_path)
    assert proc.returncode == 1 and proc.stdout.startswith("HOLD shipment S-9")
    yaml_doc = "id: S-10\nparties:\n  - role: purchaser\n    name: Acme Widgets GmbH\n"
    proc = run("check", "-", stdin=yaml_doc, home=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("RELEASE shipment S-10")


def test_cli_prints_each_party_on_one_line_without_control_characters(tmp_path):
    """Found from outside: a party name with colour codes and a line break was clear (RELEASE), and
    printed raw: the escape codes drove the terminal and the break made a line of its own."""
    doc = {"id": "S-11", "parties": [{"name": "\x1b[31mHikvision\x1b[0m\nc/o Nordic AB"}, {"name": CLEAN[0]}]}
    proc = run("check", "-", stdin=json.dumps(doc), home=tmp_path)
    assert proc.returncode == 1, proc.stdout
    first, *rest = proc.stdout.splitlines()
    parties = [line for line in rest if not line.lstrip().startswith("coverage of")]
    assert first.startswith("HOLD shipment S-11") and len(parties) == 2
    assert "\\x1b[31mHikvision\\x1b[0m / c/o Nordic AB" in parties[0] and "hikvision" in parties[0]
    assert "\x1b" not in proc.stdout


def test_cli_unusable_name_holds(tmp_path):
    proc = run("check", "--party", CLEAN[0], "--party", "???", home=tmp_path)
    assert proc.returncode == 1 and "not screened" in proc.stdout


def test_cli_errors_exit_2_never_0(tmp_path):
    bad = tmp_path / "shipment.json"
    bad.write_text('{"id": "S", "parties": [{"name": "A"}, {"name": "B"}, {"role": "end_user"}]}')
    assert_one_line_error(run("check", str(bad), home=tmp_path), "shipment.json: parties[2].name: field required")
    assert_one_line_error(run("check", home=tmp_path), "nothing to check")
    assert_one_line_error(run("check", str(tmp_path / "missing.json"), home=tmp_path), "missing.json: no such file")
    assert_one_line_error(run("check", "-", stdin="", home=tmp_path), "empty document")
    assert_one_line_error(run("check", "-", stdin='{"id": "S", "parties": []}', home=tmp_path), "parties")
    assert_one_line_error(run("check", "--party", "A", "--country", "CN", "--country", "DE", home=tmp_path), "pair")
    assert_one_line_error(run("check", "--party", "A", "--role", "pilot", home=tmp_path), "parties[0].role")
    assert_one_line_error(run("check", "--party", CLEAN[0], "--list", "no-such-list", home=tmp_path))
    proc = run("check", "--party", CLEAN[0], "--threshold", "150", home=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
