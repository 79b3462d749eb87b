"""Runs and their review: the runs, a run's results, decisions, approvals, imported decisions, the report."""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from screener.files.readers import InputError
from screener.models import Status
from screener.review.clearance import verdict
from screener.review.decisions import RowReview
from screener.review.roundtrip import import_decisions, write_reviewed_report
from screener.review.store import StoreError
from screener.service.jobs import remove_folder
from screener.service.web import Refused, Session, Web

log = logging.getLogger("screener.web")

RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
PAGE_ROWS = 500
MAX_MATCH_ROWS = 2_000  # potential-match rows shown with review forms; the report holds them all
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


def add_routes(router: APIRouter, web: Web) -> None:
    def _run(run_id: str, session: Session) -> Any:
        run = web.store.get_run(run_id, viewer=session.user) if RUN_ID.fullmatch(run_id) else None
        if run is None:
            raise Refused(404, "No such run.")
        return run

    async def _posted(request: Request, run_id: str) -> tuple[Session, Any, Any]:
        """A decision's POST: the session, its form (CSRF checked) and the run it names."""
        session = web.require(request)
        form = await web.form(request, session)
        return session, form, _run(run_id, session)

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
        session, form, run = await _posted(request, run_id)
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
        session, form, run = await _posted(request, run_id)
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


def _back(run_id: str, code: str, seq: int | None) -> Response:
    """Back to the results page with one of the fixed MESSAGES, at the row decided on."""
    return RedirectResponse(f"/runs/{run_id}?msg={code}{f'#row-{seq}' if seq is not None else ''}", status_code=303)


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None
