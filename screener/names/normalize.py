"""Name normalisation: one raw name in, comparable tokens and the rules that fired out.

Both sides go through the same steps, so a list alias and a customer name meet in one form:

1. invisible and control characters removed, Unicode NFKC (full-width forms folded), casefold;
2. look-alike letters from other scripts folded to Latin inside Latin words (ICU's UTS #39 skeletons);
3. a vessel-type prefix removed ("M/V", see `vessels`); dotted and spaced-out letters joined ("B.V." =
   "BV", "M E G V I I" = "megvii", see `evasion`);
4. Chinese script segmented into organisation terms, place names and the distinctive rest, romanised
   with pypinyin, so "海康威视数字技术" and "Haikangweishi Digital Technology" meet; Korean split into
   its syllables; other scripts transliterated to ASCII (rigour) with their combining marks kept, and
   left in their own script where no transliteration exists;
5. legal forms removed (rigour's org-type tables, plus the few whole tokens and phrases it leaves),
   stopwords dropped, numbers read to digits (`numbers`), digits standing for letters read as letters,
   abbreviations expanded and romanisation variants unified.

Every step that changes something records a rule, which the explanation of a score shows.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import Any

import icu
from rigour.names import extract_org_types
from rigour.text import ascii_text

from screener.home import home_path, private_dir
from screener.names.caches import bounded_cache
from screener.names.evasion import join_letters, join_single_letters, unleet
from screener.names.numbers import read_numbers
from screener.names.vessels import strip_vessel_prefix
from screener.names.words import EVERYDAY_ZIPF, frequent_words

MAX_NAME_CHARS = 1000  # longer inputs are screened on their first MAX_NAME_CHARS characters
# per process: names of at most NORMALIZE_CACHE_CHARS characters are kept, NORMALIZE_CACHE_ENTRIES of them
# (measured with tracemalloc: 0.6 KiB for a usual name, 1.7 KiB at 160 characters of Latin or Han script, so
# about 55 MiB at most); longer names are normalised each time
NORMALIZE_CACHE_ENTRIES, NORMALIZE_CACHE_CHARS = 32768, 160


@dataclass(frozen=True, slots=True)
class NormalizedName:
    """Comparable tokens of a name, with the rules that produced them."""

    original: str
    tokens: tuple[str, ...]
    rules: tuple[str, ...]
    legal_forms: tuple[str, ...] = ()  # the legal forms removed, as found ("gmbh", "co ltd")

    @property
    def text(self) -> str:
        return " ".join(self.tokens)

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        return NormalizedName, (self.original, self.tokens, self.rules, self.legal_forms)  # as IndexedAlias


TERMS_CACHE = "terms-cache"  # under SCREENER_HOME: terms.yaml and its pinyin readings, compiled to JSON


@lru_cache(maxsize=1)
def vocabulary() -> _Vocabulary:
    return _Vocabulary(*_compiled_terms())


def _compiled_terms() -> tuple[dict[str, Any], dict[str, str], list[str], dict[str, str], list[str], list[str]]:
    """terms.yaml, the pinyin reading of each of its Chinese terms, pinyin's syllables
    (`_pinyin_syllables`), the Wade-Giles syllables to read as pinyin (`_wade_giles`) and the frequent
    and everyday English words (`words.frequent_words`), kept as JSON under SCREENER_HOME.

    Parsing the YAML and loading pypinyin's dictionaries took a third of a CLI start; the JSON copy is
    named by the hash of terms.yaml and the versions of pypinyin and wordfreq, so an edit or an upgrade
    compiles a new one; pypinyin then loads only when a Han character is actually seen (`_segment_han`),
    and wordfreq (a fifth of a second to import) not at all.
    """
    text = resources.files("screener.names").joinpath("terms.yaml").read_text(encoding="utf-8")
    digest = hashlib.sha256(f"{text}\0{version('pypinyin')}\0{version('wordfreq')}".encode()).hexdigest()[:24]
    path = home_path() / TERMS_CACHE / f"{digest}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return (data["terms"], data["readings"], data["syllables"], data["wade_giles"], data["frequent"],
                data["everyday"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    import yaml
    from pypinyin import lazy_pinyin

    terms = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    han = {*terms["chinese_places"], *(t for t in terms["chinese_terms"] if len(t) >= 2)}
    readings = {term: "".join(lazy_pinyin(term)) for term in sorted(han)}
    syllables = _pinyin_syllables()
    wade_giles = _wade_giles(syllables)
    frequent, everyday = frequent_words(), frequent_words(EVERYDAY_ZIPF)
    data = {"terms": terms, "readings": readings, "syllables": syllables, "wade_giles": wade_giles,
            "frequent": frequent, "everyday": everyday}
    encoded = json.dumps(data, ensure_ascii=False)
    if json.loads(encoded) == data:  # only what JSON keeps as it is (string keys, lists)
        _write_private(path, encoded)
    return terms, readings, syllables, wade_giles, frequent, everyday


_WADE_GILES_ONLY = re.compile(r"^(?:hs|ts|tz|ss|ch)|ung$|ih$")
# spellings no other romanisation in the lists uses (Korean writes "Cho", "Chung", German "Jung"): one
# such syllable in a name makes it a Wade-Giles name, whose other syllables are then read too
_WADE_GILES_MARK = re.compile(r"^(?:hs|ts|tz|ss)|ih$")


def _wade_giles(syllables: list[str]) -> dict[str, str]:
    """Wade-Giles syllables, as written without apostrophes and umlauts, that pinyin never writes, each
    with the pinyin syllable it stands for (pypinyin's own Wade-Giles table): "hsi" xi, "tse" ze,
    "tung" dong, "chin" jin. Mao Tse-tung is Mao Zedong, Hsi Chin-ping is Xi Jinping.

    Without the apostrophe, "chin" is jin or qin and "tung" dong or tong: the unaspirated reading is
    taken, since the apostrophe is what is lost. Only syllables with a spelling of Wade-Giles alone
    (hs-, ts-, tz-, ss-, ch-, -ung, -ih) are kept, so "ko", "to" or "jen" in other languages are left;
    and a name's syllables are read only when one of them is unmistakable (`_WADE_GILES_MARK`)."""
    from pypinyin.style.wadegiles import to_wade_glides

    pinyin = set(syllables)
    best: dict[str, tuple[bool, str]] = {}
    for syllable in syllables:
        written = to_wade_glides(syllable)
        plain = written.replace("'", "").replace("v", "u")
        if plain in pinyin or not plain.isalpha() or not _WADE_GILES_ONLY.search(plain):
            continue
        rank = ("'" in written, syllable)  # unaspirated first
        if plain not in best or rank < best[plain]:
            best[plain] = rank
    return {plain: syllable for plain, (_, syllable) in sorted(best.items())}


def _pinyin_syllables() -> list[str]:
    """The toneless syllables of Mandarin as pypinyin reads its characters, from its dictionary.

    Syllables read by a handful of characters only ("den", "din", "lo") are dialect or interjections."""
    from pypinyin.pinyin_dict import pinyin_dict

    readings = Counter(r for value in pinyin_dict.values() for r in set(value.split(",")))
    chars: Counter[str] = Counter()
    for reading, n in readings.items():
        chars["".join(c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c))] += n
    return sorted(p for p, n in chars.items() if n >= 5 and p.isascii() and p.isalpha() and any(v in p for v in "aeiouv"))


