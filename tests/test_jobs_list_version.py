"""A running server's file jobs follow list updates: each job screens against the catalog's current version."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from listserver import running, serve
from monitorfiles import HAVE_CSL, HIKVISION, MISSING, csl_mirror, csl_v2, customers_csv

from screener.lists.catalog import find_version
from screener.lists.update import update_list
from screener.review.store import Store
from screener.service import refresh
from screener.service.app import create_app
from screener.service.settings import Settings

pytestmark = pytest.mark.skipif(not HAVE_CSL, reason=MISSING)


def test_a_job_after_an_update_screens_against_the_new_version_without_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCREENER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SCREENER_DB", raising=False)
    monkeypatch.setenv(refresh.HOURS_ENV, "0")  # no scheduled refresh: nothing but the workers swaps the version
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    content = customers_csv(tmp_path / "customers.csv").read_bytes()
    mirror = csl_mirror(tmp_path)
    with serve(mirror) as base:
        url = f"{base}/consolidated.csv"
        assert update_list("csl", url=url).changed
        first = find_version("csl").content_hash
        app = create_app(Settings(lists=["csl"], api_keys=["k"], db_url=db))
        with running(app) as service, httpx.Client(base_url=service, timeout=120, headers={"X-API-Key": "k"}) as client:

            def screen(_: object = None) -> dict[str, Any]:
                r = client.post("/v1/screen/file", data={"format": "json", "record": "true"},
                                files={"file": ("customers.csv", content, "text/csv")})
                assert r.status_code == 200, r.text
                return r.json()  # type: ignore[no-any-return]

            def hikvision(body: dict[str, Any]) -> dict[str, Any]:
                return next(r for r in body["results"] if r["input_name"] == HIKVISION)

            # two at once, so both worker processes start and load the first version
            with ThreadPoolExecutor(2) as pool:
                before = list(pool.map(screen, range(2)))
            for body in before:
                assert [i["content_hash"] for i in body["summary"]["lists"]] == [first]
                assert hikvision(body)["status"] == "clear"

            csl_v2(mirror.root / "consolidated.csv")  # Hikvision added
            assert update_list("csl", url=url).changed
            second = find_version("csl").content_hash
            assert second != first

            with ThreadPoolExecutor(2) as pool:
                after = list(pool.map(screen, range(2)))
            store = Store.open(db)
            try:
                for body in after:
                    assert [i["content_hash"] for i in body["summary"]["lists"]] == [second]
                    hit = hikvision(body)
                    assert hit["status"] == "potential_match" and hit["entity_name"] == HIKVISION
                    run = store.get_run(body["summary"]["run_id"])
                    assert run is not None and [i.content_hash for i in run.lists] == [second]
            finally:
                store.close()
