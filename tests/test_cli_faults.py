"""The CLI under signals and floods: real processes, real signals, real files read back."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from processes import session_pids  # tests/ is on sys.path

from screener.files.writers import CsvWriter
from screener.models import RowResult, RunSummary, Status
from screener.review.audit import verify
from screener.review.store import Store
from screener.shipment import MAX_DOCUMENT_BYTES


def _env(tmp_path: Path) -> dict[str, str]:
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "SCREENER_HOME": str(tmp_path / "home"), "TMPDIR": str(scratch)}
    env.pop("SCREENER_DB", None)
    return env


@pytest.mark.parametrize(("sig", "workers"), [(signal.SIGTERM, "1"), (signal.SIGINT, "2")])
def test_a_signalled_recorded_screen_leaves_nothing_and_is_marked_failed(tmp_path: Path, sig: int,
                                                                         workers: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    big = out / "big.csv"
    big.write_text("Customer\n" + "".join(f"Company number {i} Trading Ltd\n" for i in range(400_000)))
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "screener", "screen", str(big), "-o", str(out / "r.xlsx"), "--record", "--db", db,
         "--quiet", "--workers", workers],
        env=_env(tmp_path), stderr=subprocess.PIPE, start_new_session=True,
    )
    store = Store.open(db)
    deadline = time.monotonic() + 120
    while not store.list_runs(include_incomplete=True):  # recording has begun (the first batch is in)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.kill(proc.pid, sig)
    assert proc.wait(60) != 0
    time.sleep(0.5)
    assert session_pids(proc.pid) == []  # no pool worker outlives it
    assert sorted(p.name for p in out.iterdir()) == ["big.csv"]  # no .r.xlsx.*.tmp
    assert list((tmp_path / "tmp").iterdir()) == []  # no report scratch folder
    (run,) = store.list_runs(include_incomplete=True)
    assert run.status == "failed" and "interrupted" in (run.error or "")
    assert verify(store).ok
    store.close()


def test_an_unforeseen_fault_mid_run_still_fails_the_recorded_run(tmp_path: Path, monkeypatch) -> None:
    """A fault of our own (here a RuntimeError from inside the pipeline after two rows were
    screened) must not leave the run "running": it is recorded failed, naming the fault."""
    from typer.testing import CliRunner

    import screener.pipeline
    from screener.cli import app

    def faulty(screener, inputs, output, *, observe, **options):  # noqa: ANN001, ANN003
        for i in (1, 2):
            observe(RowResult(row=i + 1, input_name=f"Customer {i} Ltd", status=Status.CLEAR))
        raise RuntimeError("an index file changed under the run")

    source = tmp_path / "c.csv"
    source.write_text("Customer\nCustomer 1 Ltd\nCustomer 2 Ltd\nCustomer 3 Ltd\n")
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    for key, value in _env(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(screener.pipeline, "screen_files", faulty)
    result = CliRunner().invoke(app, ["screen", str(source), "-o", str(tmp_path / "r.csv"), "--record", "--db", db])
    assert result.exit_code != 0 and isinstance(result.exception, RuntimeError)
    store = Store.open(db)
    (run,) = store.list_runs(include_incomplete=True)
    assert run.status == "failed" and run.error == "RuntimeError: an index file changed under the run"
    assert [r.input_name for r in store.run_rows(run.run_id)] == ["Customer 1 Ltd", "Customer 2 Ltd"]
    assert verify(store).ok
    store.close()


def test_a_pool_worker_killed_mid_run_fails_the_run_and_leaves_no_output(tmp_path: Path) -> None:
    """A worker the kernel kills (out of memory, say) must never shorten the report into a clear one:
    the run fails with one line, exit 2, and neither the output nor its temp file is left."""
    out = tmp_path / "out"
    out.mkdir()
    big = out / "big.csv"
    big.write_text("Customer\n" + "".join(f"Company number {i} Trading Ltd\n" for i in range(400_000)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "screener", "screen", str(big), "-o", str(out / "r.csv"), "--quiet",
         "--workers", "2"],
        env=_env(tmp_path), stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    command = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    while len(workers := [p for p in session_pids(proc.pid)  # forked: the parent's command line
                          if p != proc.pid and Path(f"/proc/{p}/cmdline").read_bytes() == command]) < 2:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # rows are flowing
    os.kill(max(workers), signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert lines == ["screener: error: a screening worker process ended abruptly (killed, perhaps for lack of "
                     "memory): the run is incomplete; run it again, or with fewer --workers"]
    time.sleep(0.5)
    assert session_pids(proc.pid) == []  # the other worker went with it
    assert sorted(p.name for p in out.iterdir()) == ["big.csv"]  # no r.csv, no .r.csv.*.tmp


def _audit_runs(tmp_path: Path, db: str) -> list[list[str]]:
    """`screener audit runs` as a user runs it: its table, row by row."""
    done = subprocess.run([sys.executable, "-m", "screener", "audit", "runs", "--db", db], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120, check=True)
    return [line.split("\t") for line in done.stdout.splitlines()[1:]]


def test_a_recorded_screen_killed_with_sigkill_is_failed_by_the_next_audit_runs(tmp_path: Path) -> None:
    from screener.service.runs import REASON, STALE_SECONDS
    from screener.service.shared import Shared, svc_runs

    big = tmp_path / "big.csv"
    big.write_text("Customer\n" + "".join(f"Company number {i} Trading Ltd\n" for i in range(400_000)))
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "screener", "screen", str(big), "-o", str(tmp_path / "r.csv"), "--record", "--db", db,
         "--quiet"], env=_env(tmp_path), stderr=subprocess.PIPE, start_new_session=True,
    )
    store = Store.open(db)
    deadline = time.monotonic() + 120
    while not store.list_runs(include_incomplete=True):  # recording has begun (the first batch is in)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.1)
    (run,) = store.list_runs(include_incomplete=True)
    time.sleep(STALE_SECONDS + 1)  # longer than a heartbeat may be silent: only a live one is renewed
    assert proc.poll() is None, "the screening ended before it could be killed"
    (line,) = _audit_runs(tmp_path, db)
    assert line[0] == run.run_id and line[4] == "running"  # alive: never failed while it beats

    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    with store.engine.connect() as conn:
        (beat,) = conn.execute(sa.select(svc_runs.c.heartbeat_at)).scalars()
    time.sleep(max(0.0, beat + STALE_SECONDS + 0.5 - time.time()))
    (line,) = _audit_runs(tmp_path, db)
    assert line[0] == run.run_id and line[4] == "failed"
    failed = store.get_run(run.run_id)
    assert failed.error == REASON and failed.finished_at is not None
    assert verify(store).ok, verify(store).problem  # failed on the audit chain, which holds
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(svc_runs)).scalar() == 0
    assert Shared(store.engine).silent_runs(time.time()) == []
    store.close()


def _check_stdin_peak(tmp_path: Path, document: bytes) -> int:
    """Peak RSS of `screener check -` given a small document."""
    proc = subprocess.Popen([sys.executable, "-m", "screener", "check", "-"], env=_env(tmp_path),
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.stdin.write(document)  # type: ignore[union-attr]
    proc.stdin.close()  # type: ignore[union-attr]
    return os.wait4(proc.pid, 0)[2].ru_maxrss * 1024


def test_check_from_stdin_stops_reading_past_its_limit(tmp_path: Path) -> None:
    baseline = _check_stdin_peak(tmp_path, b'{"id": "S", "parties": [{"name": "Nordic Precision AB"}]}')
    proc = subprocess.Popen([sys.executable, "-m", "screener", "check", "-"], env=_env(tmp_path),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunk = b'{"id": "S", "parties": [' + b" " * (1024 * 1024)
    sent = 0

    def flood() -> None:
        nonlocal sent
        try:
            while sent < 400 * 1024 * 1024:
                proc.stdin.write(chunk)  # type: ignore[union-attr]
                sent += len(chunk)
        except (BrokenPipeError, OSError):
            pass

    writer = threading.Thread(target=flood, daemon=True)
    writer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    writer.join(30)
    err = proc.stderr.read().decode()  # type: ignore[union-attr]
    assert os.waitstatus_to_exitcode(status) == 2 and "larger than" in err and "Traceback" not in err
    assert sent < 100 * 1024 * 1024, f"{sent:,} bytes were read"  # it stopped reading, the pipe broke
    assert usage.ru_maxrss * 1024 < baseline + 4 * MAX_DOCUMENT_BYTES, (usage.ru_maxrss * 1024, baseline)


HOSTILE = ["Acme;=1+1;", "Acme\t@SUM(A1)", "x,-2+3", "=HYPERLINK(\"http://x\",\"y\")", "a\n=b", "plain; name"]


def test_csv_output_is_inert_in_every_delimiter_locale(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    writer = CsvWriter(path)
    for i, name in enumerate(HOSTILE, start=2):
        writer.write(RowResult(row=i, input_name=name, status=Status.CLEAR))
    writer.close(RunSummary(run_id="r", tool_version="t", started_at="now", duration_seconds=0.0, threshold=75.0,
                            rows_read=len(HOSTILE), rows_reported=len(HOSTILE)))
    text = path.read_text(encoding="utf-8-sig")
    for delimiter in (",", ";", "\t"):  # however a spreadsheet splits the lines, no cell is a formula
        for line in text.splitlines():
            for cell in line.split(delimiter):
                assert not cell.lstrip('"').startswith(("=", "+", "-", "@")), (delimiter, cell)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        names = [r["input_name"] for r in csv.DictReader(fh)]
    assert names == ["Acme;'=1+1;", "Acme\t'@SUM(A1)", "x,'-2+3", "'=HYPERLINK(\"http://x\",\"y\")", "a\n'=b",
                     "plain; name"]
    assert '"plain; name"' in text and '"Acme\t\'@SUM(A1)"' in text  # text with ; or tab is quoted
