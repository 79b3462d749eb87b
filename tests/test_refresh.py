"""The service's scheduled refresh: a real server picks up a new list version, and reports a failed refresh."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from listserver import Mirror, running, serve

from screener.lists.catalog import find_version
from screener.lists.update import update_list
from screener.service import refresh
from screener.service.app import create_app
from screener.service.settings import Settings

SHARED = Path(os.environ.get("SCREENER_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
CSL_2025 = SHARED / "data" / "csl" / "csl_us_2025-06_watchman_fixture.csv"

pytestmark = pytest.mark.skipif(not CSL_2025.is_file(), reason=f"official CSL files not found under {SHARED}/data")


def _wait(what: Callable[[], Any], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def test_serve_refreshes_on_schedule_swaps_the_version_and_reports_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCREENER_HOME", str(tmp_path / "home"))
    root = tmp_path / "mirror"
    root.mkdir()
    shutil.copyfile(CSL_2025, root / "consolidated.csv")
    mirror = Mirror(root)
    with serve(mirror) as base:
        monkeypatch.setenv("SCREENER_CSL_URL", f"{base}/consolidated.csv")
        first = update_list("csl")
        monkeypatch.setenv(refresh.HOURS_ENV, "0.001")  # every 3.6 s
        monkeypatch.setattr(refresh, "CHECK_SECONDS", 0.2)
        app = create_app(Settings(lists=["csl"], api_keys=["k"], db_url=f"sqlite:///{tmp_path / 'audit.db'}"))
        with running(app) as service:
            url = f"{service}/healthz"

            def health() -> dict[str, Any]:
                return httpx.get(url, timeout=30).json()  # type: ignore[no-any-return]

            body = health()
            assert [i["version"] for i in body["lists"]] == [first.version]
            (fresh,) = body["freshness"]
            assert fresh["name"] == "csl" and fresh["warning"] is None and fresh["age_days"] < 1

            path = root / "consolidated.csv"
            path.write_text(path.read_text(encoding="utf-8").replace("Atlas Sanatgaran", "Atlas Sanat Garan"),
                            encoding="utf-8")
            new_version = _wait(lambda: find_version("csl").version != first.version and find_version("csl").version)
            _wait(lambda: [i["version"] for i in health()["lists"]] == [new_version])  # the server swapped

            path.unlink()  # the next refresh fails: 404
            failed = _wait(lambda: health()["freshness"][0]["warning"])
            assert "last refresh failed" in failed and "HTTP 404" in failed
            assert [i["version"] for i in health()["lists"]] == [new_version]  # the good version stays
