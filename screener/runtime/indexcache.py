"""The alias index kept on disk per list version, so a CLI `check` against CSL + SDN starts in well under 1 s.

Building the index over the official lists (normalising ~47,000 aliases) takes seconds; it depends
only on the lists' versions and the matching code, so it is built once and kept under
`SCREENER_HOME/index-cache/`, one file per set of list versions, named by a key that hashes those
versions with the code that builds the index (`screener/names/*.py` and its terms, `models.py`,
this module) and the Python version. A new list version or any code change is a new key: the
index is rebuilt, never read stale.

Loading is safe: the file holds pickles, but it is authenticated with HMAC-SHA256 under a random key
kept beside it (`key`, mode 0600), and nothing is unpickled unless the MAC of the whole file
verifies; a file that fails (altered, truncated, written by another key) is ignored and rebuilt.
Loading is fast because it is lazy: the index's large lists and tables (aliases, postings, parties)
are stored in small chunks, so only the items a lookup touches are decoded, and the lists
themselves only when a report needs them. The file is read once into memory and authenticated
there; a small header (the index's other attributes, and for each chunked list or table the offsets
of its chunks) is all that is unpickled at load, and a chunk is decoded straight from that buffer
(no copy, and never read from disk again, so nothing unauthenticated is ever unpickled). Tables
keyed by text find a key's chunk by a stable hash of the key, so loading decodes nothing per key.
Reading the index's attributes generically (lists and dicts, whatever the matcher keeps) keeps this
module out of the matcher's internals. SCREENER_INDEX_CACHE=off turns the cache off.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import pickle
import secrets
import struct
import sys
import tempfile
import zlib
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from screener.collector import kept
from screener.home import home
from screener.models import ListInfo, RestrictedList
from screener.names.matcher import AliasIndex
from screener.screening import DEFAULT_THRESHOLD, Screener

CACHE_DIR = "index-cache"
CACHE_ENV = "SCREENER_INDEX_CACHE"  # "off": build the index in memory every time, keep nothing
KEY_FILE = "key"
MAGIC = b"screener-index-2\n"
MAC_SIZE = 32
HEADER_LEN = struct.Struct("<Q")
LAZY_MIN = 256  # lists and dicts at least this long are stored in chunks, decoded on first use
CHUNK = 8  # items per chunk: a look-up decodes only the chunks it touches (an alias takes ~50 µs to decode)
KEEP = 3  # cache files kept (the newest); each is about 50 MB for CSL + SDN
DEFAULT = "default"

Lists = list[tuple[str, RestrictedList]]
Buffer = bytes | memoryview


# A file is MAGIC, the HMAC of the rest, then the rest: the length of a header, the header (a pickle
# of the index's attributes, the list infos and where the lists are) and the chunks the header's
# lazy lists and dicts refer to by offset. The whole file is read and authenticated before anything is
# unpickled; the chunks are then slices of that one buffer (no copy), each unpickled on first use.


class _Chunks:
    """Pickled chunks side by side in a buffer: chunk i ends at buf[base + ends[i]] and starts where
    chunk i - 1 ends (the first at buf[base])."""

    __slots__ = ("_base", "_buf", "_ends")

    def __init__(self, buf: Buffer, base: int, ends: array[int]) -> None:
        self._buf, self._base, self._ends = buf, base, ends

    def __len__(self) -> int:
        return len(self._ends)

    def get(self, i: int) -> Any:
        start = self._ends[i - 1] if i else 0
        return pickle.loads(self._buf[self._base + start : self._base + self._ends[i]])  # authenticated (load)

    def portable(self) -> tuple[bytes, array[int]]:
        """The chunks as bytes of their own (to pickle them without the whole file)."""
        size = self._ends[-1] if len(self._ends) else 0
        if isinstance(self._buf, bytes) and self._base == 0 and len(self._buf) == size:
            return self._buf, self._ends  # already their own (just built)
        return bytes(self._buf[self._base : self._base + size]), self._ends

    @classmethod
    def of(cls, parts: list[bytes]) -> _Chunks:
        ends, size = array("Q"), 0
        for part in parts:
            size += len(part)
            ends.append(size)
        return cls(b"".join(parts), 0, ends)


def _pickled(value: Any) -> bytes:
    return pickle.dumps(value, protocol=5)


def _bucket(key: str, buckets: int) -> int:
    """A key's chunk, the same in every process (str's own hash is salted per process)."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % buckets


