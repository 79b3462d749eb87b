"""The HTTP service end to end: a real uvicorn server on a free loopback port, real HTTP calls."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openpyxl
import pytest
import uvicorn

from screener.service.app import create_app
from screener.service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_orders"
KEY = "test-key-0123456789"
BEARER = {"Authorization": f"Bearer {KEY}"}
HIKVISION = "Hangzhou Hikvision Digital Technology Co., Ltd."
CLEAN = ["Nordic Precision AB", "Acme Widgets GmbH", "Northwind Traders Ltd"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """uvicorn in a background thread, stopped when the test module ends."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Iterator[Path]:
    """SCREENER_HOME and the temp folder for uploads, both private to this module."""
    path = tmp_path_factory.mktemp("home")
    uploads = tmp_path_factory.mktemp("tmp")
    saved_env = {k: os.environ.get(k) for k in ("SCREENER_HOME", "SCREENER_API_KEYS", "SCREENER_DB")}
    saved_tmp = tempfile.tempdir
    os.environ["SCREENER_HOME"] = str(path)
    os.environ.pop("SCREENER_API_KEYS", None)
    os.environ.pop("SCREENER_DB", None)
    tempfile.tempdir = str(uploads)
    yield path
    tempfile.tempdir = saved_tmp
    for k, v in saved_env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def serve(home) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(settings: Settings, extra: Callable | None = None) -> Server:  # type: ignore[type-arg]
        app = create_app(settings)
        if extra:
            extra(app)
        server = Server(app)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def api(serve) -> Server:
    return serve(Settings(api_keys=[KEY], max_upload_rows=1_000))


def shipment(*names: str, role: str = "end_user") -> dict:
    return {"id": "S-1", "parties": [{"role": role, "name": n, "country": "CN"} for n in names]}


# --- health, docs, keys -------------------------------------------------------------------------------


def test_healthz_needs_no_key_and_shows_list_versions(api):
    r = api.client().get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["lists"][0]["name"] == "us-entity-list-2019" and body["lists"][0]["version"]


def test_docs_reachable_without_key(api):
    c = api.client()
    assert c.get("/docs").status_code == 200
    schema = c.get("/openapi.json").json()
    assert {"/v1/check", "/v1/screen", "/v1/screen/file", "/v1/lists", "/healthz"} <= set(schema["paths"])
    assert schema["paths"]["/v1/check"]["post"]["security"] and "security" not in schema["paths"]["/healthz"]["get"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"X-API-Key": "wrong"}, {"Authorization": f"Basic {KEY}"}],
)
def test_v1_without_valid_key_is_401_and_no_data(api, headers):
    c = api.client(**headers)
    for r in (c.get("/v1/lists"), c.post("/v1/check", json=shipment(HIKVISION)),
              c.post("/v1/check", content=b"{not json", headers={"content-type": "application/json"})):
        assert r.status_code == 401
        assert r.json() == {"error": r.json()["error"]} and "API key" in r.json()["error"]
        assert "decision" not in r.text and "us-entity-list" not in r.text


def test_both_header_styles_accepted(api):
    assert api.client(**BEARER).get("/v1/lists").status_code == 200
    lists = api.client(**{"X-API-Key": KEY}).get("/v1/lists").json()
    assert lists[0]["key"] == "default" and lists[0]["parties"] > 0 and len(lists[0]["content_hash"]) == 64


def test_no_key_configured_refuses_every_v1_call(serve):
    server = serve(Settings(api_keys=[], api_keys_file=str(Path(tempfile.gettempdir()) / "absent")))
    c = server.client(**BEARER)
    for r in (c.get("/v1/lists"), c.post("/v1/check", json=shipment("Acme Widgets GmbH"))):
        assert r.status_code == 503
        assert "no API key is configured" in r.json()["error"]
    assert c.get("/healthz").status_code == 200


def test_hashed_keys_file_and_keys_add_without_restart(serve, home, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"# ci\n{hashlib.sha256(b'from-file').hexdigest()}\nnot-a-digest\n")
    server = serve(Settings(api_keys_file=str(keys)))
    c = server.client()
    assert c.get("/v1/lists", headers={"X-API-Key": "from-file"}).status_code == 200
    assert c.get("/v1/lists", headers={"X-API-Key": "not-a-digest"}).status_code == 401

    proc = subprocess.run(
        [sys.executable, "-m", "screener", "keys", "add", "--label", "erp", "--file", str(keys)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "SCREENER_HOME": str(home)},
    )
    assert proc.returncode == 0, proc.stderr
    new_key = proc.stdout.strip()
    assert new_key and new_key not in keys.read_text()  # only the hash is stored
    assert hashlib.sha256(new_key.encode()).hexdigest() in keys.read_text()
    assert oct(keys.stat().st_mode & 0o777) in ("0o600", "0o644")
    deadline = time.monotonic() + 5  # the keys file is looked at about once a second
    while c.get("/v1/lists", headers={"Authorization": f"Bearer {new_key}"}).status_code != 200:
        assert time.monotonic() < deadline, "a key added while running was not accepted"
        time.sleep(0.2)


