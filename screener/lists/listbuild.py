"""Generate the article citations of a list from the news articles that name its parties.

Article citations are derived data: an analyst reading a hit must see the sentence that names the
party, copied verbatim, so the builder finds each party's mentions by its aliases and quotes them.
Hand-written quotes drift; generated ones are re-checked on every build.

Rules (deterministic, so building twice gives the same list):
- A mention is an alias found case-insensitively at word boundaries; spaces and hyphens between
  words, and at camel-case joints ("SenseTime" / "Sense Time"), may vary; straight and curly
  apostrophes are interchangeable. Names in Chinese script match anywhere.
- The quote is the sentence holding the first mention, preferring the first sentence that also
  says the party was blacklisted/added/banned/targeted; sentences over 300 characters are cut to
  a verbatim window around the mention at word boundaries.
- Title is the article's headline line. Date only from a labelled dateline ("UPDATED ... / date");
  a bare date in a page banner may be the day the page was saved, not published. Publisher only
  from a "Source: X" line or an "About X" heading. Otherwise they stay empty and the
  citation's `note` says the stored copy does not show them.
- An existing article quote that is no longer verbatim in its article (tampered or edited text)
  is an error, not silently replaced; pass `reset=True` to regenerate from scratch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from screener.lists.partylist import normalize_ws, source_problems
from screener.models import QUOTE_MAX, Party, RestrictedList, Source


class ListBuildError(Exception):
    """The build could not cite every named party verbatim; `problems` lists each failure."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} citation problem(s): " + "; ".join(problems))


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE_RE = re.compile(rf"\b{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}\b|\b\d{{1,2}}\s+{_MONTH}\s+\d{{4}}\b", re.IGNORECASE)
_DATELINE_RE = re.compile(r"^\s*(?:updated|published|posted)\b", re.IGNORECASE)
_SOURCE_RE = re.compile(r"^\s*Source:\s*(\S.{0,60}?)\s*$")
_ABOUT_RE = re.compile(r"^\s*About\s+((?:[A-Z][\w&.-]*\s?){1,5})\s*$")
_LISTED_RE = re.compile(
    r"\b(?:black-?list\w*|entity list|add(?:ed|ing|itions?)|bann?(?:ed|ing|s)?|target(?:s|ed|ing)?|placed)\b",
    re.IGNORECASE,
)
_ABBREV = {
    "co", "corp", "inc", "ltd", "llc", "plc", "mr", "mrs", "ms", "dr", "st", "no", "jr", "sr",
    "gov", "dept", "vs", "etc", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec",
}  # fmt: skip
_SENT_END_RE = re.compile(r"[.!?…][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int


@dataclass
class Article:
    id: str
    text: str
    title: str | None
    publisher: str | None
    date: str | None
    body_start: int  # offset of the first character after the headline
    sentences: list[Sentence]


def _is_dateline(line: str) -> bool:
    return bool(_DATE_RE.search(line)) and len(line) < 60


def _title_index(lines: list[str]) -> int | None:
    """The headline: the first line of at least four words that is not a dateline."""
    for i, line in enumerate(lines):
        if len(line.split()) >= 4 and not _is_dateline(line) and not _DATELINE_RE.match(line):
            return i
    return None


def _sentences(text: str) -> list[Sentence]:
    """Split each line into sentences, without breaking after 'U.S.', 'Co.' and similar."""
    out: list[Sentence] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        lead = len(stripped) - len(stripped.lstrip())
        start = pos + lead
        for m in _SENT_END_RE.finditer(stripped):
            word = re.search(r"([A-Za-z]+)\.?$", stripped[: m.start() + 1])
            token = word.group(1) if word else ""
            initials = re.search(r"(?:\b[A-Za-z]\.){2,}$", stripped[: m.start() + 1])
            if stripped[m.start()] == "." and (token.lower() in _ABBREV or initials or len(token) == 1):
                continue
            end = pos + m.end()
            if end > start:
                out.append(Sentence(start, end))
            start = end
            while start < pos + len(stripped) and text[start].isspace():
                start += 1
        end = pos + len(stripped.rstrip())
        if end > start:
            out.append(Sentence(start, end))
        pos += len(line)
    return out


def read_article(path: Path) -> Article:
    """Parse an article file: headline, what its header/footer shows, and its sentences."""
    text = path.read_text(encoding="utf-8")
    lines = [ln.strip() for ln in text.splitlines()]
    nonblank = [ln for ln in lines if ln]
    t = _title_index(nonblank)
    title = nonblank[t] if t is not None else None
    header = nonblank[:t] if t is not None else []
    date = None
    for line in header:
        if _DATELINE_RE.match(line) and (m := _DATE_RE.search(line)):
            date = m.group(0)
            break
    publisher = None
    for line in nonblank:
        if m := _SOURCE_RE.match(line):
            publisher = m.group(1)
    if publisher is None:
        for line in nonblank:
            if m := _ABOUT_RE.match(line):
                publisher = m.group(1).strip()
                break
    body_start = 0
    if title is not None:
        body_start = text.index(title) + len(title)
    return Article(path.stem, text, title, publisher, date, body_start, _sentences(text))


def read_articles(articles_dir: Path) -> list[Article]:
    return [read_article(p) for p in sorted(Path(articles_dir).glob("*.txt"))]


def _alias_pattern(name: str) -> re.Pattern[str] | None:
    """A regex for one alias: flexible spacing/hyphens and apostrophes, word-bounded at both ends."""
    name = normalize_ws(name)
    if not name:
        return None
    if _CJK_RE.search(name):
        return re.compile(re.escape(name))
    parts: list[str] = []
    prev = ""
    for ch in name:
        if ch in " -‐‑–":
            if not parts or parts[-1] != r"[\s\-‐‑–]*":
                parts.append(r"[\s\-‐‑–]*")
        elif ch in "'’":
            parts.append("['’]")
        else:
            if prev.islower() and ch.isupper():  # camel-case joint: SenseTime ~ Sense Time
                parts.append(r"[\s\-]?")
            parts.append(re.escape(ch))
        prev = ch
    return re.compile(r"(?<!\w)" + "".join(parts) + r"(?!\w)", re.IGNORECASE)


def party_patterns(party: Party) -> list[re.Pattern[str]]:
    pats = [_alias_pattern(a.name) for a in party.all_names()]
    return [p for p in pats if p is not None]


def find_mentions(party: Party, article: Article) -> list[tuple[int, int]]:
    """Spans where any of the party's names occurs; overlapping hits are kept (longest first)."""
    spans = {(m.start(), m.end()) for pat in party_patterns(party) for m in pat.finditer(article.text)}
    return sorted(spans, key=lambda s: (s[0], -s[1]))


def _window(text: str, sent: Sentence, span: tuple[int, int]) -> str | None:
    """The sentence, or a verbatim ≤300-char window of it around the mention cut at word boundaries."""
    if sent.end - sent.start <= QUOTE_MAX:
        return text[sent.start : sent.end]
    a, b = span
    if b - a > QUOTE_MAX:
        return None
    spare = QUOTE_MAX - (b - a)
    lo = max(sent.start, a - spare // 2)
    hi = min(sent.end, lo + QUOTE_MAX)
    lo = max(sent.start, hi - QUOTE_MAX)
    if lo > sent.start:  # start at the next word
        while lo < a and not text[lo - 1].isspace():
            lo += 1
    if hi < sent.end:  # end at the previous word
        while hi > b and not text[hi].isspace():
            hi -= 1
    return text[lo:hi].strip()


def quote_for(article: Article, spans: list[tuple[int, int]]) -> str | None:
    """The quote for mentions at `spans`; None when no sentence holds one (a build error)."""
    in_body = [s for s in spans if s[0] >= article.body_start] or spans
    located: list[tuple[Sentence, tuple[int, int]]] = []
    for span in in_body:
        for sent in article.sentences:
            if sent.start <= span[0] and span[1] <= sent.end:
                located.append((sent, span))
                break
    if not located:
        return None
    preferred = [(s, sp) for s, sp in located if _LISTED_RE.search(article.text[s.start : s.end])]
    sent, span = (preferred or located)[0]
    return _window(article.text, sent, span)


def _missing_note(article: Article) -> str | None:
    """Say in plain words what the stored copy does not show, rather than guessing it."""
    missing = [what for what, value in (("publisher", article.publisher), ("publication date", article.date)) if not value]
    if not missing:
        return None
    return f"The stored copy of this article shows no {' and no '.join(missing)}."


def _article_source(article: Article, quote: str) -> Source:
    return Source(
        kind="article",
        id=article.id,
        title=article.title,
        publisher=article.publisher,
        date=article.date,
        quote=quote,
        note=_missing_note(article),
    )


def build_citations(lst: RestrictedList, articles_dir: Path, *, reset: bool = False) -> RestrictedList:
    """Rewrite every party's article citations from the articles; raise ListBuildError on any gap.

    Notice sources are kept as they are and come first; article sources follow in
    article order. Unless `reset`, existing article quotes must still be verbatim in their article.
    """
    articles = read_articles(articles_dir)
    if not articles:
        raise ListBuildError([f"no articles (*.txt) in {articles_dir}"])
    texts = {a.id: normalize_ws(a.text) for a in articles}
    problems: list[str] = []
    parties: list[Party] = []
    for party in lst.parties:
        if not reset:  # an existing quote that no longer matches its article must be looked at
            for src in party.sources:
                if src.kind == "article":
                    problems.extend(source_problems(party.id, src, texts))
        cited: list[Source] = []
        for article in articles:
            spans = find_mentions(party, article)
            if not spans:
                continue
            quote = quote_for(article, spans)
            if not quote:
                problems.append(f"{party.id}: named in {article.id} but no quotable sentence was found")
                continue
            if normalize_ws(quote) not in texts[article.id]:
                problems.append(f"{party.id}: quote for {article.id} is not verbatim")
                continue
            cited.append(_article_source(article, quote))
        kept = [s for s in party.sources if s.kind != "article"]
        parties.append(party.model_copy(update={"sources": kept + cited}))
    if problems:
        raise ListBuildError(problems)
    return lst.model_copy(update={"parties": parties})


def citations_by_article(lst: RestrictedList) -> dict[str, list[str]]:
    """Party ids cited per article id, for build summaries."""
    out: dict[str, list[str]] = {}
    for party in lst.parties:
        for src in party.sources:
            if src.kind == "article":
                out.setdefault(src.id, []).append(party.id)
    return dict(sorted(out.items()))


__all__ = [
    "Article",
    "ListBuildError",
    "build_citations",
    "citations_by_article",
    "find_mentions",
    "quote_for",
    "read_article",
    "read_articles",
]
