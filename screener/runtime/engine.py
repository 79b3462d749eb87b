"""Where screening runs: in this process, in a pool of local processes, or on a Dask cluster.

Every engine keeps the `pipeline.ScreenFn` contract: one result per input row, in input order, the same
results whatever runs them. The parallel engines cut the row stream into chunks and keep a bounded
number of chunks in flight, yielding the oldest chunk's results before submitting more, so memory
stays flat over millions of rows and the report is written while the workers match.

Only matching leaves this process. The input is read and the report written here; workers get what
screening a row reads (name, country, address and the reader's reason, as a tuple) and send back
None for a result without candidates (nearly every row) and the model otherwise, whose shared
sources pickle once per chunk; the parent puts back each row's place and other cells.

Workers build (or, forked, inherit) their Screener once: the pool passes it through its
initializer; on Dask the lists are broadcast to every worker once and each worker process caches
its Screener by the lists' content hashes and the threshold.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import TYPE_CHECKING, Any, Self

from screener.collector import for_batch
from screener.models import InputRow, RestrictedList, RowResult, Status
from screener.runtime.lifetime import die_with_parent
from screener.screening import (
    SEEN_NAME_CHARS,
    Screener,
    clear_result,
    keep_bounded,
    repeat_result,
    without_candidates,
)

if TYPE_CHECKING:
    from screener.pipeline import ScreenFn

ENGINES = ("local", "dask")
CHUNK_ROWS = 2000  # most rows per pool task: enough to hide the transfer, few enough to keep memory flat
CHUNK_SECONDS = 0.25  # matching per pool task aimed at once throughput is known
DASK_CHUNK_ROWS = 10_000  # a Dask task costs a few network round trips, so it carries more rows
DASK_CHUNK_SECONDS = 1.0
FIRST_CHUNK_ROWS = 32  # until the first chunk has been timed
INFLIGHT_PER_WORKER = 2  # chunks queued per worker: one running, one ready
KNOWN_CLEAR = 200_000  # names whose repeats the parent answers (`_Answers`): 200k x 160 characters at most
KNOWN_MATCHED = 20_000  # results with candidates kept for repeats: 20k x a few KB
DASK_INSTALL = "pip install -e '.[dask]'  (or: pip install 'dask[distributed]')"

Lists = list[tuple[str, RestrictedList]]
Encoded = list[Any]


def make_screen_fn(
    screener: Screener,
    *,
    workers: int = 1,
    engine: str = "local",
    scheduler: str | None = None,
    chunk_rows: int | None = None,
) -> ScreenFn:
    """A function from input rows to results, in input order, whatever runs it.

    local, workers=1: this process. local, workers>1 (0 = one per core): a process pool.
    dask: the cluster at `scheduler`, or an in-process LocalCluster with `workers` worker processes.
    `chunk_rows` caps the rows per task (default CHUNK_ROWS, or DASK_CHUNK_ROWS on Dask); below the
    cap, chunks are sized to about CHUNK_SECONDS (DASK_CHUNK_SECONDS) of matching.
    The parallel engines return a callable with `close()` (also a context manager); they are closed
    at exit or garbage collection if the caller does not.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: use 'local' or 'dask'")
    if workers < 0:
        raise ValueError(f"--workers must be 0 (one per core) or more, not {workers}")
    if chunk_rows is not None and chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
    if engine == "local":
        if scheduler:
            raise ValueError("--scheduler goes with --engine dask")
        count = workers or os.cpu_count() or 1
        if count == 1:
            return screener.screen_rows
        return PoolScreen(screener, count, chunk_rows=chunk_rows or CHUNK_ROWS)
    if scheduler and workers != 1:
        raise ValueError("--workers does not apply with --scheduler: the cluster's workers do the matching")
    return DaskScreen(screener, scheduler=scheduler, workers=workers or os.cpu_count() or 1,
                      chunk_rows=chunk_rows or DASK_CHUNK_ROWS)


# --- what runs in a worker ------------------------------------------------------------------------


def _encode_rows(rows: Sequence[InputRow]) -> Encoded:
    """What screening a row reads: its name, country, address and the reader's reason. The row's
    place and other cells stay in the parent, which puts them back (`_decode_results`)."""
    return [(row.name, row.country, row.address, row.not_screened_reason) for row in rows]


def _screen_encoded(screener: Screener, rows: Encoded) -> tuple[Encoded, float]:
    """Results of one chunk, and the seconds they took (which size the next chunks). A result
    without candidates, nearly every row's, goes back as None."""
    t0 = time.perf_counter()
    out: Encoded = []
    for name, country, address, reason in rows:
        out.append(screener.screen_values(name, country, address, reason))
    return out, time.perf_counter() - t0


