"""Load, save and check restricted-party list files.

A list file is the evidence behind every hit, so loading is strict (pydantic), saving is stable
(diffs of a list stay reviewable), and `validate_list` adds the checks a schema cannot make: ids,
sources, that every quote really is in the document it cites, and that the text speaks to readers
(no markdown, no working-note tags such as "verified-from-S17", no quote from a working file: an
auditor who reads "from-memory-unverified" stops trusting the list).

Verbatim rule: a quote counts as verbatim when it is a substring of the cited document after both
are passed through `normalize_ws` (every run of Unicode whitespace, newlines included, becomes one
space; ends stripped). Nothing else is folded: case, curly quotes and apostrophes must match.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from screener.models import RestrictedList, Source

BUNDLED_NAME = "us-entity-list-2019"
BUNDLED_ID_RE = re.compile(r"^[a-z0-9_]+$")
DEFAULT_LIST_ENV = "SCREENER_DEFAULT_LIST"


class ListError(Exception):
    """A list file that cannot be read or does not match the schema; the message names file and record."""


def normalize_ws(text: str) -> str:
    """Collapse whitespace runs to one space; the only folding the verbatim rule allows."""
    return " ".join(text.split())


@lru_cache(maxsize=1)
def _loader() -> Any:
    """SafeLoader without timestamp resolution, so '2019-10-09' stays a string and pydantic decides.

    Made on first use: a YAML list is read only when building or validating one (stored versions are
    JSON), so a check never imports PyYAML."""
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.yaml_implicit_resolvers = {
        key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return _Loader


class _YamlError(ValueError):
    """PyYAML's error, raised by `_load_yaml` so that callers need not import PyYAML to catch it."""


def _load_yaml(text: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_loader())  # a safe loader, see _loader
    except yaml.YAMLError as exc:
        raise _YamlError(str(exc)) from exc


def _is_json(path: Path) -> bool:
    return path.suffix.lower() == ".json"


def _where(data: Any, loc: tuple[int | str, ...]) -> str:
    """Render an error location, naming the party by id so the analyst can find the record."""
    parts: list[str] = []
    node: Any = data
    for i, key in enumerate(loc):
        party_level = i == 1 and loc[0] == "parties" and isinstance(key, int)
        if isinstance(key, int):
            label = f"[{key}]"
            if party_level and isinstance(node, list) and key < len(node) and isinstance(node[key], dict):
                pid = node[key].get("id")
                if pid is not None:
                    label = f"[{key}] (id={pid})"
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(key))
        node = node[key] if isinstance(node, (list, dict)) and _has(node, key) else None
    return "".join(parts) or "<root>"


def _has(node: list[Any] | dict[str, Any], key: int | str) -> bool:
    if isinstance(node, list):
        return isinstance(key, int) and 0 <= key < len(node)
    return key in node


def load_list(path: str | Path) -> RestrictedList:
    """Read a YAML or JSON list (by extension); any failure is a ListError naming file and record."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ListError(f"{path}: cannot read list file: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text) if _is_json(path) else _load_yaml(text)
    except (json.JSONDecodeError, _YamlError) as exc:
        msg = str(exc).replace("\n", " ")
        raise ListError(f"{path}: not valid {'JSON' if _is_json(path) else 'YAML'}: {msg}") from exc
    if not isinstance(data, dict):
        raise ListError(f"{path}: a list file must be a mapping with 'name' and 'parties'")
    data.pop("content_hash", None)  # derived, never trusted from the file
    try:
        return RestrictedList.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_where(data, tuple(err['loc']))}: {err['msg']}" for err in exc.errors()]
        raise ListError(f"{path}: {'; '.join(problems)}") from exc


def _plain(lst: RestrictedList) -> dict[str, Any]:
    """The list as plain data in model field order, without Nones or `verified: true` noise."""
    data = lst.model_dump(mode="json", exclude={"content_hash"}, exclude_none=True)
    for party in data["parties"]:
        for item in (*party.get("aliases", []), *party.get("addresses", [])):
            if item.get("verified") is True:
                del item["verified"]
    return data


def dumps_list(lst: RestrictedList, fmt: str = "yaml") -> str:
    """Serialise with stable key order; YAML keeps non-ASCII names readable and lines unwrapped."""
    data = _plain(lst)
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1_000_000, default_flow_style=False)


def save_list(lst: RestrictedList, path: str | Path) -> None:
    """Write atomically so a failed save never leaves half a list behind."""
    path = Path(path)
    text = dumps_list(lst, "json" if _is_json(path) else "yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # keep the file's mode; mkstemp would leave a new file readable by its owner only
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def default_list_path() -> Path:
    """The bundled list (package data of `screener.lists.bundled`), unless SCREENER_DEFAULT_LIST names another.

    Installed packages are plain folders, so the resource is a real file whose path the catalog and
    `lists build` can name; the source of it is the checkout's top-level `lists/` folder.
    """
    override = os.environ.get(DEFAULT_LIST_ENV)
    if override:
        return Path(override).expanduser()
    return Path(str(resources.files("screener.lists.bundled").joinpath("us_entity_list.yaml")))


@lru_cache(maxsize=8)
def _cached(path: str, _mtime_ns: int) -> RestrictedList:
    return load_list(path)


def default_list() -> RestrictedList:
    """The default list, parsed once per file version (keyed on path and mtime, so a rebuild is seen)."""
    path = default_list_path()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise ListError(f"{path}: cannot read list file: {exc.strerror or exc}") from exc
    return _cached(str(path), mtime)


def _read_docs(folder: Path, suffix: str) -> dict[str, str]:
    return {p.stem: normalize_ws(p.read_text(encoding="utf-8")) for p in sorted(folder.glob(f"*{suffix}"))}


WORKING_NOTE_RE = re.compile(
    r"verified-from-|from-memory|\bbrief\b|\bthe reference\b|\breference[:\s]+(?:S\d+|unverified)", re.IGNORECASE
)
MARKDOWN_RE = re.compile(r"\*\*|__|`|^\s{0,3}#{1,6}\s|\[[^\]]*\]\([^)]*\)|\s\|\s|^\s*\|", re.MULTILINE)
QUOTED_KINDS = ("article", "notice", "list_file")  # documents a reader can look up; never working notes


def _texts(value: Any, where: str) -> list[tuple[str, str]]:
    """Every string in a dumped record, with a dotted path naming the field."""
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, dict):
        return [t for key, v in value.items() for t in _texts(v, f"{where}.{key}" if where else str(key))]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in _texts(v, f"{where}[{i}]")]
    return []


def wording_problems(label: str, record: Any) -> list[str]:
    """Markdown or the team's provenance tags in text shown to users: both belong in no list."""
    out = []
    for where, text in _texts(record, ""):
        for pattern, what in ((MARKDOWN_RE, "markdown"), (WORKING_NOTE_RE, "a working-note tag")):
            if m := pattern.search(text):
                out.append(f"{label}: {where} holds {what} ({m.group(0).strip()!r}): {text[:60]!r}")
    return out


