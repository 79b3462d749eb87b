"""Uploading a file to screen: the upload page, the choice of columns, and the job's progress."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from screener.service.jobs import remove_folder
from screener.service.shared import JobRow
from screener.service.web import Refused, Session, Web, size_label

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
OPEN_WAIT_SECONDS = 3.0  # an upload's first answer waits this long for a worker to open the file


@dataclass
class Pending:
    """An upload whose name column must be chosen by the user before it can be screened."""

    token: str
    file_name: str
    headers: list[str]
    message: str


def add_routes(router: APIRouter, web: Web) -> None:
    @router.get("/", response_class=HTMLResponse)
    async def upload_page(request: Request) -> Response:
        session = web.require(request)
        recent = web.store.list_runs(include_incomplete=True, limit=10, viewer=session.user)
        return web.page(request, "upload.html", 200, session, title="Screen a file", runs=recent,
                        max_size=size_label(web.settings.max_upload_bytes), error=None)

    @router.post("/upload")
    async def upload(request: Request) -> Response:
        session = web.require(request)
        job_id, path, shown = await web.posted_file(request, session, "Choose a file to screen.")
        return await _open_and_start(request, session, job_id, path, shown, {})

    async def _open_and_start(
        request: Request, session: Session, job_id: str, path: Path, shown: str, columns: dict[str, str | None],
    ) -> Response:
        """Queue the upload, and wait a moment for a worker to open it: a file the reader refuses, or
        whose name column must be chosen, is answered here; a long run goes to its progress page."""
        await run_in_threadpool(web.queue_job, job_id, session.user, path, shown, columns)
        runner = web.app.state.service.runner
        runner.wake()
        job = await runner.wait(job_id, timeout=OPEN_WAIT_SECONDS)
        if job is not None and job.state == "columns":
            return web.page(request, "columns.html", 200, session, title="Which column holds the names?",
                            pending=_pending(job), chosen=columns)
        if job is not None and job.state == "failed" and json.loads(job.result or "{}").get("stage") == "open":
            return _upload_error(request, session, job.error or f"{shown}: the file could not be read.")
        return RedirectResponse(f"/jobs/{job_id}", status_code=303)

    def _pending(job: JobRow) -> Pending:
        return Pending(token=job.id, file_name=job.file_name, headers=job.spec.get("headers", []),
                       message=job.spec.get("message", ""))

    def _upload_error(request: Request, session: Session, message: str) -> Response:
        recent = web.store.list_runs(include_incomplete=True, limit=10, viewer=session.user)
        return web.page(request, "upload.html", 400, session, title="Screen a file", runs=recent,
                        max_size=size_label(web.settings.max_upload_bytes), error=message)

    @router.post("/upload/{token}/columns")
    async def choose_columns(request: Request, token: str) -> Response:
        session = web.require(request)
        form = await web.form(request, session)
        job = await run_in_threadpool(web.shared.job, token) if TOKEN.fullmatch(token) else None
        if job is None or job.user != session.user or job.state != "columns":
            raise Refused(404, "This upload has expired; upload the file again.")
        pending = _pending(job)
        chosen: dict[str, str | None] = {}
        for role in ("name", "country", "address"):
            value = str(form.get(f"{role}_column") or "")
            if value and value not in pending.headers:
                await run_in_threadpool(web.shared.end_job, job.id, "cancelled", error="Bad column choice.")
                remove_folder(job.folder)
                raise Refused(400, "Choose columns from the file's headers.")
            chosen[f"{role}_column"] = value or None
        if not chosen["name_column"]:
            return web.page(request, "columns.html", 400, session, title="Which column holds the names?",
                            pending=pending, chosen=chosen, error="Choose the column that holds the names.")
        return await _open_and_start(request, session, job.id, Path(job.spec["input"]), job.file_name, chosen)

    # -- progress --------------------------------------------------------------------------------

    def _job(token: str, session: Session) -> JobRow | None:
        job = web.shared.job(token) if TOKEN.fullmatch(token) else None
        return job if job is not None and job.user == session.user else None

    @router.get("/jobs/{token}", response_class=HTMLResponse)
    async def job_page(request: Request, token: str) -> Response:
        session = web.require(request)
        job = await run_in_threadpool(_job, token, session)
        if job is None:
            raise Refused(404, "No such upload; it may have finished long ago.")
        if job.state == "done" and job.run_id:
            return RedirectResponse(f"/runs/{job.run_id}", status_code=303)
        if job.state == "columns":
            return web.page(request, "columns.html", 200, session, title="Which column holds the names?",
                            pending=_pending(job), chosen=job.spec.get("options", {}))
        return web.page(request, "job.html", 200, session, title="Screening", job=job)

    @router.get("/jobs/{token}/status")
    async def job_status(request: Request, token: str) -> Response:
        session = web.require(request, json=True)
        job = await run_in_threadpool(_job, token, session)
        if job is None:
            return JSONResponse({"error": "no such upload"}, status_code=404)
        percent = None
        if job.total:
            percent = 100 if job.state == "done" else min(99, int(job.rows * 100 / job.total))
        url = f"/runs/{job.run_id}" if job.state == "done" and job.run_id else None
        return JSONResponse(
            {
                "state": "failed" if job.state == "cancelled" else job.state,  # the page knows done and failed
                "cancelled": job.state == "cancelled",
                "rows": job.rows,
                "total": job.total,
                "percent": percent,
                "error": job.error,
                "url": f"/jobs/{job.id}" if job.state == "columns" else url,
            },
            headers={"Cache-Control": "no-store"},
        )

    @router.post("/jobs/{token}/cancel")
    async def cancel_job(request: Request, token: str) -> Response:
        session = web.require(request)
        await web.form(request, session)
        if not TOKEN.fullmatch(token) or not await run_in_threadpool(web.shared.cancel_job, token, session.user):
            raise Refused(404, "This upload is not screening any more.")
        web.app.state.service.runner.wake()
        return RedirectResponse(f"/jobs/{token}", status_code=303)