def _decode_results(encoded: Encoded, rows: Sequence[InputRow]) -> list[RowResult]:
    """The results of `rows` from a worker's answers, with each row's place and cells."""
    return [clear_result(row) if got is None else repeat_result(got, row) for got, row in zip(encoded, rows)]


_POOL_SCREENER: Screener | None = None


def _pool_init(screener: Screener | None, lists: Lists | None, threshold: float) -> None:
    """Pool worker start: keep the forked parent's Screener, or build one from the lists (spawn)."""
    global _POOL_SCREENER
    die_with_parent()  # a killed `screen` takes its workers with it
    for_batch()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the pool
    _POOL_SCREENER = screener if screener is not None else Screener(lists or [], threshold=threshold)


def _pool_task(rows: Encoded) -> tuple[Encoded, float]:
    assert _POOL_SCREENER is not None, "pool worker not initialised"
    return _screen_encoded(_POOL_SCREENER, rows)


_DASK_SCREENERS: OrderedDict[str, Screener] = OrderedDict()
_DASK_LOCK = threading.Lock()
_DASK_KEEP = 4  # Screeners kept per worker process, for clients screening against different lists


def _dask_task(key: str, spec: tuple[Lists, float], rows: Encoded) -> tuple[Encoded, float]:
    """One chunk on a Dask worker; the Screener is built once per worker process and list version."""
    with _DASK_LOCK:
        screener = _DASK_SCREENERS.get(key)
        if screener is None:
            lists, threshold = spec
            screener = _DASK_SCREENERS[key] = Screener(lists, threshold=threshold)
            while len(_DASK_SCREENERS) > _DASK_KEEP:
                _DASK_SCREENERS.popitem(last=False)
        else:
            _DASK_SCREENERS.move_to_end(key)
    return _screen_encoded(screener, rows)


def _worker_version() -> str:
    from screener import __version__

    return __version__


# --- the ordered, bounded stream ------------------------------------------------------------------


class _ChunkSizer:
    """Rows per chunk, aiming at `seconds` of work: small first chunks start every worker at once,
    and a slow list (a second per 100 names) still spreads a short file over all workers."""

    def __init__(self, max_rows: int, seconds: float) -> None:
        self.max_rows = max_rows
        self.seconds = seconds
        self.per_row: float | None = None

    @property
    def rows(self) -> int:
        if self.per_row is None:
            return min(FIRST_CHUNK_ROWS, self.max_rows)
        return max(1, min(self.max_rows, int(self.seconds / max(self.per_row, 1e-9))))

    def observe(self, rows: int, seconds: float) -> None:
        sample = seconds / max(rows, 1)
        self.per_row = sample if self.per_row is None else 0.5 * (self.per_row + sample)


class _Answers:
    """Results a worker sent back that a repeat of their row shares, so that repeats are answered here.

    A worker screens a repeated name once (`Screener._found`), but only the repeats that reach that
    worker: spread over the pool, a master file's big accounts were screened once per worker, and
    every repeat still crossed to a worker and back. A result depends on the row's name alone when
    the name has no candidate at all (nearly every row), and on its name, country and address when
    it has (the evidence beside each candidate), so repeats are answered from those. Bounded like the
    Screener's memory of names: at most KNOWN_CLEAR names and KNOWN_MATCHED results with candidates
    kept, of at most SEEN_NAME_CHARS characters of name (and as many of country and address), oldest
    dropped first.
    """

    def __init__(self) -> None:
        self._clear: dict[str, None] = {}
        self._matched: dict[tuple[str, str | None, str | None], RowResult] = {}

    def get(self, row: InputRow) -> RowResult | None:
        """This row's result, when a row like it was screened already; None: a worker must screen it."""
        if row.not_screened_reason is not None or row.name is None:
            return None
        if row.name in self._clear:
            return clear_result(row)
        found = self._matched.get((row.name, row.country, row.address)) if self._matched else None
        return None if found is None else repeat_result(found, row)

    def learn(self, result: RowResult) -> None:
        name = result.input_name
        if name is None or len(name) > SEEN_NAME_CHARS or result.status is Status.NOT_SCREENED:
            return
        if without_candidates(result):
            keep_bounded(self._clear, name, None, KNOWN_CLEAR)
        elif len(result.input_country or "") + len(result.input_address or "") <= SEEN_NAME_CHARS:
            keep_bounded(self._matched, (name, result.input_country, result.input_address), result, KNOWN_MATCHED)


