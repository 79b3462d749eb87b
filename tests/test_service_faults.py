"""The service under faults: `screener serve --workers 2` as a real process tree, real signals.

Every test starts the real command in its own session (so the whole tree can be found and killed),
talks to it over 127.0.0.1 on fresh connections (so requests land on both workers), and checks what
is left on disk and in the store afterwards.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from hostile import raw_xlsx
from postgres import postgres_server, postgres_url  # noqa: F401 - fixtures; tests/ is on sys.path
from processes import session_pids
from test_xlsx_budgets import shared_strings

from screener.review.audit import verify
from screener.review.store import Store
from screener.service.shared import svc_jobs

KEY = "test-key-faults-0123456789"
BEARER = {"Authorization": f"Bearer {KEY}"}
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """`screener serve --workers 2` in its own session, on a free port, sharing one home."""

    def __init__(self, home: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {k: v for k, v in os.environ.items() if k not in ("SCREENER_SECRET_KEY", "SCREENER_DB")}
        environ.update({"SCREENER_HOME": str(home), "SCREENER_API_KEYS": KEY, **(env or {})})
        self.log = (home / f"server-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "screener", "serve", "--port", str(self.port), "--workers", "2",
             "--log-level", "warning", *extra],
            env=environ, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, (home / f"server-{self.port}.log").read_text()
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "screener serve did not start"
            time.sleep(0.2)
        time.sleep(1.0)  # the second worker too

    def get(self, path: str, **kw: object) -> httpx.Response:
        """On a new connection each time, so that both workers answer."""
        with httpx.Client(base_url=self.url, timeout=60) as c:
            return c.get(path, **kw)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        for pid in session_pids(self.proc.pid):  # nothing may outlive a test
            os.kill(pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "home"
    path.mkdir()
    store = Store.open(f"sqlite:///{path / 'screener.db'}")
    store.add_user("alice", PASSWORD)
    store.add_user("bob", PASSWORD)
    store.close()
    yield path


@pytest.fixture
def served(home: Path) -> Iterator[Served]:
    server = Served(home)
    yield server
    server.stop()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def fresh(server: Served, cookies: httpx.Cookies | None = None, **headers: str) -> httpx.Client:
    """A client whose every request opens a new connection (so it may reach either worker)."""
    return httpx.Client(base_url=server.url, timeout=60, cookies=cookies, headers={"Connection": "close", **headers})


def signin(server: Served, user: str = "alice", password: str = PASSWORD, **headers: str) -> httpx.Response:
    c = fresh(server, **headers)
    token = csrf_of(c.get("/signin").text)
    r = c.post("/signin", data={"csrf": token, "username": user, "password": password, "next": "/"})
    r.client = c  # type: ignore[attr-defined]
    return r



def names_csv(rows: int, header: str = "Customer") -> bytes:
    lines = [header] + [f"Company number {i} Trading Ltd" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def jobs_of(home: Path) -> list[sa.Row]:
    engine = sa.create_engine(f"sqlite:///{home / 'screener.db'}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(svc_jobs)))
    finally:
        engine.dispose()


# --- shared state ---------------------------------------------------------------------------------


def test_two_workers_share_sessions_csrf_and_sign_out(served: Served, home: Path) -> None:
    secret = home / "secret_key"
    assert secret.stat().st_mode & 0o777 == 0o600  # generated once, private
    clients = []
    for _ in range(10):  # each sign-in: the form from one connection, the POST on another
        r = signin(served)
        assert r.status_code == 303 and r.headers["location"] == "/", r.text[:300]
        clients.append(r.client)  # type: ignore[attr-defined]
    c = clients[0]
    for _ in range(20):
        assert c.get("/").status_code == 200
    cookie = c.cookies["screener_session"]
    assert c.post("/signout", data={"csrf": csrf_of(c.get("/").text)}).status_code == 303
    replay = fresh(served)
    replay.cookies.set("screener_session", cookie)
    assert [replay.get("/").status_code for _ in range(20)] == [303] * 20  # revoked on every worker
    assert clients[1].get("/").status_code == 200  # other sessions live on
    assert secret.read_text() == (home / "secret_key").read_text()


def test_signin_lockout_is_atomic_per_account_and_address_and_unlocks(home: Path) -> None:
    server = Served(home, "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")
    try:
        attacker = {"X-Forwarded-For": "10.0.0.66"}

        def guess(_: int) -> int:
            return signin(server, "bob", "wrong guess", **attacker).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(guess, range(40)))
        assert codes.count(401) == 5 and codes.count(429) == 35, codes  # the limit holds across workers
        assert signin(server, "bob", PASSWORD, **attacker).status_code == 429
        # the attacker cannot lock bob out elsewhere
        assert signin(server, "bob", PASSWORD, **{"X-Forwarded-For": "10.0.0.7"}).status_code == 303
        # guesses from many addresses lock the account itself (for a while) ...
        for i in range(12):
            assert signin(server, "bob", "wrong", **{"X-Forwarded-For": f"10.0.2.{i}"}).status_code in (401, 429)
        assert signin(server, "bob", PASSWORD, **{"X-Forwarded-For": "10.0.3.1"}).status_code == 429
        # ... until an administrator lifts the lock
        done = subprocess.run([sys.executable, "-m", "screener", "users", "unlock", "bob"],
                              env={**os.environ, "SCREENER_HOME": str(home)}, capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0 and "unlocked" in done.stdout, done.stderr
        assert signin(server, "bob", PASSWORD, **{"X-Forwarded-For": "10.0.3.1"}).status_code == 303
    finally:
        server.stop()


def test_job_progress_and_column_choice_work_on_either_worker(served: Served) -> None:
    c = signin(served).client  # type: ignore[attr-defined]
    r = c.post("/upload", data={"csrf": csrf_of(c.get("/").text)},
               files={"file": ("odd.csv", b"Col A,Col B\nNordic Precision AB,SE\nHikvision,CN\n")})
    if r.status_code == 303:  # the workers were busy: the progress page asks once the file is open
        job = r.headers["location"]
        deadline = time.monotonic() + 60
        while (status := c.get(job + "/status").json())["state"] != "columns":
            assert status["state"] in ("queued", "opening") and time.monotonic() < deadline, status
            time.sleep(0.2)
        assert status["url"] == job
        r = c.get(job)
    assert r.status_code == 200 and "Which column holds the names?" in r.text
    action = re.search(r'action="(/upload/[^"]+/columns)"', r.text).group(1)  # type: ignore[union-attr]
    r = c.post(action, data={"csrf": csrf_of(r.text), "name_column": "Col A"})
    assert r.status_code == 303, r.text[:300]
    job = r.headers["location"]
    for _ in range(12):
        status = c.get(job + "/status")
        assert status.status_code == 200 and {"state", "rows"} <= status.json().keys()
    deadline = time.monotonic() + 60
    while (state := c.get(job + "/status").json())["state"] != "done":
        assert state["state"] != "failed" and time.monotonic() < deadline, state
        time.sleep(0.2)
    assert "Hikvision" in c.get(state["url"]).text


def test_two_workers_on_postgresql_share_sessions_and_jobs(home: Path, postgres_url) -> None:  # noqa: F811
    db = postgres_url()
    store = Store.open(db)
    store.add_user("alice", PASSWORD)
    server = Served(home, env={"SCREENER_DB": db})
    try:
        r = signin(server)
        assert r.status_code == 303
        c = r.client  # type: ignore[attr-defined]
        assert [c.get("/").status_code for _ in range(10)] == [200] * 10
        r = c.post("/upload", data={"csrf": csrf_of(c.get("/").text)},
                   files={"file": ("pg.csv", b"Customer\nHikvision\nNordic Precision AB\n")})
        assert r.status_code == 303
        deadline = time.monotonic() + 60
        while (state := c.get(r.headers["location"] + "/status").json())["state"] != "done":
            assert state["state"] != "failed" and time.monotonic() < deadline, state
            time.sleep(0.2)
        run = store.get_run(state["url"].rsplit("/", 1)[1])
        assert run is not None and run.status == "complete" and run.rows_reported == 2
        assert verify(store).ok
        with store.engine.connect() as conn:  # the job lived in PostgreSQL too
            assert conn.execute(sa.select(svc_jobs.c.state)).scalars().all() == ["done"]
    finally:
        server.stop()
        store.close()


def test_a_large_batch_screened_in_a_worker_process_equals_small_batches(served: Served) -> None:
    names = [f"Company {i} Trading Ltd" if i % 7 else "Hikvision Digital Technology" for i in range(600)]
    parties = [{"name": n, "country": "CN"} for n in names]
    with httpx.Client(base_url=served.url, headers=BEARER, timeout=120) as c:
        big = c.post("/v1/screen", json={"parties": parties}).json()
        small = [r for i in range(0, 600, 50) for r in c.post("/v1/screen", json={"parties": parties[i:i + 50]}).json()["results"]]
    assert [r["status"] for r in big["results"]] == [r["status"] for r in small]
    assert [r["score"] for r in big["results"]] == [r["score"] for r in small]
    assert big["counts"]["potential_match"] == 86 and big["clear"] is False


# --- killed processes -----------------------------------------------------------------------------


def _upload_in_background(server: Served, content: bytes, name: str, **query: str) -> threading.Thread:
    def post() -> None:
        try:
            httpx.post(server.url + "/v1/screen/file", params=query, headers=BEARER,
                       files={"file": (name, content)}, timeout=600)
        except httpx.HTTPError:
            pass  # the server was killed under it

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


def _wait_running_run(home: Path, server: Served, timeout: float = 120) -> sa.Row:
    deadline = time.monotonic() + timeout
    store = Store.open(f"sqlite:///{home / 'screener.db'}")
    try:
        while time.monotonic() < deadline:
            jobs = [j for j in jobs_of(home) if j.state == "running" and j.run_id]
            if jobs and store.get_run(jobs[0].run_id) is not None:
                return jobs[0]
            assert server.proc.poll() is None
            time.sleep(0.2)
    finally:
        store.close()
    raise AssertionError("the upload never started recording")


def test_kill_9_of_the_server_takes_its_workers_and_the_next_start_fails_the_run(home: Path) -> None:
    server = Served(home)
    _upload_in_background(server, names_csv(300_000), "big.csv", record="true")
    job = _wait_running_run(home, server)
    tree = session_pids(server.proc.pid)
    assert len(tree) >= 4  # supervisor, two workers, at least one screening process
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    deadline = time.monotonic() + 15
    while (left := session_pids(server.proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], "processes outlived the killed server"
    assert Path(job.workdir).exists()  # the crash left the job's folder ...

    again = Served(home)
    try:
        deadline = time.monotonic() + 30
        while (row := next(j for j in jobs_of(home) if j.id == job.id)).state != "failed":
            assert time.monotonic() < deadline, row.state
            time.sleep(0.2)
        assert "server process" in (row.error or "")
        store = Store.open(f"sqlite:///{home / 'screener.db'}")
        run = store.get_run(job.run_id)
        assert run is not None and run.status == "failed" and "server process" in (run.error or "")
        assert verify(store).ok
        store.close()
        assert not Path(job.workdir).exists()  # ... removed at the next start
        assert list((home / "jobs").iterdir()) == []
    finally:
        again.stop()


def test_sigterm_of_the_server_leaves_no_process_and_no_file(home: Path) -> None:
    server = Served(home)
    _upload_in_background(server, names_csv(300_000), "big.csv", record="true")
    job = _wait_running_run(home, server)
    os.kill(server.proc.pid, signal.SIGTERM)
    server.proc.wait(60)
    deadline = time.monotonic() + 15
    while (left := session_pids(server.proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    server.stop()
    assert left == []
    assert list((home / "jobs").iterdir()) == []
    row = next(j for j in jobs_of(home) if j.id == job.id)
    assert row.state == "failed" and "stopped" in (row.error or row.result)
    store = Store.open(f"sqlite:///{home / 'screener.db'}")
    run = store.get_run(job.run_id)
    assert run is not None and run.status == "failed" and verify(store).ok
    store.close()


def test_a_one_row_upload_does_not_wait_behind_big_ones(served: Served, home: Path) -> None:
    for i in range(6):  # more big uploads than both workers have slots
        _upload_in_background(served, names_csv(100_000), f"big{i}.csv")
    deadline = time.monotonic() + 60
    while sum(j.state == "running" for j in jobs_of(home)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    t0 = time.monotonic()
    r = httpx.post(served.url + "/v1/screen/file", params={"format": "json"}, headers=BEARER,
                   files={"file": ("one.csv", b"Customer\nHikvision\n")}, timeout=120)
    took = time.monotonic() - t0
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "potential_match"
    assert took < 10, f"the one-row upload waited {took:.1f} s"
    assert sum(j.state == "queued" for j in jobs_of(home)) >= 2  # the big ones still queue


def test_a_web_upload_can_be_cancelled(served: Served, home: Path) -> None:
    c = signin(served).client  # type: ignore[attr-defined]
    r = c.post("/upload", data={"csrf": csrf_of(c.get("/").text)}, files={"file": ("big.csv", names_csv(300_000))})
    assert r.status_code == 303
    job = r.headers["location"]
    deadline = time.monotonic() + 60
    while c.get(job + "/status").json()["rows"] < 1_000:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    page = c.get(job).text
    assert c.post(job + "/cancel", data={"csrf": csrf_of(page)}).status_code == 303
    while not (status := c.get(job + "/status").json())["cancelled"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert status["state"] == "failed" and status["rows"] < 300_000
    assert list((home / "jobs").iterdir()) == []


def tree_rss(sid: int) -> dict[int, int]:
    """Resident bytes of every process of the server's tree."""
    sizes = {}
    for pid in session_pids(sid):
        try:
            found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
        except OSError:
            continue
        sizes[pid] = int(found.group(1)) * 1024 if found else 0
    return sizes