class LazyList(Sequence[Any]):
    """A read-only list stored in chunks of CHUNK items, each unpickled on first access."""

    def __init__(self, length: int, chunks: _Chunks) -> None:
        self._length = length
        self._chunks = chunks
        self._loaded: list[list[Any] | None] = [None] * len(chunks)

    @classmethod
    def of(cls, items: list[Any]) -> LazyList:
        return cls(len(items), _Chunks.of([_pickled(items[i : i + CHUNK]) for i in range(0, len(items), CHUNK)]))

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, i: Any) -> Any:
        if i.__class__ is not int or i < 0:  # the matcher's look-ups skip this: non-negative ints
            if isinstance(i, slice):
                return [self[j] for j in range(*i.indices(len(self)))]
            if i < 0:
                i += self._length
            if not 0 <= i < self._length:
                raise IndexError(i)
        chunk = self._loaded[i // CHUNK]  # past the end: IndexError here or below, as a list's
        if chunk is None:
            chunk = self._loaded[i // CHUNK] = self._chunks.get(i // CHUNK)
        return chunk[i % CHUNK]

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_lazy_list, (self._length, *self._chunks.portable()))


class LazyDict(Mapping[Any, Any]):
    """A read-only dict whose items are stored in chunks of about CHUNK keys, unpickled on first access.

    With text keys (the index's tables) a key's chunk is a stable hash of it, so nothing per key is
    decoded at load (a lookup decodes its chunk; iteration decodes the keys, in their order). Other
    keys are kept in a table of key -> chunk.
    """

    def __init__(self, length: int, chunks: _Chunks, where: dict[Any, int] | None, keys: Buffer | None) -> None:
        self._length = length
        self._chunks = chunks
        self._where = where  # None: chunks are buckets by _bucket, and `keys` the pickled keys in order
        self._keys = keys
        self._loaded: list[dict[Any, Any] | None] = [None] * len(chunks)

    @classmethod
    def of(cls, items: dict[Any, Any]) -> LazyDict:
        keys = list(items)
        if all(type(k) is str for k in keys):
            buckets: list[dict[Any, Any]] = [{} for _ in range(-(-len(keys) // CHUNK))]
            for k in keys:
                buckets[_bucket(k, len(buckets))][k] = items[k]
            return cls(len(keys), _Chunks.of([_pickled(b) for b in buckets]), None, _pickled(keys))
        where = {k: i // CHUNK for i, k in enumerate(keys)}
        parts = [_pickled({k: items[k] for k in keys[i : i + CHUNK]}) for i in range(0, len(keys), CHUNK)]
        return cls(len(keys), _Chunks.of(parts), where, None)

    def _chunk(self, key: Any) -> dict[Any, Any] | None:
        if self._where is None:
            if type(key) is not str:
                return None
            n = _bucket(key, len(self._loaded))
        else:
            n = self._where.get(key, -1)
            if n < 0:
                return None
        chunk = self._loaded[n]
        if chunk is None:
            chunk = self._loaded[n] = self._chunks.get(n)
        return chunk

    def __getitem__(self, key: Any) -> Any:
        chunk = self._chunk(key)
        if chunk is None:
            raise KeyError(key)
        return chunk[key]

    def __contains__(self, key: object) -> bool:
        chunk = self._chunk(key)
        return chunk is not None and key in chunk

    def get(self, key: Any, default: Any = None) -> Any:
        chunk = self._chunk(key)  # once, where Mapping.get would find the chunk through __getitem__
        return default if chunk is None else chunk.get(key, default)

    def __iter__(self) -> Iterator[Any]:
        if self._where is not None:
            return iter(self._where)
        assert self._keys is not None
        keys: list[Any] = pickle.loads(self._keys)  # authenticated (load)
        return iter(keys)

    def __len__(self) -> int:
        return self._length

    def __reduce__(self) -> tuple[Any, ...]:
        keys = None if self._keys is None else bytes(self._keys)
        return (_lazy_dict, (self._length, *self._chunks.portable(), self._where, keys))


def _lazy_list(length: int, data: bytes, ends: array[int]) -> LazyList:
    return LazyList(length, _Chunks(data, 0, ends))


def _lazy_dict(length: int, data: bytes, ends: array[int], where: dict[Any, int] | None, keys: bytes | None) -> LazyDict:
    return LazyDict(length, _Chunks(data, 0, ends), where, keys)


class _Writer(pickle.Pickler):
    """Pickles a header: the chunks of lazy lists and dicts go to the chunk area, referred to by offset."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=5)
        self.area: list[bytes] = []
        self.size = 0

    def _put(self, data: bytes) -> tuple[int, int]:
        self.area.append(data)
        self.size += len(data)
        return self.size - len(data), len(data)

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, (LazyList, LazyDict)):
            data, ends = obj._chunks.portable()
            base, _ = self._put(data)
            if isinstance(obj, LazyList):
                return ("list", obj._length, base, ends)
            keys = None if obj._keys is None else self._put(bytes(obj._keys))
            return ("dict", obj._length, base, ends, obj._where, keys)
        if isinstance(obj, _Blob):
            return ("blob", self._put(obj.data))
        return None


class _Reader(pickle.Unpickler):
    """Unpickles a header written by _Writer, its lazy lists and dicts reading chunks from `area`."""

    def __init__(self, header: Buffer, area: memoryview) -> None:
        super().__init__(io.BytesIO(header))
        self.area = area

    def persistent_load(self, pid: Any) -> Any:
        kind = pid[0]
        if kind == "list":
            _, length, base, ends = pid
            return LazyList(length, _Chunks(self.area, base, ends))
        if kind == "dict":
            _, length, base, ends, where, keys = pid
            return LazyDict(length, _Chunks(self.area, base, ends), where,
                            None if keys is None else self.area[keys[0] : keys[0] + keys[1]])
        if kind == "blob":
            start, size = pid[1]
            return self.area[start : start + size]
        raise pickle.UnpicklingError(f"unknown reference {kind!r}")


class _Blob:
    """Bytes kept in the chunk area, read back as a slice of the file (the pickled lists)."""

    def __init__(self, data: bytes) -> None:
        self.data = data


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


def _index_state(index: AliasIndex) -> dict[str, Any]:
    """The index's attributes, large containers split; its caches are made anew on load (start_caches)."""
    return {name: _split(value) for name, value in vars(index).items() if name not in AliasIndex.CACHES}


def _restore_index(state: dict[str, Any]) -> AliasIndex:
    index = AliasIndex.__new__(AliasIndex)
    vars(index).update(state)
    index.start_caches()
    return index


def _held_records(index: AliasIndex) -> dict[int, tuple[str, int, int | None]]:
    """Where the index's large lists hold models (a party, or a party in a tuple): id -> (attribute,
    item, place in the tuple). The lists screened are stored with these as references, so that the
    parties the index keeps anyway are not stored twice (a quarter of the file for CSL + SDN)."""
    from pydantic import BaseModel

    held: dict[int, tuple[str, int, int | None]] = {}
    for name, value in vars(index).items():
        if not (isinstance(value, list) and len(value) >= LAZY_MIN):
            continue
        for i, item in enumerate(value):
            if isinstance(item, BaseModel):
                held.setdefault(id(item), (name, i, None))
            elif isinstance(item, tuple):
                for j, part in enumerate(item):
                    if isinstance(part, BaseModel):
                        held.setdefault(id(part), (name, i, j))
    return held


class _ListsWriter(pickle.Pickler):
    """Pickles the lists screened, a record the index holds as a reference to it (see _held_records)."""

    def __init__(self, file: io.BytesIO, held: dict[int, tuple[str, int, int | None]]) -> None:
        super().__init__(file, protocol=5)
        self.held = held

    def persistent_id(self, obj: Any) -> Any:
        return self.held.get(id(obj))


class _ListsReader(pickle.Unpickler):
    """Unpickles the lists screened, their references resolved in the loaded index."""

    def __init__(self, data: Buffer, index: AliasIndex) -> None:
        super().__init__(io.BytesIO(data))
        self.index = index

    def persistent_load(self, pid: Any) -> Any:
        name, i, j = pid
        item = getattr(self.index, name)[i]
        return item if j is None else item[j]


def _pickled_lists(screener: Screener) -> bytes:
    out = io.BytesIO()
    _ListsWriter(out, _held_records(screener.index)).dump(screener.lists)
    return out.getvalue()


def save(path: Path, screener: Screener) -> None:
    header = io.BytesIO()
    writer = _Writer(header)
    writer.dump({
        "index": _index_state(screener.index),
        "infos": [i.model_dump() for i in screener.list_infos()],
        "lists": _Blob(_pickled_lists(screener)),
    })
    head = header.getvalue()
    digest = hmac.new(_mac_key(), HEADER_LEN.pack(len(head)), hashlib.sha256)
    digest.update(head)
    for part in writer.area:
        digest.update(part)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC + digest.digest() + HEADER_LEN.pack(len(head)))
            fh.write(head)
            for part in writer.area:
                fh.write(part)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for old in sorted(path.parent.glob("*.idx"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP:]:
        old.unlink(missing_ok=True)


def load(path: Path, threshold: float) -> Screener | None:
    """The cached Screener, or None when the file is missing or does not authenticate.

    The whole file is authenticated before anything in it is unpickled; the lazy lists and dicts then
    decode their chunks from that same buffer (read once, never copied, never read again from disk).
    """
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    first = len(MAGIC) + MAC_SIZE
    if not raw.startswith(MAGIC) or len(raw) < first + HEADER_LEN.size:
        return None
    mac, body = raw[len(MAGIC) : first], memoryview(raw)[first:]
    if not hmac.compare_digest(mac, hmac.new(_mac_key(), body, hashlib.sha256).digest()):
        return None
    try:
        (size,) = HEADER_LEN.unpack_from(body)
        head = body[HEADER_LEN.size : HEADER_LEN.size + size]
        if len(head) != size:
            return None
        with kept():  # long-lived, like a built index (see AliasIndex): no collection need walk it
            payload = _Reader(head, body[HEADER_LEN.size + size :]).load()
            index = _restore_index(payload["index"])
            infos = [ListInfo.model_validate(i) for i in payload["infos"]]
            lists = payload["lists"]
    except Exception:  # noqa: BLE001 - ours, but unreadable to this code (a change the key missed): rebuild
        return None
    return Screener(None, threshold=threshold, index=index, infos=infos, load_lists=_lists_loader(lists, index))


def _lists_loader(blob: Buffer, index: AliasIndex) -> Callable[[], Lists]:
    def loader() -> Lists:
        lists: Lists = _ListsReader(blob, index).load()  # authenticated (load)
        return lists

    return loader


def cached_screener(names: list[str], threshold: float = DEFAULT_THRESHOLD) -> Screener:
    """A Screener over the named lists: from the cache when it holds these versions, else built and kept.

    Raises KeyError for an unknown list, as `load_named_list` does.
    """
    from screener.lists.catalog import load_named_list

    def build() -> Screener:
        return Screener([(name, load_named_list(name)) for name in names], threshold=threshold)

    if os.environ.get(CACHE_ENV, "").lower() in ("0", "off", "no", "false"):
        return build()
    try:
        path = _folder() / f"{cache_key(names)}.idx"
        found = load(path, threshold)
    except OSError:  # a home that cannot be written or read: every start builds, as without the cache
        return build()
    if found is not None:
        return found
    screener = build()
    try:
        save(path, screener)
    except OSError:
        pass  # a read-only home only costs the next start the build
    return screener