def _ordered(
    rows: Iterable[InputRow],
    submit: Callable[[Encoded], Any],
    result: Callable[[Any], tuple[Encoded, float]],
    cancel: Callable[[Any], object],
    *,
    max_rows: int,
    seconds: float,
    inflight: int,
) -> Iterator[RowResult]:
    """Submit chunks as the consumer pulls, at most `inflight` pending, and yield them in order.

    A row like one a worker already screened is not sent (`_Answers`): its result is made when the
    chunk is cut, and the workers' results are merged back around it in input order.
    """
    sizer = _ChunkSizer(max_rows, seconds)
    answers = _Answers()
    pending: deque[tuple[list[RowResult | None], list[InputRow], Any]] = deque()
    source = iter(rows)
    try:
        while True:
            chunk = list(islice(source, sizer.rows))
            if chunk:
                ready = [answers.get(row) for row in chunk]
                sent = [row for row, done in zip(chunk, ready) if done is None]
                pending.append((ready, sent, submit(_encode_rows(sent)) if sent else None))
            if pending and (len(pending) >= inflight or not chunk):
                ready, sent, handle = pending.popleft()
                remote: list[RowResult] = []
                if handle is not None:
                    encoded, took = result(handle)
                    sizer.observe(len(ready), took)
                    if len(encoded) != len(sent):
                        raise RuntimeError(f"a worker returned {len(encoded)} results for {len(sent)} rows")
                    remote = _decode_results(encoded, sent)
                screened = iter(remote)
                for done in ready:
                    if done is None:
                        done = next(screened)
                        answers.learn(done)
                    yield done
            elif not chunk:
                return
    finally:
        for _, _, handle in pending:  # the input failed or the consumer stopped: drop queued work
            if handle is not None:
                cancel(handle)


class WorkerLost(RuntimeError):
    """A worker process ended in the middle of a run: its rows have no result, so the run fails."""


def _shut_down(executors: list[ProcessPoolExecutor]) -> None:
    for executor in executors:
        executor.shutdown(wait=True, cancel_futures=True)


