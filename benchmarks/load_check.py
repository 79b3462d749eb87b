"""Load benchmark for the pre-shipment check: latency and throughput over HTTP, and in process.

Starts `screener serve` on a free loopback port (1, then 2
workers), drives it with httpx (async, bounded concurrency, bounded duration) and prints, per
worker count:

- closed-loop throughput and p50/p99 latency of `POST /v1/check` for a five-party shipment, from
  httpx and, to tell the server's capacity from the driver's cost on a small machine, from a
  minimal asyncio HTTP/1.1 client;
- an open-loop phase paced at 500 checks/s: latency at the target rate;
- 100 concurrent clients for a bounded time: errors (must be 0) and latency;
- check latency while a ~50k-row file upload is being screened (does the upload stall checks?);

plus the in-process cost of `check_shipment` per party. Targets: p99 < 20 ms, >= 500 checks/s,
< 1 ms per party in process. Everything stops by itself; nothing leaves 127.0.0.1.

`--faults` measures the service under load instead (issue 14), with 2 workers, while a
`--upload-rows` (default 1M) upload is screened, and while two clients post 5,000-name `/v1/screen`
batches back to back; each phase against the idle server just before (the baseline), all from the
minimal driver. Two views of the same `/v1/check` traffic, both printed:

- closed loop: 50 clients send back to back for `--duration` s. This measures capacity: the server
  is always saturated, so latency is mostly queueing (Little's law: 50 in flight at X checks/s
  means a mean of 50/X s each, and p99 above it), whatever a single check costs;
- open loop: 50 clients paced at `--rate` checks/s in total (default 250 with --faults), each send
  on a fixed schedule, latency counted from the scheduled send time, so a server that falls
  behind shows as latency (and sends it never got to as errors) instead of quietly lowering the
  rate. This is what a pre-shipment hook sees: shipments arrive when they arrive.

Targets: 0 errors; >= 200 checks/s closed loop during the upload; check p99 < 100 ms at the paced
rate during the upload and during the batches.

    python benchmarks/load_check.py [--duration 10] [--workers 1,2] [--upload-rows 50000]
    python benchmarks/load_check.py --faults [--duration 30] [--upload-rows 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import multiprocessing
import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

KEY = "bench-key"
HEADERS = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
SHIPMENT = {
    "id": "BENCH-1",
    "parties": [
        {"role": "purchaser", "name": "Nordic Precision AB", "country": "SE"},
        {"role": "intermediate_consignee", "name": "Northwind Traders Ltd", "country": "GB"},
        {"role": "ultimate_consignee", "name": "Acme Widgets GmbH", "country": "DE"},
        {"role": "end_user", "name": "Hangzhou Hikvision Digital Technology Co., Ltd.", "country": "CN"},
        {"role": "forwarding_agent", "name": "Globex Freight Forwarding Co", "country": "NL"},
    ],
}
BODY = json.dumps(SHIPMENT).encode()
NO_TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fmt(lat: list[float]) -> str:
    return f"p50 {pct(lat, 0.50) * 1000:6.2f} ms  p99 {pct(lat, 0.99) * 1000:6.2f} ms  max {max(lat, default=0) * 1000:7.1f} ms"


class ServerProcess:
    def __init__(self, workers: int, home: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SCREENER_HOME": str(home), "SCREENER_API_KEYS": KEY}
        cmd = [sys.executable, "-m", "screener", "serve", "--port", str(self.port), "--workers", str(workers),
               "--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, env=env, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group: uvicorn and its workers
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


async def drive(url: str, concurrency: int, duration: float, stop: asyncio.Event | None = None) -> tuple[list[float], int, float]:
    """Closed loop: `concurrency` clients send checks back to back until `duration` or `stop`.

    Each client has its own AsyncClient and keep-alive connection, as separate pipeline jobs
    would; one shared pool would make httpx itself the bottleneck (its pool work grows with the
    number of waiting requests)."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    # Plain HTTP on loopback: one unused TLS context for all, instead of loading CA files per client.
    clients = [httpx.AsyncClient(base_url=url, limits=limits, timeout=30, verify=NO_TLS) for _ in range(concurrency)]
    end = time.perf_counter() + duration

    async def one(client: httpx.AsyncClient) -> None:
        nonlocal errors
        async with client:
            while time.perf_counter() < end and not (stop and stop.is_set()):
                t0 = time.perf_counter()
                try:
                    r = await client.post("/v1/check", content=BODY, headers=HEADERS)
                    ok = r.status_code == 200 and r.json()["decision"] == "HOLD"
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(one(c) for c in clients))
    return latencies, errors, time.perf_counter() - t0


