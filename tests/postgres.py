"""A throwaway PostgreSQL server for the store's tests: initdb into a temp folder, postgres on
127.0.0.1 at a free port, run as the `postgres` OS user when the tests run as root (PostgreSQL
refuses root). Skips, saying why, where the server binaries are absent.

Use the `postgres_url` fixture: each call of it gives a fresh, empty database's SQLAlchemy URL.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from itertools import count

import pytest

BIN_GLOB = "/usr/lib/postgresql/*/bin"


def _binaries() -> str | None:
    for folder in sorted(glob.glob(BIN_GLOB), reverse=True):
        if os.access(os.path.join(folder, "initdb"), os.X_OK):
            return folder
    found = shutil.which("initdb")
    return os.path.dirname(found) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The base URL (without a database) of a running throwaway server."""
    folder = _binaries()
    if folder is None:
        pytest.skip("PostgreSQL server binaries (initdb, postgres) are not installed: apt-get install postgresql")
    psycopg = pytest.importorskip("psycopg", reason="the psycopg driver is not installed: pip install 'psycopg[binary]'")
    as_user: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a 'postgres' OS user to run PostgreSQL as")
        as_user = ["runuser", "-u", "postgres", "--"]
    base = tempfile.mkdtemp(prefix="screener-pg-")  # under /tmp, which the postgres user can reach
    data = os.path.join(base, "data")
    if owner is not None:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    subprocess.run([*as_user, f"{folder}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync",
                    "-E", "UTF8"], check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen(
        [*as_user, f"{folder}/postgres", "-D", data, "-k", base, "-p", str(port), "-c", "listen_addresses=127.0.0.1",
         "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the throwaway PostgreSQL server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # "smart" shutdown of the whole group
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        shutil.rmtree(base, ignore_errors=True)


_numbers = count(1)


@pytest.fixture
def postgres_url(postgres_server: str) -> Callable[[], str]:
    """A factory of fresh databases on the throwaway server."""
    import psycopg

    def make() -> str:
        name = f"screener_test_{os.getpid()}_{next(_numbers)}"
        port = postgres_server.rsplit(":", 1)[1]
        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{postgres_server}/{name}"

    return make