class PoolScreen:
    """Screening on local worker processes; forked workers inherit the parent's Screener and its index.

    Each worker is a pool of one process, and a name always goes to the same worker (by its hash):
    a worker keeps what it found for the names it screened (`Screener._found`), so a repeat that
    still needs a worker (other evidence beside its candidates, or sent before the first result was
    back) is answered from that memory instead of being matched again by another worker.
    """

    def __init__(self, screener: Screener, workers: int, *, chunk_rows: int = CHUNK_ROWS,
                 start_method: str | None = None) -> None:
        self.screener = screener
        self.workers = workers
        self.chunk_rows = chunk_rows
        methods = multiprocessing.get_all_start_methods()
        self.start_method = start_method or ("fork" if "fork" in methods else "spawn")
        self._executors: list[ProcessPoolExecutor] = []
        self._finalizer: weakref.finalize | None = None

    def _pools(self) -> list[ProcessPoolExecutor]:
        if not self._executors:
            forked = self.start_method == "fork"
            ctx = multiprocessing.get_context(self.start_method)
            # forked: the Screener is inherited, not pickled; spawned: workers rebuild it from the lists
            initargs = (self.screener, None, 0.0) if forked else (None, self.screener.lists, self.screener.threshold)
            if forked:
                self.screener.index.warm()  # what workers would each load on first use, loaded once
            self._executors = [ProcessPoolExecutor(1, mp_context=ctx, initializer=_pool_init, initargs=initargs)
                               for _ in range(self.workers)]
            self._finalizer = weakref.finalize(self, _shut_down, self._executors)
        return self._executors

    def _submit(self, chunk: Encoded) -> list[tuple[list[int], Future[tuple[Encoded, float]]]]:
        """The chunk's rows to their names' workers: (positions in the chunk, future) per worker."""
        pools = self._pools()
        parts: list[list[int]] = [[] for _ in pools]
        for i, row in enumerate(chunk):
            parts[hash(row[0]) % len(pools)].append(i)
        return [(at, pools[w].submit(_pool_task, [chunk[i] for i in at])) for w, at in enumerate(parts) if at]

    @staticmethod
    def _gather(handle: list[tuple[list[int], Future[tuple[Encoded, float]]]]) -> tuple[Encoded, float]:
        """The parts' results back in chunk order, and the worker seconds they took together."""
        out: Encoded = [None] * sum(len(at) for at, _ in handle)
        took = 0.0
        for at, future in handle:
            got, seconds = future.result()
            if len(got) != len(at):
                raise RuntimeError(f"a worker returned {len(got)} results for {len(at)} rows")
            for i, result in zip(at, got):
                out[i] = result
            took += seconds
        return out, took

    def __call__(self, rows: Iterable[InputRow]) -> Iterator[RowResult]:
        try:
            yield from _ordered(
                rows,
                self._submit,
                self._gather,
                lambda handle: [future.cancel() for _, future in handle],
                max_rows=self.chunk_rows,
                seconds=CHUNK_SECONDS,
                inflight=INFLIGHT_PER_WORKER * self.workers,
            )
        except BrokenProcessPool as exc:  # raised by the next submit or result after the loss
            raise WorkerLost("a screening worker process ended abruptly (killed, perhaps for lack of memory): "
                             "the run is incomplete; run it again, or with fewer --workers") from exc

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._executors = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DaskScreen:
    """Screening on a Dask cluster: an existing one at `scheduler`, or an in-process LocalCluster."""

    def __init__(self, screener: Screener, *, scheduler: str | None, workers: int,
                 chunk_rows: int = DASK_CHUNK_ROWS) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ValueError(f"--engine dask needs Dask, which is not installed: {DASK_INSTALL}") from None
        self.chunk_rows = chunk_rows
        if scheduler:
            _check_address(scheduler)  # before any Client exists: a half-made one hangs at exit
        cluster = None
        try:
            if scheduler:
                client = Client(scheduler, timeout="10s", set_as_default=False)
            else:
                cluster = LocalCluster(n_workers=workers, processes=True, threads_per_worker=1,
                                       dashboard_address=":0")
                client = Client(cluster, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            if cluster is not None:
                cluster.close()
            raise ValueError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        self.client = client
        self._finalizer = weakref.finalize(self, _close_dask, client, cluster)
        try:
            versions = set(client.run(_worker_version).values())
        except Exception as exc:  # noqa: BLE001 - any failure of a remote worker, named in one line
            self.close()
            raise ValueError(f"Dask workers cannot run screener (install it on every worker): {exc}") from None
        from screener import __version__

        if versions - {__version__}:
            self.close()
            raise ValueError(f"Dask workers run screener {', '.join(sorted(versions))}, this client {__version__}: "
                             "install the same version everywhere")
        self.key = _lists_key(screener.lists, screener.threshold)
        # sent once to every worker; tasks refer to it, so a chunk carries rows only
        self._spec = client.scatter((screener.lists, screener.threshold), broadcast=True, hash=False)

    def _threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def __call__(self, rows: Iterable[InputRow]) -> Iterator[RowResult]:
        from concurrent.futures import CancelledError

        from distributed import KilledWorker
        from distributed.comm.core import CommClosedError

        client, key, spec = self.client, self.key, self._spec

        def submit(chunk: Encoded) -> Any:
            # scattered, not embedded in the task: Dask keeps its last 1,000 scheduler messages under
            # 1 MB for debugging, which would hold a gigabyte of rows; data transfers are not kept
            [data] = client.scatter([chunk], hash=False)
            return client.submit(_dask_task, key, spec, data, pure=False)

        try:
            yield from _ordered(
                rows,
                submit,
                lambda fut: fut.result(),
                lambda fut: fut.cancel(),
                max_rows=self.chunk_rows,
                seconds=DASK_CHUNK_SECONDS,
                inflight=INFLIGHT_PER_WORKER * self._threads(),
            )
        except KilledWorker as exc:  # the scheduler gave up on a chunk whose workers kept dying
            raise WorkerLost(f"Dask workers ended while screening a chunk ({exc}): the run is incomplete; "
                             "run it again, or give the workers more memory") from exc
        except CommClosedError as exc:  # a worker died while data was sent to it (`scatter`)
            raise WorkerLost(f"a Dask worker went away while the run sent it rows ({exc}): the run is "
                             "incomplete; run it again, or give the workers more memory") from exc
        except CancelledError as exc:  # the scheduler went away (or the cluster was closed) mid-run
            raise WorkerLost(f"the Dask scheduler dropped the run's work ({exc}): the run is incomplete; "
                             "run it again") from exc

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_address(address: str) -> None:
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except ValueError as exc:
        raise ValueError(f"bad Dask scheduler address {address!r} ({exc}): use tcp://host:8786") from None


def _close_dask(client: Any, cluster: Any) -> None:
    client.close()
    if cluster is not None:
        cluster.close()


def _lists_key(lists: Sequence[tuple[str, RestrictedList]], threshold: float) -> str:
    """Identifies a Screener by what decides its results: each list's key and content, and the threshold."""
    digest = hashlib.sha256(repr(threshold).encode())
    for key, lst in lists:
        digest.update(f"\0{key}\0{lst.content_hash}".encode())
    return digest.hexdigest()
