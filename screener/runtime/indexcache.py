"""The alias index kept on disk per list version, so a CLI `check` against CSL + SDN starts in well under 1 s.

Building the index over the official lists (normalising ~47,000 aliases) takes seconds; it depends
only on the lists' versions and the matching code, so it is built once and kept under
`SCREENER_HOME/index-cache/`, one file per set of list versions, named by a key that hashes those
versions with the code that builds the index (`screener/names/*.py` and its terms, `models.py`,
this module) and the Python version. A new list version or any code change is a new key: the
index is rebuilt, never read stale.

Loading is safe: the file is a pickle, but it is authenticated with HMAC-SHA256 under a random key
kept beside it (`key`, mode 0600), and nothing is unpickled unless the MAC verifies; a file that
fails (altered, truncated, written by another key) is ignored and rebuilt. Loading is fast because
it is lazy: the index's large lists and tables (aliases, postings, parties) are stored in chunks,
so only the items a lookup touches are decoded, and the lists themselves only when a report needs
them. Reading the index's attributes generically (lists and dicts, whatever the matcher keeps)
keeps this module out of the matcher's internals. SCREENER_INDEX_CACHE=off turns the cache off.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import os
import pickle
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import _lru_cache_wrapper, lru_cache
from pathlib import Path
from typing import Any

from screener.home import home
from screener.models import ListInfo, RestrictedList
from screener.names.matcher import AliasIndex
from screener.screening import DEFAULT_THRESHOLD, Screener

CACHE_DIR = "index-cache"
CACHE_ENV = "SCREENER_INDEX_CACHE"  # "off": build the index in memory every time, keep nothing
KEY_FILE = "key"
MAGIC = b"screener-index-1\n"
MAC_SIZE = 32
LAZY_MIN = 256  # lists and dicts at least this long are stored in chunks, decoded on first use
CHUNK = 64
KEEP = 3  # cache files kept (the newest); each is about 50 MB for CSL + SDN
DEFAULT = "default"

Lists = list[tuple[str, RestrictedList]]


class LazyList(Sequence[Any]):
    """A read-only list stored in chunks of CHUNK items, each unpickled on first access."""

    def __init__(self, length: int, chunks: list[bytes]) -> None:
        self._length = length
        self._chunks = chunks
        self._loaded: list[list[Any] | None] = [None] * len(chunks)

    @classmethod
    def of(cls, items: list[Any]) -> LazyList:
        return cls(len(items), [pickle.dumps(items[i : i + CHUNK], protocol=5) for i in range(0, len(items), CHUNK)])

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += self._length
        if not 0 <= i < self._length:
            raise IndexError(i)
        chunk = self._loaded[i // CHUNK]
        if chunk is None:
            chunk = self._loaded[i // CHUNK] = pickle.loads(self._chunks[i // CHUNK])  # authenticated (load)
        return chunk[i % CHUNK]

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def __reduce__(self) -> tuple[Any, ...]:
        return (LazyList, (self._length, self._chunks))


class LazyDict(Mapping[Any, Any]):
    """A read-only dict whose values are stored in chunks of CHUNK keys, unpickled on first access."""

    def __init__(self, where: dict[Any, int], chunks: list[bytes]) -> None:
        self._where = where
        self._chunks = chunks
        self._loaded: list[dict[Any, Any] | None] = [None] * len(chunks)

    @classmethod
    def of(cls, items: dict[Any, Any]) -> LazyDict:
        keys = list(items)
        where = {k: i // CHUNK for i, k in enumerate(keys)}
        chunks = [pickle.dumps({k: items[k] for k in keys[i : i + CHUNK]}, protocol=5)
                  for i in range(0, len(keys), CHUNK)]
        return cls(where, chunks)

    def __getitem__(self, key: Any) -> Any:
        n = self._where[key]
        chunk = self._loaded[n]
        if chunk is None:
            chunk = self._loaded[n] = pickle.loads(self._chunks[n])  # authenticated (load)
        return chunk[key]

    def __contains__(self, key: object) -> bool:
        return key in self._where

    def __iter__(self) -> Iterator[Any]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    def __reduce__(self) -> tuple[Any, ...]:
        return (LazyDict, (self._where, self._chunks))


def _code_hash() -> str:
    """What the index is built by: the matcher package's code and terms, the models, this module."""
    import screener.models
    import screener.names

    digest = hashlib.sha256(sys.version.encode())
    names = Path(screener.names.__file__).parent
    files = sorted([*names.glob("*.py"), *names.glob("*.yaml"), Path(screener.models.__file__), Path(__file__)])
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _list_versions(names: Sequence[str]) -> list[str]:
    """Each list's identity: the catalog's content hash, or the bundled file's SHA-256."""
    from screener.lists import catalog

    out = []
    for name in names:
        if name == DEFAULT:
            from screener.lists.partylist import default_list_path

            out.append("default:" + hashlib.sha256(default_list_path().read_bytes()).hexdigest())
        else:
            out.append(f"{name}:{catalog.find_version(name).content_hash}")
    return out


