"""The index kept on disk: same results as a fresh build, rebuilt on a new version, never loaded when altered."""

from __future__ import annotations

import os
import pickle
import weakref
from pathlib import Path

import pytest

from screener.lists.catalog import load_named_list, save_imported
from screener.lists.importers import import_csl
from screener.models import InputRow
from screener.runtime import indexcache
from screener.screening import Screener

SHARED = Path(os.environ.get("SCREENER_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
CSL_2019 = SHARED / "data" / "csl" / "csl_2019-12_watchman_sample.csv"  # small: the tests build indexes
CSL_2025 = SHARED / "data" / "csl" / "csl_us_2025-06_watchman_fixture.csv"

pytestmark = pytest.mark.skipif(not CSL_2019.is_file(), reason=f"official CSL files not found under {SHARED}/data")

NAMES = [
    "Hangzhou Hikvision Digital Technology Co., Ltd.", "Hikvison Digital Tech", "Megvii Technology Limited",
    "Sensetime Group", "HUAWEI TECHNOLOGIES CO., LTD.", "Huawei Tech Co", "Rosneft Trade Ltd", "Siemens AG",
    "National University of Defense Technology", "Dahua Electronics Corp", "Atlas Sanatgaran", "李明", "",
    "Xiamen Meiya Pico Information", "Sugon", "Guian New District Huawei Investment", "32 Group China",
    "54th Research Institute", "Abu Reihan Group", "A.P. Finance Ltd", "Achim Development OOO",
]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCREENER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(indexcache.CACHE_ENV, raising=False)
    save_imported("csl", import_csl(CSL_2019), CSL_2019)
    return tmp_path / "home"


def _records(s: Screener) -> list[dict[str, object]]:
    out = []
    for i, name in enumerate(NAMES, start=2):
        r = s.screen_row(InputRow(name=name, country="CN", row=i))
        out.append({**r.record(), "explanations": [m.explanation.model_dump() for m in r.matches]})
    return out


def _files(home: Path) -> list[Path]:
    return sorted((home / indexcache.CACHE_DIR).glob("*.idx"))


def test_the_cached_index_screens_exactly_like_a_fresh_build(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(indexcache, "LAZY_MIN", 8)  # this small list's tables stored in chunks too, as CSL's are
    fresh = Screener([("csl", load_named_list("csl"))])
    built = Screener.from_catalog(["csl"])  # builds and saves
    (path,) = _files(home)
    loaded = indexcache.load(path, 75.0)
    assert loaded is not None and isinstance(loaded.index.aliases, indexcache.LazyList)
    assert _records(loaded) == _records(fresh) == _records(built)
    assert loaded.list_infos() == fresh.list_infos()
    assert loaded.lists[0][1].content_hash == fresh.lists[0][1].content_hash  # the lists, loaded on demand
    assert any(r["status"] == "potential_match" for r in _records(loaded))
    assert Screener.from_catalog(["csl"]).index.__class__ is fresh.index.__class__ and len(_files(home)) == 1


def test_a_new_list_version_is_a_new_index(home: Path) -> None:
    first = Screener.from_catalog(["csl"])
    save_imported("csl", import_csl(CSL_2025), CSL_2025)
    second = Screener.from_catalog(["csl"])
    assert len(_files(home)) == 2
    assert second.list_infos()[0].content_hash != first.list_infos()[0].content_hash
    assert second.screen_name("Atlas Sanatgaran").status.value == "potential_match"


def test_an_index_no_longer_held_is_freed_with_its_last_reference_built_or_loaded(home: Path) -> None:
    """`serve` swaps in a new Screener for each list version (service.refresh) and its job workers do
    the same: the old index must go when the last reference to it does, since the collector never
    walks what `kept` froze (a reference cycle through the look-up cache kept every old index)."""
    builds = [lambda: Screener([("csl", load_named_list("csl"))]),
              lambda: Screener.from_catalog(["csl"]),  # builds and saves
              lambda: Screener.from_catalog(["csl"])]  # loads the saved index
    for build in builds:
        screener = build()
        assert screener.screen_name("Abu Reihan Grup").status.value == "potential_match"  # caches filled
        index = weakref.ref(screener.index)
        del screener
        assert index() is None
    assert len(_files(home)) == 1


def test_an_altered_or_foreign_file_is_never_unpickled(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Screener.from_catalog(["csl"])
    (path,) = _files(home)
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 1
    path.write_bytes(bytes(raw))
    loads = []
    real = pickle.loads
    with monkeypatch.context() as m:
        m.setattr(indexcache.pickle, "loads", lambda data, **kw: loads.append(1) or real(data, **kw))
        assert indexcache.load(path, 75.0) is None and not loads
        forged = indexcache.MAGIC + b"\0" * indexcache.MAC_SIZE + pickle.dumps({"index": b""})
        path.write_bytes(forged)
        assert indexcache.load(path, 75.0) is None and not loads
    rebuilt = Screener.from_catalog(["csl"])  # and the next start rebuilds it
    assert rebuilt.screen_name("Abu Reihan Group").status.value == "potential_match"
    assert indexcache.load(path, 75.0) is not None


def test_the_cache_can_be_turned_off(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(indexcache.CACHE_ENV, "off")
    Screener.from_catalog(["csl"])
    assert not _files(home)


def test_repeated_names_are_screened_once(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Screener([("csl", load_named_list("csl"))])
    calls = []
    real = s.index.match
    monkeypatch.setattr(s.index, "match", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    rows = [InputRow(name="Abu Reihan Group", country=c, row=i) for i, c in enumerate(["CN", "DE", None, "CN"], start=2)]
    results = list(s.screen_rows(rows))
    assert len(calls) == 1
    assert [r.input_country for r in results] == ["CN", "DE", None, "CN"]
    assert results[0].matches[0].explanation.secondary != results[1].matches[0].explanation.secondary
    assert all(r.status.value == "potential_match" for r in results)
