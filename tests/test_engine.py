"""The parallel engines give exactly what one process gives, in input order: real process pools, a real
Dask LocalCluster with two worker processes, real files through `screen_sources`."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from screener.files.outputs import open_writer
from screener.files.readers import open_input
from screener.models import InputRow, RowResult, Status
from screener.pipeline import screen_sources
from screener.runtime.engine import PoolScreen, make_screen_fn
from screener.screening import Screener, clear_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from generate import HEADER, customers  # noqa: E402

ROWS = 3000
CHUNK = 128  # small chunks: order must hold across many of them, with a ragged last one


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.default()


@pytest.fixture(scope="module")
def rows() -> list[InputRow]:
    """Generated customers (with restricted-party variants) plus rows that cannot be screened."""
    out = [
        InputRow(name=name, country=country, address=address, sheet="Customers", row=i)
        for i, (_, name, country, address) in enumerate(customers(ROWS, seed=11), start=2)
    ]
    odd = [InputRow(name=None, sheet="Other", row=2), InputRow(name="--- / ---", sheet="Other", row=3),
           InputRow(name="Hikvision", sheet="Other", row=4, not_screened_reason="formula cell"),
           InputRow(name="HIK VISION Europe B.V.", country="NL", sheet="Other", row=5)]
    return out[:1000] + odd + out[1000:]


@pytest.fixture(scope="module")
def expected(screener, rows) -> list[dict]:
    return [r.record() for r in screener.screen_rows(rows)]


def test_the_rows_exercise_every_status(expected):
    statuses = {r["status"] for r in expected}
    assert statuses == {"clear", "potential_match", "not_screened"}


def test_a_workers_answer_is_none_exactly_for_a_clear_result_without_candidates(screener, rows):
    """What a pool worker sends (`screen_values`): None where `screen_row` gives `clear_result`, the same
    result otherwise (the parent puts back each row's place and cells)."""
    kinds = set()
    for row in rows[:1500]:
        whole = screener.screen_row(row)
        got = screener.screen_values(row.name, row.country, row.address, row.not_screened_reason)
        if got is None:
            assert whole.status == "clear" and whole.score is None and not whole.matches, row
            kinds.add("none")
            continue
        kinds.add(got.status.value)
        fresh = got.model_copy(update={"sheet": row.sheet, "row": row.row, "column": row.column,
                                       "fields": row.fields})
        assert fresh.model_dump() == whole.model_dump(), row
    assert kinds == {"none", "clear", "potential_match", "not_screened"}


def test_a_clear_result_is_the_validated_model_of_its_row(rows):
    """`clear_result` skips validation (most rows'): it must equal the model built with it, fields set
    included, and share no mutable default with another result."""
    for row in rows[:300] + rows[-4:]:
        fast = clear_result(row)
        slow = RowResult(sheet=row.sheet, row=row.row, column=row.column, input_name=row.name,
                         input_country=row.country, input_address=row.address, fields=row.fields,
                         status=Status.CLEAR)
        assert fast == slow and fast.model_fields_set == slow.model_fields_set, row
        assert fast.model_dump_json() == slow.model_dump_json()
    one, other = clear_result(rows[0]), clear_result(rows[0])
    one.matches.append(None)  # type: ignore[arg-type]
    assert other.matches == [] and clear_result(rows[0]).matches == []


def test_process_pool_matches_one_worker_in_order(screener, rows, expected):
    with make_screen_fn(screener, workers=2, chunk_rows=CHUNK) as screen:
        got = list(screen(rows))
        assert [r.record() for r in got] == expected
        again = list(screen(rows[:500]))  # the pool is reused for the next input file
    assert [r.record() for r in again] == expected[:500]
    assert got == list(screener.screen_rows(rows))  # whole models, explanations and sources included


def test_spawned_workers_rebuild_the_screener_and_agree(screener, rows, expected):
    with PoolScreen(screener, 2, chunk_rows=500, start_method="spawn") as screen:
        assert [r.record() for r in screen(rows[:1500])] == expected[:1500]


def test_pool_raises_the_input_error_and_stops(screener, rows):
    def broken():
        yield from rows[:700]
        raise OSError("disk gone at row 701")

    with make_screen_fn(screener, workers=2, chunk_rows=CHUNK) as screen:
        seen = 0
        with pytest.raises(OSError, match="row 701"):
            for _ in screen(broken()):
                seen += 1
        assert seen <= 700
        stopped = screen(rows)  # a consumer that stops early leaves the pool usable
        assert next(stopped).row == rows[0].row
        stopped.close()
        assert len(list(screen(rows[:300]))) == 300


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"engine": "spark"}, "unknown engine 'spark'"),
        ({"scheduler": "tcp://127.0.0.1:8786"}, "--scheduler goes with --engine dask"),
        ({"workers": -1}, "--workers must be 0"),
        ({"engine": "dask", "scheduler": "tcp://127.0.0.1:8786", "workers": 4}, "--workers does not apply"),
    ],
)
def test_bad_combinations_are_one_line_value_errors(screener, kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        make_screen_fn(screener, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("address", ["foo", "http://127.0.0.1:8786", "tcp://127.0.0.1"])
def test_bad_scheduler_address_is_refused_before_connecting(screener, address):
    pytest.importorskip("distributed", reason="Dask is not installed: pip install -e '.[dask]'")
    with pytest.raises(ValueError, match="bad Dask scheduler address .*use tcp://host:8786"):
        make_screen_fn(screener, engine="dask", scheduler=address)


def test_dask_missing_says_how_to_install(screener, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # what an environment without Dask looks like
    with pytest.raises(ValueError, match=r"not installed: pip install -e '\.\[dask\]'"):
        make_screen_fn(screener, engine="dask")


# --- Dask ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed", reason="Dask is not installed: pip install -e '.[dask]'")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=":0") as running:
        yield running


def test_dask_matches_the_local_engine(screener, rows, expected, cluster):
    with make_screen_fn(screener, engine="dask", scheduler=cluster.scheduler_address, chunk_rows=CHUNK) as screen:
        got = list(screen(rows))
        workers_used = {w for w, n in screen.client.run(_screeners_cached).items() if n}
    assert [r.record() for r in got] == expected
    assert got == list(screener.screen_rows(rows))
    assert len(workers_used) == 2  # both workers matched, each with its own cached Screener


def _screeners_cached() -> int:
    from screener.runtime import engine

    return len(engine._DASK_SCREENERS)


def _write_csv(path: Path, rows: list[InputRow]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i, r in enumerate(rows):
            out.writerow([f"C{i}", r.name or "", r.country or "", r.address or ""])


def _screen_file(screener, path: Path, out: Path, screen) -> list[dict]:
    summary = screen_sources(screener, [open_input(path)], open_writer(out, screener.lists), screen=screen)
    assert summary.rows_read == summary.rows_reported
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_dask_through_screen_sources_writes_the_local_report(screener, rows, cluster, tmp_path):
    source = tmp_path / "customers.csv"
    _write_csv(source, [r for r in rows if r.sheet == "Customers"])
    local = _screen_file(screener, source, tmp_path / "local.jsonl", None)
    with make_screen_fn(screener, engine="dask", scheduler=cluster.scheduler_address, chunk_rows=CHUNK) as screen:
        remote = _screen_file(screener, source, tmp_path / "dask.jsonl", screen)
    assert remote == local
    assert len(local) == ROWS


def test_dask_caches_one_screener_per_list_version(rows, cluster):
    strict = Screener.default(threshold=95)
    with make_screen_fn(strict, engine="dask", scheduler=cluster.scheduler_address, chunk_rows=CHUNK) as screen:
        got = [r.record() for r in screen(rows[:800])]
        cached = screen.client.run(_screeners_cached)
    assert got == [r.record() for r in strict.screen_rows(rows[:800])]
    assert max(cached.values()) == 2  # the default threshold's Screener and this one, side by side


def test_dask_in_process_local_cluster(screener, rows, expected):
    pytest.importorskip("distributed", reason="Dask is not installed: pip install -e '.[dask]'")
    with make_screen_fn(screener, engine="dask", workers=2, chunk_rows=500) as screen:
        assert [r.record() for r in screen(rows[:1200])] == expected[:1200]


def test_repeated_rows_are_answered_without_a_worker(screener):
    """The parent answers a repeat of a name a worker found without candidates, and of a row with
    candidates, the same name, country and address; another address, or a row the reader could not
    screen, still goes to a worker. The results are exactly one process's, in order."""
    from screener.runtime.engine import _ordered, _screen_encoded

    names = ["Nordlicht Feinmechanik GmbH", "Hikvision", "Acme Widgets Ltd"]
    rows = [InputRow(name=names[i % 3], sheet="S", row=i + 2, country="CN" if i % 2 else None) for i in range(600)]
    rows.append(InputRow(name="Hikvision", sheet="S", row=800, country="CN", address="Hangzhou, Qianmo Road 555"))
    rows.append(InputRow(name="Acme Widgets Ltd", sheet="S", row=900, not_screened_reason="formula cell"))
    sent: list[tuple[str, str | None]] = []

    def submit(chunk):
        sent.extend((name, address) for name, _, address, _ in chunk)
        return _screen_encoded(screener, chunk)

    got = list(_ordered(rows, submit, lambda handle: handle, lambda handle: None,
                        max_rows=50, seconds=0.25, inflight=2))
    assert got == list(screener.screen_rows(rows))  # whole results, evidence included, in order
    assert [r.row for r in got] == [r.row for r in rows]
    # each name is sent until its first result is back (two chunks of at most 50 rows in flight)
    for name in names:
        assert sent.count((name, None)) <= 2 * 50 // 3 + 1, name
    assert ("Hikvision", "Hangzhou, Qianmo Road 555") in sent  # another address: other evidence
    assert got[-2].status.value == "potential_match" and got[-2].input_address == "Hangzhou, Qianmo Road 555"
    assert ("Acme Widgets Ltd", None) in sent[-3:]  # the row with the reader's reason went too
    assert got[-1].status.value == "not_screened" and got[-1].not_screened_reason == "formula cell"


def test_a_name_is_matched_by_one_worker_whatever_rows_repeat_it(tmp_path, monkeypatch):
    """Repeated names are screened once across the pool too. A listed name at other addresses still
    needs a worker (the evidence beside its candidates differs), and goes to the worker that matched
    the name first, which answers from the candidates it kept; with one queue for all workers the
    other worker matched the name again."""
    import os
    from collections import Counter

    from screener.lists.partylist import default_list
    from screener.names.matcher import AliasIndex

    log = tmp_path / "matched.log"
    real = AliasIndex.match_name

    def recording(self, name, **kwargs):  # inherited by the forked workers
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\t{name}\n")
        return real(self, name, **kwargs)

    monkeypatch.setattr(AliasIndex, "match_name", recording)
    fresh = Screener([("default", default_list())])  # nothing matched yet, in this process or a fork
    names = list(dict.fromkeys(p.name for p in default_list().parties))[:16]
    rows = [InputRow(name=name, address=f"{k} Harbour Road", sheet="S", row=2 + k * len(names) + i)
            for k in range(6) for i, name in enumerate(names)]
    with PoolScreen(fresh, 2, chunk_rows=4, start_method="fork") as screen:
        got = list(screen(rows))
    matched = [line.split("\t") for line in log.read_text(encoding="utf-8").splitlines()]
    assert {pid for pid, _ in matched} - {str(os.getpid())}, "the workers matched"
    counts = Counter(name for _, name in matched)
    assert {name: counts[name] for name in names} == dict.fromkeys(names, 1)
    assert all(r.status.value == "potential_match" for r in got)
    assert [r.input_address for r in got] == [r.address for r in rows]


def test_a_dask_worker_killed_mid_run_fails_it_with_worker_lost(screener):
    """A Dask worker the kernel kills must fail the run with the pool's WorkerLost (one line at the
    CLI, the run recorded failed), not with Dask's own exception; here the scheduler is told to give
    up at the first death, as it does after `allowed-failures` of them."""
    distributed = pytest.importorskip("distributed", reason="Dask is not installed: pip install -e '.[dask]'")
    import os
    import signal

    import dask

    from screener.runtime.engine import WorkerLost

    rows = [InputRow(name=name, row=i) for i, (_, name, _, _) in enumerate(customers(40_000, seed=3), start=2)]
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=1, processes=True, threads_per_worker=1,
                                     dashboard_address=":0") as running, \
            make_screen_fn(screener, engine="dask", scheduler=running.scheduler_address, chunk_rows=200) as screen:
        (nanny,) = running.workers.values()
        results = screen(rows)
        next(results)  # the first chunk is back, more are on the worker
        os.kill(nanny.process.process.pid, signal.SIGKILL)
        with pytest.raises(WorkerLost, match="the run is incomplete") as lost:
            for _ in results:
                pass
    assert "\n" not in str(lost.value)
