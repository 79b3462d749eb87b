"""`lists update`: real downloads from a mirror on 127.0.0.1 serving the official files in ../shared/data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from listserver import Mirror, serve

from screener.lists import catalog
from screener.lists.update import UpdateError, list_status, read_state, update_list

SHARED = Path(os.environ.get("SCREENER_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
CSL_2025 = SHARED / "data" / "csl" / "csl_us_2025-06_watchman_fixture.csv"
SDN_2021 = SHARED / "data" / "ofac_sdn_2021-07"

pytestmark = pytest.mark.skipif(not CSL_2025.is_file(), reason=f"official list files not found under {SHARED}/data")


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCREENER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def mirror(tmp_path: Path) -> Mirror:
    root = tmp_path / "mirror"
    root.mkdir()
    shutil.copyfile(CSL_2025, root / "consolidated.csv")
    return Mirror(root)


def _versions() -> list[str]:
    return [v.version for v in catalog.versions("csl")]


def _no_temp_left(home: Path) -> None:
    assert not any((home / "tmp").iterdir()), "downloads left on disk"


def test_update_stores_a_version_then_none_on_304(mirror: Mirror, home: Path) -> None:
    with serve(mirror) as base:
        first = update_list("csl", url=f"{base}/consolidated.csv")
        assert first.outcome == "new_version" and first.records == 13 and first.changed
        assert _versions() == [first.version]
        second = update_list("csl", url=f"{base}/consolidated.csv")
    assert second.outcome == "not_modified" and not second.changed and second.version == first.version
    assert _versions() == [first.version]
    assert mirror.requests[-1][1].get("if-none-match") and mirror.requests[-1][2] == 304
    state = read_state("csl")
    assert state is not None and state.error is None and state.version == first.version
    assert len(state.files["consolidated.csv"].sha256) == 64
    _no_temp_left(home)


def test_same_bytes_without_validators_import_nothing(mirror: Mirror) -> None:
    mirror.validators = False
    with serve(mirror) as base:
        first = update_list("csl", url=f"{base}/consolidated.csv")
        again = update_list("csl", url=f"{base}/consolidated.csv")
    assert [r[2] for r in mirror.requests] == [200, 200]  # no conditional request possible: full download
    assert again.outcome == "unchanged" and again.downloaded and _versions() == [first.version]
    assert catalog.versions("csl")[0].imports and len(catalog.versions("csl")[0].imports) == 1  # not re-imported


def test_changed_content_is_a_new_version(mirror: Mirror) -> None:
    with serve(mirror) as base:
        first = update_list("csl", url=f"{base}/consolidated.csv")
        path = mirror.root / "consolidated.csv"
        path.write_text(path.read_text(encoding="utf-8").replace("Atlas Sanatgaran", "Atlas Sanat Garan"),
                        encoding="utf-8")
        second = update_list("csl", url=f"{base}/consolidated.csv")
    assert second.outcome == "new_version" and second.previous_version == first.version
    assert _versions() == [first.version, second.version]
    assert mirror.requests[-1][2] == 200


def test_truncated_download_is_refused_and_the_old_version_kept(mirror: Mirror, home: Path) -> None:
    with serve(mirror) as base:
        good = update_list("csl", url=f"{base}/consolidated.csv")
        path = mirror.root / "consolidated.csv"
        path.write_text(path.read_text(encoding="utf-8") + path.read_text(encoding="utf-8").split("\n", 1)[1]
                        .replace('"9673"', '"96730"'), encoding="utf-8")  # a changed file, so no 304
        mirror.truncate = True
        with pytest.raises(UpdateError, match="truncated|incomplete|closed"):
            update_list("csl", url=f"{base}/consolidated.csv")
    assert _versions() == [good.version] and catalog.find_version("csl").version == good.version
    status = list_status(max_age_days=7)[0]
    assert status["version"] == good.version and "last refresh failed" in str(status["warning"])
    _no_temp_left(home)


def test_oversized_download_is_refused(mirror: Mirror, home: Path) -> None:
    with serve(mirror) as base:
        good = update_list("csl", url=f"{base}/consolidated.csv")
        path = mirror.root / "consolidated.csv"
        path.write_bytes(path.read_bytes() + b"\n" * 10)
        with pytest.raises(UpdateError, match="over the limit"):
            update_list("csl", url=f"{base}/consolidated.csv", max_bytes=CSL_2025.stat().st_size)
    assert _versions() == [good.version]
    _no_temp_left(home)


def test_a_file_cut_at_a_line_still_parses_but_is_refused(mirror: Mirror) -> None:
    with serve(mirror) as base:
        good = update_list("csl", url=f"{base}/consolidated.csv")
        path = mirror.root / "consolidated.csv"
        path.write_text("\n".join(path.read_text(encoding="utf-8").splitlines()[:4]) + "\n", encoding="utf-8")
        with pytest.raises(UpdateError, match="looks truncated"):
            update_list("csl", url=f"{base}/consolidated.csv")
    assert _versions() == [good.version]


def test_a_refused_download_is_refused_again_while_the_source_serves_it(mirror: Mirror) -> None:
    """Found from outside: the refused file's ETag and checksum were kept, so the next update was
    answered 304 ("not modified") or "unchanged", the failure vanished from `/healthz` and the page,
    and the old version looked freshly fetched. The refusal must stand until the source changes."""
    with serve(mirror) as base:
        good = update_list("csl", url=f"{base}/consolidated.csv")
        path = mirror.root / "consolidated.csv"
        whole = path.read_text(encoding="utf-8")
        path.write_text("\n".join(whole.splitlines()[:4]) + "\n", encoding="utf-8")
        for _ in range(2):  # the second time with the same ETag and the same bytes
            with pytest.raises(UpdateError, match="looks truncated"):
                update_list("csl", url=f"{base}/consolidated.csv")
            status = list_status(max_age_days=7)[0]
            assert status["version"] == good.version and "last refresh failed" in str(status["warning"])
        path.write_text(whole, encoding="utf-8")  # the publisher fixes it: the same content as before
        fixed = update_list("csl", url=f"{base}/consolidated.csv")
    # the good version's own validators answer it: 304, the failure cleared
    assert fixed.outcome == "not_modified" and fixed.version == good.version and _versions() == [good.version]
    assert not list_status(max_age_days=7)[0]["warning"]


@pytest.mark.skipif(not (SDN_2021 / "sdn.csv").is_file(), reason=f"OFAC SDN files not found under {SDN_2021}")
def test_sdn_set_is_fetched_as_four_files_and_304_on_the_second_run(tmp_path: Path) -> None:
    root = tmp_path / "ofac"
    shutil.copytree(SDN_2021, root)
    with serve(Mirror(root)) as base:
        first = update_list("ofac-sdn", url=base)
        second = update_list("ofac-sdn", url=base)
    assert first.outcome == "new_version" and first.records == 8976
    assert set(first.downloaded) == {"sdn.csv", "alt.csv", "add.csv", "sdn_comments.csv"}
    assert second.outcome == "not_modified" and [v.version for v in catalog.versions("sdn")] == [first.version]


@pytest.mark.skipif(not (SDN_2021 / "sdn.csv").is_file(), reason=f"OFAC SDN files not found under {SDN_2021}")
def test_cli_update_takes_every_source_named(mirror: Mirror, home: Path) -> None:
    """`--source csl --source ofac-sdn` updated the SDN alone (the last one given won) and said
    nothing of the CSL; each source named must be updated."""
    shutil.copytree(SDN_2021, mirror.root / "ofac")
    with serve(mirror) as base:
        env = {**os.environ, "SCREENER_HOME": str(home), "SCREENER_CSL_URL": f"{base}/consolidated.csv",
               "SCREENER_SDN_URL": f"{base}/ofac/"}
        both = subprocess.run([sys.executable, "-m", "screener", "lists", "update", "--source", "csl", "--source",
                               "ofac-sdn"], env=env, capture_output=True, text=True, check=False)
        unknown = subprocess.run([sys.executable, "-m", "screener", "lists", "update", "-s", "csl", "-s", "dpl"],
                                 env=env, capture_output=True, text=True, check=False)
    assert both.returncode == 0, both.stderr
    assert [line.split(":")[0] for line in both.stdout.splitlines()] == ["csl", "sdn"]
    assert unknown.returncode == 2 and "unknown source 'dpl'" in unknown.stderr and unknown.stdout == ""


def test_cli_update_and_its_one_line_failure(mirror: Mirror, home: Path) -> None:
    env = {**os.environ, "SCREENER_HOME": str(home)}
    cmd = [sys.executable, "-m", "screener", "lists", "update", "--source", "csl"]
    with serve(mirror) as base:
        ok = subprocess.run([*cmd, "--url", f"{base}/consolidated.csv"], env=env, capture_output=True, text=True, check=False)
        assert ok.returncode == 0, ok.stderr
        assert "csl: new version" in ok.stdout
        again = subprocess.run(cmd, env={**env, "SCREENER_CSL_URL": f"{base}/consolidated.csv"},
                               capture_output=True, text=True, check=False)
        assert again.returncode == 0 and "csl: not modified" in again.stdout
        gone = subprocess.run([*cmd, "--url", f"{base}/missing.csv"], env=env, capture_output=True, text=True, check=False)
    assert gone.returncode == 2 and "HTTP 404" in gone.stderr and "Traceback" not in gone.stderr
    assert len(json.loads((home / "lists" / "csl" / "index.json").read_text())["versions"]) == 1


@pytest.mark.skipif(not (SDN_2021 / "sdn.csv").is_file(), reason=f"OFAC SDN files not found under {SDN_2021}")
def test_an_sdn_mirror_missing_the_aliases_file_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ofac"
    root.mkdir()
    for part in ("sdn.csv", "add.csv"):  # alt.csv missing: a list without its aliases would miss matches
        shutil.copyfile(SDN_2021 / part, root / part)
    with serve(Mirror(root)) as base, pytest.raises(UpdateError, match=r"alt\.csv: HTTP 404"):
        update_list("ofac-sdn", url=base)
    assert catalog.versions("sdn") == []


def test_every_unreadable_row_is_reported_as_by_lists_import(mirror: Mirror, home: Path) -> None:
    path = mirror.root / "consolidated.csv"
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + '\n"cut","Entity List (EL) - Bureau of\n',
                    encoding="utf-8")  # a record cut off mid-field, as in the 2023 CSL sample
    env = {**os.environ, "SCREENER_HOME": str(home)}
    with serve(mirror) as base:
        done = subprocess.run([sys.executable, "-m", "screener", "lists", "update", "--source", "csl", "--url",
                               f"{base}/consolidated.csv"], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "SKIPPED consolidated.csv:15" in done.stderr and "1 row(s) could not be read" in done.stderr
    assert catalog.find_version("csl").skipped == 1 and catalog.find_version("csl").records == 13