def _write_private(path: Path, text: str) -> None:
    """Write atomically into a private folder; a read-only home only costs the next start the compile."""
    try:
        private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError:
        pass


class _Vocabulary:
    """The normaliser's tables, compiled once."""

    def __init__(
        self,
        terms: dict[str, Any],
        readings: dict[str, str],
        syllables: list[str],
        wade_giles: dict[str, str],
        frequent: list[str],
        everyday: list[str],
    ) -> None:
        self.pinyin_syllables = frozenset(syllables)
        self.wade_giles = wade_giles
        self.frequent_words = frozenset(frequent)
        self.everyday_words = frozenset(everyday)
        self.legal_forms = frozenset(terms["legal_forms"])
        self.legal_phrases = frozenset(tuple(p.split()) for p in terms["legal_phrases"])
        self.script_legal_forms = tuple(terms["script_legal_forms"])
        self.stopwords = frozenset(terms["stopwords"])
        self.abbreviations: dict[str, tuple[str, ...]] = {
            k: tuple(v) for k, v in terms["abbreviations"].items()
        }
        self.romanisations: dict[str, str] = {
            variant: canonical
            for canonical, variants in terms["romanisations"].items()
            for variant in variants
        }
        self.places = frozenset(terms["places"])
        self.generic = frozenset(terms["generic"]) | self.places
        chinese: dict[str, tuple[str, ...] | None] = {}
        for term, value in terms["chinese_terms"].items():
            chinese[term] = None if value == "LEGAL" else tuple(value)
        for place in terms["chinese_places"]:
            chinese.setdefault(place, (readings[place],))
        self.chinese = chinese
        self.chinese_max = max(len(t) for t in chinese)
        # the same terms as they are written in pinyin; one-syllable terms (市, 区) are too ambiguous
        self.pinyin_terms: dict[str, tuple[str, ...]] = {}
        for term, value in terms["chinese_terms"].items():
            if len(term) >= 2:
                key = readings[term]
                self.pinyin_terms.setdefault(key, () if value == "LEGAL" else tuple(value))
        # every beginning of such a term: a word that begins none cannot start one (a fast test)
        self.pinyin_heads = frozenset(key[:n] for key in self.pinyin_terms for n in range(1, len(key) + 1))


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]+")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# a word in any script: combining marks belong to their letter (Burmese, Thai, Devanagari, Khmer vowels)
_MARKS = "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed" \
    "\u0900-\u0dff\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u1ab0-\u1aff\u1dc0-\u1dff" \
    "\u20d0-\u20ff\ufe20-\ufe2f"