def test_server_memory_comes_back_after_hostile_uploads(served: Served, tmp_path: Path) -> None:
    crafted = raw_xlsx(tmp_path / "crafted.xlsx", extra={"xl/sharedStrings.xml": shared_strings(1_000_000)})
    content = crafted.read_bytes()  # type: ignore[union-attr]
    for _ in range(2):  # warm: every worker has screened once
        r = httpx.post(served.url + "/v1/screen/file", headers=BEARER, files={"file": ("ok.csv", names_csv(50))},
                       timeout=120)
        assert r.status_code == 200
    before = tree_rss(served.proc.pid)
    for _ in range(10):
        r = httpx.post(served.url + "/v1/screen/file", headers=BEARER, files={"file": ("crafted.xlsx", content)},
                       timeout=300)
        assert r.status_code == 422 and "shared-string table" in r.json()["error"]
    time.sleep(1)
    after = tree_rss(served.proc.pid)
    kept = [pid for pid in before if pid in after]
    was, now = sum(before[p] for p in kept), sum(after[p] for p in kept)
    assert now <= was * 1.2, f"RSS {was / 2**20:.0f} MiB before, {now / 2**20:.0f} MiB after"
    started = {pid: size for pid, size in after.items() if pid not in before}  # a worker started meanwhile
    assert all(size < 300 * 2**20 for size in started.values()), started


