"""The upload page for compliance staff: sign in, upload a spreadsheet, review matches, download.

A thin shell over the library: an upload becomes a job (`jobs`) whose worker process checks the
file, screens it into the Excel report and records the run; `Store` keeps the analysts' decisions,
and `Store.apply_decisions` marks matches already reviewed, so a second upload shows them as cleared.

Security model, kept small on purpose:
- Sessions live in the store (`shared`), named by a signed cookie (itsdangerous; HttpOnly,
  SameSite=Lax, Secure over https) and expire after `settings.session_hours`; signing out ends the
  session on every worker. Sign-in tries are counted in the store before the password is checked.
- Every page except sign-in needs a session (pages redirect, the JSON status answers 401), checked
  before a byte of an upload is read; every POST carries a CSRF token bound to the session
  (sign-in: to a short-lived pre-session cookie).
- Uploads go to their job's private folder (0700) under a fixed name and are deleted with it.
  Reports are served from `<home>/reports/<run_id>.xlsx`, the path built from a run id that must
  match a strict pattern and exist in the store, never from anything else the user sends.
- Templates autoescape, pages carry a CSP without inline script, and errors are fixed sentences or
  the reader's one-line message naming the uploaded file: never a traceback or a server path.

The monitor page (`/monitor`) shows the monitored customer base (`screener.review.monitor`): its
uploads, the list versions it was last screened against, its alerts with their parties' sources, and
the webhook delivery log; analysts and supervisors add a customer file and start a re-screen there.
Webhook addresses are shown by their origin only, as their paths often carry a token.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

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
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from screener.files.readers import ColumnNotFound, InputError, open_input
from screener.files.wording import kind_label, plain_explanation
from screener.home import home, private_dir
from screener.lists.coverage import coverage_lines
from screener.models import Status
from screener.ownership.rule import outcome_label
from screener.review import webhooks
from screener.review.clearance import verdict
from screener.review.decisions import Evidence, RowReview, basis_of
from screener.review.monitor import Monitor, parties_of
from screener.review.monitor import summary as screening_summary
from screener.review.roundtrip import import_decisions, write_reviewed_report
from screener.review.store import Store, StoreError
from screener.review.users import ROLES
from screener.screening import Screener
from screener.service.headers import CSP
from screener.service.jobs import jobs_root, new_folder, remove_folder
from screener.service.refresh import status as refresh_status
from screener.service.settings import Settings
from screener.service.shared import JobRow, Shared, secret_key
from screener.service.state import StoreDown

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
OPEN_WAIT_SECONDS = 3.0  # an upload's first answer waits this long for a worker to open the file
MESSAGES = {  # the only texts a query string can select
    "saved": "Decision recorded. It applies to later rows with the same name, country, address and customer id "
    "while the list version, the party's entry and the threshold stay the same.",
    "pending": "Clearance recorded, pending approval: this is a strong match, so a supervisor other than you must "
    "approve it. Until then it still holds shipments.",
    "approved": "Clearance approved.",
    "comment": "A comment is required: say why.",
    "decision": "Choose false positive, confirmed match or escalate.",
    "role": "Decisions are made by analysts and supervisors.",
    "approver": "Only a supervisor can approve a clearance.",
    "four_eyes": "You proposed this clearance: a second person, a supervisor, must approve it.",
    "approval": "This decision is not a clearance waiting for approval (any more).",
    "party": "This party is not on the lists loaded now, so it cannot be reviewed here.",
    "version": "This run screened another version of the list; upload the file again to review it "
    "against the list loaded now.",
    "row": "That row is not a potential match of this run.",
}


USER_MESSAGES = {"add": "User added.", "role": "Role changed.", "policy": "Policy saved."}
MONITOR_ROLES = ("analyst", "supervisor")  # who changes the monitored base; every signed-in user sees it
MONITOR_ALERTS = 500  # latest alerts shown on the monitor page
MONITOR_MESSAGES = {
    "ran": "Re-screened against the current list versions: the new and vanished matches are at the top of the alerts.",
    "current": "Every monitored list is at the version last screened: nothing to re-screen.",
}
ALERT_KINDS = {
    "initial_match": "Match when added",
    "new_match_added_party": "New match: party added to the list",
    "new_match": "New match",
    "match_party_removed": "Vanished: party removed from the list",
    "no_longer_matches": "Vanished: no longer matches",
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
class MonitorAdded:
    """What one customer file added to the monitored base, for the page's answer."""

    file_name: str
    customers: int
    skipped: list[str]  # each row not monitored, with its reason
    summaries: list[str]  # one line per screening