async def drive_rate(url: str, rate: float, clients: int, duration: float) -> tuple[list[float], int, float]:
    """Open loop: checks sent on a fixed schedule (`rate` per second over `clients` connections).
    Latency is measured from the scheduled send time, so a server falling behind shows as latency
    instead of silently lowering the rate."""
    latencies: list[float] = []
    errors = 0
    interval = clients / rate
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    pool = [httpx.AsyncClient(base_url=url, limits=limits, timeout=30, verify=NO_TLS) for _ in range(clients)]
    start = time.perf_counter() + 0.1
    end = start + duration
    give_up = end + duration  # a server far behind: stop anyway, count what was never sent

    async def one(i: int, client: httpx.AsyncClient) -> None:
        nonlocal errors
        due = start + i * interval / clients
        async with client:
            while due < end:
                if time.perf_counter() > give_up:
                    errors += int((end - due) / interval) + 1
                    return
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    r = await client.post("/v1/check", content=BODY, headers=HEADERS)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - due)
                else:
                    errors += 1
                due += interval

    await asyncio.gather(*(one(i, c) for i, c in enumerate(pool)))
    return latencies, errors, max(time.perf_counter() - start, 1e-9)


RAW_REQUEST = (f"POST /v1/check HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n").encode() + BODY


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """One check on a kept-alive connection, parsing no more than Content-Length: whether it was 200."""
    writer.write(RAW_REQUEST)
    header = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in header.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    await reader.readexactly(length)
    return header.startswith(b"HTTP/1.1 200")


async def drive_raw(port: int, concurrency: int, duration: float) -> tuple[list[float], int, float]:
    """The same closed loop from a minimal HTTP/1.1 client (one write per request, no parsing
    beyond Content-Length): what the server sustains when the driver costs next to nothing."""
    latencies: list[float] = []
    errors = 0
    end = time.perf_counter() + duration

    async def one() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                if await exchange(reader, writer):
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - t0


