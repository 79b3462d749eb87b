"""The JSON API for pipelines: check a shipment, screen names, screen a file, show the lists.

Thin shells over `screener.shipment`, `Screener` and the job queue. Small requests are screened on
the event loop (well under a millisecond per party, cheaper than a thread hop); large batches are
screened and encoded as JSON in worker threads, and files are jobs run by worker processes
(`jobs`), so that checks keep flowing while a long file is screened.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from screener import __version__
from screener.files.missing import OptionalFact, OptionalNameText
from screener.files.readers import TEXT_SUFFIXES, XLSX_SUFFIXES
from screener.files.writers import json_record
from screener.models import InputRow, ListInfo, RowResult, RunSummary, Status
from screener.ownership.assess import with_owners
from screener.ownership.graph import OwnershipError
from screener.review.clearance import verdict_of
from screener.screening import Screener
from screener.service.errors import error_body
from screener.service.jobs import new_folder, remove_folder
from screener.service.refresh import status as refresh_status
from screener.service.state import Decisions, ServiceState, StoreDown
from screener.shipment import (
    MAX_NAME_CHARS,
    MAX_OWNERS,
    Shipment,
    ShipmentDecision,
    ShipmentError,
    ShipmentOwner,
    decide,
    screen_parties,
)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
INLINE_PARTIES = 50  # up to this many parties are screened on the event loop
POOLED_PARTIES = 500  # past this many, in a worker process (in a thread up to it)
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
    freshness: list[dict[str, object]] = Field(default_factory=list, description="each imported list's "
                                               "fetched-at, age in days and warning (stale, or last refresh failed)")


@router.get("/healthz", response_model=Health, tags=["health"])
async def healthz(request: Request) -> Response:
    """Liveness and the list versions loaded; needs no key."""
    screener = _screener(request)
    lists = [{"key": i.key, "name": i.name, "version": i.version, "content_hash": i.content_hash} for i in screener.list_infos()]
    freshness = await run_in_threadpool(refresh_status, [i.key for i in screener.list_infos()])
    return _json(Health(version=__version__, threshold=screener.threshold, lists=lists,
                        freshness=freshness).model_dump_json())


@v1.get("/lists", response_model=list[ListInfo], responses=_ERRORS, tags=["lists"])
async def lists(request: Request) -> Response:
    """Each loaded list: name, version, content hash, parties and aliases."""
    infos = _screener(request).list_infos()
    return _json(json.dumps([i.model_dump(mode="json") for i in infos]))


# --- shipment check -------------------------------------------------------------------------------


@v1.post("/check", response_model=ShipmentDecision, responses=_ERRORS, tags=["check"])
async def check(shipment: Shipment, request: Request) -> Response:
    """RELEASE or HOLD for a shipment: HOLD when any party is a potential match not cleared by an
    analyst, could not be screened, or has owners that need review under the 50% Affiliates Rule
    (`owners` per party). The HTTP status is 200 for both; read `decision`."""
    svc = _service(request)
    screener = _screener(request)
    try:
        if len(shipment.parties) <= INLINE_PARTIES and not any(p.owners for p in shipment.parties):
            results = screen_parties(shipment, screener)
        else:
            results = await run_in_threadpool(screen_parties, shipment, screener)
    except ShipmentError as exc:  # ownership that cannot be true: a cycle, shares over 100%
        return JSONResponse(error_body([{"field": "parties", "message": str(exc)}]), status_code=422)
    if any(r.status is Status.POTENTIAL_MATCH for r in results):
        results = await run_in_threadpool(svc.decisions.apply, results, screener)
    decision = decide(shipment, results, screener)
    return _json(decision.model_dump_json(), {"X-Screener-Decision": decision.decision})


# --- screening names ------------------------------------------------------------------------------


class ScreenParty(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    name: OptionalNameText = Field(
        max_length=MAX_NAME_CHARS,
        description="null or blank: reported as not screened; NaN, Infinity or 'n/a' as a name: 422",
    )
    country: OptionalFact = Field(default=None, max_length=100)
    address: OptionalFact = Field(default=None, max_length=2_000)
    owners: list[ShipmentOwner] = Field(
        default_factory=list, max_length=MAX_OWNERS, description="owners with their share, for the Affiliates Rule"
    )


class ScreenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parties: list[ScreenParty] = Field(min_length=1, description="at most `max_batch_parties` (default 10,000)")


class ScreenResponse(BaseModel):
    threshold: float
    lists: list[ListInfo]
    counts: dict[str, int]
    clear: bool = Field(description="every party screened and clear (the rule of `check` and the CLI's exit 0)")
    verdict: str = Field(description="why clear or not, in one line")
    results: list[dict[str, Any]] = Field(
        description="per party, in order: the flat record (status, score, entity, explanation, sources...) "
        "plus `matches`, every candidate above the threshold with its structured explanation"
    )


def _screen_batch(rows: list[InputRow], screener: Screener, svc: ServiceState,
                  owned: list[tuple[str | None, list[ShipmentOwner], str]] | None = None) -> bytes:
    """Screen and encode a batch; run in a worker thread for large ones, so neither holds the loop.
    `owned` is (name, owners, where) per party when any party has owners (OwnershipError if impossible)."""
    results = list(screener.screen_rows(rows))
    if owned:
        results = with_owners(screener, results, owned)
    return _decided_payload(results, screener, svc.decisions)


def _pooled_batch(screener: Screener, decisions: Decisions, parties: list[tuple[str, str | None, str | None]]) -> bytes:
    """In a worker process (`Runner.run_in_pool`): a big batch holds neither the loop nor the GIL.

    The parties come as plain tuples and the rows are built here: building and pickling 5,000
    pydantic rows in the server took ~50 ms of its event loop, which every check waited out."""
    rows = [InputRow(name=name, country=country, address=address, row=i)
            for i, (name, country, address) in enumerate(parties, 1)]
    return _decided_payload(list(screener.screen_rows(rows)), screener, decisions)


def _decided_payload(results: list[RowResult], screener: Screener, decisions: Decisions) -> bytes:
    if any(r.status is Status.POTENTIAL_MATCH for r in results):
        results = decisions.apply(results, screener)
    return _batch_payload(results, screener)


def _batch_payload(results: list[RowResult], screener: Screener) -> bytes:
    counts = {s.value: 0 for s in Status}
    for r in results:
        counts[r.status.value] += 1
    payload = {
        "threshold": screener.threshold,
        "lists": [i.model_dump(mode="json") for i in screener.list_infos()],
        "counts": counts,
        "clear": (outcome := verdict_of(results)).clear,
        "verdict": outcome.reason,
        "results": [json_record(r) for r in results],
    }
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


@v1.post("/screen", response_model=ScreenResponse, responses=_ERRORS, tags=["screen"])
async def screen(body: ScreenRequest, request: Request) -> Response:
    """Screen a batch of names; one result per party, in order (`row` is the 1-based position)."""
    svc = _service(request)
    screener = _screener(request)
    limit = svc.settings.max_batch_parties
    if len(body.parties) > limit:
        message = f"at most {limit:,} parties per request, got {len(body.parties):,}"
        return JSONResponse(error_body([{"field": "parties", "message": message}]), status_code=422)
    owners = any(p.owners for p in body.parties)
    if not owners and len(body.parties) > POOLED_PARTIES and svc.runner is not None:
        parties = [(p.name, p.country, p.address) for p in body.parties]
        return _json(await svc.runner.run_in_pool(_pooled_batch, parties))
    rows = [InputRow(name=p.name, country=p.country, address=p.address, row=i) for i, p in enumerate(body.parties, 1)]
    if owners:
        owned = [(p.name, p.owners, f"parties[{i}]") for i, p in enumerate(body.parties)]
        try:
            return _json(await run_in_threadpool(_screen_batch, rows, screener, svc, owned))
        except OwnershipError as exc:  # a cycle, shares over 100%
            return JSONResponse(error_body([{"field": "parties", "message": str(exc)}]), status_code=422)
    if len(rows) > INLINE_PARTIES:
        return _json(await run_in_threadpool(_screen_batch, rows, screener, svc))
    results = list(screener.screen_rows(rows))
    if any(r.status is Status.POTENTIAL_MATCH for r in results):
        results = await run_in_threadpool(svc.decisions.apply, results, screener)
    return _json(_batch_payload(results, screener))


# --- screening a file -----------------------------------------------------------------------------


def _client_name(filename: str | None) -> str:
    """The client's file name for messages and the report only: last path part, printable, short."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:200]
    return name or "upload"


