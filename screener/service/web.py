"""The upload page for compliance staff: sign in, upload a spreadsheet, review matches, download.

A thin shell over the library: `readers.open_input` checks the file, `pipeline.screen_sources`
screens it into the Excel report, `Store` records the run and the analysts' decisions, and
`Store.apply_decisions` marks matches already reviewed, so a second upload shows them as cleared.

Security model, kept small on purpose:
- Sessions are signed cookies (itsdangerous; HttpOnly, SameSite=Lax, Secure over https) that expire
  after `settings.session_hours`; signing out revokes the session in this process.
- Every page except sign-in needs a session (pages redirect, the JSON status answers 401), checked
  before a byte of an upload is read; every POST carries a CSRF token bound to the session
  (sign-in: to a short-lived pre-session cookie).
- Uploads go to a private temp folder (0700) under a random name and are deleted after the run.
  Reports are served from `<home>/reports/<run_id>.xlsx`, the path built from a run id that must
  match a strict pattern and exist in the store, never from anything else the user sends.
- Templates autoescape, pages carry a CSP without inline script, and errors are fixed sentences or
  the reader's one-line message naming the uploaded file: never a traceback or a server path.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from screener.files.outputs import open_writer
from screener.files.readers import ColumnNotFound, InputError, InputSource, open_input
from screener.home import home
from screener.models import InputRow, RowResult, Status
from screener.pipeline import screen_sources
from screener.review.store import Store, StoreError, input_key, party_hash
from screener.screening import Screener
from screener.service.settings import Settings

log = logging.getLogger("screener.web")

HERE = Path(__file__).parent
SESSION_COOKIE = "screener_session"
SIGNIN_COOKIE = "screener_signin"
SIGNIN_MINUTES = 60
RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
UPLOAD_SUFFIXES = (".xlsx", ".xlsm", ".csv", ".tsv", ".txt")
PAGE_ROWS = 500
MAX_MATCH_ROWS = 2_000  # potential-match rows shown with review forms; the report holds them all
MAX_JOBS_PER_USER = 3
PENDING_SECONDS = 3600
JOB_KEEP_SECONDS = 24 * 3600
FAILED_SIGNINS = 5
FAILED_WINDOW = 15 * 60
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
MESSAGES = {  # the only texts a query string can select
    "saved": "Decision recorded. It applies to later uploads while the list entry and threshold stay the same.",
    "comment": "A comment is required: say why.",
    "decision": "Choose false positive or confirmed match.",
    "party": "This party is not on the lists loaded now, so it cannot be reviewed here.",
    "version": "This run screened another version of the list; upload the file again to review it "
    "against the list loaded now.",
    "row": "That row is not a potential match of this run.",
}


class _SignInRequired(Exception):
    def __init__(self, json: bool) -> None:
        self.json = json


class _Refused(Exception):
    """A request refused with a fixed, safe message and status."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message


@dataclass
class Session:
    user: str
    csrf: str
    sid: str


@dataclass
class Job:
    id: str
    user: str
    file_name: str
    path: Path
    source: InputSource
    total: int | None = None
    state: str = "queued"  # queued | running | done | failed
    rows: int = 0
    error: str | None = None
    run_id: str | None = None
    created: float = field(default_factory=time.time)
    ended: float | None = None


@dataclass
class Pending:
    """An upload whose name column must be chosen by the user before it can be screened."""

    token: str
    user: str
    file_name: str
    path: Path
    headers: list[str]
    message: str
    created: float = field(default_factory=time.time)