def validate_list(
    lst: RestrictedList,
    articles_dir: Path | None = None,
    *,
    strict_ids: bool | None = None,
) -> list[str]:
    """Problems the schema cannot see; an empty list means the list is fit to ship.

    `strict_ids` (default: only for the bundled list, recognised by its name) requires ids of the
    form `^[a-z0-9_]+$`; imported lists keep their own id schemes. Article quotes are checked
    against `articles_dir/<id>.txt` when given. Every text is checked for markdown and working-note
    tags, and every quote must come from a document a reader can look up (an article, a notice or
    an official list file).
    """
    problems: list[str] = []
    strict = lst.name == BUNDLED_NAME if strict_ids is None else strict_ids
    articles = _read_docs(articles_dir, ".txt") if articles_dir is not None else None
    if articles_dir is not None and not articles:
        problems.append(f"no articles (*.txt) found in {articles_dir}")
    header = lst.model_dump(mode="json", include={"title", "description", "coverage"}, exclude_none=True)
    problems.extend(wording_problems("list", header))

    seen_ids: set[str] = set()
    for party in lst.parties:
        pid = party.id
        if pid in seen_ids:
            problems.append(f"{pid}: duplicate id")
        seen_ids.add(pid)
        if strict and not BUNDLED_ID_RE.match(pid):
            problems.append(f"{pid}: id must match {BUNDLED_ID_RE.pattern}")
        if not party.sources:
            problems.append(f"{pid}: has no source")
        problems.extend(wording_problems(pid, party.model_dump(mode="json", exclude_none=True)))

        names: set[str] = set()
        for alias in party.aliases:
            key = normalize_ws(alias.name).casefold()
            if key in names:
                problems.append(f"{pid}: alias {alias.name!r} appears twice")
            names.add(key)
            if alias.name == party.name:
                problems.append(f"{pid}: alias {alias.name!r} repeats the listed name")
            if not alias.verified and not alias.note:
                problems.append(f"{pid}: unverified alias {alias.name!r} has no note saying why")

        for source in party.sources:
            problems.extend(source_problems(pid, source, articles))
    return problems


def source_problems(pid: str, source: Source, articles: dict[str, str] | None) -> list[str]:
    """What is wrong with one citation; `articles` maps article ids to whitespace-normalised text."""
    out: list[str] = []
    tag = f"{pid}: {source.kind} source {source.id!r}"
    if source.kind not in QUOTED_KINDS:
        out.append(f"{tag}: cites a working file, not a document a reader can look up; cite the notice or an article")
    if source.quote is not None and len(source.quote) > 300:
        out.append(f"{tag}: quote longer than 300 characters")
    if source.kind == "article":
        if not source.quote:
            out.append(f"{tag}: article citation without a quote")
        if articles is not None:
            if source.id not in articles:
                out.append(f"{tag}: no such article in the articles folder")
            elif source.quote and normalize_ws(source.quote) not in articles[source.id]:
                out.append(f"{tag}: quote is not verbatim in the article: {source.quote[:60]!r}...")
    return out
