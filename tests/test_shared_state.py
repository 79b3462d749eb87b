"""The state every server process shares, on the default SQLite file and on a real PostgreSQL
server: schema creation, sessions and jobs seen by two "workers" (two engines), sign-in counters
that stay exact under concurrency, and a dead worker's run failed on an intact audit chain."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from postgres import postgres_server, postgres_url  # noqa: F401 - fixtures; tests/ is on sys.path

from screener.models import RowResult, Status
from screener.review.audit import verify
from screener.review.store import Store
from screener.service.jobs import fail_run
from screener.service.shared import (
    SCHEMA_VERSION,
    SIGNIN_LIMITS,
    Shared,
    ensure_schema,
    svc_schema,
    svc_signin,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'screener.db'}"
    make: Callable[[], str] = request.getfixturevalue("postgres_url")
    return make()


def two_workers(url: str) -> tuple[Store, Shared, Store, Shared]:
    a, b = Store.open(url), Store.open(url)
    return a, Shared(a.engine), b, Shared(b.engine)


def test_schema_is_created_once_even_by_racing_processes(url: str) -> None:
    engines = [Store.open(url).engine for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        versions = list(pool.map(ensure_schema, engines))
    assert versions == [SCHEMA_VERSION] * 4
    with engines[0].connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(svc_schema)).scalar() == 1
    assert ensure_schema(engines[0]) == SCHEMA_VERSION  # again: nothing to do
    for engine in engines:
        engine.dispose()


def test_sessions_and_jobs_are_the_same_on_both_workers(url: str, tmp_path: Path) -> None:
    store_a, a, store_b, b = two_workers(url)
    sid, csrf = a.open_session("alice", 3600)
    assert b.session(sid) == ("alice", csrf)
    b.close_session(sid)
    assert a.session(sid) is None  # signed out on one worker: gone on the other

    ids = [a.add_job(kind="web", user=f"u{i % 3}", file_name="f.csv", workdir=tmp_path / str(i), spec={},
                     size=10) for i in range(20)]
    claimed: list[str] = []
    lock = threading.Lock()

    def drain(shared: Shared, owner: str) -> None:
        while (job := shared.claim(owner, small_bytes=100, big_allowed=True)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=drain, args=(s, o)) for s, o in ((a, "a:1:x"), (b, "b:2:y"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)  # every job once, never twice
    assert b.job(ids[0]).state == "opening" and b.active_jobs("u0") == 7
    store_a.close()
    store_b.close()


def test_signin_counters_are_exact_under_concurrency_and_locks_end(url: str) -> None:
    store_a, a, store_b, b = two_workers(url)
    with ThreadPoolExecutor(8) as pool:
        allowed = list(pool.map(lambda i: (a, b)[i % 2].reserve_signin("bob", "10.0.0.66"), range(40)))
    assert allowed.count(True) == SIGNIN_LIMITS["pair"]
    assert not a.reserve_signin("bob", "10.0.0.66") and b.reserve_signin("bob", "10.0.0.7")
    with store_a.engine.begin() as conn:  # fifteen minutes later
        conn.execute(svc_signin.update().values(locked_until=time.time() - 1, window_start=time.time() - 3600))
    assert b.reserve_signin("bob", "10.0.0.66")
    for _ in range(SIGNIN_LIMITS["pair"] + 1):
        a.reserve_signin("carol", "10.0.0.9")
    assert not a.reserve_signin("carol", "10.0.0.9")
    assert b.unlock("Carol") >= 1 and a.reserve_signin("carol", "10.0.0.9")
    store_a.close()
    store_b.close()


def test_a_dead_workers_run_is_failed_on_an_intact_audit_chain(url: str) -> None:
    store = Store.open(url)
    recorder = store.recorder(user="alice", source="web")
    for i in range(3):
        recorder.observe(RowResult(row=i + 2, input_name=f"Company {i}", status=Status.CLEAR))
    recorder.flush()  # what a worker had written when it was killed
    assert store.get_run(recorder.run_id).status == "running"
    fail_run(store.engine, recorder.run_id, "the server process screening it ended")
    fail_run(store.engine, recorder.run_id, "again")  # idempotent
    run = store.get_run(recorder.run_id)
    assert run.status == "failed" and run.error == "the server process screening it ended"
    assert verify(store).ok, verify(store).problem
    store.close()
