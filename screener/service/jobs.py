"""Screening jobs: a queue in the store, run in a small pool of worker processes.

Uploads from the page and `/v1/screen/file` become rows of `svc_jobs` (queued), each with one
private folder `<home>/jobs/<id>/` holding the upload, the output and any scratch file (the worker
points `tempfile` there). Every server process runs a dispatcher that claims queued jobs of its
machine while it has a free slot: `SLOTS` per process, of which at most `BIG_SLOTS` for uploads over
`SMALL_BYTES`, so a one-row upload never waits behind a million-row one; between users the one with
fewest running jobs goes first. A restart loses nothing queued.

Workers run at a lower CPU priority (checks stay fast), die with their server process, report
progress and a heartbeat, and stop at the next heartbeat when the job is cancelled. Before each job
a worker checks that its lists are still the catalog's current versions (`refresh.behind`), and
reloads them from the on-disk index cache when not: a job started after `lists update` or the
scheduled refresh screens against the new version, and its run records that version. A job whose
server process died (seen at the next start on this machine, or by its silent heartbeat from any
process) is marked failed with the reason, and so is its audit run; its folder is removed. Folders
of ended jobs, and any left by a crash, are removed too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import secrets
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from screener.files.outputs import open_writer
from screener.files.readers import ColumnNotFound, InputError, InputSource, open_input
from screener.home import home, private_dir
from screener.models import InputRow, RowResult
from screener.pipeline import screen_sources
from screener.runtime.lifetime import die_with_parent
from screener.screening import Screener
from screener.service.refresh import behind
from screener.service.settings import Settings
from screener.service.shared import HOST, JobRow, Shared
from screener.service.state import Decisions, build_screener

log = logging.getLogger("screener.service")

JOBS_DIR = "jobs"
SLOTS = 2  # jobs screening at once per server process
BIG_SLOTS = 1  # of which uploads larger than SMALL_BYTES may take this many
SMALL_BYTES = 1024 * 1024  # about 20,000 rows of csv
POLL_SECONDS = 1.0  # the dispatcher looks for queued jobs at least this often
HEARTBEAT_SECONDS = 2.0
STALE_SECONDS = 30.0  # a running job silent this long has lost its server process
PROGRESS_SECONDS = 0.5
GRACE_SECONDS = 60.0  # an unknown folder this old is a leftover; an ended API job's folder goes after it
COLUMNS_SECONDS = 3600  # an upload waiting for a column choice is kept this long
KEEP_SECONDS = 24 * 3600  # ended jobs are forgotten after this
WORKER_NICE = 10
DEAD = "The screening stopped: the server process running it ended (restart, crash or out of memory)."
PROCESS_TOKEN = secrets.token_hex(4)  # tells this process from an earlier one that had the same pid
FAILED = "Screening failed; the run was not completed. Try again, or ask your administrator."


def jobs_root() -> Path:
    return private_dir(home() / JOBS_DIR)


def new_folder() -> tuple[str, Path]:
    """A job id and its private folder (0700)."""
    job_id = secrets.token_urlsafe(18)
    return job_id, private_dir(jobs_root() / job_id)


def remove_folder(path: Path) -> None:
    """Remove a job folder; only ever one directly under the jobs root."""
    if path.parent == jobs_root():
        shutil.rmtree(path, ignore_errors=True)


# --- in a worker process --------------------------------------------------------------------------


class Cancelled(Exception):
    pass


class TooManyRows(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the file has more than {limit:,} data rows (limit {limit:,})")
        self.limit = limit


class StoreUnavailable(Exception):
    pass


_WORKER: dict[str, Any] = {}


def _init_worker(settings_data: dict[str, Any]) -> None:
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's: it fails the jobs it stops
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)
    settings = Settings.model_validate(settings_data)
    decisions = Decisions(settings.db_url)
    _WORKER.update(settings=settings, screener=build_screener(settings), decisions=decisions, shared=None)


def _shared() -> Shared:
    if _WORKER.get("shared") is None:
        store = _WORKER["decisions"].store()
        if store is None:
            raise StoreUnavailable()
        _WORKER["shared"] = Shared(store.engine)
    return _WORKER["shared"]  # type: ignore[no-any-return]


def _screener() -> Screener:
    """This worker's screener, rebuilt (from the on-disk index cache) when a list it screens against
    has another current version in the catalog: a worker outlives `lists update` and the refresh."""
    screener: Screener = _WORKER["screener"]
    try:
        stale = behind(screener, _WORKER["settings"].lists)
    except Exception as exc:  # noqa: BLE001 - an unreadable catalog: keep screening what we hold, recorded as such
        log.warning("cannot read the list catalog (%s); screening against the versions loaded", exc)
        return screener
    if stale:
        screener = _WORKER["screener"] = build_screener(_WORKER["settings"])
        log.info("worker %d now screens against %s", os.getpid(),
                 ", ".join(f"{i.key} {i.version}" for i in screener.list_infos()))
    return screener


def _with_worker(fn: Any, *args: Any) -> Any:
    """`fn(screener, decisions, *args)` with this worker's (current) screener and decisions."""
    return fn(_screener(), _WORKER["decisions"], *args)