# --- /v1/check ------------------------------------------------------------------------------------


def test_check_holds_a_listed_end_user(api):
    r = api.client(**BEARER).post("/v1/check", json=shipment(HIKVISION, "Acme Widgets GmbH"))
    assert r.status_code == 200
    d = r.json()
    assert d["decision"] == "HOLD" and r.headers["x-screener-decision"] == "HOLD"
    assert d["shipment_id"] == "S-1" and d["lists"][0]["version"] and d["threshold"] > 0
    hit = d["parties"][0]
    assert hit["alert"] and hit["status"] == "potential_match" and hit["entity_id"]
    assert hit["explanation"] and hit["sources"] and hit["role"] == "end_user"
    assert not d["parties"][1]["alert"]
    assert HIKVISION in d["reason"]


def test_check_releases_clean_parties(api):
    d = api.client(**BEARER).post("/v1/check", json=shipment(*CLEAN)).json()
    assert d["decision"] == "RELEASE", d["reason"]
    assert [p["status"] for p in d["parties"]] == ["clear"] * 3


def test_check_applies_analyst_clearances(serve, tmp_path):
    from test_check import clear_in_store

    from screener.review.store import Store
    from screener.screening import Screener

    db = f"sqlite:///{tmp_path / 'audit.db'}"
    server = serve(Settings(api_keys=[KEY], db_url=db))
    c = server.client(**BEARER)
    name = "Hikvision Europe BV"
    assert c.post("/v1/check", json=shipment(name)).json()["decision"] == "HOLD"
    store = Store.open(db)
    clear_in_store(store, Screener.default(), name, country="CN")  # the evidence the shipment carries
    store.close()
    d = c.post("/v1/check", json=shipment(name)).json()
    assert d["decision"] == "RELEASE" and d["parties"][0]["review"]


@pytest.mark.parametrize("name", ["", "   ", "???", "-- / --"])
def test_unusable_party_name_holds(api, name):
    d = api.client(**BEARER).post("/v1/check", json=shipment("Acme Widgets GmbH", name)).json()
    assert d["decision"] == "HOLD"
    assert d["parties"][1]["status"] == "not_screened" and "not screened" in d["reason"]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"id": "S", "parties": [{"name": "A"}, {"name": "B"}, {"role": "end_user"}]}, "parties[2].name"),
        ({"id": "S", "parties": []}, "parties"),
        ({"parties": [{"name": "A"}]}, "id"),
        ({"id": "S", "parties": [{"name": "A", "role": "pilot"}]}, "parties[0].role"),
        ({"id": "S", "parties": [{"nmae": "A"}]}, "parties[0]"),
    ],
)
def test_malformed_shipment_is_422_naming_the_field(api, doc, field):
    r = api.client(**BEARER).post("/v1/check", json=doc)
    assert r.status_code == 422
    body = r.json()
    assert body["error"].startswith(field) and "\n" not in body["error"]
    assert "Traceback" not in r.text and "/screener/" not in r.text


