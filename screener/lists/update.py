"""Keep the official lists current: download, check, import, and store a version only when it changed.

`update_list` fetches one source's files (the CSL csv, or OFAC's four SDN csv files) from the
published addresses, or from a mirror (`url`, or the SCREENER_CSL_URL / SCREENER_SDN_URL settings).
Each download is streamed to a private temporary folder under SCREENER_HOME with a size limit and an
overall time limit, checked against its Content-Length, and hashed (SHA-256). Conditional requests
(If-None-Match / If-Modified-Since, from the ETag and Last-Modified stored per list in
`lists/NAME/fetch.json`) make an unchanged list cost one round trip; an unchanged checksum makes a
re-published identical file cost no import. Otherwise the existing importer reads the files (every
unreadable row reported, as by `lists import`) and the catalog stores a version, or none when the
content is one it already holds.

Nothing half-done replaces a good version: a failed, truncated or oversized download, an importer
error, a file that yields no record, or a list that shrank past `min_kept` of its current records
(a cut-off file that still parses) is refused, the current version stays, and the failure with its
reason is recorded in fetch.json for `/healthz` and the page. The temporary files are always removed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx
from pydantic import BaseModel, Field

from screener import __version__
from screener.home import home
from screener.lists import catalog
from screener.lists.importers import (
    CSL_FORMAT,
    SDN_FORMAT,
    ImportFormatError,
    SkippedRow,
    import_file,
)

# The published addresses (a mirror or a test server replaces them: see `source_url`).
CSL_URL = "https://data.trade.gov/downloadable_consolidated_screening_list/v1/consolidated.csv"
SDN_URL = "https://www.treasury.gov/ofac/downloads"  # redirects to OFAC's sanctions list service
SDN_PARTS = ("sdn.csv", "alt.csv", "add.csv", "sdn_comments.csv")  # fetched as URL/NAME
SDN_OPTIONAL = "sdn_comments.csv"  # the only part a mirror may lack
URL_ENV = {CSL_FORMAT: "SCREENER_CSL_URL", SDN_FORMAT: "SCREENER_SDN_URL"}
LIST_NAME = {CSL_FORMAT: "csl", SDN_FORMAT: "sdn"}  # the catalog name each source is stored under
SOURCES = (CSL_FORMAT, SDN_FORMAT)

MAX_BYTES = 200 * 1024 * 1024  # per file; the full CSL is about 30 MB, SDN.CSV about 10 MB
TIMEOUT_SECONDS = 300.0  # the whole download of one file
MIN_KEPT = 0.5  # a new version keeping less than this share of the current records is refused
FETCH_STATE = "fetch.json"
CHUNK = 1 << 16

# not_modified: every file answered 304; unchanged: same bytes, or same content as the current version;
# new_version: another version is now current (new content, or content stored before)
Outcome = Literal["not_modified", "unchanged", "new_version"]


class UpdateError(RuntimeError):
    """The update was refused; the current version (if any) stays. The message says why."""


class FileState(BaseModel):
    """What the last good download of one file was, for the next conditional request."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    sha256: str = ""
    bytes: int = 0


class FetchState(BaseModel):
    """Per list: the last good download, the last attempt and its failure, if it failed."""

    name: str
    source: str
    files: dict[str, FileState] = Field(default_factory=dict)
    fetched_at: str | None = Field(default=None, description="last attempt that ended with a good list")
    attempted_at: str | None = None
    error: str | None = Field(default=None, description="why the last attempt failed; None when it succeeded")
    version: str | None = None


class UpdateResult(BaseModel):
    name: str
    source: str
    outcome: Outcome
    version: str | None = None
    previous_version: str | None = None
    records: int = 0
    skipped: list[SkippedRow] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    downloaded: dict[str, int] = Field(default_factory=dict, description="bytes per file fetched (not 304)")
    error: str | None = None

    @property
    def changed(self) -> bool:
        """A different version is now current: what the monitored base must be re-screened for."""
        return self.outcome == "new_version"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def source_url(source: str, url: str | None = None) -> str:
    """`url`, else the setting, else the published address."""
    if source not in SOURCES:
        raise UpdateError(f"unknown source {source!r}: use {', '.join(SOURCES)}")
    return url or os.environ.get(URL_ENV[source]) or (CSL_URL if source == CSL_FORMAT else SDN_URL)