def work(job_id: str) -> None:
    """Run one claimed job to its end (done, failed, cancelled or waiting for a column choice)."""
    shared = _shared()
    job = shared.job(job_id)
    if job is None:
        return
    scratch = private_dir(job.folder / "tmp")
    tempfile.tempdir = str(scratch)  # the report's scratch files live and die with the job
    try:
        _work(shared, job)
    finally:
        tempfile.tempdir = None


def _work(shared: Shared, job: JobRow) -> None:
    spec = job.spec
    web = job.kind == "web"
    try:
        source = open_input(Path(spec["input"]), display_name=job.file_name, **spec["options"])
    except ColumnNotFound as exc:
        if web:
            spec.update(headers=[h for h in exc.headers if h][:500], message=str(exc))
            shared.update_job(job.id, state="columns", owner=None, spec=spec)
        else:
            _end(shared, job, "failed", result={"kind": "input", "value": str(exc), "detail": exc.headers})
        return
    except InputError as exc:
        _end(shared, job, "failed", error=str(exc), result={"kind": "input", "value": str(exc), "stage": "open"})
        return
    try:
        shared.update_job(job.id, state="running", total=_estimate_rows(Path(spec["input"]), source))
        _screen(shared, job, source)
    except Cancelled:
        _end(shared, job, "cancelled", error="Cancelled.", result={"kind": "cancelled", "value": "cancelled"})
    except TooManyRows as exc:
        message = f"{job.file_name}: more than {exc.limit:,} rows: split the file" if web else str(exc)
        _end(shared, job, "failed", error=message, result={"kind": "rows", "value": str(exc)})
    except InputError as exc:
        _end(shared, job, "failed", error=str(exc), result={"kind": "input", "value": str(exc)})
    except StoreUnavailable:
        message = "the audit store is unavailable; the run cannot be recorded"
        _end(shared, job, "failed", error=message, result={"kind": "store", "value": message})
    except Exception:
        error_id = uuid.uuid4().hex[:12]
        log.exception("internal error %s while screening job %s", error_id, job.id)
        _end(shared, job, "failed", error=FAILED, result={"kind": "error", "value": error_id})
    finally:
        source.close()