_SCRIPT_WORD = re.compile(rf"[^\W_](?:[^\W_]|[{_MARKS}])*")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_APOSTROPHES = re.compile(r"(?<=\w)['’‘`´](?=\w)")
_HEBREW_QUOTES = re.compile(r"(?<=[\u05d0-\u05ea])[\"'״׳](?=[\u05d0-\u05ea])")  # בע"מ is one word
_TRANSLIT_MARKS = re.compile(r"['\"ʿʾ?]")  # alef, ayin and unknown-letter marks a transliteration leaves
_SPOOF = icu.SpoofChecker()


# a legal form written onto the end of the name's last word, told apart by its capitals: "SiemensAG"
_GLUED_LEGAL = re.compile(r"(?<=[a-z])(AG|GmbH|mbH|LLC|LLP|Ltd|LTD|PLC|BV|NV|SpA|SARL|OOO|OAO|ZAO|PJSC|JSC)$")


def _unglue_legal_form(text: str, rules: list[str]) -> str:
    """"SiemensAG" as "Siemens AG", so that the form is removed like any other; only at the end of the
    name and after a small letter, so "BASF" or "AGCO" keep their letters."""
    if not text[-2:].isalpha() or not _GLUED_LEGAL.search(text, max(0, len(text) - 5)):
        return text  # the longest form has four letters, after one small letter: only the tail is searched
    unglued = _GLUED_LEGAL.sub(r" \1", text)
    if unglued != text:
        rules.append(f"legal form written on: {unglued.rsplit(' ', 1)[-1]}")
    return unglued


# a terminal's escape sequence (colour codes of a name pasted from a terminal or log: "\x1b[31mX\x1b[0m"):
# its parameters would otherwise stay glued to the name ("31mhikvision") once the ESC is dropped
_ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


def _strip_invisible(text: str, rules: list[str]) -> str:
    if text.isascii() and text.isprintable():
        return text
    out = []
    removed = control = False
    if "\x1b" in text:
        text, sequences = _ESCAPE_SEQUENCE.subn(" ", text)
        control = sequences > 0
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cf":
            removed = True
            continue
        if cat == "Cc":
            control = True
            out.append(" ")
            continue
        out.append(ch)
    if removed:
        rules.append("invisible characters removed")
    if control:
        rules.append("control characters removed")
    return "".join(out)