def _save(upload: IO[bytes], path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(upload, out, 1024 * 1024)


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
    if kind == "cancelled":
        return JSONResponse({"error": "the screening was cancelled"}, status_code=503)
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
    file: UploadFile = File(..., description="customer spreadsheet: .xlsx, .xlsm, .csv, .tsv or .txt"),  # noqa: B008
    fmt: str | None = Form(None, alias="format", description="xlsx (default) or json"),
    sheet: list[str] | None = Form(None, description="screen only this sheet (repeatable)"),
    name_column: list[str] | None = Form(
        None, description="header, letter or number of a party name column (repeatable)"),
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

    def every(name: str, values: list[str] | None) -> list[str] | None:
        return [v.strip() for v in (values or query.getlist(name)) if v.strip()] or None

    out_format = (opt("format", fmt) or "xlsx").lower()
    if out_format not in ("xlsx", "json"):
        return JSONResponse(error_body([{"field": "format", "message": "must be xlsx or json"}]), status_code=422)
    options = {
        # every sheet and party column asked for: a repeated field or parameter must not leave all
        # but one unscreened
        "sheet": every("sheet", sheet),
        "name_column": every("name_column", name_column),
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
    runner = svc.runner
    assert runner is not None, "the job runner is built with the app"
    try:
        shared = await run_in_threadpool(svc.shared)
    except StoreDown:
        return JSONResponse({"error": "the job store is unavailable; try again later"}, status_code=503)
    job_id, workdir = new_folder()  # private (0700); the client's name never becomes a path
    try:
        upload = workdir / f"input{suffix}"
        await run_in_threadpool(_save, file.file, upload)
        await file.close()
        spec = {"input": str(upload), "output": str(workdir / f"report.{out_format}"), "options": options,
                "user": user, "record": _truthy(opt("record", record)), "max_rows": svc.settings.max_upload_rows}
        await run_in_threadpool(lambda: shared.add_job(kind="api", user=user, file_name=display_name, workdir=workdir,
                                                       spec=spec, size=upload.stat().st_size, job_id=job_id))
        runner.wake()
        job = None
        try:
            while job is None:
                job = await runner.wait(job_id, timeout=3600)
        finally:
            if job is None:  # the client went away: stop the work nobody will read
                await run_in_threadpool(shared.cancel_job, job_id, user)
        outcome = json.loads(job.result or '{"kind": "error", "value": "lost"}')
        if outcome["kind"] != "ok":
            return _file_error(outcome["kind"], outcome["value"], outcome.get("detail"), display_name)
        summary = RunSummary.model_validate_json(outcome["value"])
        fh = Path(spec["output"]).open("rb")  # noqa: ASYNC230, SIM115 - readable after the folder goes
    finally:
        remove_folder(workdir)

    size = os.fstat(fh.fileno()).st_size
    potential = summary.counts.get(Status.POTENTIAL_MATCH.value, 0)
    stem = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in Path(display_name).stem)[:80]
    headers = {
        "X-Screener-Run-Id": summary.run_id,
        "X-Screener-Rows": str(summary.rows_reported),
        "X-Screener-Potential-Matches": str(potential),
        "X-Screener-Clear": "true" if summary.clear else "false",
    }
    if out_format == "xlsx":
        headers["Content-Disposition"] = f'attachment; filename="screening-{stem or "upload"}.xlsx"'
        headers["Content-Length"] = str(size)
        return StreamingResponse(_stream(fh), media_type=XLSX_TYPE, headers=headers)
    prefix = b'{"summary": ' + summary.model_dump_json().encode("utf-8") + b', "results": '
    headers["Content-Length"] = str(len(prefix) + size + 2)
    return StreamingResponse(_stream(fh, prefix, b"}\n"), media_type="application/json", headers=headers)


router.include_router(v1)