def _screen(shared: Shared, job: JobRow, source: InputSource) -> None:
    spec = job.spec
    screener = _screener()  # the catalog's current versions when the job starts; the run records them
    decisions: Decisions = _WORKER["decisions"]
    limit = int(spec["max_rows"])
    store = decisions.store()
    record = bool(spec.get("record"))
    if record and store is None:
        raise StoreUnavailable()

    def limited(rows: Iterable[InputRow]) -> Iterator[InputRow]:
        for n, row in enumerate(rows, start=1):
            if n > limit:
                raise TooManyRows(limit)
            yield row

    def screen_fn(rows: Iterable[InputRow]) -> Iterator[RowResult]:
        results = screener.screen_rows(limited(rows))
        return iter(store.apply_decisions(results, screener)) if store is not None else results

    recorder = store.recorder(user=spec["user"], source=job.kind) if record else None
    if recorder is not None:
        shared.update_job(job.id, run_id=recorder.run_id)
    count, last = 0, time.monotonic()

    def observe(result: RowResult) -> None:
        nonlocal count, last
        if recorder is not None:
            recorder.observe(result)
        count += 1
        if time.monotonic() - last > PROGRESS_SECONDS:
            last = time.monotonic()
            if shared.progress(job.id, count):
                raise Cancelled()

    output = Path(spec["output"])
    try:
        writer = open_writer(output, screener.lists)
        summary = screen_sources(screener, [source], writer, screen=screen_fn, user=spec["user"], observe=observe)
        if recorder is not None:
            recorder.finish(summary)
    except BaseException as exc:
        if recorder is not None:
            with contextlib.suppress(Exception):
                recorder.abort("cancelled by the user" if isinstance(exc, Cancelled) else (str(exc) or type(exc).__name__))
        raise
    if job.kind == "web":
        os.replace(output, private_dir(home() / "reports") / f"{summary.run_id}.xlsx")
    _end(shared, job, "done", rows=count, run_id=summary.run_id,
         result={"kind": "ok", "value": summary.model_dump_json()})


def _end(shared: Shared, job: JobRow, state: str, *, result: dict[str, Any], **values: Any) -> None:
    """Web jobs lose their folder before they are seen as ended; API jobs keep the output for the
    request streaming it (which removes the folder), and only the upload goes now."""
    if job.kind == "web":
        remove_folder(job.folder)
    else:
        Path(job.spec["input"]).unlink(missing_ok=True)
    shared.end_job(job.id, state, result=json.dumps(result), **values)


def _estimate_rows(path: Path, source: InputSource) -> int | None:
    """A cheap row count for the progress bar (lines of text, or the sheets' stated dimensions)."""
    try:
        if source.kind == "csv":
            with path.open("rb") as fh:
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
            return max(1, lines)
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        try:
            return max(1, sum((book[s].max_row or 0) - 1 for s in source.sheets if s in book.sheetnames))
        finally:
            book.close()
    except Exception:  # noqa: BLE001 - only a progress bar
        return None


# --- in the server process ------------------------------------------------------------------------


def fail_run(engine: sa.Engine, run_id: str, reason: str) -> None:
    """Mark a run its dead worker left "running" as failed, with the reason, on the audit trail."""
    from screener.review.audit import append_event, run_event, stored_rows_digest
    from screener.review.schema import now, runs

    with engine.connect().execution_options(write_lock=True) as conn, conn.begin():
        done = conn.execute(runs.update().where(runs.c.run_id == run_id, runs.c.status == "running")
                            .values(status="failed", finished_at=now(), error=reason[:1000])).rowcount
        if not done:
            return
        row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).one()
        append_event(conn, row.user, "run", row.run_id, run_event(row, stored_rows_digest(conn, row.id)))


