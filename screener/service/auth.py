"""API keys for `/v1`: plain keys from the environment and a file of SHA-256 digests.

Only digests are kept in memory and on disk, so a leaked keys file opens nothing. A presented key
is hashed and compared with every known digest in constant time. With no key configured at all,
`/v1` refuses every call (503) instead of running open. The keys file is re-read when it changes,
so `screener keys add` takes effect without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from screener.home import home
from screener.service.settings import Settings

KEYS_FILE_NAME = "api_keys"
KEY_PREFIX = "scr_"  # makes a leaked key easy to find with secret scanners
API_PREFIX = "/v1"
RELOAD_SECONDS = 1.0  # how often the keys file is looked at (a stat), so new keys work within a second

log = logging.getLogger("screener.service")


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id(key_digest: str) -> str:
    """A short, non-secret name for a key (its digest's first 12 hex digits), for the audit trail."""
    return key_digest[:12]


def keys_file_path(settings: Settings) -> Path:
    """`api_keys_file` when set, else `<home>/api_keys` (read only if it exists)."""
    return Path(settings.api_keys_file).expanduser() if settings.api_keys_file else home() / KEYS_FILE_NAME


def _is_digest(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def read_digests(path: Path) -> list[str]:
    """Digests in a keys file: one 64-hex SHA-256 per line; blank lines and `#` comments ignored."""
    found: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            token = text.split()[0].lower()
            if _is_digest(token):
                found.append(token)
            else:
                log.warning("%s line %d is not a SHA-256 hex digest; ignored", path.name, number)
    return found


class KeyRing:
    """The digests that open `/v1`; the keys file is re-read when its mtime or size changes."""

    def __init__(self, plain_keys: Iterable[str], keys_file: Path | None) -> None:
        self._env = [digest(k) for k in plain_keys if k]
        self._file = keys_file
        self._stamp: tuple[int, int] | None = None
        self._checked = -RELOAD_SECONDS
        self._from_file: list[str] = []
        self._lock = threading.Lock()
        self._refresh()

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        return cls(settings.api_keys, keys_file_path(settings))

    def _refresh(self) -> None:
        if self._file is None:
            return
        now = time.monotonic()
        if now - self._checked < RELOAD_SECONDS:
            return
        self._checked = now
        try:
            st = self._file.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if stamp == self._stamp:
            return
        with self._lock:
            try:
                self._from_file = read_digests(self._file) if stamp else []
            except (OSError, UnicodeDecodeError) as exc:
                log.warning("cannot read the API keys file %s: %s", self._file.name, type(exc).__name__)
                self._from_file = []
            self._stamp = stamp

    @property
    def configured(self) -> bool:
        self._refresh()
        return bool(self._env or self._from_file)

    def check(self, key: str | None) -> str | None:
        """The key's id when it is valid, else None; every known digest is compared every time."""
        self._refresh()
        if not key:
            return None
        given = digest(key).encode("ascii")
        matched: str | None = None
        for known in (*self._env, *self._from_file):
            if hmac.compare_digest(given, known.encode("ascii")) and matched is None:
                matched = known
        return key_id(matched) if matched else None


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    """The key from `Authorization: Bearer KEY`, else from `X-API-Key: KEY`."""
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return key or None


class ApiKeyMiddleware:
    """Guards every `/v1` path before any body is read: 503 with no key configured, 401 without a valid one."""

    def __init__(self, app, keyring: KeyRing) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.keyring = keyring

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        if not self.keyring.configured:
            await send_json(send, 503, {"error": "no API key is configured on this server: set SCREENER_API_KEYS "
                                             "or run `screener keys add`; /v1 is refused until then"})
            return
        headers = dict(scope["headers"])
        ident = self.keyring.check(presented_key(headers))
        if ident is None:
            await send_json(
                send,
                401,
                {"error": "missing or invalid API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'"},
                [(b"www-authenticate", b'Bearer realm="screener"')],
            )
            return
        scope.setdefault("state", {})["api_key_id"] = ident
        await self.app(scope, receive, send)


async def send_json(send, status: int, body: dict, extra: list[tuple[bytes, bytes]] | None = None) -> None:  # type: ignore[no-untyped-def]
    payload = json.dumps(body).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": payload})


def add_key(path: Path, label: str | None = None) -> str:
    """Create a key, append its digest to the keys file (created 0600), and return the key itself."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    note = " ".join((label or "").split())
    lines = f"# {note + ', ' if note else ''}added {stamp}, id {key_id(digest(key))}\n{digest(key)}\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(lines)
    return key
