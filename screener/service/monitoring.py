"""`/v1/monitor`: add customers to the monitored base and read its alerts over HTTP (`screener.review.monitor`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from screener.models import InputRow
from screener.review.monitor import Added, Alert, Monitor

MAX_CUSTOMERS = 10_000

router = APIRouter(prefix="/v1/monitor", tags=["monitor"])  # keys enforced by ApiKeyMiddleware (/v1)


class Customer(BaseModel):
    name: str = Field(min_length=1, max_length=1000)
    country: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=2000)
    customer_id: str | None = Field(default=None, max_length=200, description="your own id for the customer")


class AddCustomers(BaseModel):
    customers: list[Customer] = Field(min_length=1, max_length=MAX_CUSTOMERS)
    user: str | None = Field(default=None, max_length=200, description="who added them, for the audit trail")


def _add(state: Any, body: AddCustomers) -> Added:
    rows = [
        InputRow(name=c.name, country=c.country, address=c.address, row=i,
                 fields={"customer id": c.customer_id} if c.customer_id else {})
        for i, c in enumerate(body.customers, start=1)
    ]
    monitor = Monitor.open(state.settings.db_url)
    try:
        added = monitor.add(rows, state.screener, source_file="api", user=body.user)
        for screening in added.screenings:
            monitor.notify(screening)
        return added
    finally:
        monitor.close()


def _alerts(state: Any, limit: int) -> list[Alert]:
    monitor = Monitor.open(state.settings.db_url)
    try:
        return monitor.alerts(limit=limit)
    finally:
        monitor.close()


@router.post("/customers", response_model=Added)
async def add_customers(body: AddCustomers, request: Request) -> Added:
    """Keep these customers with their evidence and screen them now against the service's lists; from
    then on every new list version re-screens them, and new or vanished matches become alerts."""
    return await run_in_threadpool(_add, request.app.state.service, body)


@router.get("/alerts", response_model=list[Alert])
async def alerts(request: Request, limit: int = Query(100, ge=1, le=10_000)) -> list[Alert]:
    """The base's alerts, newest first."""
    return await run_in_threadpool(_alerts, request.app.state.service, limit)