def _script(ch: str) -> str:
    if ch.isascii():
        return "latin" if ch.isalpha() else "common"
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0].lower() if name else "unknown"


@bounded_cache(maxsize=65536, max_chars=NORMALIZE_CACHE_CHARS)
def _fold_confusable(word: str) -> str | None:
    """A Latin reading of a word mixing Latin with look-alike letters of another script, else None."""
    scripts = {_script(c) for c in word if c.isalpha()}
    if "latin" not in scripts or len(scripts) < 2:
        return None
    out = []
    for ch in word:
        if ch.isascii() or not ch.isalpha() or _script(ch) == "latin":
            out.append(ch)
            continue
        out.append(_latin_lookalike(ch) or ch)
    folded = "".join(out)
    return folded if folded != word else None


def _latin_lookalike(ch: str) -> str | None:
    """The Latin letter a character is drawn like (UTS #39 skeleton), trying its lower case first.

    Lower case first because upper-case prototypes mislead: Cyrillic "І" has the skeleton "l", while
    its lower case "і" has "i"; Cyrillic "Н" has no lower-case twin but its skeleton is "H".
    """
    for candidate in (ch.lower(), ch):
        skeleton = _SPOOF.getSkeleton(0, candidate)
        if len(skeleton) == 1 and skeleton.isascii() and skeleton.isalpha():
            return skeleton.lower()
    return None


def _fold_confusables(text: str, rules: list[str]) -> str:
    """Fold look-alike letters word by word, before case folding loses upper-case look-alikes."""
    if text.isascii():
        return text

    def fold(m: re.Match[str]) -> str:
        word = m.group()
        if word.isascii():
            return word
        folded = _fold_confusable(word)
        if folded is None:
            return word
        rules.append(f"look-alike letters folded: {word}→{folded}")
        return folded

    return _WORD.sub(fold, text)


def _unknown_han(chars: str) -> list[str]:
    """A stable ASCII stand-in for characters pypinyin has no reading for."""
    return [f"u{ord(c):x}" for c in chars]


def _segment_han(run: str, rules: list[str]) -> list[str]:
    """Split a run of Chinese characters into English organisation terms and pinyin words.

    pypinyin is imported here, not with the module: its dictionaries take 0.3 s to load."""
    from pypinyin import lazy_pinyin

    vocab = vocabulary()
    out: list[str] = []
    rest: list[str] = []

    def flush() -> None:
        if rest:
            out.append("".join(lazy_pinyin("".join(rest), errors=_unknown_han)))
            rest.clear()

    i = 0
    while i < len(run):
        for size in range(min(vocab.chinese_max, len(run) - i), 0, -1):
            piece = run[i : i + size]
            if piece in vocab.chinese:
                # a lone character such as 市 only counts as a term after a name, not inside one
                if size == 1 and not (out or rest):
                    continue
                flush()
                value = vocab.chinese[piece]
                if value is None:
                    rules.append(f"legal form removed: {piece}")
                else:
                    out.extend(value)
                i += size
                break
        else:
            rest.append(run[i])
            i += 1
    flush()
    rules.append("transliterated from Chinese (pinyin)")
    return out


def _words(text: str, rules: list[str]) -> list[str]:
    """Raw lower-case words, with Chinese segmented and other scripts transliterated."""
    if text.isascii():
        return _WORD.findall(text)
    text = _HEBREW_QUOTES.sub("", text)
    for form in vocabulary().script_legal_forms:
        if form in text:
            rules.append(f"legal form removed: {form}")
            text = text.replace(form, " ")
    pieces: list[str] = []
    pos = 0
    for m in _HAN.finditer(text):
        pieces.extend(_SCRIPT_WORD.findall(text[pos : m.start()]))
        pieces.append("\x00" + m.group())
        pos = m.end()
    pieces.extend(_SCRIPT_WORD.findall(text[pos:]))

    words: list[str] = []
    for piece in pieces:
        if piece.startswith("\x00"):
            words.extend(_segment_han(piece[1:], rules))
            continue
        if piece.isascii():
            words.append(piece)
            continue
        # Korean names run their syllables together: each syllable is a name part of its own, so that
        # one different syllable is one different part, not a one-letter typo of a long word
        parts = _HANGUL.findall(piece) if _HANGUL.fullmatch(piece[:1]) and all(_HANGUL.fullmatch(c) for c in piece) else [piece]
        for part in parts:
            translit = _TRANSLIT_MARKS.sub("", ascii_text(part).lower())
            found = _WORD.findall(translit)
            if not found or not "".join(found).isascii():
                words.append(part)  # no transliteration for this script (Khmer): keep the word as written
                continue
            if translit != part:
                rules.append(f"transliterated: {part}→{translit}")
            words.extend(found)
    return words


