"""The JSON API for pipelines: check a shipment, screen names, screen a file, show the lists.

Thin shells over `screener.shipment`, `Screener` and `pipeline.screen_sources`. Small requests are
screened on the event loop (well under a millisecond per party, cheaper than a thread hop); large
batches run in worker threads, and files in a small process pool, so that checks keep flowing while
a long file is screened.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from screener import __version__
from screener.files.outputs import open_writer
from screener.files.readers import (
    TEXT_SUFFIXES,
    XLSX_SUFFIXES,
    ColumnNotFound,
    InputError,
    open_input,
)
from screener.files.writers import json_record
from screener.models import InputRow, ListInfo, RowResult, RunSummary, Status
from screener.pipeline import screen_sources
from screener.screening import Screener
from screener.service.app import (
    Decisions,
    ServiceState,
    build_screener,
    error_body,
    log,
)
from screener.service.settings import Settings
from screener.shipment import (
    MAX_NAME_CHARS,
    Shipment,
    ShipmentDecision,
    decide,
    screen_parties,
)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
INLINE_PARTIES = 50  # up to this many parties are screened on the event loop
CHUNK = 256 * 1024

router = APIRouter()
v1 = APIRouter(prefix="/v1")  # keys are enforced by `ApiKeyMiddleware`, before the body is read

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or invalid API key"},
    413: {"description": "request too large"},
    422: {"description": "invalid request; `error` names the field"},
    503: {"description": "no API key configured on the server"},
}


def _service(request: Request) -> ServiceState:
    return request.app.state.service  # type: ignore[no-any-return]


def _screener(request: Request) -> Screener:
    screener = _service(request).screener
    assert screener is not None, "the screener is built at startup"
    return screener


def _json(payload: str | bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(payload, media_type="application/json", headers=headers)


# --- health and lists -----------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    threshold: float
    lists: list[dict[str, str]]


@router.get("/healthz", response_model=Health, tags=["health"])
async def healthz(request: Request) -> Response:
    """Liveness and the list versions loaded; needs no key."""
    screener = _screener(request)
    lists = [{"key": i.key, "name": i.name, "version": i.version, "content_hash": i.content_hash} for i in screener.list_infos()]
    return _json(Health(version=__version__, threshold=screener.threshold, lists=lists).model_dump_json())


@v1.get("/lists", response_model=list[ListInfo], responses=_ERRORS, tags=["lists"])
async def lists(request: Request) -> Response:
    """Each loaded list: name, version, content hash, parties and aliases."""
    infos = _screener(request).list_infos()
    return _json(json.dumps([i.model_dump(mode="json") for i in infos]))


# --- shipment check -------------------------------------------------------------------------------


@v1.post("/check", response_model=ShipmentDecision, responses=_ERRORS, tags=["check"])
async def check(shipment: Shipment, request: Request) -> Response:
    """RELEASE or HOLD for a shipment: HOLD when any party is a potential match not cleared by an
    analyst, or could not be screened. The HTTP status is 200 for both; read `decision`."""
    svc = _service(request)
    screener = _screener(request)
    if len(shipment.parties) <= INLINE_PARTIES:
        results = screen_parties(shipment, screener)
    else:
        results = await run_in_threadpool(screen_parties, shipment, screener)
    if any(r.status is Status.POTENTIAL_MATCH for r in results):
        results = await run_in_threadpool(svc.decisions.apply, results, screener)
    decision = decide(shipment, results, screener)
    return _json(decision.model_dump_json(), {"X-Screener-Decision": decision.decision})


# --- screening names ------------------------------------------------------------------------------


class ScreenParty(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    name: str | None = Field(max_length=MAX_NAME_CHARS, description="null or blank: reported as not screened")
    country: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=2_000)


class ScreenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parties: list[ScreenParty] = Field(min_length=1, description="at most `max_batch_parties` (default 10,000)")


class ScreenResponse(BaseModel):
    threshold: float
    lists: list[ListInfo]
    counts: dict[str, int]
    results: list[dict[str, Any]] = Field(
        description="per party, in order: the flat record (status, score, entity, explanation, sources...) "
        "plus `matches`, every candidate above the threshold with its structured explanation"
    )


def _screen_batch(rows: list[InputRow], screener: Screener, svc: ServiceState) -> list[RowResult]:
    results = list(screener.screen_rows(rows))
    if any(r.status is Status.POTENTIAL_MATCH for r in results):
        results = svc.decisions.apply(results, screener)
    return results


@v1.post("/screen", response_model=ScreenResponse, responses=_ERRORS, tags=["screen"])
async def screen(body: ScreenRequest, request: Request) -> Response:
    """Screen a batch of names; one result per party, in order (`row` is the 1-based position)."""
    svc = _service(request)
    screener = _screener(request)
    limit = svc.settings.max_batch_parties
    if len(body.parties) > limit:
        message = f"at most {limit:,} parties per request, got {len(body.parties):,}"
        return JSONResponse(error_body([{"field": "parties", "message": message}]), status_code=422)
    rows = [InputRow(name=p.name, country=p.country, address=p.address, row=i) for i, p in enumerate(body.parties, 1)]
    if len(rows) <= INLINE_PARTIES:
        results = list(screener.screen_rows(rows))
        if any(r.status is Status.POTENTIAL_MATCH for r in results):
            results = await run_in_threadpool(svc.decisions.apply, results, screener)
    else:
        results = await run_in_threadpool(_screen_batch, rows, screener, svc)
    counts = {s.value: 0 for s in Status}
    for r in results:
        counts[r.status.value] += 1
    payload = {
        "threshold": screener.threshold,
        "lists": [i.model_dump(mode="json") for i in screener.list_infos()],
        "counts": counts,
        "results": [json_record(r) for r in results],
    }
    return _json(json.dumps(payload, ensure_ascii=False))


# --- screening a file -----------------------------------------------------------------------------


class TooManyRows(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the file has more than {limit:,} data rows (limit {limit:,})")


def _client_name(filename: str | None) -> str:
    """The client's file name for messages and the report only: last path part, printable, short."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:200]
    return name or "upload"