class Web:
    """State of the page: store, signer, private upload folder, background jobs."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._store: Store | None = None
        self.signer = URLSafeTimedSerializer(settings.secret_key or secrets.token_hex(32), salt="screener-web")
        self.session_seconds = max(60, int(settings.session_hours * 3600))
        self._uploads = tempfile.TemporaryDirectory(prefix="screener-uploads-", ignore_cleanup_errors=True)
        self.upload_dir = Path(self._uploads.name)
        os.chmod(self.upload_dir, 0o700)
        self.reports = home() / "reports"
        self.reports.mkdir(parents=True, exist_ok=True)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screener-web")
        self.jobs: dict[str, Job] = {}
        self.pending: dict[str, Pending] = {}
        self.revoked: dict[str, float] = {}
        self.failures: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        self.env.filters["score"] = lambda v: "" if v is None else f"{v:.1f}"
        self.env.filters["safe_url"] = _safe_url
        self.env.filters["group_sources"] = _group_sources

    @property
    def store(self) -> Store:
        """Opened on first use, so the service starts (and says so) even when the store is down."""
        if self._store is None:
            with self.lock:
                if self._store is None:
                    try:
                        self._store = Store.open(self.settings.db_url)
                    except Exception as exc:
                        log.warning("audit store unavailable for the upload page (%s)", type(exc).__name__)
                        raise _Refused(503, "The audit store is unavailable; ask your administrator.") from exc
        return self._store

    @property
    def screener(self) -> Screener:
        """The service's screener (built at start-up), or the default list at the settings' threshold."""
        found = getattr(self.app.state, "screener", None)
        if found is None:
            found = getattr(getattr(self.app.state, "service", None), "screener", None)
        return found if found is not None else Screener.default(threshold=self.settings.threshold)

    # -- responses -------------------------------------------------------------------------------

    def page(
        self, request: Request, template: str, status: int = 200, session: Session | None = None, **context: Any
    ) -> HTMLResponse:
        values: dict[str, Any] = {"user": session.user if session else None, "csrf": session.csrf if session else None}
        values.update(context)
        html = self.env.get_template(template).render(**values)
        return HTMLResponse(html, status_code=status, headers=_page_headers())

    def refused(self, request: Request, status: int, message: str, session: Session | None = None) -> HTMLResponse:
        return self.page(request, "error.html", status, session, title="Not possible", message=message)

    # -- sessions --------------------------------------------------------------------------------

    def session(self, request: Request) -> Session | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            data = self.signer.loads(raw, max_age=self.session_seconds, salt="session")
            s = Session(user=str(data["u"]), csrf=str(data["c"]), sid=str(data["s"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        return None if s.sid in self.revoked else s

    def require(self, request: Request, json: bool = False) -> Session:
        s = self.session(request)
        if s is None:
            raise _SignInRequired(json)
        return s

    async def form(self, request: Request, session: Session | None, *, upload: bool = False) -> Any:
        """The POSTed form once its CSRF token matched the session's (sign-in: the pre-session cookie's).

        The caller has already checked the session, so an anonymous upload is refused unread; the
        declared length is checked before parsing and `save_upload` counts the bytes actually sent.
        """
        limit = self.settings.max_upload_bytes + 1024 * 1024 if upload else 1024 * 1024
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            raise _Refused(411, "The request must state its length.")
        if int(length) > limit:
            too_big = f"The file is larger than {_size(self.settings.max_upload_bytes)}." if upload else "The form is too large."
            raise _Refused(413, too_big)
        try:
            form = await request.form(max_files=1 if upload else 0, max_fields=20)
        except Exception as exc:  # malformed multipart: one safe sentence, never the parser's text
            raise _Refused(400, "The form could not be read.") from exc
        expected = session.csrf if session else self._signin_token(request)
        _check_csrf(form.get("csrf"), expected)
        return form

    def _signin_token(self, request: Request) -> str:
        raw = request.cookies.get(SIGNIN_COOKIE, "")
        try:
            return str(self.signer.loads(raw, max_age=SIGNIN_MINUTES * 60, salt="signin"))
        except (BadSignature, TypeError, ValueError):
            return ""

    def start_session(self, request: Request, user: str, target: str) -> Response:
        data = {"u": user, "c": secrets.token_urlsafe(24), "s": secrets.token_urlsafe(12)}
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE, self.signer.dumps(data, salt="session"), max_age=self.session_seconds,
            httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/",
        )
        response.delete_cookie(SIGNIN_COOKIE, path="/")
        return response

    def throttled(self, name: str) -> bool:
        now = time.time()
        with self.lock:
            recent = [t for t in self.failures.get(name.casefold(), []) if now - t < FAILED_WINDOW]
            self.failures[name.casefold()] = recent
            return len(recent) >= FAILED_SIGNINS

    def failed(self, name: str) -> None:
        with self.lock:
            self.failures.setdefault(name.casefold(), []).append(time.time())

    # -- uploads and jobs ------------------------------------------------------------------------

    async def save_upload(self, upload: UploadFile) -> tuple[Path, str]:
        """Copy the upload under a random name into the private folder; return (path, shown name)."""
        shown = _display_name(upload.filename or "")
        suffix = Path(shown).suffix.lower()
        if not shown or suffix not in UPLOAD_SUFFIXES:
            raise _Refused(400, "Upload an Excel workbook (.xlsx) or a delimited text file (.csv, .tsv, .txt).")
        path = self.upload_dir / f"{secrets.token_hex(16)}{suffix}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := await upload.read(1024 * 1024):
                    size += len(chunk)
                    if size > self.settings.max_upload_bytes:
                        raise _Refused(413, f"The file is larger than {_size(self.settings.max_upload_bytes)}.")
                    out.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if size == 0:
            path.unlink(missing_ok=True)
            raise _Refused(400, "The file is empty.")
        return path, shown

    def sweep(self) -> None:
        """Forget old jobs and abandoned column choices (deleting their files)."""
        now = time.time()
        with self.lock:
            for token, p in list(self.pending.items()):
                if now - p.created > PENDING_SECONDS:
                    p.path.unlink(missing_ok=True)
                    del self.pending[token]
            for job_id, job in list(self.jobs.items()):
                if job.ended and now - job.ended > JOB_KEEP_SECONDS:
                    del self.jobs[job_id]
            for sid, until in list(self.revoked.items()):
                if until < now:
                    del self.revoked[sid]

    def start_job(self, user: str, path: Path, file_name: str, source: InputSource) -> Job:
        with self.lock:
            active = [j for j in self.jobs.values() if j.user == user and j.state in ("queued", "running")]
            if len(active) >= MAX_JOBS_PER_USER:
                source.close()
                path.unlink(missing_ok=True)
                raise _Refused(429, "You have uploads still screening; wait for them to finish.")
            job = Job(id=secrets.token_urlsafe(18), user=user, file_name=file_name, path=path, source=source)
            job.total = _estimate_rows(path, source)
            self.jobs[job.id] = job
        self.executor.submit(self.run_job, job)
        return job

    def run_job(self, job: Job) -> None:
        """Screen, apply decisions, write the report, record the run; always delete the upload."""
        job.state = "running"
        screener = self.screener
        staging = self.reports / f".job-{job.id}.xlsx"
        recorder = None
        limit = self.settings.max_upload_rows

        def limited(rows: Iterable[InputRow]) -> Iterator[InputRow]:
            for n, row in enumerate(rows, start=1):
                if n > limit:
                    raise InputError(f"more than {limit:,} rows: split the file", file=job.file_name)
                yield row

        def screen(rows: Iterable[InputRow]) -> Iterator[RowResult]:
            return self.store.apply_decisions(screener.screen_rows(limited(rows)), screener)

        try:
            recorder = self.store.recorder(user=job.user, source="web")
            observe_row = recorder.observe

            def observe(result: RowResult) -> None:
                observe_row(result)
                job.rows += 1

            writer = open_writer(staging, screener.lists)
            summary = screen_sources(screener, [job.source], writer, screen=screen, user=job.user, observe=observe)
            run_id = recorder.finish(summary)
            if not RUN_ID.fullmatch(run_id):
                raise StoreError("unexpected run id")
            os.replace(staging, self.reports / f"{run_id}.xlsx")
            job.run_id = run_id
            job.state = "done"
        except InputError as exc:
            if recorder is not None:
                recorder.abort(str(exc))
            job.error = str(exc)
            job.state = "failed"
        except Exception as exc:
            log.exception("screening upload %s failed", job.id)
            if recorder is not None:
                _quietly(recorder.abort, type(exc).__name__)
            job.error = "Screening failed; the run was not completed. Try again, or ask your administrator."
            job.state = "failed"
        finally:
            job.source.close()
            job.path.unlink(missing_ok=True)
            staging.unlink(missing_ok=True)
            job.ended = time.time()

    # -- results ---------------------------------------------------------------------------------

    def review_state(self, run_threshold: float, rows: list[Any]) -> dict[tuple[int, int], dict[str, Any]]:
        """For every candidate on the page, the decision in force now and whether it still holds."""
        screener = self.screener
        parties = {(k, p.id): p for k, lst in screener.lists for p in lst.parties}
        decided = self.store.current_decisions()
        out: dict[tuple[int, int], dict[str, Any]] = {}
        for row in rows:
            key = input_key(row.input_name)
            for i, m in enumerate(row.matches):
                d = decided.get((key, m.entity_id, m.list_key))
                if d is None:
                    continue
                party = parties.get((m.list_key, m.entity_id))
                holds = party is not None and d.party_hash == party_hash(party) and round(d.threshold, 6) == round(
                    run_threshold, 6
                )
                out[(row.seq, i)] = {"decision": d, "holds": holds}
        return out


def mount(app: FastAPI, settings: Settings) -> None:
    """Add the page routes at `/` and the static files at `/static`."""
    web = Web(app, settings)
    app.state.web = web
    router = APIRouter(include_in_schema=False)

    @app.exception_handler(_SignInRequired)
    async def _to_signin(request: Request, exc: _SignInRequired) -> Response:
        if exc.json:
            return JSONResponse({"error": "sign in first"}, status_code=401)
        target = request.url.path
        if request.method != "GET" or not _local_path(target):
            target = "/"
        return RedirectResponse(f"/signin?next={quote(target, safe='/')}", status_code=303)

    @app.exception_handler(_Refused)
    async def _refused(request: Request, exc: _Refused) -> Response:
        return web.refused(request, exc.status, exc.message, web.session(request))

    # -- sign in / out ---------------------------------------------------------------------------

    @router.get("/signin", response_class=HTMLResponse)
    async def signin_page(request: Request, next: str = "/") -> Response:
        if web.session(request):
            return RedirectResponse(next if _local_path(next) else "/", status_code=303)
        return _signin_form(request, next, None, 200)

    def _signin_form(request: Request, target: str, error: str | None, status: int) -> Response:
        token = web._signin_token(request) or secrets.token_urlsafe(24)  # other open tabs stay valid
        response = web.page(
            request, "signin.html", status, None, title="Sign in", csrf=token,
            next=target if _local_path(target) else "/", error=error,
        )
        response.set_cookie(
            SIGNIN_COOKIE, web.signer.dumps(token, salt="signin"), max_age=SIGNIN_MINUTES * 60,
            httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/",
        )
        return response

    @router.post("/signin")
    async def signin(request: Request) -> Response:
        form = await web.form(request, None)
        name = str(form.get("username") or "").strip()[:200]
        password = str(form.get("password") or "")[:1024]
        target = str(form.get("next") or "/")
        target = target if _local_path(target) else "/"
        if web.throttled(name):
            return _signin_form(request, target, "Too many failed attempts; wait 15 minutes.", 429)
        if not name or not password or not await run_in_threadpool(web.store.verify_user, name, password):
            web.failed(name)
            return _signin_form(request, target, "Wrong user name or password.", 401)
        return web.start_session(request, name, target)

    @router.post("/signout")
    async def signout(request: Request) -> Response:
        session = web.require(request)
        await web.form(request, session)
        with web.lock:
            web.revoked[session.sid] = time.time() + web.session_seconds
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- upload ----------------------------------------------------------------------------------

    @router.get("/", response_class=HTMLResponse)
    async def upload_page(request: Request) -> Response:
        session = web.require(request)
        recent = web.store.list_runs(include_incomplete=True, limit=10)
        return web.page(request, "upload.html", 200, session, title="Screen a file", runs=recent,
                        max_size=_size(web.settings.max_upload_bytes), error=None)

    @router.post("/upload")
    async def upload(request: Request) -> Response:
        session = web.require(request)
        form = await web.form(request, session, upload=True)
        web.sweep()
        try:
            file = form.get("file")
            if not isinstance(file, UploadFile) or not file.filename:
                raise _Refused(400, "Choose a file to screen.")
            path, shown = await web.save_upload(file)
        finally:
            await form.close()
        return await _open_and_start(request, session, path, shown, {})

    async def _open_and_start(
        request: Request, session: Session, path: Path, shown: str, columns: dict[str, str | None],
        token: str | None = None,
    ) -> Response:
        try:
            source = await run_in_threadpool(lambda: open_input(path, display_name=shown, **columns))
        except ColumnNotFound as exc:
            token = token or secrets.token_urlsafe(18)
            pending = Pending(token=token, user=session.user, file_name=shown, path=path,
                              headers=[h for h in exc.headers if h][:500], message=str(exc))
            with web.lock:
                web.pending[token] = pending
            return web.page(request, "columns.html", 200, session, title="Which column holds the names?",
                            pending=pending, chosen=columns)
        except InputError as exc:
            path.unlink(missing_ok=True)
            return _upload_error(request, session, str(exc))
        except Exception:
            path.unlink(missing_ok=True)
            log.exception("opening an upload failed")
            return _upload_error(request, session, f"{shown}: the file could not be read.")
        job = await run_in_threadpool(web.start_job, session.user, path, shown, source)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    def _upload_error(request: Request, session: Session, message: str) -> Response:
        recent = web.store.list_runs(include_incomplete=True, limit=10)
        return web.page(request, "upload.html", 400, session, title="Screen a file", runs=recent,
                        max_size=_size(web.settings.max_upload_bytes), error=message)

    @router.post("/upload/{token}/columns")
    async def choose_columns(request: Request, token: str) -> Response:
        session = web.require(request)
        form = await web.form(request, session)
        with web.lock:
            pending = web.pending.get(token) if TOKEN.fullmatch(token) else None
            if pending is None or pending.user != session.user:
                raise _Refused(404, "This upload has expired; upload the file again.")
            del web.pending[token]
        chosen: dict[str, str | None] = {}
        for role in ("name", "country", "address"):
            value = str(form.get(f"{role}_column") or "")
            if value and value not in pending.headers:
                pending.path.unlink(missing_ok=True)
                raise _Refused(400, "Choose columns from the file's headers.")
            chosen[f"{role}_column"] = value or None
        if not chosen["name_column"]:
            with web.lock:
                web.pending[token] = pending
            return web.page(request, "columns.html", 400, session, title="Which column holds the names?",
                            pending=pending, chosen=chosen, error="Choose the column that holds the names.")
        return await _open_and_start(request, session, pending.path, pending.file_name, chosen, token)

    # -- progress --------------------------------------------------------------------------------

    def _job(token: str) -> Job:
        job = web.jobs.get(token) if TOKEN.fullmatch(token) else None
        if job is None:
            raise _Refused(404, "No such upload; it may have finished long ago.")
        return job

    @router.get("/jobs/{token}", response_class=HTMLResponse)
    async def job_page(request: Request, token: str) -> Response:
        session = web.require(request)
        job = _job(token)
        if job.state == "done" and job.run_id:
            return RedirectResponse(f"/runs/{job.run_id}", status_code=303)
        return web.page(request, "job.html", 200, session, title="Screening", job=job)

    @router.get("/jobs/{token}/status")
    async def job_status(request: Request, token: str) -> Response:
        web.require(request, json=True)
        job = web.jobs.get(token) if TOKEN.fullmatch(token) else None
        if job is None:
            return JSONResponse({"error": "no such upload"}, status_code=404)
        percent = None
        if job.total:
            percent = 100 if job.state == "done" else min(99, int(job.rows * 100 / job.total))
        return JSONResponse(
            {
                "state": job.state,
                "rows": job.rows,
                "total": job.total,
                "percent": percent,
                "error": job.error,
                "url": f"/runs/{job.run_id}" if job.run_id else None,
            },
            headers={"Cache-Control": "no-store"},
        )

    # -- runs and review -------------------------------------------------------------------------

    def _run(run_id: str) -> Any:
        run = web.store.get_run(run_id) if RUN_ID.fullmatch(run_id) else None
        if run is None:
            raise _Refused(404, "No such run.")
        return run

    @router.get("/runs", response_class=HTMLResponse)
    async def runs_page(request: Request) -> Response:
        session = web.require(request)
        runs = web.store.list_runs(include_incomplete=True, limit=200)
        return web.page(request, "runs.html", 200, session, title="Runs", runs=runs)

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    async def results_page(request: Request, run_id: str, page: int = 1, msg: str = "") -> Response:
        session = web.require(request)
        run = _run(run_id)
        pages = max(1, -(-run.rows_reported // PAGE_ROWS))
        page = min(max(1, page), pages)

        def gather() -> tuple[list[Any], list[Any], dict[tuple[int, int], dict[str, Any]]]:
            found = list(web.store.run_rows(run.run_id, status=Status.POTENTIAL_MATCH, order="score",
                                            limit=MAX_MATCH_ROWS))
            shown = list(web.store.run_rows(run.run_id, offset=(page - 1) * PAGE_ROWS, limit=PAGE_ROWS))
            return found, shown, web.review_state(run.threshold, found)

        matches, rows, states = await run_in_threadpool(gather)
        cleared = sum(1 for r in matches if r.review_decision == "false_positive")
        return web.page(
            request, "results.html", 200, session, title=f"Run {run.run_id}", run=run, matches=matches,
            states=states, rows=rows, page=page, pages=pages,
            page_rows=PAGE_ROWS, cleared=cleared, truncated=run.counts.get("potential_match", 0) > len(matches),
            has_report=(web.reports / f"{run.run_id}.xlsx").is_file(), message=MESSAGES.get(msg),
            message_kind="ok" if msg == "saved" else "error",
        )

    @router.post("/runs/{run_id}/review")
    async def review(request: Request, run_id: str) -> Response:
        session = web.require(request)
        form = await web.form(request, session)
        run = _run(run_id)
        seq = _int(form.get("seq"))
        candidate = _int(form.get("candidate"))
        row = web.store.get_run_row(run_id, seq) if seq is not None else None
        back = f"/runs/{run.run_id}"

        def again(code: str) -> Response:
            anchor = f"#row-{seq}" if row is not None else ""
            return RedirectResponse(f"{back}?msg={code}{anchor}", status_code=303)

        if row is None or row.status is not Status.POTENTIAL_MATCH or candidate is None or not (
            0 <= candidate < len(row.matches)
        ):
            return again("row")
        decision = str(form.get("decision") or "")
        comment = str(form.get("comment") or "").strip()[:2000]
        if decision not in ("false_positive", "confirmed"):
            return again("decision")
        if not comment:
            return again("comment")
        match = row.matches[candidate]
        screener = web.screener
        lists = dict(screener.lists)
        restricted = lists.get(match.list_key)
        party = next((p for p in restricted.parties if p.id == match.entity_id), None) if restricted else None
        if party is None:
            return again("party")
        ran = {li.key: li.content_hash for li in run.lists}
        if restricted is not None and ran.get(match.list_key) != restricted.content_hash:
            return again("version")
        try:
            web.store.decide(session.user, row.input_name or "", match.entity_id, match.list_key, party,
                             run.threshold, decision, comment)
        except StoreError:
            return again("row")
        return RedirectResponse(f"{back}?msg=saved#row-{seq}", status_code=303)

    @router.get("/runs/{run_id}/report.xlsx")
    async def report(request: Request, run_id: str) -> Response:
        session = web.require(request)
        run = _run(run_id)
        path = web.reports / f"{run.run_id}.xlsx"
        if path.parent != web.reports or not path.is_file():
            return web.refused(request, 404, "No Excel report was kept for this run.", session)
        return FileResponse(
            path,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename=f"screening-{run.run_id}.xlsx",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="web-static")


# --- helpers --------------------------------------------------------------------------------------


def _page_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def _check_csrf(given: object, expected: str) -> None:
    if not isinstance(given, str) or not given or not expected or not secrets.compare_digest(given, expected):
        raise _Refused(403, "This form has expired or did not come from this site. Reload the page and try again.")


def _local_path(target: str) -> bool:
    """Only same-site paths may be redirect targets (no `//host`, no scheme, no backslashes)."""
    return (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and all(32 < ord(ch) < 127 for ch in target)
    )


def _display_name(raw: str) -> str:
    """The uploaded file's own name, without any folder and control characters, for reports."""
    name = re.split(r"[\\/]", raw)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[-200:]


def _safe_url(url: str | None) -> str | None:
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def _group_sources(sources: Iterable[Any]) -> list[dict[str, Any]]:
    """One entry per cited document with all its quotes, so a source quoted three times shows once."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for src in sources:
        group = groups.setdefault((src.kind, src.id), {"source": src, "quotes": []})
        if src.quote and src.quote not in group["quotes"]:
            group["quotes"].append(src.quote)
    return list(groups.values())


def _quietly(fn: Any, *args: Any) -> None:
    """For clean-up after a failure: a second error must not hide the first."""
    try:
        fn(*args)
    except Exception:
        log.exception("clean-up after a failed upload failed")


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n / 1024:g} KiB"


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


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
    except Exception:
        return None
