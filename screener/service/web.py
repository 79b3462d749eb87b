"""The staff page's state and what its pages share: sign in, upload a spreadsheet, review, download.

The routes are in `screener.service.pages`, a module a page. A thin shell over the library: an upload
becomes a job (`jobs`) whose worker process checks the file, screens it into the Excel report and
records the run; `Store` keeps the analysts' decisions, and `Store.apply_decisions` marks matches
already reviewed, so a second upload shows them as cleared.

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
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import UploadFile

from screener.files.wording import kind_label, plain_explanation
from screener.home import home, private_dir
from screener.lists.coverage import coverage_lines
from screener.ownership.rule import outcome_label
from screener.review.decisions import Evidence, RowReview, basis_of
from screener.review.monitor import Monitor
from screener.review.store import Store
from screener.screening import Screener
from screener.service.headers import CSP
from screener.service.jobs import jobs_root, new_folder, remove_folder
from screener.service.refresh import status as refresh_status
from screener.service.settings import Settings
from screener.service.shared import Shared, secret_key
from screener.service.state import StoreDown

log = logging.getLogger("screener.web")

HERE = Path(__file__).parent
SESSION_COOKIE = "screener_session"
SIGNIN_COOKIE = "screener_signin"
SIGNIN_MINUTES = 60
UPLOAD_SUFFIXES = (".xlsx", ".xlsm", ".csv", ".tsv", ".txt")
MAX_JOBS_PER_USER = 3


class SignInRequired(Exception):
    def __init__(self, json: bool) -> None:
        self.json = json


class Refused(Exception):
    """A request refused with a fixed, safe message and status."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message


@dataclass
class Session:
    user: str
    csrf: str
    sid: str


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
                        raise Refused(503, "The audit store is unavailable; ask your administrator.") from exc
        return self._store

    @property
    def shared(self) -> Shared:
        try:
            return self.app.state.service.shared()  # type: ignore[no-any-return]
        except StoreDown as exc:
            raise Refused(503, "The audit store is unavailable; ask your administrator.") from exc

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
            raise Refused(403, f"This needs the {' or '.join(roles)} role.")

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
            raise SignInRequired(json)
        return s

    async def form(self, request: Request, session: Session | None, *, upload: bool = False) -> Any:
        """The POSTed form once its CSRF token matched the session's (sign-in: the pre-session cookie's).

        The caller has already checked the session, so an anonymous upload is refused unread; the
        declared length is checked before parsing and `save_upload` counts the bytes actually sent.
        """
        limit = self.settings.max_upload_bytes + 1024 * 1024 if upload else 1024 * 1024
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            raise Refused(411, "The request must state its length.")
        if int(length) > limit:
            limit_text = size_label(self.settings.max_upload_bytes)
            too_big = f"The file is larger than {limit_text}." if upload else "The form is too large."
            raise Refused(413, too_big)
        try:
            form = await request.form(max_files=1 if upload else 0, max_fields=20)
        except Exception as exc:  # malformed multipart: one safe sentence, never the parser's text
            raise Refused(400, "The form could not be read.") from exc
        expected = session.csrf if session else self.signin_token(request)
        _check_csrf(form.get("csrf"), expected)
        return form

    def signin_token(self, request: Request) -> str:
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
                raise Refused(400, missing)
            return await self.save_upload(file)
        finally:
            await form.close()

    async def save_upload(self, upload: UploadFile) -> tuple[str, Path, str]:
        """Copy the upload into a new job folder; return (job id, path, shown name)."""
        shown = _display_name(upload.filename or "")
        suffix = Path(shown).suffix.lower()
        if not shown or suffix not in UPLOAD_SUFFIXES:
            raise Refused(400, "Upload an Excel workbook (.xlsx) or a delimited text file (.csv, .tsv, .txt).")
        job_id, folder = new_folder()
        path = folder / f"input{suffix}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := await upload.read(1024 * 1024):
                    size += len(chunk)
                    if size > self.settings.max_upload_bytes:
                        raise Refused(413, f"The file is larger than {size_label(self.settings.max_upload_bytes)}.")
                    out.write(chunk)
        except BaseException:
            remove_folder(folder)
            raise
        if size == 0:
            remove_folder(folder)
            raise Refused(400, "The file is empty.")
        return job_id, path, shown

    def queue_job(self, job_id: str, user: str, path: Path, file_name: str, columns: dict[str, str | None]) -> None:
        """Queue a saved upload for the worker processes (at most MAX_JOBS_PER_USER at once)."""
        shared = self.shared
        if shared.active_jobs(user) >= MAX_JOBS_PER_USER:
            remove_folder(path.parent)
            raise Refused(429, "You have uploads still screening; wait for them to finish.")
        spec = {"input": str(path), "output": str(path.parent / "report.xlsx"), "options": columns,
                "user": user, "record": True, "max_rows": self.settings.max_upload_rows}
        if shared.job(job_id) is None:
            shared.add_job(kind="web", user=user, file_name=file_name, workdir=path.parent, spec=spec,
                           size=path.stat().st_size, job_id=job_id)
        else:  # a column choice: the same job, queued again with the columns
            shared.update_job(job_id, state="queued", spec=spec, owner=None)

    # -- results ---------------------------------------------------------------------------------

    def reviews(self, run: Any, rows: list[Any]) -> dict[int, RowReview]:
        """Each potential match's review under today's decision log, judged as every shell judges it."""
        basis = basis_of(self.screener, run.lists, run.threshold)
        todo = [r for r in rows if r.matches]
        found = self.store.review_rows([(Evidence.recorded(r), r.matches) for r in todo], basis)
        return {r.seq: review for r, review in zip(todo, found, strict=True)}


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
        raise Refused(403, "This form has expired or did not come from this site. Reload the page and try again.")


def local_path(target: str) -> bool:
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


def size_label(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n / 1024:g} KiB"