def _legal_spans(words: list[str]) -> set[tuple[str, ...]]:
    """Word sequences that rigour's org-type tables recognise in this name."""
    try:
        found = extract_org_types(" ".join(words))
    except Exception:  # rigour raises on odd input; legal-form removal is best effort
        return set()
    return {tuple(_WORD.findall(span)) for span, _ in found}


def _strip_legal(words: list[str], spans: set[tuple[str, ...]]) -> tuple[list[str], list[str]]:
    """Remove legal forms: any at the tail of the name, and spelled-out ones anywhere after the first word.

    Short forms ("sa", "ag", "in", "ek") are also ordinary syllables, so inside a name they only count
    at its end ("Yix-In Science" keeps its "in"); "co ltd" or "limited" count anywhere but first.
    """
    vocab = vocabulary()
    # two-letter forms from rigour's world-wide tables ("ek", "ay") are mostly syllables: only ours count
    spans = {s for s in spans if len("".join(s)) > 2} | {(w,) for w in words if w in vocab.legal_forms}
    present = set(words)
    spans |= {p for p in vocab.legal_phrases if p[0] in present and _contains(words, p)}
    if not spans:
        return list(words), []
    by_len = sorted(spans, key=len, reverse=True)
    removed: list[str] = []
    # the head: Russian and Romanian names lead with the form ("OAO Gazprom", "SRL Pro Traffic")
    head = any(span[0] == words[0] for span in spans) if words else False
    while head and len(words) > 1:
        head = False
        for span in by_len:
            n = len(span)
            if n < len(words) and len("".join(span)) >= 3 and tuple(words[:n]) == span:
                removed.append(" ".join(span))
                words = words[n:]
                head = True
                break
    end = len(words)
    while end > 1:  # the tail
        for span in by_len:
            n = len(span)
            if n < end and words[end - 1] == span[-1] and tuple(words[end - n : end]) == span:
                removed.append(" ".join(span))
                end -= n
                break
        else:
            break
    inside = [span for span in by_len if len("".join(span)) >= 4]  # spelled out: counts anywhere but first
    starts = {span[0] for span in inside}
    kept: list[str] = words[:1] if end else []
    i = len(kept)
    while i < end:
        for span in inside if words[i] in starts else ():
            n = len(span)
            if tuple(words[i : i + n]) == span:
                removed.append(" ".join(span))
                i += n
                break
        else:
            kept.append(words[i])
            i += 1
    return kept, removed


def _contains(words: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(words[i : i + n]) == phrase for i in range(len(words) - n + 1))


def _pinyin_terms(words: list[str], rules: list[str]) -> list[str]:
    """Chinese organisation terms written in pinyin ("Youxian Gongsi", "Wei Dianzi") read as the terms."""
    vocab = vocabulary()
    table, heads = vocab.pinyin_terms, vocab.pinyin_heads
    out: list[str] = []
    i = 0
    while i < len(words):
        if words[i] not in heads:
            out.append(words[i])
            i += 1
            continue
        for size in (4, 3, 2, 1):
            joined = "".join(words[i : i + size])
            if i + size <= len(words) and joined in table:
                value = table[joined]
                rules.append(f"pinyin term read: {' '.join(words[i : i + size])}→{' '.join(value) or 'legal form'}")
                out.extend(value)
                i += size
                break
        else:
            out.append(words[i])
            i += 1
    return out


