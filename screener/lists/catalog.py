"""Versioned storage of imported lists, so a run can always be traced to the exact list it screened.

Layout under `home()/lists/<name>/`: each version is `<content_hash[:16]>.json` (the RestrictedList,
written once, never changed) and `index.json` records every version: content hash, when its content
was first and last imported (UTC, ISO 8601), records, the source file's name and SHA-256, format,
and every import that brought this content.

Identical content is judged without the file name each record's `list_file` source carries, so the
same list downloaded again under another name is not a new version. Importing stored content adds
no version: it records the import and moves that version to the end of the index, whose last entry
is current, so going back to an older file makes its version current again.

The name "default" is reserved for the bundled list (`partylist.default_list()`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from screener.home import PRIVATE_FILE, home, private_dir
from screener.lists.partylist import ListError, default_list, dumps_list, load_list
from screener.models import RestrictedList

if TYPE_CHECKING:  # the importers are not needed to read stored lists (a check)
    from screener.lists.importers import ImportResult

DEFAULT = "default"
INDEX = "index.json"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MIN_PREFIX = 4


class ImportEvent(BaseModel):
    at: str
    source_file: str
    source_sha256: str


class ListVersion(BaseModel):
    """One stored version of a named list."""

    name: str
    version: str = Field(description="content_hash[:16]; also the file name")
    content_hash: str
    data_hash: str = Field(description="content hash without the source file names; what dedupe compares")
    imported_at: str = Field(description="first import of this content, UTC ISO 8601")
    last_imported_at: str = Field(description="latest import of this content")
    records: int
    aliases: int = 0
    skipped: int = 0
    format: str
    source_file: str
    source_sha256: str
    source_files: dict[str, str] = Field(default_factory=dict, description="every file read: name -> SHA-256")
    title: str | None = None
    imports: list[ImportEvent] = Field(default_factory=list)
    current: bool = Field(default=False, exclude=True)
    already_stored: bool = Field(default=False, exclude=True, description="set by save_imported on a repeat")


class _Index(BaseModel):
    name: str
    versions: list[ListVersion] = Field(default_factory=list)


def lists_dir() -> Path:
    return home() / "lists"


def check_name(name: str) -> str:
    """A list name is also a folder name, so it is kept to a safe alphabet."""
    if name == DEFAULT:
        raise ValueError("'default' is the bundled list; choose another name for an imported list")
    if not NAME_RE.match(name):
        raise ValueError(f"list name {name!r} must be letters, digits, '.', '_' or '-' (at most 64)")
    return name


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, PRIVATE_FILE)  # the catalog lives under the home folder
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_index(name: str) -> _Index | None:
    path = lists_dir() / name / INDEX
    if not path.is_file():
        return None
    try:
        return _Index.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ListError(f"{path}: unreadable list index: {str(exc).splitlines()[0]}") from exc


def _mark_current(index: _Index) -> list[ListVersion]:
    """Versions in the order their content was last imported; the last is current."""
    out = list(index.versions)
    for i, v in enumerate(out):
        v.current = i == len(out) - 1
    return out


def data_hash(lst: RestrictedList) -> str:
    """SHA-256 of the parties with the file name of their `list_file` sources left out."""
    parties = []
    for party in lst.parties:
        data = party.model_dump(mode="json")
        for source in data["sources"]:
            if source["kind"] == "list_file":
                source.pop("id")
        parties.append(data)
    return hashlib.sha256(json.dumps(parties, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def save_imported(name: str, result: ImportResult, source_file: str | Path) -> ListVersion:
    """Store an import as a version of `name`; identical content returns the version already stored."""
    check_name(name)
    source = Path(source_file)
    lst = result.list.model_copy(update={"name": name})
    content_hash = lst.content_hash
    lst.version = content_hash[:16]
    same = data_hash(lst)
    folder = lists_dir() / name
    files = [source] if source.is_file() else [source / f for f in result.files]
    hashes = {p.name: _sha256(p) for p in files if p.is_file()}
    primary = source if source.is_file() else source / next(iter(result.files), "")
    now = _now()
    event = ImportEvent(at=now, source_file=primary.name, source_sha256=hashes.get(primary.name, ""))
    index = _read_index(name) or _Index(name=name)
    for held in index.versions:
        if held.data_hash == same:
            held.last_imported_at = now
            held.imports.append(event)
            index.versions = [v for v in index.versions if v is not held] + [held]
            _write_atomic(folder / INDEX, index.model_dump_json(indent=2) + "\n")
            return held.model_copy(update={"already_stored": True, "current": True})
    version = ListVersion(
        name=name,
        version=lst.version,
        content_hash=content_hash,
        data_hash=same,
        imported_at=now,
        last_imported_at=now,
        records=len(lst.parties),
        aliases=sum(len(p.aliases) for p in lst.parties),
        skipped=len(result.skipped),
        format=result.format,
        source_file=primary.name,
        source_sha256=hashes.get(primary.name, ""),
        source_files=hashes,
        title=lst.title,
        imports=[event],
    )
    _write_atomic(folder / f"{lst.version}.json", dumps_list(lst, "json"))
    index.versions.append(version)
    _write_atomic(folder / INDEX, index.model_dump_json(indent=2) + "\n")
    return version.model_copy(update={"current": True})


def names() -> list[str]:
    folder = lists_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / INDEX).is_file())


def versions(name: str) -> list[ListVersion]:
    """Every stored version of `name`, the current one last; empty for a name never imported."""
    index = _read_index(name) if NAME_RE.match(name) else None
    return _mark_current(index) if index else []


def list_catalog(all_versions: bool = False) -> list[ListVersion]:
    """The current version of every imported list (by name), or every version of every list."""
    out: list[ListVersion] = []
    for name in names():
        held = versions(name)
        out.extend(held if all_versions else [v for v in held if v.current])
    return out


def find_version(name: str, version: str | None = None) -> ListVersion:
    """The current version, or the one whose content hash starts with `version` (at least 4 characters)."""
    held = versions(name)
    if not held:
        raise KeyError(f"unknown list {name!r}: import it with 'screener lists import'")
    if version is None:
        return next(v for v in held if v.current)
    prefix = version.strip().lower()
    found = [v for v in held if v.content_hash.startswith(prefix)] if len(prefix) >= MIN_PREFIX else []
    if len(found) == 1:
        return found[0]
    if not found:
        known = ", ".join(v.version for v in held)
        raise KeyError(f"list {name!r} has no version {version!r} (stored: {known})")
    raise KeyError(f"version {version!r} of list {name!r} is ambiguous: give more of the hash")


def load_named_list(name: str, version: str | None = None) -> RestrictedList:
    """A list by name: "default" (the bundled list) or an imported one, current or by hash prefix."""
    if name == DEFAULT:
        lst = default_list()
        if version is not None and not lst.content_hash.startswith(version.strip().lower()):
            raise KeyError(f"the default list is version {lst.content_hash[:16]}, not {version!r}")
        return lst
    found = find_version(name, version)
    path = lists_dir() / name / f"{found.version}.json"
    try:
        stat = path.stat()
    except OSError as exc:
        raise ListError(f"{path}: stored version of {name!r} is missing: {exc.strerror or exc}") from exc
    return _load_version(str(path), stat.st_mtime_ns, found.content_hash)


@lru_cache(maxsize=8)
def _load_version(path: str, _mtime_ns: int, content_hash: str) -> RestrictedList:
    """Parse a stored version once per process and check it is still the content it was stored as."""
    lst = load_list(path)
    if lst.content_hash != content_hash:
        raise ListError(f"{path}: content does not match its recorded hash {content_hash[:16]}: altered")
    return lst


def default_version() -> ListVersion:
    """The bundled list described like an imported version, for the catalog display."""
    from screener.lists.partylist import default_list_path

    lst = default_list()
    path = default_list_path()
    stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")
    return ListVersion(
        name=DEFAULT,
        version=lst.content_hash[:16],
        content_hash=lst.content_hash,
        data_hash=lst.content_hash,
        imported_at=stamp,
        last_imported_at=stamp,
        records=len(lst.parties),
        aliases=sum(len(p.aliases) for p in lst.parties),
        format="bundled",
        source_file=path.name,
        source_sha256=_sha256(path),
        title=lst.title,
        current=True,
    )