def cache_key(names: Sequence[str]) -> str:
    parts = [_code_hash(), *_list_versions(names)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _folder() -> Path:
    folder = home() / CACHE_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _mac_key() -> bytes:
    """The HMAC key, created once (0600); whoever cannot read it cannot forge a cache file."""
    path = _folder() / KEY_FILE
    try:
        key = path.read_bytes()
        if len(key) == 32:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key.")
    try:
        os.write(fd, key)
        os.close(fd)
        os.chmod(tmp, 0o600)
        os.link(tmp, path)  # first writer wins; a concurrent one reads the winner's key
    except FileExistsError:
        return path.read_bytes()
    finally:
        Path(tmp).unlink(missing_ok=True)
    return key


def _split(value: Any) -> Any:
    if isinstance(value, list) and len(value) >= LAZY_MIN:
        return LazyList.of(value)
    if isinstance(value, dict) and len(value) >= LAZY_MIN:
        return LazyDict.of(value)
    return value


def _index_state(index: AliasIndex) -> tuple[dict[str, Any], dict[str, tuple[str, int | None]]]:
    """The index's attributes, large containers split; functools caches noted to be re-created empty."""
    state: dict[str, Any] = {}
    caches: dict[str, tuple[str, int | None]] = {}
    for name, value in vars(index).items():
        if isinstance(value, _lru_cache_wrapper):
            caches[name] = (value.__wrapped__.__name__, value.cache_parameters()["maxsize"])
        else:
            state[name] = _split(value)
    return state, caches


def _restore_index(state: dict[str, Any], caches: dict[str, tuple[str, int | None]]) -> AliasIndex:
    index = AliasIndex.__new__(AliasIndex)
    vars(index).update(state)
    for name, (method, maxsize) in caches.items():
        setattr(index, name, lru_cache(maxsize=maxsize)(getattr(index, method)))
    return index


def save(path: Path, screener: Screener) -> None:
    state, caches = _index_state(screener.index)
    payload = {
        "index": pickle.dumps((state, caches), protocol=5),
        "infos": [i.model_dump() for i in screener.list_infos()],
        "lists": pickle.dumps(screener.lists, protocol=5),
    }
    body = pickle.dumps(payload, protocol=5)
    mac = hmac.new(_mac_key(), body, hashlib.sha256).digest()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC + mac + body)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for old in sorted(path.parent.glob("*.idx"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP:]:
        old.unlink(missing_ok=True)


def load(path: Path, threshold: float) -> Screener | None:
    """The cached Screener, or None when the file is missing or does not authenticate."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if not raw.startswith(MAGIC) or len(raw) < len(MAGIC) + MAC_SIZE:
        return None
    mac, body = raw[len(MAGIC) : len(MAGIC) + MAC_SIZE], memoryview(raw)[len(MAGIC) + MAC_SIZE :]
    if not hmac.compare_digest(mac, hmac.new(_mac_key(), body, hashlib.sha256).digest()):
        return None
    try:
        payload = pickle.loads(body)
        state, caches = pickle.loads(payload["index"])
        index = _restore_index(state, caches)
        infos = [ListInfo.model_validate(i) for i in payload["infos"]]
    except Exception:  # noqa: BLE001 - ours, but unreadable to this code (a change the key missed): rebuild
        return None
    gc.freeze()  # long-lived, like a built index (see AliasIndex): full collections need not walk it
    return Screener(None, threshold=threshold, index=index, infos=infos, load_lists=_lists_loader(payload["lists"]))


def _lists_loader(blob: bytes) -> Callable[[], Lists]:
    def loader() -> Lists:
        lists: Lists = pickle.loads(blob)
        return lists

    return loader


def cached_screener(names: list[str], threshold: float = DEFAULT_THRESHOLD) -> Screener:
    """A Screener over the named lists: from the cache when it holds these versions, else built and kept.

    Raises KeyError for an unknown list, as `load_named_list` does.
    """
    from screener.lists.catalog import load_named_list

    if os.environ.get(CACHE_ENV, "").lower() in ("0", "off", "no", "false"):
        return Screener([(name, load_named_list(name)) for name in names], threshold=threshold)
    path = _folder() / f"{cache_key(names)}.idx"
    found = load(path, threshold)
    if found is not None:
        return found
    screener = Screener([(name, load_named_list(name)) for name in names], threshold=threshold)
    try:
        save(path, screener)
    except OSError:
        pass  # a read-only home only costs the next start the build
    return screener
