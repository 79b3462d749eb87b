"""The SQLite store opened by several processes at once, over and over, as `serve --workers`, the
CLI and the tests do: no `database is locked`, whichever process creates, reads or closes first."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROUNDS = 12
PROCESSES = 5


def open_together(folder: str, rounds: int, start: Any, errors: Any) -> None:
    """Each round all processes open a new store file at the same moment (the barrier), read from
    it on a fresh connection, then open the previous round's file again while others close it."""
    from screener.review.store import Store

    for n in range(rounds):
        for name in (f"s{n}.db", f"s{max(n - 1, 0)}.db"):
            start.wait(60)
            try:
                store = Store.open(f"sqlite:///{folder}/{name}")
                with store.engine.connect() as conn:
                    conn.execute(sa.text("SELECT count(*) FROM runs")).scalar()
                store.close()  # the last connection out checkpoints the WAL while others arrive
            except Exception as exc:  # noqa: BLE001 - reported to the test
                errors.put(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0]}")


def test_many_processes_open_the_same_store_at_once_without_lock_errors(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    start, errors = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=open_together, args=(str(tmp_path), ROUNDS, start, errors)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == []
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    for n in range(ROUNDS):  # WAL was set once, and stays in the file
        with sa.create_engine(f"sqlite:///{tmp_path}/s{n}.db").connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"



def test_tables_created_while_another_writer_holds_the_lock_wait_for_it(tmp_path: Path) -> None:
    """The monitor's and the webhooks' tables are created when a Monitor opens the database, in a
    service whose other threads write too (a sign-in, a run). Their creation reads first (does the
    table exist?); a plain transaction overtaken by a writer's commit cannot then write and fails at
    once, which is how a monitor page once answered 500. Holding the write lock from the start, it
    waits. Reading the delivery log afterwards takes no lock at all: it reads while the writer holds it."""
    import threading

    from screener.review import webhooks
    from screener.review.monitor import Monitor
    from screener.review.store import Store

    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    held, failures = threading.Event(), []

    def write_for_a_while() -> None:
        with store.engine.connect().execution_options(write_lock=True) as conn, conn.begin():
            conn.exec_driver_sql("CREATE TABLE elsewhere (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO elsewhere VALUES (1)")
            held.set()
            threading.Event().wait(0.5)

    for open_tables in (lambda: Monitor(store), lambda: webhooks.delivery_log(store.engine)):
        held.clear()
        writer = threading.Thread(target=write_for_a_while)
        writer.start()
        held.wait(10)
        try:
            open_tables()
        except sa.exc.OperationalError as exc:
            failures.append(str(exc).splitlines()[0])
        writer.join()
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE elsewhere")
    assert failures == []
    with store.engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert {"monitor_lists", "webhook_deliveries"} <= tables
    store.close()