def test_invalid_json_is_422(api):
    r = api.client(**BEARER).post("/v1/check", content=b'{"id": "S", "parties": [', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "invalid JSON" in r.json()["error"]


def test_oversized_body_is_413(serve):
    server = serve(Settings(api_keys=[KEY], max_body_bytes=10_000))
    big = shipment(*[f"Company number {i} Trading Ltd" for i in range(600)])
    c = server.client(**BEARER)
    r = c.post("/v1/check", json=big)
    assert r.status_code == 413 and "limit" in r.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the streamed bytes are counted
        yield b'{"id": "S", "parties": ['
        for _ in range(100):
            yield b'{"name": "Acme Widgets GmbH"},' * 10
        yield b'{"name": "x"}]}'

    r = c.post("/v1/check", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert c.post("/v1/check", json=shipment("Acme Widgets GmbH")).status_code == 200


def test_unexpected_error_is_500_json_without_traceback(serve):
    def boom_route(app) -> None:  # type: ignore[no-untyped-def]
        async def boom() -> None:
            raise RuntimeError("secret detail in /srv/screener/internal.py")

        app.add_api_route("/v1/boom", boom, methods=["GET"])

    server = serve(Settings(api_keys=[KEY]), boom_route)
    r = server.client(**BEARER).get("/v1/boom")
    assert r.status_code == 500
    body = r.json()
    assert body["error"] == "internal error" and len(body["id"]) == 12
    assert "secret" not in r.text and "Traceback" not in r.text


# --- /v1/screen -----------------------------------------------------------------------------------


def test_screen_batch_records_with_explanations(api):
    parties = [{"name": HIKVISION, "country": "CN"}, {"name": "Acme Widgets GmbH"}, {"name": None}]
    r = api.client(**BEARER).post("/v1/screen", json={"parties": parties})
    assert r.status_code == 200
    body = r.json()
    assert body["counts"] == {"clear": 1, "potential_match": 1, "not_screened": 1}
    hit, clean, empty = body["results"]
    assert hit["status"] == "potential_match" and hit["row"] == 1 and hit["explanation"]
    assert hit["matches"][0]["explanation"]["tokens"] and hit["entity_id"]
    assert clean["status"] == "clear" and empty["status"] == "not_screened"


def test_screen_batch_limit(serve):
    server = serve(Settings(api_keys=[KEY], max_batch_parties=3))
    r = server.client(**BEARER).post("/v1/screen", json={"parties": [{"name": "A"}] * 4})
    assert r.status_code == 422 and r.json()["error"].startswith("parties: at most 3")


# --- /v1/screen/file ------------------------------------------------------------------------------


def _leftovers() -> list[str]:
    return [p.name for p in Path(tempfile.gettempdir()).iterdir() if p.name.startswith("screener-upload-")]


def test_file_upload_returns_readable_report(api):
    data = (SAMPLES / "customer_master.xlsx").read_bytes()
    r = api.client(**BEARER).post(
        "/v1/screen/file", files={"file": ("../../etc/customer master.xlsx", data)}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert int(r.headers["x-screener-potential-matches"]) > 0
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert "Potential matches" in wb.sheetnames
    summary = " ".join(str(c.value) for row in wb["Summary"].iter_rows() for c in row if c.value is not None)
    assert "customer master.xlsx" in summary and "etc" not in summary.split("customer master")[0][-5:]
    assert _leftovers() == []


def test_file_upload_json_and_query_options(api, tmp_path):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["Ref", "Buyer", "Land"])
    w.writerows([[1, HIKVISION, "CN"], [2, "Acme Widgets GmbH", "DE"]])
    r = api.client(**BEARER).post(
        "/v1/screen/file?format=json&name_column=Buyer&country_column=Land",
        files={"file": ("orders.csv", buf.getvalue().encode())},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["summary"]["rows_read"] == 2 and body["summary"]["inputs"][0]["file_name"] == "orders.csv"
    assert [x["status"] for x in body["results"]] == ["potential_match", "clear"]
    assert body["results"][0]["input_country"] == "CN" and body["results"][0]["matches"]
    assert _leftovers() == []


def test_file_upload_screens_every_sheet_asked_for(api):
    """A repeated `sheet` (query or form) screened the last sheet only, as the CLI's --sheet did."""
    wb = openpyxl.Workbook()
    wb.active.title = "Customers"
    for row in (["Customer", "Country"], ["Megvii", "CN"]):
        wb.active.append(row)
    for title, rows in (("Prices", [["SKU", "Price"], ["A-1", 12.5]]), ("Vendors", [["Vendor name"], [HIKVISION]])):
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    client = api.client(**BEARER)
    for url, form in (("/v1/screen/file?format=json&sheet=Customers&sheet=Vendors", None),
                      ("/v1/screen/file", {"format": "json", "sheet": ["Customers", "Vendors"]})):
        r = client.post(url, data=form, files={"file": ("book.xlsx", buf.getvalue())})
        assert r.status_code == 200, r.text
        assert [(x["sheet"], x["status"]) for x in r.json()["results"]] == [
            ("Customers", "potential_match"), ("Vendors", "potential_match")]
    refused = client.post("/v1/screen/file?format=json", files={"file": ("book.xlsx", buf.getvalue())})
    assert refused.status_code == 422 and 'sheet "Prices"' in refused.json()["error"]
    two = f'Buyer,Consignee\n"{HIKVISION}",Acme Widgets GmbH\nNordic AB,Megvii\n'.encode()
    r = client.post("/v1/screen/file?format=json&name_column=Buyer&name_column=Consignee",
                    files={"file": ("orders.csv", two)})
    assert r.status_code == 200, r.text
    assert [(x["column"], x["status"]) for x in r.json()["results"]] == [
        ("Buyer", "potential_match"), ("Consignee", "clear"), ("Buyer", "clear"), ("Consignee", "potential_match")]


def test_file_upload_input_error_is_422_one_line(api):
    r = api.client(**BEARER).post("/v1/screen/file", files={"file": ("x.csv", b"Alpha,Beta\n1,2\n")})
    assert r.status_code == 422
    body = r.json()
    assert "x.csv" in body["error"] and "name column" in body["error"] and body["headers"] == ["Alpha", "Beta"]
    r = api.client(**BEARER).post("/v1/screen/file", files={"file": ("x.exe", b"MZ")})
    assert r.status_code == 422 and "unsupported file type" in r.json()["error"]
    r = api.client(**BEARER).post("/v1/screen/file", data={"format": "pdf"}, files={"file": ("x.csv", b"name\nA\n")})
    assert r.status_code == 422 and r.json()["error"].startswith("format")
    assert _leftovers() == []


def test_file_upload_row_limit_is_413(api):
    rows = "name\n" + "".join(f"Company {i} Ltd\n" for i in range(1_001))
    r = api.client(**BEARER).post("/v1/screen/file", files={"file": ("big.csv", rows.encode())})
    assert r.status_code == 413 and "1,000" in r.json()["error"]
    assert _leftovers() == []


def test_file_upload_size_limit_is_413(serve):
    server = serve(Settings(api_keys=[KEY], max_upload_bytes=100_000))
    rows = "name\n" + "".join(f"Company number {i} Trading Ltd\n" for i in range(10_000))
    r = server.client(**BEARER).post("/v1/screen/file", files={"file": ("big.csv", rows.encode())})
    assert r.status_code == 413 and "upload larger than" in r.json()["error"]
    assert _leftovers() == []


# --- `screener serve` -----------------------------------------------------------------------------


def test_serve_with_two_workers(home):
    """The real command: two uvicorn workers from the factory, each with its matcher, and no
    Nagle stall (a ~40 ms wait per response when TCP_NODELAY is missing on worker sockets)."""
    port = free_port()
    env = {**os.environ, "SCREENER_HOME": str(home), "SCREENER_API_KEYS": KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "screener", "serve", "--port", str(port), "--workers", "2", "--log-level", "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "screener serve did not start"
            time.sleep(0.2)
        with httpx.Client(base_url=url, headers=BEARER, timeout=30) as c:
            assert c.post("/v1/check", json=shipment(HIKVISION)).json()["decision"] == "HOLD"
            times = []
            for _ in range(21):
                t0 = time.perf_counter()
                assert c.post("/v1/check", json=shipment(*CLEAN)).json()["decision"] == "RELEASE"
                times.append(time.perf_counter() - t0)
        assert sorted(times)[10] < 0.035, f"median {sorted(times)[10] * 1000:.1f} ms"

        # Each worker listens on a socket of its own (SO_REUSEPORT), so the kernel spreads
        # connections over them; with one shared socket a burst of clients lands on one worker.
        deadline = time.monotonic() + 60  # /healthz answered from the first worker; the second may still load
        while len(workers := _listeners(port)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(workers) == 2 and proc.pid not in workers, workers
        os.kill(workers[0], signal.SIGKILL)  # a worker that dies is replaced; the port keeps serving
        deadline = time.monotonic() + 60
        while (now := _listeners(port)) == [] or workers[0] in now or len(now) < 2:
            assert time.monotonic() < deadline, f"no replacement worker: {now}"
            time.sleep(0.2)
        assert httpx.post(url + "/v1/check", json=shipment(HIKVISION), headers=BEARER, timeout=30).json()["decision"] == "HOLD"
        proc.send_signal(signal.SIGTERM)  # the parent alone: it stops its workers
        assert proc.wait(40) == 0
        assert _listeners(port) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)  # the server and its workers: our own process group
        proc.wait(20)


def _listeners(port: int) -> list[int]:
    """Pids of the processes holding a listening socket on `port` (from `ss`), one per socket."""
    out = subprocess.run(["ss", "-tlnpH", f"( sport = :{port} )"], capture_output=True, text=True, check=True).stdout
    return sorted(int(line.split("pid=", 1)[1].split(",", 1)[0]) for line in out.splitlines() if "pid=" in line)


def test_settings_read_threshold_and_lists_from_the_environment(monkeypatch):
    from screener.service.settings import Settings

    monkeypatch.setenv("SCREENER_THRESHOLD", "82.5")
    monkeypatch.setenv("SCREENER_LISTS", "default, csl")
    settings = Settings.from_env()
    assert settings.threshold == 82.5 and settings.lists == ["default", "csl"]