# --- behind a proxy -------------------------------------------------------------------------------


def test_proxy_headers_make_cookies_secure_and_send_hsts(home: Path) -> None:
    server = Served(home, "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")
    try:
        plain = signin(server)
        assert plain.status_code == 303
        assert "secure" not in plain.headers["set-cookie"].lower()
        assert "strict-transport-security" not in plain.headers
        c = fresh(server, **{"X-Forwarded-Proto": "https"})
        form = c.get("/signin")
        assert form.headers["strict-transport-security"].startswith("max-age=")
        pre = form.headers["set-cookie"]
        assert "secure" in pre.lower()
        # httpx keeps Secure cookies off plain http, so it goes by hand, as the proxy would pass it
        https = c.post("/signin", headers={"Cookie": pre.split(";", 1)[0]},
                       data={"csrf": csrf_of(form.text), "username": "alice", "password": PASSWORD, "next": "/"})
        assert https.status_code == 303, https.text[:300]
        session_cookie = [v for v in https.headers.get_list("set-cookie") if v.startswith("screener_session=")]
        assert session_cookie and "secure" in session_cookie[0].lower()
        assert https.headers["strict-transport-security"].startswith("max-age=")
    finally:
        server.stop()


def test_serve_start_fails_a_cli_run_whose_process_was_killed(home: Path) -> None:
    """A `screen --record` killed with -9 while no audit command ran since: `serve` fails its run."""
    from screener.models import RowResult, Status
    from screener.service.runs import REASON, STALE_SECONDS
    from screener.service.shared import Shared, svc_runs

    store = Store.open(f"sqlite:///{home / 'screener.db'}")
    recorder = store.recorder(user="carol", source="cli")
    for i in range(3):
        recorder.observe(RowResult(row=i + 2, input_name=f"Company {i}", status=Status.CLEAR))
    recorder.flush()  # what the process had written when it was killed
    gone = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    Shared(store.engine).hold_run(recorder.run_id, gone.pid)  # its owner, then killed
    gone.kill()
    gone.wait(10)
    with store.engine.begin() as conn:  # and silent since: the heartbeat is as old as its death
        conn.execute(svc_runs.update().values(heartbeat_at=time.time() - STALE_SECONDS - 60))
    assert store.get_run(recorder.run_id).status == "running"

    server = Served(home)
    try:
        run = store.get_run(recorder.run_id)
        assert run.status == "failed" and run.error == REASON
        assert verify(store).ok, verify(store).problem
    finally:
        server.stop()
        store.close()
