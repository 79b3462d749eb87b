"""What a `screener check` start-up imports: a clear (or held) check of --party names must not pay for
the modules only other paths use (the audit store's SQLAlchemy, pandas, openpyxl, the service's web
stack, PyYAML for YAML documents). Real subprocesses, so that nothing this test process already
imported hides an import; the modules are listed, never timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from screener.lists.catalog import save_imported
from screener.lists.importers import ImportResult
from screener.collector import BATCH_THRESHOLDS
from screener.lists.partylist import default_list, default_list_path, save_list

HEAVY = (
    "sqlalchemy", "alembic", "argon2", "pandas", "numpy", "openpyxl", "httpx", "fastapi", "starlette",
    "uvicorn", "jinja2", "yaml", "dask", "distributed",
)
CLEAR = "Acme Widgets GmbH"
HELD = "Hangzhou Hikvision Digital Technology Co., Ltd."  # on the bundled list

# The check exactly as `python -m screener check ...` runs it, then the modules it left imported.
PROBE = """
import gc, json, sys
out, sys.argv = sys.argv[1], ["screener", *sys.argv[2:]]
from screener.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
with open(out, "w") as fh:
    json.dump({"code": code, "modules": sorted(sys.modules), "gc": gc.get_threshold()}, fh)
"""


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home holding the bundled list imported under a name, so a check goes through the index cache."""
    monkeypatch.setenv("SCREENER_HOME", str(tmp_path / "home"))
    lst = default_list()
    save_imported("entity", ImportResult(list=lst, format="yaml", rows_read=len(lst.parties),
                                         records=len(lst.parties)), default_list_path())
    return tmp_path / "home"


def _run(home: Path, *args: str) -> dict[str, Any]:
    """A screener command in a fresh process: its exit code, the modules it left imported, the
    collector's thresholds at its end, and its standard output."""
    out = home.parent / "modules.json"
    env = {**os.environ, "SCREENER_HOME": str(home), "PYTHONIOENCODING": "utf-8"}
    for name in ("SCREENER_DB", "SCREENER_DEBUG", "SCREENER_INDEX_CACHE"):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, "-c", PROBE, str(out), *args], check=False,
                          capture_output=True, text=True, env=env, cwd=home.parent, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return {**json.loads(out.read_text()), "stdout": proc.stdout}


def _check(home: Path, *args: str) -> tuple[int, set[str], str]:
    got = _run(home, "check", *args)
    return got["code"], set(got["modules"]), got["stdout"]


def _heavy(modules: set[str], *, allowed: tuple[str, ...] = ()) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY and m.split(".")[0] not in allowed)


def test_a_clear_check_against_a_cached_index_imports_none_of_the_heavy_modules(home: Path) -> None:
    _check(home, "--list", "entity", "--party", CLEAR)  # builds and keeps the index (and the terms)
    assert list((home / "index-cache").glob("*.idx"))
    code, modules, out = _check(home, "--list", "entity", "--party", CLEAR)  # the start-up that matters
    assert code == 0 and out.startswith("RELEASE shipment cli:"), out
    assert "screener.runtime.indexcache" in modules  # it did load the index from the cache
    assert _heavy(modules) == []


def test_a_hold_without_an_audit_store_does_not_import_the_store(home: Path) -> None:
    """Analysts' decisions are only looked up in a store that exists; none here, so no SQLAlchemy."""
    _check(home, "--list", "entity", "--party", CLEAR)
    code, modules, out = _check(home, "--list", "entity", "--party", HELD)
    assert code == 1 and out.startswith("HOLD shipment cli:"), out
    assert not (home / "screener.db").exists()  # and the check did not create one
    assert "screener.review.store" not in modules
    assert _heavy(modules) == []


def test_a_clear_check_against_the_bundled_list_imports_none_of_the_heavy_modules(home: Path) -> None:
    """The bundled list's index is kept on disk too, so a check does not even parse the list's YAML."""
    _check(home, "--party", CLEAR)
    code, modules, out = _check(home, "--party", CLEAR, "--party", "Nordic Precision AB")
    assert code == 0 and out.startswith("RELEASE"), out
    assert "screener.runtime.indexcache" in modules
    assert _heavy(modules) == []


def test_an_edited_bundled_list_is_screened_as_edited(home: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The kept index is keyed by the list file's content: a party added to it is found at once."""
    copy = tmp_path / "edited.yaml"
    copy.write_bytes(default_list_path().read_bytes())
    monkeypatch.setenv("SCREENER_DEFAULT_LIST", str(copy))
    assert _check(home, "--party", CLEAR)[0] == 0
    lst = default_list()
    party = lst.parties[0].model_copy(update={"id": "test:acme", "name": CLEAR, "aliases": []})
    save_list(lst.model_copy(update={"parties": [*lst.parties, party]}), copy)
    code, _, out = _check(home, "--party", CLEAR)
    assert code == 1 and out.startswith("HOLD"), out


def test_a_check_works_where_the_home_cannot_hold_an_index(tmp_path: Path) -> None:
    """A home that cannot be created (here below a file) costs the kept index, never the check."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {**os.environ, "SCREENER_HOME": str(blocker / "home"), "PYTHONIOENCODING": "utf-8"}
    for name in ("SCREENER_DB", "SCREENER_DEBUG", "SCREENER_INDEX_CACHE"):
        env.pop(name, None)
    for party, code, verdict in ((CLEAR, 0, "RELEASE"), (HELD, 1, "HOLD")):
        proc = subprocess.run([sys.executable, "-m", "screener", "check", "--party", party], check=False,
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        assert proc.returncode == code and proc.stdout.startswith(verdict), proc.stderr


def _customers(home: Path) -> Path:
    path = home.parent / "customers.csv"
    path.write_text(f'Customer Name,Country\n"{CLEAR}",DE\n"{HELD}",CN\n', encoding="utf-8")
    return path


def test_a_screen_without_an_audit_store_does_not_import_it_nor_create_it(home: Path) -> None:
    """Decisions are read from a store that exists; without one, `screen` pays nothing for it (SQLAlchemy
    and the service's run records were a third of a second of every start)."""
    got = _run(home, "screen", str(_customers(home)), "-o", str(home.parent / "out.csv"), "-q")
    assert got["code"] == 1  # the listed row is a potential match
    assert "potential_match" in (home.parent / "out.csv").read_text(encoding="utf-8-sig")
    assert not (home / "screener.db").exists()
    assert "screener.review.store" not in got["modules"] and "sqlalchemy" not in got["modules"]


def test_a_screen_with_an_audit_store_opens_it_and_streams_with_fewer_collections(home: Path) -> None:
    from screener.review.store import Store

    Store.open(f"sqlite:///{home / 'screener.db'}")  # an analyst's store, made by an earlier run
    got = _run(home, "screen", str(_customers(home)), "-o", str(home.parent / "out.csv"), "-q", "--workers", "2")
    assert got["code"] == 1
    assert "screener.review.store" in got["modules"]  # so its decisions apply (test_decisions)
    assert tuple(got["gc"]) == BATCH_THRESHOLDS  # see screener.collector.for_batch
