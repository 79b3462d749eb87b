"""Send monitor alerts to the configured webhooks: signed JSON, retried with backoff, every attempt logged.

Each delivery is one POST of a JSON body. The receiver checks it came from us with the shared secret:
`X-Screener-Signature: sha256=<hex HMAC-SHA256 of "<X-Screener-Timestamp>.<body>">` (the timestamp
inside the signed text, so a captured delivery cannot be replayed later as new). A connection error,
a timeout, 408, 429 or any 5xx is retried with exponential backoff; another 4xx is final. Every
attempt, with its status or error, goes to the `webhook_deliveries` table of the audit database,
so an analyst can prove an alert was sent, or see that it was not; `Monitor` creates that table
when it opens the database.

Settings: SCREENER_WEBHOOK_URLS (comma-separated) and SCREENER_WEBHOOK_SECRET.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import sqlalchemy as sa

from screener import __version__
from screener.review.schema import UTCDateTime, now

URLS_ENV, SECRET_ENV = "SCREENER_WEBHOOK_URLS", "SCREENER_WEBHOOK_SECRET"
SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER = "X-Screener-Signature", "X-Screener-Timestamp", "X-Screener-Delivery"
ATTEMPTS = 5
BACKOFF_SECONDS = 1.0  # then 2, 4, 8
TIMEOUT_SECONDS = 10.0
RETRY_STATUS = frozenset({408, 429})

metadata = sa.MetaData()

deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("delivery_id", sa.String(32), nullable=False, index=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("screening_id", sa.Integer),
    sa.Column("alerts", sa.Integer, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.String(500)),
    sa.Column("delivered", sa.Boolean, nullable=False),
)


def configured() -> tuple[list[str], str | None]:
    urls = [u.strip() for u in os.environ.get(URLS_ENV, "").split(",") if u.strip()]
    return urls, os.environ.get(SECRET_ENV) or None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for this timestamp and body."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (and the tests): compare in constant time."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def deliver(
    engine: sa.Engine,
    payload: dict[str, Any],
    *,
    urls: Sequence[str],
    secret: str | None,
    screening_id: int | None = None,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, bool]:
    """POST `payload` to every URL; URL -> delivered. Never raises for a receiver's failure."""
    if urls and not secret:
        raise ValueError(f"webhooks configured without a secret: set {SECRET_ENV}")
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    count = len(payload.get("alerts", []))
    out: dict[str, bool] = {}
    with httpx.Client(transport=transport, timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        for url in urls:
            delivery_id = uuid.uuid4().hex
            out[url] = False
            for attempt in range(1, attempts + 1):
                timestamp = str(int(time.time()))
                headers = {
                    "Content-Type": "application/json",
                    "User-Agent": f"screener/{__version__}",
                    TIMESTAMP_HEADER: timestamp,
                    DELIVERY_HEADER: delivery_id,
                    SIGNATURE_HEADER: sign(secret or "", timestamp, body),
                }
                status: int | None = None
                error: str | None = None
                try:
                    status = client.post(url, content=body, headers=headers).status_code
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
                ok = status is not None and 200 <= status < 300
                with engine.begin() as conn:
                    conn.execute(deliveries.insert().values(
                        delivery_id=delivery_id, url=url, screening_id=screening_id, alerts=count,
                        attempt=attempt, at=now(), status_code=status, error=error, delivered=ok,
                    ))
                if ok:
                    out[url] = True
                    break
                final = status is not None and status < 500 and status not in RETRY_STATUS
                if final or attempt == attempts:
                    break
                time.sleep(backoff * 2 ** (attempt - 1))
    return out


def delivery_log(engine: sa.Engine, limit: int = 100) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(deliveries).order_by(deliveries.c.id.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]