class Runner:
    """This server process's dispatcher and its pool of worker processes."""

    def __init__(self, settings: Settings, shared: Any) -> None:
        self.settings = settings
        self._shared = shared  # a callable returning the Shared tables (the store opens lazily)
        self.owner = f"{HOST}:{os.getpid()}:{PROCESS_TOKEN}"  # one per process: all its apps share it
        self._pool: ProcessPoolExecutor | None = None
        self._running: dict[str, JobRow] = {}
        self._wakeup = asyncio.Event()
        self._ended: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def shared(self) -> Shared:
        return self._shared()  # type: ignore[no-any-return]

    def start(self) -> None:
        """Start the dispatcher. The workers start with the first job: started here, they would
        load the lists while the server's first checks are answered, and slow them."""
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """At shutdown: the workers are killed and their jobs (and runs) marked failed now."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._kill_pool()
        for job in list(self._running.values()):
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._fail, job, "the server was stopped while screening it")

    def wake(self) -> None:
        self._wakeup.set()

    async def wait(self, job_id: str, timeout: float) -> JobRow | None:
        """The job once ended (or waiting for a column choice); None if still going after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            job = await asyncio.to_thread(self.shared.job, job_id)
            if job is None or job.state not in ("queued", "opening", "running"):
                return job
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            event = self._ended.setdefault(job_id, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(left, 0.5))

    async def run_in_pool(self, fn: Any, *args: Any) -> Any:
        """`fn(screener, decisions, *args)` in a worker process: large batches stay off this process."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._ensure_pool(), _with_worker, fn, *args)
        except BrokenProcessPool:
            self._kill_pool()
            raise

    # -- the dispatcher --------------------------------------------------------------------------

    async def _loop(self) -> None:
        last = 0.0
        while True:
            try:
                if time.monotonic() - last > HEARTBEAT_SECONDS:
                    await asyncio.to_thread(self.housekeeping)
                    last = time.monotonic()
                await self._fill()
            except Exception as exc:  # noqa: BLE001 - the store is down: try again later
                log.warning("job queue unavailable (%s)", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), POLL_SECONDS)
            self._wakeup.clear()

    async def _fill(self) -> None:
        while len(self._running) < SLOTS:
            big_allowed = sum(j.size > SMALL_BYTES for j in self._running.values()) < BIG_SLOTS
            job = await asyncio.to_thread(self.shared.claim, self.owner, small_bytes=SMALL_BYTES,
                                          big_allowed=big_allowed)
            if job is None:
                return
            self._running[job.id] = job
            asyncio.get_running_loop().create_task(self._execute(job))

    async def _execute(self, job: JobRow) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._ensure_pool(), work, job.id)
        except BrokenProcessPool:
            self._kill_pool()
            await asyncio.to_thread(self._fail, job, "the screening process stopped unexpectedly (out of memory or killed)")
        except Exception:
            log.exception("job %s could not be run", job.id)
            await asyncio.to_thread(self._fail, job, FAILED)
        finally:
            self._running.pop(job.id, None)
            event = self._ended.pop(job.id, None)
            if event is not None:
                event.set()
            self.wake()

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=SLOTS, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(self.settings.model_dump(),),
            )
        return self._pool

    def _kill_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for proc in list(getattr(pool, "_processes", {}).values()):
            with contextlib.suppress(Exception):
                proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    # -- recovery and clean-up -------------------------------------------------------------------

    def _fail(self, job: JobRow, reason: str) -> None:
        shared = self.shared
        latest = shared.job(job.id) or job
        if shared.end_job(job.id, "failed", error=DEAD if job.kind == "web" else reason,
                          result=json.dumps({"kind": "error", "value": reason})) and latest.run_id:
            fail_run(shared.engine, latest.run_id, reason)
        remove_folder(job.folder)  # nobody will read its output

    def housekeeping(self) -> None:
        """Heartbeat of our jobs; fail the jobs of dead processes; remove folders no job needs."""
        shared = self.shared
        shared.beat(self.owner)
        for job in shared.orphans(self._alive, STALE_SECONDS):
            log.warning("job %s lost its server process; marked failed", job.id)
            self._fail(job, "the server process screening it ended (restart, crash or out of memory)")
        now = time.time()
        for job in shared.expired(now - GRACE_SECONDS):
            if job.state == "columns" and job.created_at > now - COLUMNS_SECONDS:
                continue
            if job.state == "columns":
                shared.end_job(job.id, "cancelled", error="No column was chosen in time.")
            remove_folder(job.folder)
        needed = shared.job_folders()
        for folder in jobs_root().iterdir():
            with contextlib.suppress(OSError):
                if str(folder) not in needed and folder.stat().st_mtime < now - GRACE_SECONDS:
                    shutil.rmtree(folder, ignore_errors=True)
        shared.forget_jobs(now - KEEP_SECONDS)

    def _alive(self, owner: str | None) -> bool:
        """Whether the process named by an owner tag still runs (on another machine: assumed so)."""
        host, _, rest = (owner or "").partition(":")
        pid_text = rest.partition(":")[0]
        if owner == self.owner:
            return True
        if host != HOST or not pid_text.isdigit():
            return host != HOST
        if int(pid_text) == os.getpid():
            return False  # our pid, another token: a process before us
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