def _limit_rows(rows: Iterable[InputRow], limit: int) -> Iterator[InputRow]:
    for n, row in enumerate(rows, start=1):
        if n > limit:
            raise TooManyRows(limit)
        yield row


def _save(upload: IO[bytes], path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(upload, out, 1024 * 1024)


class _StoreUnavailable(Exception):
    pass


def _screen_upload(
    screener: Screener,
    decisions: Decisions,
    max_rows: int,
    upload: Path,
    display_name: str,
    output: Path,
    options: dict[str, str | None],
    user: str,
    record: bool,
) -> RunSummary:
    """Open, screen and write one uploaded file, analysts' decisions applied."""
    store = decisions.store()
    if record and store is None:
        raise _StoreUnavailable()
    source = open_input(upload, display_name=display_name, **options)

    def screen_fn(rows: Iterable[InputRow]) -> Iterator[RowResult]:
        results = screener.screen_rows(_limit_rows(rows, max_rows))
        return iter(store.apply_decisions(results, screener)) if store is not None else results

    recorder = store.recorder(user=user, source="api") if record else None
    try:
        writer = open_writer(output, screener.lists)
        summary = screen_sources(
            screener, [source], writer, screen=screen_fn, user=user,
            observe=recorder.observe if recorder else None,
        )
    except BaseException as exc:
        if recorder is not None:
            recorder.abort(str(exc) or type(exc).__name__)
        raise
    finally:
        source.close()
    if recorder is not None:
        recorder.finish(summary)
    return summary


# Files are screened in a small pool of processes, each holding its own Screener: a long file in
# a thread of the server process would hold the GIL and slow every check on that process.
_WORKER: dict[str, Any] = {}


def _init_file_worker(settings_data: dict[str, Any]) -> None:
    settings = Settings.model_validate(settings_data)
    _WORKER.update(settings=settings, screener=build_screener(settings), decisions=Decisions(settings.db_url))


def _file_job(*args: Any) -> tuple[str, Any, Any]:
    """In a pool process: ("ok", summary JSON, None), or (kind, one-line message, detail)."""
    try:
        summary = _screen_upload(_WORKER["screener"], _WORKER["decisions"], _WORKER["settings"].max_upload_rows, *args)
        return "ok", summary.model_dump_json(), None
    except ColumnNotFound as exc:
        return "input", str(exc), exc.headers
    except InputError as exc:
        return "input", str(exc), None
    except TooManyRows as exc:
        return "rows", str(exc), None
    except _StoreUnavailable:
        return "store", "the audit store is unavailable; the run cannot be recorded", None
    except Exception:  # noqa: BLE001 - logged here with an id; the client gets only the id
        error_id = uuid.uuid4().hex[:12]
        log.exception("internal error %s while screening an upload", error_id)
        return "error", error_id, None


def _file_error(kind: str, value: str, detail: Any, display_name: str) -> JSONResponse:
    if kind == "input":
        body: dict[str, Any] = {"error": value}
        if detail is not None:
            body["headers"] = detail
        return JSONResponse(body, status_code=422)
    if kind == "rows":
        return JSONResponse({"error": f"{display_name}: {value}"}, status_code=413)
    if kind == "store":
        return JSONResponse({"error": value}, status_code=503)
    return JSONResponse({"error": "internal error", "id": value}, status_code=500)


def _stream(fh: IO[bytes], prefix: bytes = b"", suffix: bytes = b"") -> Iterator[bytes]:
    try:
        if prefix:
            yield prefix
        while chunk := fh.read(CHUNK):
            yield chunk
        if suffix:
            yield suffix
    finally:
        fh.close()


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@v1.post(
    "/screen/file",
    responses={**_ERRORS, 200: {"description": "the Excel report, or JSON with format=json",
                                "content": {XLSX_TYPE: {}, "application/json": {}}}},
    tags=["screen"],
)
async def screen_file(
    request: Request,
    file: UploadFile = File(..., description="customer spreadsheet: .xlsx, .xlsm, .csv, .tsv or .txt"),
    fmt: str | None = Form(None, alias="format", description="xlsx (default) or json"),
    sheet: str | None = Form(None, description="screen only this sheet"),
    name_column: str | None = Form(None, description="header, letter or number of the name column"),
    country_column: str | None = Form(None),
    address_column: str | None = Form(None),
    record: str | None = Form(None, description="true: record the run in the audit store"),
) -> Response:
    """Screen an uploaded spreadsheet into the Excel report (or JSON). Every option may also be
    given as a query parameter. Input errors are 422 with the one-line reason."""
    svc = _service(request)
    query = request.query_params

    def opt(name: str, value: str | None) -> str | None:
        value = value if value not in (None, "") else query.get(name)
        return value.strip() or None if value is not None else None

    out_format = (opt("format", fmt) or "xlsx").lower()
    if out_format not in ("xlsx", "json"):
        return JSONResponse(error_body([{"field": "format", "message": "must be xlsx or json"}]), status_code=422)
    options = {
        "sheet": opt("sheet", sheet),
        "name_column": opt("name_column", name_column),
        "country_column": opt("country_column", country_column),
        "address_column": opt("address_column", address_column),
    }
    display_name = _client_name(file.filename)
    suffix = Path(display_name).suffix.lower()
    if suffix not in XLSX_SUFFIXES + TEXT_SUFFIXES:
        shown = suffix or "(no extension)"
        return JSONResponse(
            {"error": f'{display_name}: unsupported file type "{shown}": use .xlsx, .xlsm, .csv, .tsv or .txt'},
            status_code=422,
        )
    user = f"api-key:{getattr(request.state, 'api_key_id', 'unknown')}"
    workdir = Path(tempfile.mkdtemp(prefix="screener-upload-"))  # mode 0700
    try:
        upload = workdir / f"input{suffix}"  # generated name: the client's name never becomes a path
        output = workdir / f"report.{out_format}"
        await run_in_threadpool(_save, file.file, upload)
        await file.close()
        kind, value, detail = await svc.run_file_job(
            _file_job, upload, display_name, output, options, user, _truthy(opt("record", record))
        )
        if kind != "ok":
            return _file_error(kind, value, detail, display_name)
        summary = RunSummary.model_validate_json(value)
        fh = output.open("rb")  # stays readable after the folder is removed below
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    size = os.fstat(fh.fileno()).st_size
    potential = summary.counts.get(Status.POTENTIAL_MATCH.value, 0)
    stem = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in Path(display_name).stem)[:80]
    headers = {
        "X-Screener-Run-Id": summary.run_id,
        "X-Screener-Rows": str(summary.rows_reported),
        "X-Screener-Potential-Matches": str(potential),
    }
    if out_format == "xlsx":
        headers["Content-Disposition"] = f'attachment; filename="screening-{stem or "upload"}.xlsx"'
        headers["Content-Length"] = str(size)
        return StreamingResponse(_stream(fh), media_type=XLSX_TYPE, headers=headers)
    prefix = b'{"summary": ' + summary.model_dump_json().encode("utf-8") + b', "results": '
    headers["Content-Length"] = str(len(prefix) + size + 2)
    return StreamingResponse(_stream(fh, prefix, b"}\n"), media_type="application/json", headers=headers)


router.include_router(v1)