def _file_urls(source: str, base: str) -> dict[str, str]:
    """File name -> URL. A CSL URL is the file; an SDN URL is the folder its four files sit in."""
    if source == CSL_FORMAT:
        name = base.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "consolidated.csv"
        return {name if name.lower().endswith(".csv") else "consolidated.csv": base}
    if base.lower().endswith("/sdn.csv"):
        base = base[: -len("/sdn.csv")]
    return {part: f"{base.rstrip('/')}/{part}" for part in SDN_PARTS}


def read_state(name: str) -> FetchState | None:
    path = catalog.lists_dir() / name / FETCH_STATE
    if not path.is_file():
        return None
    try:
        return FetchState.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # an unreadable state only costs an unconditional download


def _write_state(state: FetchState) -> None:
    catalog._write_atomic(catalog.lists_dir() / state.name / FETCH_STATE, state.model_dump_json(indent=2) + "\n")


def _download(
    client: httpx.Client, url: str, dest: Path, held: FileState | None, max_bytes: int, timeout: float
) -> FileState | None:
    """Stream `url` to `dest`; None on 304. Refuses oversize, short bodies, errors and slow transfers."""
    headers = {}
    if held is not None:
        if held.etag:
            headers["If-None-Match"] = held.etag
        if held.last_modified:
            headers["If-Modified-Since"] = held.last_modified
    deadline = time.monotonic() + timeout
    digest = hashlib.sha256()
    received = 0
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304 and held is not None:
                return None
            if response.status_code != 200:
                raise UpdateError(f"{url}: HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise UpdateError(f"{url}: {int(declared):,} bytes declared, over the limit of {max_bytes:,}")
            with dest.open("wb") as fh:
                for block in response.iter_raw(CHUNK):
                    received += len(block)
                    if received > max_bytes:
                        raise UpdateError(f"{url}: more than the limit of {max_bytes:,} bytes")
                    if time.monotonic() > deadline:
                        raise UpdateError(f"{url}: download took longer than {timeout:g} s")
                    digest.update(block)
                    fh.write(block)
            encoded = response.headers.get("content-encoding", "identity") != "identity"
            if declared is not None and declared.isdigit() and not encoded and received != int(declared):
                raise UpdateError(f"{url}: truncated: {received:,} of {int(declared):,} bytes received")
    except httpx.HTTPError as exc:
        raise UpdateError(f"{url}: download failed: {type(exc).__name__}: {exc}") from None
    if received == 0:
        raise UpdateError(f"{url}: empty file")
    return FileState(
        url=url,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
        sha256=digest.hexdigest(),
        bytes=received,
    )


def update_list(
    source: str,
    *,
    url: str | None = None,
    name: str | None = None,
    max_bytes: int | None = None,
    timeout: float | None = None,
    min_kept: float = MIN_KEPT,
    transport: httpx.BaseTransport | None = None,
) -> UpdateResult:
    """Fetch one source and store a new catalog version if its content changed; raises UpdateError.

    Limits default to the settings SCREENER_UPDATE_MAX_BYTES and SCREENER_UPDATE_TIMEOUT (seconds).
    """
    env = os.environ
    max_bytes = max_bytes or int(env.get("SCREENER_UPDATE_MAX_BYTES") or MAX_BYTES)
    timeout = timeout or float(env.get("SCREENER_UPDATE_TIMEOUT") or TIMEOUT_SECONDS)
    name = catalog.check_name(name or LIST_NAME.get(source, source))
    urls = _file_urls(source, source_url(source, url))
    state = read_state(name) or FetchState(name=name, source=source)
    current = next((v for v in catalog.versions(name) if v.current), None)
    state.attempted_at = _now()
    try:
        result = _fetch_and_import(source, name, urls, state, current, max_bytes, timeout, min_kept, transport)
    except UpdateError as exc:
        state.error = str(exc)
        _write_state(state)
        raise
    state.error = None
    state.fetched_at = state.attempted_at
    state.version = result.version
    _write_state(state)
    return result


def _fetch_and_import(
    source: str,
    name: str,
    urls: dict[str, str],
    state: FetchState,
    current: catalog.ListVersion | None,
    max_bytes: int,
    timeout: float,
    min_kept: float,
    transport: httpx.BaseTransport | None,
) -> UpdateResult:
    base = UpdateResult(name=name, source=source, outcome="not_modified", previous_version=current and current.version)
    # conditional only while the version those validators describe is still current
    conditional = current is not None and state.version == current.version
    work = home() / "tmp"
    work.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="update-", dir=work))
    try:
        got: dict[str, FileState] = {}
        with httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(min(timeout, 60.0)),
            follow_redirects=True,
            headers={"User-Agent": f"screener/{__version__}", "Accept-Encoding": "identity"},
        ) as client:

            def fetch(file: str, cond: bool) -> FileState | None:
                held = state.files.get(file) if cond else None
                return _download(client, urls[file], folder / file, held, max_bytes, timeout)

            for file in urls:
                try:
                    fresh = fetch(file, conditional)
                except UpdateError:
                    if file == SDN_OPTIONAL and file not in state.files:
                        continue  # the remarks overflow, which some mirrors do not carry
                    raise
                if fresh is not None:
                    got[file] = fresh
            if not got:
                return base.model_copy(update={"version": current and current.version})
            for file in urls:  # some parts changed: the 304 ones are needed again to import the set
                if file not in got and file in state.files:
                    fresh = fetch(file, False)
                    if fresh is not None:
                        got[file] = fresh
        base.downloaded = {f: s.bytes for f, s in got.items()}
        same = current is not None and {f: s.sha256 for f, s in got.items()} == {
            f: s.sha256 for f, s in state.files.items()
        } and state.version == current.version
        if same:
            state.files = got
            return base.model_copy(update={"outcome": "unchanged", "version": current.version})
        primary = folder / next(iter(urls)) if source == CSL_FORMAT else folder
        try:
            imported = import_file(primary, source)
        except ImportFormatError as exc:
            raise UpdateError(str(exc)) from None
        if not imported.records:
            raise UpdateError(f"{name}: no record could be read from the download; nothing imported")
        if current is not None and imported.records < min_kept * current.records:
            raise UpdateError(
                f"{name}: {imported.records:,} records against {current.records:,} in the current version:"
                " looks truncated; refused (the current version stays)"
            )
        stored = catalog.save_imported(name, imported, primary)
        # the validators and checksums of what was stored, never of a refused download: one refused
        # must be downloaded and refused again, its failure showing, not answered "not modified"
        state.files = got
        return base.model_copy(update={
            "outcome": "unchanged" if current is not None and stored.version == current.version else "new_version",
            "version": stored.version,
            "records": imported.records,
            "skipped": imported.skipped,
            "notes": imported.notes,
        })
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def list_status(max_age_days: float) -> list[dict[str, object]]:
    """Each imported list: version, fetched-at, age in days, and a warning when stale or failing."""
    out: list[dict[str, object]] = []
    now = datetime.now(UTC)
    for held in catalog.list_catalog():
        state = read_state(held.name)
        fetched = (state and state.fetched_at) or held.last_imported_at
        age = (now - datetime.fromisoformat(fetched)).total_seconds() / 86400
        warnings = []
        if age > max_age_days:
            warnings.append(f"older than {max_age_days:g} days ({age:.1f} days since it was fetched)")
        if state and state.error:
            warnings.append(f"last refresh failed at {state.attempted_at}: {state.error}")
        out.append({
            "name": held.name,
            "version": held.version,
            "fetched_at": fetched,
            "age_days": round(age, 2),
            "last_attempt_at": state.attempted_at if state else None,
            "last_error": state.error if state else None,
            "warning": "; ".join(warnings) or None,
        })
    return out