@dataclass
class Pending:
    """An upload whose name column must be chosen by the user before it can be screened."""

    token: str
    file_name: str
    headers: list[str]
    message: str


class Web:
    """State of the page: store, signer, upload folders. Sessions, sign-in counters and jobs live
    in the store (`shared`), so every server process sees the same ones."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._store: Store | None = None
        self._monitor: Monitor | None = None
        self.signer = URLSafeTimedSerializer(secret_key(settings.secret_key), salt="screener-web")
        self.session_seconds = max(60, int(settings.session_hours * 3600))
        self.upload_dir = jobs_root()  # one private folder per job under it
        self.reports = private_dir(home() / "reports")
        self.lock = threading.Lock()
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        self.env.filters["score"] = lambda v: "" if v is None else f"{v:.1f}"
        self.env.filters["safe_url"] = _safe_url
        self.env.filters["group_sources"] = _group_sources
        self.env.filters["coverage"] = coverage_lines  # what the lists cover, beside every result
        self.env.filters["plain"] = plain_explanation
        self.env.filters["kind_label"] = kind_label
        self.env.filters["alert_kind"] = lambda kind: ALERT_KINDS.get(kind, kind)
        self.env.filters["url_origin"] = _url_origin
        self.env.filters["ownership_label"] = lambda own: outcome_label(own.outcome, own.rule_state)

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
    def shared(self) -> Shared:
        try:
            return self.app.state.service.shared()  # type: ignore[no-any-return]
        except StoreDown as exc:
            raise _Refused(503, "The audit store is unavailable; ask your administrator.") from exc

    @property
    def screener(self) -> Screener:
        """The service's screener (built at start-up), or the default list at the settings' threshold."""
        found = getattr(self.app.state, "screener", None)
        if found is None:
            found = getattr(getattr(self.app.state, "service", None), "screener", None)
        return found if found is not None else Screener.default(threshold=self.settings.threshold)

    @property
    def monitor(self) -> Monitor:
        """The monitored base, in the page's store."""
        if self._monitor is None:
            self._monitor = Monitor(self.store)
        return self._monitor

    # -- responses -------------------------------------------------------------------------------

    def page(
        self, request: Request, template: str, status: int = 200, session: Session | None = None, **context: Any
    ) -> HTMLResponse:
        values: dict[str, Any] = {"user": session.user if session else None, "csrf": session.csrf if session else None,
                                  "role": self.role(session)}
        if session is not None:  # each imported list's version, age and warning, in the page header
            values["freshness"] = refresh_status([i.key for i in self.screener.list_infos()])
        values.update(context)
        html = self.env.get_template(template).render(**values)
        return HTMLResponse(html, status_code=status, headers=_page_headers())

    def role(self, session: Session | None) -> str | None:
        """The signed-in user's role, read on every page so a changed role applies at once."""
        if session is None or self._store is None:
            return None
        try:
            return self._store.role_of(session.user)
        except Exception:  # noqa: BLE001 - shown in the header only; an outage must not break an error page
            return None

    def require_role(self, session: Session, *roles: str) -> None:
        if self.store.role_of(session.user) not in roles:
            raise _Refused(403, f"This needs the {' or '.join(roles)} role.")

    def refused(self, request: Request, status: int, message: str, session: Session | None = None) -> HTMLResponse:
        return self.page(request, "error.html", status, session, title="Not possible", message=message)

    # -- sessions --------------------------------------------------------------------------------

    def session(self, request: Request) -> Session | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            sid = str(self.signer.loads(raw, max_age=self.session_seconds, salt="session")["s"])
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        found = self.shared.session(sid)  # signed out or expired on any worker: gone for all
        return Session(user=found[0], csrf=found[1], sid=sid) if found else None

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
        sid, _ = self.shared.open_session(user, self.session_seconds)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE, self.signer.dumps({"s": sid}, salt="session"), max_age=self.session_seconds,
            httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/",
        )
        response.delete_cookie(SIGNIN_COOKIE, path="/")
        return response

    # -- uploads and jobs ------------------------------------------------------------------------

    async def posted_file(self, request: Request, session: Session, missing: str) -> tuple[str, Path, str]:
        """The form's `file` (CSRF checked) saved into a new job folder; `missing` when none was chosen.

        The form is closed however this ends, so its spooled copy of the upload never outlives the request.
        """
        form = await self.form(request, session, upload=True)
        try:
            file = form.get("file")
            if not isinstance(file, UploadFile) or not file.filename:
                raise _Refused(400, missing)
            return await self.save_upload(file)
        finally:
            await form.close()

    async def save_upload(self, upload: UploadFile) -> tuple[str, Path, str]:
        """Copy the upload into a new job folder; return (job id, path, shown name)."""
        shown = _display_name(upload.filename or "")
        suffix = Path(shown).suffix.lower()
        if not shown or suffix not in UPLOAD_SUFFIXES:
            raise _Refused(400, "Upload an Excel workbook (.xlsx) or a delimited text file (.csv, .tsv, .txt).")
        job_id, folder = new_folder()
        path = folder / f"input{suffix}"
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
            remove_folder(folder)
            raise
        if size == 0:
            remove_folder(folder)
            raise _Refused(400, "The file is empty.")
        return job_id, path, shown

    def queue_job(self, job_id: str, user: str, path: Path, file_name: str, columns: dict[str, str | None]) -> None:
        """Queue a saved upload for the worker processes (at most MAX_JOBS_PER_USER at once)."""
        shared = self.shared
        if shared.active_jobs(user) >= MAX_JOBS_PER_USER:
            remove_folder(path.parent)
            raise _Refused(429, "You have uploads still screening; wait for them to finish.")
        spec = {"input": str(path), "output": str(path.parent / "report.xlsx"), "options": columns,
                "user": user, "record": True, "max_rows": self.settings.max_upload_rows}
        if shared.job(job_id) is None:
            shared.add_job(kind="web", user=user, file_name=file_name, workdir=path.parent, spec=spec,
                           size=path.stat().st_size, job_id=job_id)
        else:  # a column choice: the same job, queued again with the columns
            shared.update_job(job_id, state="queued", spec=spec, owner=None)

    # -- the monitored base ----------------------------------------------------------------------

    def monitor_file(self, path: Path, shown: str, user: str) -> MonitorAdded:
        """Read an uploaded customer file as `screen` does, add its customers to the base and send the alerts."""
        limit = self.settings.max_upload_rows
        rows = []
        try:
            with open_input(path, display_name=shown) as source:
                for row in source.rows():
                    if len(rows) == limit:
                        raise InputError(f"{shown}: more than {limit:,} rows: split the file")
                    rows.append(row)
        except ColumnNotFound as exc:
            raise InputError(f"{exc} Give the column of customer names a header such as \"Customer name\", "
                             "or add the file with 'screener monitor add --name-column'.") from exc
        skipped = [f"{r.sheet} row {r.row}: {r.not_screened_reason or 'empty name'}".strip()
                   for r in rows if r.not_screened_reason or not r.name]
        screenings = self.monitor.add(rows, self.screener, source_file=shown, user=user)
        for screening in screenings:
            self.monitor.notify(screening)
        return MonitorAdded(file_name=shown, customers=len(rows) - len(skipped), skipped=skipped,
                            summaries=[screening_summary(s) for s in screenings])

    def monitor_page(self, request: Request, session: Session, status: int = 200, **context: Any) -> HTMLResponse:
        monitor = self.monitor
        alerts = monitor.alerts(limit=MONITOR_ALERTS)
        return self.page(
            request, "monitor.html", status, session, title="Monitored customers", count=monitor.customer_count(),
            uploads=monitor.uploads(), lists=monitor.list_states(), alerts=alerts, parties=parties_of(alerts),
            matching=monitor.matching_count(), deliveries=monitor.deliveries(),
            hooks=len(webhooks.configured()[0]), can_change=self.role(session) in MONITOR_ROLES,
            max_size=_size(self.settings.max_upload_bytes), **context,
        )

    # -- results ---------------------------------------------------------------------------------

    def reviews(self, run: Any, rows: list[Any]) -> dict[int, RowReview]:
        """Each potential match's review under today's decision log, judged as every shell judges it."""
        basis = basis_of(self.screener, run.lists, run.threshold)
        todo = [r for r in rows if r.matches]
        found = self.store.review_rows([(Evidence.recorded(r), r.matches) for r in todo], basis)
        return {r.seq: review for r, review in zip(todo, found, strict=True)}


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
        address = request.client.host if request.client else "unknown"
        shared = web.shared
        # the try is counted before the password is checked, so concurrent guesses cannot overtake the limit
        if not await run_in_threadpool(shared.reserve_signin, name, address):
            return _signin_form(request, target, "Too many failed attempts; wait 15 minutes.", 429)
        if not name or not password or not await run_in_threadpool(web.store.sign_in, name, password):
            return _signin_form(request, target, "Wrong user name or password.", 401)
        await run_in_threadpool(shared.release_signin, name, address)
        return web.start_session(request, name, target)

    @router.post("/signout")
    async def signout(request: Request) -> Response:
        session = web.require(request)
        await web.form(request, session)
        await run_in_threadpool(web.shared.close_session, session.sid)
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- upload ----------------------------------------------------------------------------------

    @router.get("/", response_class=HTMLResponse)
    async def upload_page(request: Request) -> Response:
        session = web.require(request)
        recent = web.store.list_runs(include_incomplete=True, limit=10, viewer=session.user)
        return web.page(request, "upload.html", 200, session, title="Screen a file", runs=recent,
                        max_size=_size(web.settings.max_upload_bytes), error=None)

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
                        max_size=_size(web.settings.max_upload_bytes), error=message)

    @router.post("/upload/{token}/columns")
    async def choose_columns(request: Request, token: str) -> Response:
        session = web.require(request)
        form = await web.form(request, session)
        job = await run_in_threadpool(web.shared.job, token) if TOKEN.fullmatch(token) else None
        if job is None or job.user != session.user or job.state != "columns":
            raise _Refused(404, "This upload has expired; upload the file again.")
        pending = _pending(job)
        chosen: dict[str, str | None] = {}
        for role in ("name", "country", "address"):
            value = str(form.get(f"{role}_column") or "")
            if value and value not in pending.headers:
                await run_in_threadpool(web.shared.end_job, job.id, "cancelled", error="Bad column choice.")
                remove_folder(job.folder)
                raise _Refused(400, "Choose columns from the file's headers.")
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
            raise _Refused(404, "No such upload; it may have finished long ago.")
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
            raise _Refused(404, "This upload is not screening any more.")
        web.app.state.service.runner.wake()
        return RedirectResponse(f"/jobs/{token}", status_code=303)

    # -- runs and review -------------------------------------------------------------------------

    def _run(run_id: str, session: Session) -> Any:
        run = web.store.get_run(run_id, viewer=session.user) if RUN_ID.fullmatch(run_id) else None
        if run is None:
            raise _Refused(404, "No such run.")
        return run

    @router.get("/runs", response_class=HTMLResponse)
    async def runs_page(request: Request) -> Response:
        session = web.require(request)
        runs = web.store.list_runs(include_incomplete=True, limit=200, viewer=session.user)
        return web.page(request, "runs.html", 200, session, title="Runs", runs=runs,
                        visibility=web.store.policy()["run_visibility"])

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    async def results_page(request: Request, run_id: str, page: int = 1, msg: str = "") -> Response:
        session = web.require(request)
        run = _run(run_id, session)
        pages = max(1, -(-run.rows_reported // PAGE_ROWS))
        page = min(max(1, page), pages)

        def gather() -> tuple[list[Any], list[Any], dict[int, RowReview]]:
            found = list(web.store.run_rows(run.run_id, status=Status.POTENTIAL_MATCH, order="score",
                                            limit=MAX_MATCH_ROWS))
            shown = list(web.store.run_rows(run.run_id, offset=(page - 1) * PAGE_ROWS, limit=PAGE_ROWS))
            seqs = {r.seq for r in found}
            return found, shown, web.reviews(run, found + [r for r in shown if r.seq not in seqs])

        matches, rows, reviews = await run_in_threadpool(gather)
        tally = {state: 0 for state in ("open", "pending_approval", "cleared", "confirmed", "escalated")}
        for r in matches:
            state = reviews[r.seq].status if r.seq in reviews else "open"
            if state == "cleared" and r.ownership is not None and r.ownership.alert:
                state = "open"  # clearing the name does not clear an ownership outcome
            tally[state] += 1
        return web.page(
            request, "results.html", 200, session, title=f"Run {run.run_id}", run=run, matches=matches,
            owned=[r for r in matches if r.ownership is not None and r.ownership.alert],
            reviews=reviews, rows=rows, page=page, pages=pages, tally=tally,
            verdict=verdict(  # the rule of the CLI's exit code and `check` (screener.review.clearance)
                alerts=run.counts.get("potential_match", 0) - tally["cleared"],
                not_screened=run.counts.get("not_screened", 0),
                screened=run.counts.get("clear", 0) + run.counts.get("potential_match", 0)),
            page_rows=PAGE_ROWS, truncated=run.counts.get("potential_match", 0) > len(matches),
            has_report=(web.reports / f"{run.run_id}.xlsx").is_file(), message=MESSAGES.get(msg),
            message_kind="ok" if msg in ("saved", "pending", "approved") else "error",
        )

    @router.post("/runs/{run_id}/review")
    async def review(request: Request, run_id: str) -> Response:
        session = web.require(request)
        form = await web.form(request, session)
        run = _run(run_id, session)
        seq = _int(form.get("seq"))
        candidate = _int(form.get("candidate"))
        row = web.store.get_run_row(run_id, seq) if seq is not None else None

        def again(code: str) -> Response:
            return _back(run.run_id, code, seq if row is not None else None)

        if row is None or row.status is not Status.POTENTIAL_MATCH or candidate is None or not (
            0 <= candidate < len(row.matches)
        ):
            return again("row")
        decision = str(form.get("decision") or "")
        comment = str(form.get("comment") or "").strip()[:2000]
        try:
            made = await run_in_threadpool(
                web.store.decide_on_run, session.user, run, row, row.matches[candidate], web.screener,
                decision, comment,
            )
        except StoreError as exc:
            return again(exc.code if exc.code in MESSAGES else "row")
        return again("pending" if made.pending else "saved")

    @router.post("/runs/{run_id}/approve")
    async def approve(request: Request, run_id: str) -> Response:
        session = web.require(request)
        form = await web.form(request, session)
        run = _run(run_id, session)
        decision_id = _int(form.get("decision_id"))
        code = "approved"
        try:
            if decision_id is None:
                raise StoreError("no decision", "approval")
            await run_in_threadpool(web.store.approve, session.user, decision_id, str(form.get("comment") or "")[:2000])
        except StoreError as exc:
            code = exc.code if exc.code in MESSAGES else "approval"
        return _back(run.run_id, code, _int(form.get("seq")))

    @router.post("/runs/{run_id}/decisions")
    async def import_report(request: Request, run_id: str) -> Response:
        """A filled-in report uploaded back: its decisions recorded row by row, with the page's rules."""
        session = web.require(request)
        run = _run(run_id, session)
        _, path, shown = await web.posted_file(request, session, "Choose the filled-in report to import.")
        try:
            result = await run_in_threadpool(lambda: import_decisions(
                web.store, path, session.user, lambda _run: web.screener, file_name=shown, viewer=session.user))
        except InputError as exc:
            return web.refused(request, 400, str(exc), session)
        finally:
            remove_folder(path.parent)
        return web.page(request, "imported.html", 200, session, title="Decisions imported", run=run,
                        result=result, file_name=shown)

    @router.get("/runs/{run_id}/report.xlsx")
    async def report(request: Request, run_id: str) -> Response:
        """The run's report with the decisions in force now (the one kept from the run if its list
        versions are no longer loaded)."""
        session = web.require(request)
        run = _run(run_id, session)
        kept = web.reports / f"{run.run_id}.xlsx"
        if kept.parent != web.reports or not kept.is_file():
            return web.refused(request, 404, "No Excel report was kept for this run.", session)
        fresh = web.reports / f".reviewed-{secrets.token_hex(8)}.xlsx"
        try:
            written = await run_in_threadpool(write_reviewed_report, web.store, run, web.screener, fresh)
        except Exception:
            log.exception("writing the reviewed report of run %s failed", run.run_id)
            fresh.unlink(missing_ok=True)
            written = False
        return FileResponse(
            fresh if written else kept,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename=f"screening-{run.run_id}.xlsx",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
            background=BackgroundTask(fresh.unlink, missing_ok=True) if written else None,
        )

    # -- the monitored base ----------------------------------------------------------------------

    @router.get("/monitor", response_class=HTMLResponse)
    async def monitor_page(request: Request, msg: str = "") -> Response:
        session = web.require(request)
        return await run_in_threadpool(web.monitor_page, request, session, message=MONITOR_MESSAGES.get(msg))

    @router.post("/monitor/customers")
    async def monitor_add(request: Request) -> Response:
        """A customer file added to the base; answered with the page (what was added, what was not)."""
        session = web.require(request)
        web.require_role(session, *MONITOR_ROLES)  # before a byte of the upload is read
        _, path, shown = await web.posted_file(request, session, "Choose a customer file to monitor.")
        try:
            added = await run_in_threadpool(web.monitor_file, path, shown, session.user)
        except InputError as exc:
            return await run_in_threadpool(web.monitor_page, request, session, 400, error=str(exc))
        finally:
            remove_folder(path.parent)
        return await run_in_threadpool(web.monitor_page, request, session, added=added)

    @router.post("/monitor/run")
    async def monitor_run(request: Request) -> Response:
        """Re-screen the base against every monitored list's current version (`screener monitor run`)."""
        session = web.require(request)
        await web.form(request, session)
        web.require_role(session, *MONITOR_ROLES)
        try:
            done = await run_in_threadpool(web.monitor.run)
        except KeyError as exc:  # a monitored list the catalog no longer holds
            return await run_in_threadpool(web.monitor_page, request, session, 409, error=str(exc.args[0]))
        return RedirectResponse(f"/monitor?msg={'ran' if done else 'current'}", status_code=303)

    # -- accounts and policy (admins) ------------------------------------------------------------

    @router.get("/users", response_class=HTMLResponse)
    async def users_page(request: Request, msg: str = "") -> Response:
        session = web.require(request)
        web.require_role(session, "admin")
        return web.page(request, "users.html", 200, session, title="Users", users=web.store.list_users(),
                        policy=web.store.policy(), roles=ROLES, message=USER_MESSAGES.get(msg))

    @router.post("/users")
    async def users_change(request: Request) -> Response:
        session = web.require(request)
        form = await web.form(request, session)
        web.require_role(session, "admin")
        action = str(form.get("action") or "")
        try:
            if action == "add":
                await run_in_threadpool(web.store.add_user, str(form.get("name") or ""),
                                        str(form.get("password") or ""), str(form.get("role") or ""),
                                        by=session.user)
            elif action == "role":
                web.store.set_role(str(form.get("name") or ""), str(form.get("role") or ""), by=session.user)
            elif action == "policy":
                web.store.set_policy("run_visibility", str(form.get("run_visibility") or ""), by=session.user)
                web.store.set_policy("four_eyes_score", str(form.get("four_eyes_score") or ""), by=session.user)
            else:
                raise StoreError("unknown action")
        except StoreError as exc:
            return web.refused(request, 400, str(exc).capitalize() + ".", session)
        return RedirectResponse(f"/users?msg={action}", status_code=303)

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="web-static")


# --- helpers --------------------------------------------------------------------------------------


def _back(run_id: str, code: str, seq: int | None) -> Response:
    """Back to the results page with one of the fixed MESSAGES, at the row decided on."""
    return RedirectResponse(f"/runs/{run_id}?msg={code}{f'#row-{seq}' if seq is not None else ''}", status_code=303)


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


def _url_origin(url: str) -> str:
    """A webhook address without its path and query, which often carry a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"  # nor any user:password@


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


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n / 1024:g} KiB"


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None
