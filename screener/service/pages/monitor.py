"""The monitored base (`/monitor`): its uploads, the list versions it was last screened against, its
alerts with their parties' sources, and the webhook delivery log (`screener.review.monitor`).

Analysts and supervisors add a customer file and start a re-screen there. Webhook addresses are
shown by their origin only, as their paths often carry a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from screener.files.readers import ColumnNotFound, InputError, open_input
from screener.review import webhooks
from screener.review.monitor import parties_of
from screener.review.monitor import summary as screening_summary
from screener.service.jobs import remove_folder
from screener.service.web import Session, Web, size_label

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


@dataclass
class MonitorAdded:
    """What one customer file added to the monitored base, for the page's answer."""

    file_name: str
    outcome: str  # "5 customers from c.csv added, 2 already monitored"
    skipped: list[str]  # each row not monitored, with its reason
    summaries: list[str]  # one line per screening


def add_routes(router: APIRouter, web: Web) -> None:
    web.env.filters["alert_kind"] = lambda kind: ALERT_KINDS.get(kind, kind)
    web.env.filters["url_origin"] = url_origin

    @router.get("/monitor", response_class=HTMLResponse)
    async def monitor_page(request: Request, msg: str = "") -> Response:
        session = web.require(request)
        return await run_in_threadpool(_render, web, request, session, message=MONITOR_MESSAGES.get(msg))

    @router.post("/monitor/customers")
    async def monitor_add(request: Request) -> Response:
        """A customer file added to the base; answered with the page (what was added, what was not)."""
        session = web.require(request)
        web.require_role(session, *MONITOR_ROLES)  # before a byte of the upload is read
        _, path, shown = await web.posted_file(request, session, "Choose a customer file to monitor.")
        try:
            added = await run_in_threadpool(_add_file, web, path, shown, session.user)
        except InputError as exc:
            return await run_in_threadpool(_render, web, request, session, 400, error=str(exc))
        finally:
            remove_folder(path.parent)
        return await run_in_threadpool(_render, web, request, session, added=added)

    @router.post("/monitor/run")
    async def monitor_run(request: Request) -> Response:
        """Re-screen the base against every monitored list's current version (`screener monitor run`)."""
        session = web.require(request)
        await web.form(request, session)
        web.require_role(session, *MONITOR_ROLES)
        try:
            done = await run_in_threadpool(web.monitor.run)
        except KeyError as exc:  # a monitored list the catalog no longer holds
            return await run_in_threadpool(_render, web, request, session, 409, error=str(exc.args[0]))
        return RedirectResponse(f"/monitor?msg={'ran' if done else 'current'}", status_code=303)


def _add_file(web: Web, path: Path, shown: str, user: str) -> MonitorAdded:
    """Read an uploaded customer file as `screen` does, add its customers to the base and send the alerts."""
    limit = web.settings.max_upload_rows
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
    added = web.monitor.add(rows, web.screener, source_file=shown, user=user)
    for screening in added.screenings:
        web.monitor.notify(screening)
    return MonitorAdded(file_name=shown, outcome=added.text(shown), skipped=skipped,
                        summaries=[screening_summary(s) for s in added.screenings])


def _render(web: Web, request: Request, session: Session, status: int = 200, **context: Any) -> HTMLResponse:
    """The monitor page: the base, its uploads and lists, the latest alerts and the delivery log."""
    monitor = web.monitor
    alerts = monitor.alerts(limit=MONITOR_ALERTS)
    return web.page(
        request, "monitor.html", status, session, title="Monitored customers", count=monitor.customer_count(),
        uploads=monitor.uploads(), lists=monitor.list_states(), alerts=alerts, parties=parties_of(alerts),
        matching=monitor.matching_count(), deliveries=monitor.deliveries(),
        hooks=len(webhooks.configured()[0]), can_change=web.role(session) in MONITOR_ROLES,
        max_size=size_label(web.settings.max_upload_bytes), **context,
    )


def url_origin(url: str) -> str:
    """A webhook address without its path and query, which often carry a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"  # nor any user:password@