def normalize(raw: object) -> NormalizedName:
    """Normalise a name for matching; never raises, returns no tokens for an unusable name."""
    text = "" if raw is None else str(raw)
    return _normalize(text[:MAX_NAME_CHARS])



@bounded_cache(maxsize=NORMALIZE_CACHE_ENTRIES, max_chars=NORMALIZE_CACHE_CHARS)
def _normalize(text: str) -> NormalizedName:
    rules: list[str] = []
    original = text
    text = _strip_invisible(text, rules)
    nfkc = unicodedata.normalize("NFKC", text)
    if nfkc != text:
        rules.append("Unicode compatibility forms folded (NFKC)")
    text = _APOSTROPHES.sub("", _fold_confusables(_unglue_legal_form(nfkc, rules), rules).casefold())
    text = join_letters(text, rules).replace("&", " and ").replace("+", " ")

    vocab = vocabulary()
    words = [unleet(w, rules) for w in _pinyin_terms(strip_vessel_prefix(_words(text, rules), rules), rules)]
    words = join_single_letters([w for w in words if w and w not in vocab.stopwords], rules)
    kept, legal = _strip_legal(words, _legal_spans(words))
    kept = read_numbers(strip_vessel_prefix(kept, rules), rules)  # again: a legal form led ("OAO SS Volga")

    wade_giles = vocab.wade_giles if any(w in vocab.wade_giles and _WADE_GILES_MARK.search(w) for w in kept) else {}
    tokens: list[str] = []
    for word in kept:
        if word in vocab.abbreviations:
            expansion = vocab.abbreviations[word]
            rules.append(f"abbreviation expanded: {word}→{' '.join(expansion)}")
            tokens.extend(expansion)
            continue
        canonical = vocab.romanisations.get(word)
        if canonical:
            rules.append(f"romanisation variant: {word}→{canonical}")
            tokens.append(canonical)
            continue
        pinyin = wade_giles.get(word)
        if pinyin:
            rules.append(f"Wade-Giles read as pinyin: {word}→{pinyin}")
            tokens.append(pinyin)
            continue
        tokens.append(word)
    if legal:
        rules.append("legal form removed: " + ", ".join(dict.fromkeys(reversed(legal))))
    return NormalizedName(original=original, tokens=tuple(tokens), rules=tuple(dict.fromkeys(rules)),
                          legal_forms=tuple(dict.fromkeys(legal)))


@lru_cache(maxsize=4096)
def legal_kinds(forms: tuple[str, ...]) -> frozenset[str]:
    """The kinds of company that legal forms name, by rigour's generic org types ("GmbH", "Ltd" and
    "S.A.R.L." are all "llc"; "AG", "S.A." and "plc" are "jsc"); empty for forms rigour does not know.
    Forms come from a small closed set, so the cache stays small."""
    kinds: set[str] = set()
    for form in forms:
        try:
            kinds.update(kind for _, kind in extract_org_types(form, generic=True))
        except Exception:  # rigour raises on odd input; the kind is then unknown
            continue
    return frozenset(kinds)


def is_generic(token: str) -> bool:
    """Whether a token names a kind of thing (a domain, place or org word) rather than an identity."""
    return token in vocabulary().generic or bool(_rigour_tags(token))


def is_place(token: str) -> bool:
    """Whether a token names a place (a country, province or city)."""
    return token in vocabulary().places or "LOC" in _rigour_tags(token)


@bounded_cache(maxsize=65536, max_chars=NORMALIZE_CACHE_CHARS)
def _rigour_tags(token: str) -> frozenset[str]:
    """The generic categories rigour's org-name tagger sees in a token (DOMAIN, SYMBOL, LOC, ORGCLS)."""
    from rigour.names import NameTypeTag, analyze_names

    try:
        names = analyze_names(NameTypeTag.ORG, [token])
    except Exception:
        return frozenset()
    tags = set()
    for name in names:
        for span in name.spans:
            category = str(span.symbol).strip("[").split(":", 1)[0]
            if category in ("DOMAIN", "SYMBOL", "LOC", "ORGCLS"):
                tags.add(category)
    return frozenset(tags)
