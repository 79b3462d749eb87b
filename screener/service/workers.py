"""`serve --workers N`: N server processes, each with a listening socket of its own on one port.

uvicorn's own supervisor hands one listening socket to all its workers, and whichever worker wakes
first accepts a burst of new connections: 50 kept-alive pipeline clients split 46/4 (measured with
`benchmarks/load_check.py --faults`), so one worker queues while the other idles and the check
hook's p99 triples. With SO_REUSEPORT each worker listens on its own socket and the kernel spreads
connections over them by address. The parent only supervises: it restarts a worker that dies after
it started, stops when one cannot start (the same fault would repeat), and on SIGTERM or SIGINT
stops every worker gracefully; workers die with it if it is killed (`die_with_parent`).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
from typing import Any

from screener.runtime.lifetime import die_with_parent

log = logging.getLogger("screener.service.workers")

APP = "screener.service.app:create_app"
STARTUP_FAILURE = 3  # as uvicorn: the exit code when a server process could not start
STOP_SECONDS = 30  # after SIGTERM, a worker still running this long after its graceful shutdown is killed


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port that other processes may bind too (SO_REUSEPORT); not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker(options: dict[str, Any], ready: Any) -> None:
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                ready.set()  # the parent restarts only processes that once served

    die_with_parent()
    Server(uvicorn.Config(APP, factory=True, **options)).run(sockets=[listening_socket(options["host"], options["port"])])


def serve(options: dict[str, Any], workers: int) -> int:
    """Run `workers` server processes with uvicorn `options` (host, port, …) until SIGTERM/SIGINT.

    Raises OSError when host:port cannot be bound; returns uvicorn's exit code convention (0, or 3
    when a worker could not start)."""
    listening_socket(options["host"], options["port"]).close()  # fail here, in one line, if the port is taken
    ctx = multiprocessing.get_context("spawn")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def start() -> tuple[Any, Any]:
        ready = ctx.Event()
        proc = ctx.Process(target=_worker, args=(options, ready), name="screener-server")
        proc.start()
        return proc, ready

    procs = [start() for _ in range(workers)]
    code = 0
    while not stop.wait(0.5):
        for i, (proc, ready) in enumerate(procs):
            if proc.is_alive():
                continue
            if not ready.is_set():  # the app, the lists or the socket are broken: a restart would fail alike
                log.error("a server process could not start (exit code %s); stopping", proc.exitcode)
                code = STARTUP_FAILURE
                stop.set()
                break
            log.warning("server process %s ended (exit code %s); starting another", proc.pid, proc.exitcode)
            procs[i] = start()
    for proc, _ in procs:
        if proc.is_alive():
            proc.terminate()  # SIGTERM: uvicorn finishes open requests, then exits
    for proc, _ in procs:
        proc.join(STOP_SECONDS)
        if proc.is_alive():
            proc.kill()
            proc.join()
    return code
