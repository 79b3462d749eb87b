"""The catalog of imported lists: versions by content hash, dedupe, loading by name and hash prefix."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from screener.lists import catalog
from screener.lists.catalog import (
    list_catalog,
    load_named_list,
    save_imported,
    versions,
)
from screener.lists.importers import import_csl
from screener.lists.partylist import ListError, default_list

SHARED = Path(os.environ.get("SCREENER_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
CSL_2025 = SHARED / "data" / "csl" / "csl_us_2025-06_watchman_fixture.csv"

HEADER = "_id,source,entity_number,type,programs,name,addresses,federal_register_notice,start_date,alt_names"


def _csl(path: Path, *rows: tuple[str, str, str]) -> Path:
    """A small CSL-layout file: (id, name, alt_names) per row."""
    lines = [HEADER] + [
        f'"{i}","Entity List (EL) - Bureau of Industry and Security","","","","{n}","1 Road, Wuhan, CN",'
        f'"85 FR 1","2020-01-02","{a}"'
        for i, n, a in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCREENER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _import(path: Path, name: str = "el"):
    return save_imported(name, import_csl(path), path)


def test_versions_are_stored_by_content_hash_with_an_index(tmp_path: Path, home: Path) -> None:
    v1 = _import(_csl(tmp_path / "v1.csv", ("a", "Alpha Optics Co", ""), ("b", "Beta Drones Ltd", "")))
    v2 = _import(_csl(tmp_path / "v2.csv", ("a", "Alpha Optics Co", ""), ("c", "Gamma Radar Inc", "GR")))
    assert v1.version == v1.content_hash[:16] and v1.version != v2.version
    assert (home / "lists" / "el" / f"{v1.version}.json").is_file()
    assert (home / "lists" / "el" / f"{v2.version}.json").is_file()
    index = json.loads((home / "lists" / "el" / "index.json").read_text())
    assert [v["content_hash"] for v in index["versions"]] == [v1.content_hash, v2.content_hash]
    first = index["versions"][0]
    assert first["records"] == 2 and first["format"] == "csl" and first["source_file"] == "v1.csv"
    assert len(first["source_sha256"]) == 64 and first["imported_at"].endswith("+00:00")
    assert [v.version for v in versions("el")] == [v1.version, v2.version]
    assert [v.current for v in versions("el")] == [False, True]


def test_identical_content_is_not_a_new_version_but_becomes_current(tmp_path: Path) -> None:
    first = _csl(tmp_path / "one.csv", ("a", "Alpha Optics Co", ""))
    second = _csl(tmp_path / "two.csv", ("b", "Beta Drones Ltd", ""))
    v1 = _import(first)
    again = _import(first)
    assert again.already_stored and again.content_hash == v1.content_hash and len(versions("el")) == 1
    v2 = _import(second)
    assert load_named_list("el").content_hash == v2.content_hash
    back = _import(_csl(tmp_path / "one-renamed.csv", ("a", "Alpha Optics Co", "")))  # same content, other file
    assert back.already_stored and len(versions("el")) == 2
    assert load_named_list("el").content_hash == v1.content_hash
    held = versions("el")[-1]
    assert [e.source_file for e in held.imports] == ["one.csv", "one.csv", "one-renamed.csv"]


def test_load_by_name_and_hash_prefix(tmp_path: Path) -> None:
    v1 = _import(_csl(tmp_path / "v1.csv", ("a", "Alpha Optics Co", "")))
    v2 = _import(_csl(tmp_path / "v2.csv", ("a", "Alpha Optics Co", ""), ("c", "Gamma Radar Inc", "")))
    assert load_named_list("el").content_hash == v2.content_hash
    old = load_named_list("el", v1.content_hash[:6])
    assert old.content_hash == v1.content_hash and [p.name for p in old.parties] == ["Alpha Optics Co"]
    assert old.name == "el" and old.version == v1.version
    assert load_named_list("el", v2.content_hash).content_hash == v2.content_hash
    with pytest.raises(KeyError, match="has no version"):
        load_named_list("el", "ffffffff" if not v1.content_hash.startswith("ffff") else "00000000")
    with pytest.raises(KeyError):
        load_named_list("el", v1.content_hash[:3])  # too short to trust


def test_unknown_name_and_default() -> None:
    with pytest.raises(KeyError) as exc:
        load_named_list("x")
    assert exc.value.args[0] == "unknown list 'x': import it with 'screener lists import'"
    assert load_named_list("default").content_hash == default_list().content_hash
    with pytest.raises(ValueError, match="bundled"):
        catalog.check_name("default")
    with pytest.raises(ValueError):
        catalog.check_name("../etc")


def test_altered_version_file_is_refused(tmp_path: Path, home: Path) -> None:
    v1 = _import(_csl(tmp_path / "v1.csv", ("a", "Alpha Optics Co", "")))
    stored = home / "lists" / "el" / f"{v1.version}.json"
    stored.write_text(stored.read_text().replace("Alpha Optics", "Alpha Optiks"))
    with pytest.raises(ListError, match="does not match its recorded hash"):
        load_named_list("el")


def test_catalog_lists_newest_per_name_or_every_version(tmp_path: Path) -> None:
    _import(_csl(tmp_path / "a1.csv", ("a", "Alpha Optics Co", "")), "aa")
    _import(_csl(tmp_path / "a2.csv", ("b", "Beta Drones Ltd", "")), "aa")
    _import(_csl(tmp_path / "b1.csv", ("c", "Gamma Radar Inc", "")), "bb")
    assert [(v.name, v.records) for v in list_catalog()] == [("aa", 1), ("bb", 1)]
    assert [v.name for v in list_catalog(all_versions=True)] == ["aa", "aa", "bb"]


@pytest.mark.skipif(not CSL_2025.exists(), reason=f"shared list data not found at {CSL_2025}")
def test_real_import_round_trips_through_the_catalog() -> None:
    result = import_csl(CSL_2025)
    version = save_imported("csl", result, CSL_2025)
    assert version.content_hash == result.list.content_hash
    assert load_named_list("csl", version.version).model_dump(exclude={"name", "version"}) == result.list.model_dump(
        exclude={"name", "version"}
    )


def test_lists_with_no_command_prints_the_catalog_and_show_takes_a_name(tmp_path: Path) -> None:
    from screener.cli import app

    v = _import(_csl(tmp_path / "v1.csv", ("a", "Alpha Optics Co", "")))
    runner = CliRunner()
    shown = runner.invoke(app, ["lists"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].split()[:2] == ["name", "version"]
    assert lines[1].startswith("default ")
    assert lines[2].split()[:2] == ["el", v.version] and " 1 " in lines[2]
    party = runner.invoke(app, ["lists", "show", "--list", "el", "--json"])
    shown_list = json.loads(party.output)
    assert party.exit_code == 0 and shown_list["parties"][0]["name"] == "Alpha Optics Co"
    assert "official file as imported" in shown_list["coverage"]  # an imported list's own coverage line
    missing = runner.invoke(app, ["lists", "show", "--list", "nope"])
    assert missing.exit_code == 2 and "unknown list 'nope'" in missing.output
    assert runner.invoke(app, ["lists", "validate"]).exit_code == 0  # the bundled list, as before


def test_a_source_without_a_note_dumps_as_before_so_stored_hashes_still_verify() -> None:
    """`Source.note` came later: left out when empty, lists stored before it keep their content hash."""
    from screener.models import Source

    data = Source(kind="notice", id="2019-22210", citation="84 FR 54002").model_dump(mode="json")
    assert "note" not in data
    assert Source(kind="notice", id="x", note="the row text was not seen").model_dump()["note"]