async def drive_raw_rate(port: int, rate: float, clients: int, duration: float) -> tuple[list[float], int, float]:
    """Open loop from the minimal client: `clients` connections, each sending on a fixed schedule
    (`rate` per second in total, the clients' slots interleaved). A response that comes after the
    next slot delays that send, and the delay counts in its latency (measured from the slot), so
    the figures do not omit the waits of a server that fell behind."""
    latencies: list[float] = []
    errors = 0
    interval = clients / rate
    start = time.perf_counter() + 0.5
    end = start + duration
    give_up = end + duration  # a server far behind: stop anyway, count the sends never made

    async def one(i: int) -> None:
        nonlocal errors
        due = start + i * interval / clients
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while due < end:
                if time.perf_counter() > give_up:
                    errors += int((end - due) / interval) + 1
                    return
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if await exchange(reader, writer):
                    latencies.append(time.perf_counter() - due)
                else:
                    errors += 1
                due += interval
        finally:
            writer.close()

    await asyncio.gather(*(one(i) for i in range(clients)))
    return latencies, errors, max(time.perf_counter() - start, 1e-9)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_upload(rows: int, folder: Path) -> Path:
    path = folder / "orders.csv"
    listed = ["Hangzhou Hikvision Digital Technology Co., Ltd.", "Huawei Technologies Co Ltd", "Dahua Technology"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Order", "Customer Name", "Country"])
        for i in range(rows):
            name = listed[i % 3] if i % 500 == 0 else f"Company {i} Precision Trading Ltd"
            w.writerow([i, name, "CN" if i % 2 else "DE"])
    return path


async def upload_stall(url: str, path: Path, concurrency: int) -> dict[str, object]:
    """Check latency while the file is uploaded and screened, against a baseline just before."""
    base, base_err, _ = await drive(url, concurrency, 3.0)
    stop = asyncio.Event()
    result: dict[str, object] = {}

    async def upload() -> None:
        t0 = time.perf_counter()
        async with httpx.AsyncClient(base_url=url, timeout=600) as client:
            with path.open("rb") as fh:
                r = await client.post("/v1/screen/file?format=xlsx", files={"file": ("orders.csv", fh)},
                                      headers={"Authorization": f"Bearer {KEY}"})
        result["upload_status"] = r.status_code
        result["upload_seconds"] = time.perf_counter() - t0
        result["upload_rows"] = r.headers.get("x-screener-rows")
        stop.set()

    during_task = asyncio.create_task(drive(url, concurrency, 600, stop))
    await upload()
    during, during_err, _ = await during_task
    result.update(base=base, during=during, errors=base_err + during_err)
    return result


async def screen_batches(url: str, clients: int, names: int, stop: Any) -> tuple[int, int]:
    """`clients` loops posting `names`-party /v1/screen batches until `stop` is set: (batches, errors)."""
    body = json.dumps({"parties": [{"name": f"Company {i} Precision Trading Ltd", "country": "DE"}
                                   for i in range(names)]}).encode()
    done = errors = 0

    async def one() -> None:
        nonlocal done, errors
        async with httpx.AsyncClient(base_url=url, timeout=300) as client:
            while not stop.is_set():
                r = await client.post("/v1/screen", content=body, headers=HEADERS)
                if r.status_code == 200 and len(r.json()["results"]) == names:
                    done += 1
                else:
                    errors += 1

    await asyncio.gather(*(one() for _ in range(clients)))
    return done, errors


def _upload(url: str, path: Path, out: Any) -> None:
    async def run() -> int:
        async with httpx.AsyncClient(base_url=url, timeout=3600) as client:
            with path.open("rb") as fh:
                r = await client.post("/v1/screen/file", files={"file": ("orders.csv", fh)},
                                      headers={"Authorization": f"Bearer {KEY}"})
        return r.status_code

    out.put(asyncio.run(run()))


def _batches(url: str, stop: Any, out: Any) -> None:
    out.put(asyncio.run(screen_batches(url, 2, 5_000, stop)))


def _niced(target: Callable[..., None], *args: Any) -> None:
    os.nice(10)
    target(*args)


def load_process(target: Callable[..., None], *args: Any) -> tuple[multiprocessing.Process, Any]:
    """A load generator in a process of its own: posting a 46 MiB file or parsing 5,000-result
    responses in the measuring process would stall its event loop, and the stall would be counted
    as server latency. The server's clients are separate programs on other machines too; here they
    share the server's 2 cores, so the generator runs at a lower priority (nice 10), as the server's
    own screening workers do: the client's parsing of its results is not the server's work."""
    out = multiprocessing.Queue()
    proc = multiprocessing.Process(target=_niced, args=(target, *args, out), daemon=True)
    proc.start()
    return proc, out


def _line(label: str, lat: list[float], err: int, secs: float) -> None:
    print(f"  {label:<44} {len(lat) / secs:6.0f} checks/s  {fmt(lat)}  errors {err}")


def connection_split(port: int) -> str:
    """How many of the established connections to `port` each server process holds (from `ss`).
    With uvicorn's one shared listening socket 50 kept-alive clients split up to 46/4 and one worker
    queued while the other idled; `serve` now gives each worker its own socket
    (`screener.service.workers`). Printed beside the figures, which depend on it."""
    try:
        out = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
                             capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    per_pid: dict[str, int] = {}
    for line in out.splitlines():
        if "pid=" in line:
            pid = line.split("pid=", 1)[1].split(",", 1)[0]
            per_pid[pid] = per_pid.get(pid, 0) + 1
    return "/".join(str(n) for n in sorted(per_pid.values(), reverse=True)) or "?"


async def both_loops(port: int, clients: int, rate: float, duration: float, label: str) -> None:
    """The closed-loop and then the open-loop figures for one state of the server."""
    for loop_label, run in ((f"{label}, closed loop", drive_raw(port, clients, duration)),
                            (f"{label}, paced at {rate:g}/s", drive_raw_rate(port, rate, clients, duration))):
        task = asyncio.create_task(run)
        await asyncio.sleep(min(2.0, duration / 2))
        split = await asyncio.to_thread(connection_split, port)
        lat, err, secs = await task
        _line(loop_label, lat, err, secs)
        print(f"  {'':<44} connections per worker {split}")


async def during_upload(url: str, port: int, path: Path, clients: int, duration: float, rate: float) -> None:
    """Checks from `clients` clients (the minimal driver, so that on 2 cores the driver's own CPU
    does not pass for the server's): idle, then while a big upload is screened."""
    await both_loops(port, clients, rate, min(duration, 10.0), "idle (baseline)")

    proc, out = load_process(_upload, url, path)
    await asyncio.sleep(5.0)  # the file is sent and its screening under way
    await both_loops(port, clients, rate, duration, f"during a {path.stat().st_size / 2**20:.0f} MiB upload")
    print(f"  (upload {'still screening' if out.empty() else 'done: HTTP ' + str(out.get())} at the end of both)")
    proc.terminate()
    proc.join()


async def during_batches(url: str, port: int, clients: int, duration: float, rate: float) -> None:
    """The same checks, idle and while two clients post 5,000-name /v1/screen batches back to back."""
    await both_loops(port, clients, rate, min(duration, 10.0), "idle (baseline)")
    stop = multiprocessing.Event()
    proc, out = load_process(_batches, url, stop)
    await asyncio.sleep(1.0)
    await both_loops(port, clients, rate, duration, "during 2 x 5,000-name /v1/screen")
    stop.set()
    done, batch_errors = await asyncio.to_thread(out.get, True, 600)
    proc.join()
    print(f"  ({done} batches of 5,000 screened, {batch_errors} errors)")


def in_process(repeat: int = 2000) -> float:
    from screener.screening import Screener
    from screener.shipment import Shipment, check_shipment

    screener = Screener.default()
    shipment = Shipment.model_validate(SHIPMENT)
    check_shipment(shipment, screener)
    t0 = time.perf_counter()
    for _ in range(repeat):
        check_shipment(shipment, screener)
    return (time.perf_counter() - t0) / repeat / len(shipment.parties)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per measured phase")
    ap.add_argument("--concurrency", type=int, default=8, help="clients in the throughput phase")
    ap.add_argument("--clients", type=int, default=100, help="clients in the many-clients phase")
    ap.add_argument("--rate", type=float, default=None, help="checks/s in the paced (open-loop) phases "
                    "(default 500; 250 with --faults)")
    ap.add_argument("--workers", default="1,2", help="uvicorn worker counts to measure")
    ap.add_argument("--upload-rows", type=int, default=None, help="default 50,000 (1,000,000 with --faults)")
    ap.add_argument("--faults", action="store_true", help="the service under load (issue 14), 2 workers")
    args = ap.parse_args(argv)
    if args.faults:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            upload = make_upload(args.upload_rows or 1_000_000, home)
            rate = args.rate or 250
            print(f"2 workers, 50 clients of /v1/check, {args.duration:g} s per loaded phase and loop; "
                  "a new server each; paced latency from the scheduled send")
            for phase in (lambda s: during_upload(s.url, s.port, upload, 50, args.duration, rate),
                          lambda s: during_batches(s.url, s.port, 50, args.duration, rate)):
                server = ServerProcess(2, home)
                try:
                    server.wait_ready()
                    time.sleep(3.0)  # both workers up
                    asyncio.run(drive(server.url, 8, 2.0))  # warm up every worker
                    asyncio.run(phase(server))
                finally:
                    server.stop()
        return 0
    args.upload_rows = args.upload_rows or 50_000
    args.rate = args.rate or 500

    per_party = in_process()
    print(f"in process: check_shipment {per_party * 1000:.3f} ms per party "
          f"({per_party * 5 * 1000:.3f} ms per five-party shipment)")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        upload = make_upload(args.upload_rows, home)
        print(f"upload file: {args.upload_rows:,} rows, {upload.stat().st_size / 2**20:.1f} MiB")
        for workers in [int(w) for w in args.workers.split(",")]:
            server = ServerProcess(workers, home)
            try:
                server.wait_ready()
                asyncio.run(drive(server.url, args.concurrency, 2.0))  # warm up every worker
                cpu0 = cpu_seconds()
                lat, err, secs = asyncio.run(drive(server.url, args.concurrency, args.duration))
                client_ms = (cpu_seconds() - cpu0) / max(len(lat), 1) * 1000
                print(f"\n{workers} worker(s), {args.concurrency} clients, {secs:.1f} s: "
                      f"{len(lat) / secs:7.0f} checks/s  {fmt(lat)}  errors {err}  "
                      f"(httpx driver: {client_ms:.2f} ms CPU per check)")
                lat, err, secs = asyncio.run(drive_raw(server.port, args.concurrency, args.duration))
                print(f"{'':>12}minimal driver, {args.concurrency} clients: "
                      f"{len(lat) / secs:7.0f} checks/s  {fmt(lat)}  errors {err}")
                lat, err, secs = asyncio.run(drive_rate(server.url, args.rate, 16, args.duration))
                print(f"{workers} worker(s), paced at {args.rate:g}/s (16 clients), {secs:.1f} s: "
                      f"{len(lat) / secs:7.0f} checks/s  {fmt(lat)}  errors {err}")
                lat, err, secs = asyncio.run(drive(server.url, args.clients, args.duration))
                print(f"{workers} worker(s), {args.clients} clients, {secs:.1f} s: "
                      f"{len(lat) / secs:7.0f} checks/s  {fmt(lat)}  errors {err}")
                res = asyncio.run(upload_stall(server.url, upload, 4))
                print(f"{workers} worker(s), upload {res['upload_rows']} rows -> HTTP {res['upload_status']} "
                      f"in {res['upload_seconds']:.1f} s; checks (4 clients) before: {fmt(res['base'])}")  # type: ignore[arg-type]
                print(f"{'':>12}checks during the upload: {fmt(res['during'])}  "  # type: ignore[arg-type]
                      f"n={len(res['during'])}  errors {res['errors']}")  # type: ignore[arg-type]
            finally:
                server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
