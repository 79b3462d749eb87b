"""Delimited text (csv, tsv, txt): encoding and delimiter found from a sample, then streamed by line.

Encodings. A UTF-8 or UTF-16 BOM decides. Otherwise the first ``SAMPLE_BYTES`` are checked:
if some lines are not UTF-8, charset-normalizer picks among the encodings spreadsheet programs save
csv in (`LEGACY_ENCODINGS`: Windows code pages, GB18030, Big5, Shift-JIS, EUC-KR, KOI8-R...). A
name decoded in an encoding of another script is unreadable, never a match, so a doubtful choice
is refused ("save the file as UTF-8") rather than guessed: a close second of another script, or
a Latin reading whose letters are mostly accented (Cyrillic or Greek read as Windows-1252: "ÎÎÎ
Ðîìàøêà"). Each line is then decoded on its own, UTF-8 first (legacy text is almost never valid
UTF-8), then the chosen legacy encoding, then GB18030 or cp1252; GB18030, which accepts nearly
any bytes, is only tried on a line whose high bytes come in pairs unless the sample chose it. Mixed files thus read correctly
line by line, with a note of how many lines used which encoding; a line that fits nothing gets
U+FFFD replacements and a note rather than an error.

Delimiter. Only a delimiter found in the header line is one: a file whose header has none is one
column, however many commas its names carry ("Public Security Bureau, Xinjiang ..." stays one
name). A title line above the header is passed over when the next lines carry a recognised header.
A data line that the delimiter splits into more filled fields than the header is refused (see
``rows.make_rows``), never cut.

csv is read line by line from a buffered binary file and parsed by the ``csv`` module.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from screener.files.errors import InputError, describe
from screener.files.headers import classify, normalise_label

MAX_LINE_BYTES = 16 * 1024 * 1024  # one physical csv line; the csv module limits a field to 128 Ki
SAMPLE_BYTES = 1024 * 1024  # csv sample for encoding and delimiter detection
DELIMITERS = (",", ";", "\t", "|")
ONE_COLUMN = "\ufdd0"  # a noncharacter, never in text: the "delimiter" of a one-column file
TITLE_LINES = 10  # lines looked at past a title line for the header


class TextPlan:
    """How to turn the bytes of a delimited text file into lines and fields."""

    def __init__(self, encoding: str, legacy: str | None, bom: int, delimiter: str,
                 utf16: bool) -> None:
        self.encoding = encoding  # what the file mostly is, for display
        self.legacy = legacy  # non-UTF-8 encoding for lines that are not UTF-8
        self.bom = bom  # bytes to skip
        self.delimiter = delimiter
        self.utf16 = utf16


_LEGACY = ("gb18030", "cp1252")  # tried for a line the file's own encoding cannot decode
# The encodings a spreadsheet program saves csv in where UTF-8 is not the default, with the script
# each writes (two of one script but Latin still read each other's letters wrongly) and its name.
LEGACY_ENCODINGS = {
    "cp1252": ("Latin", "Windows-1252 (cp1252)"), "cp1250": ("Latin", "Windows-1250 (Central European)"),
    "cp1254": ("Latin", "Windows-1254 (Turkish)"), "cp1257": ("Latin", "Windows-1257 (Baltic)"),
    "cp1251": ("Cyrillic", "Windows-1251 (Cyrillic)"), "koi8-r": ("Cyrillic", "KOI8-R (Cyrillic)"),
    "cp866": ("Cyrillic", "DOS-866 (Cyrillic)"), "cp1253": ("Greek", "Windows-1253 (Greek)"),
    "cp1255": ("Hebrew", "Windows-1255 (Hebrew)"), "cp1256": ("Arabic", "Windows-1256 (Arabic)"),
    "gb18030": ("Chinese", "GB18030"), "big5": ("Chinese", "Big5 (Traditional Chinese)"),
    "shift_jis": ("Japanese", "Shift-JIS"), "euc_jp": ("Japanese", "EUC-JP"), "euc_kr": ("Korean", "EUC-KR"),
}
CLOSE_CHAOS = 0.03  # charset-normalizer "chaos" within which a second reading is as likely as the first


def _gb_plausible(data: bytes) -> bool:
    """GB18030 Chinese pairs high bytes; Western cp1252 puts one high byte before ASCII letters."""
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    for ch in text:
        if ord(ch) > 127:
            encoded = ch.encode("gb18030")
            if len(encoded) == 2 and encoded[1] < 0x80:
                return False
    return True


def _latin_plausible(text: str) -> bool:
    """Western names carry a few accented letters ("Müller", "Société"); another script decoded as a
    Latin code page is nearly all of them ("ÎÎÎ Ðîìàøêà")."""
    letters = [ch for ch in text if ch.isalpha()]
    return sum(1 for ch in letters if not ch.isascii()) * 2 <= len(letters)


def _reads_alike(data: bytes, one: str, other: str) -> bool:
    """Whether two code pages decode `data` alike (the detector reports one of them only)."""
    try:
        return data.decode(one) == data.decode(other)
    except UnicodeDecodeError:
        return False


def _guess_legacy(data: bytes) -> tuple[str | None, list[str]]:
    """The legacy encoding of bytes that are not UTF-8, or None and the readings it could not tell
    apart (none when nothing fits)."""
    from charset_normalizer import from_bytes

    try:
        found = [(codecs.lookup(m.encoding).name, m.chaos, m.coherence)
                 for m in from_bytes(data, cp_isolation=list(LEGACY_ENCODINGS))]
    except Exception:  # noqa: BLE001 - a detector failure must not become a traceback; the byte check decides
        found = []
    readings = [(e, chaos) for e, chaos, _ in found if e in LEGACY_ENCODINGS
                and (LEGACY_ENCODINGS[e][0] != "Latin" or _latin_plausible(data.decode(e, errors="replace")))]
    if readings:
        close = [e for e, chaos in readings if chaos - readings[0][1] <= CLOSE_CHAOS]
        scripts = {LEGACY_ENCODINGS[e][0] for e in close}
        # a tie among Latin code pages changes a letter or two: Windows-1252, the commonest, is taken;
        # a tie among East Asian readings of bytes that pair like Chinese goes to GB18030, as before
        # other scripts were known; any other tie is refused
        if scripts == {"Latin"}:
            return ("cp1252" if "cp1252" in close or _reads_alike(data, close[0], "cp1252") else close[0]), []
        if "gb18030" in close and scripts <= {"Chinese", "Japanese", "Korean"} and _gb_plausible(data):
            return "gb18030", []
        return (close[0], []) if len(close) == 1 else (None, close)
    if _gb_plausible(data):
        return "gb18030", []
    try:
        return ("cp1252", []) if _latin_plausible(data.decode("cp1252")) else (None, [])
    except UnicodeDecodeError:
        return None, []


def _sample_lines(sample: bytes, complete: bool) -> list[bytes]:
    lines = sample.splitlines(keepends=True)
    if not complete and len(lines) > 1:
        lines.pop()  # probably cut in the middle
    return lines


def _looks_binary(sample: bytes) -> bool:
    """Text may hold a stray NUL in a cell; binary files (and UTF-32) are full of them."""
    return sample.count(0) > max(4, len(sample) // 100)


def plan_text(path: Path, suffix: str, where: dict[str, Any]) -> tuple[TextPlan, list[str]]:
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
        complete = not fh.read(1)
    if sample.startswith(codecs.BOM_UTF8):
        encoding, legacy, bom, utf16 = "utf-8-sig", None, 3, False
    elif sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, legacy, bom, utf16 = "utf-16", None, 0, True
    elif _utf16_without_bom(sample):
        encoding = "utf-16-le" if sample[1:2] == b"\x00" else "utf-16-be"
        legacy, bom, utf16 = None, 0, True
    else:
        if _looks_binary(sample):
            raise InputError("binary data, not delimited text", **where)
        bom, utf16 = 0, False
        lines = _sample_lines(sample, complete)
        foreign = b"".join(line for line in lines if not _is_utf8(line))
        if not foreign:
            encoding, legacy = "utf-8", None
        else:
            legacy, doubt = _guess_legacy(foreign)
            if legacy is None:
                could = (" (it reads as " + " or as ".join(LEGACY_ENCODINGS[e][1] for e in doubt) + ")"
                         if doubt else "")
                raise InputError(f"cannot tell the text encoding{could}: save the file as UTF-8 "
                                 '(Excel: "CSV UTF-8")', **where)
            utf8_lines = sum(1 for line in lines if not line.isascii() and _is_utf8(line))
            encoding = "utf-8" if utf8_lines > foreign.count(b"\n") else legacy
    text = _decode_sample(sample, encoding, legacy, utf16, complete)
    if not text.strip():
        raise InputError("no data: the file holds only blank lines", **where)
    delimiter = _sniff_delimiter(text, suffix)
    notes = []
    if encoding not in ("utf-8", "utf-8-sig"):
        notes.append(f"decoded as {LEGACY_ENCODINGS[encoding][1] if encoding in LEGACY_ENCODINGS else encoding}")
    return TextPlan(encoding, legacy, bom, delimiter, utf16), notes


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _utf16_without_bom(sample: bytes) -> bool:
    head = sample[:4096]
    if len(head) < 4:
        return False
    even, odd = head[0::2], head[1::2]
    return (odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even)) or (
        even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd))


def _decode_sample(sample: bytes, encoding: str, legacy: str | None, utf16: bool,
                   complete: bool) -> str:
    if utf16:
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        return decoder.decode(sample, final=complete)
    lines = _sample_lines(sample[3:] if sample.startswith(codecs.BOM_UTF8) else sample, complete)
    out = []
    for line in lines:
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(line.decode(legacy or "cp1252", errors="replace"))
    return "".join(out)


_LINE_SPLIT = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")  # only what the csv module calls a line end


def _records(lines: list[str], delimiter: str) -> list[list[str]] | None:
    try:
        return [r for r in csv.reader(lines, delimiter=delimiter) if any(f.strip() for f in r)]
    except csv.Error:
        return None


def _sniff_delimiter(text: str, suffix: str) -> str:
    """The delimiter of the header line that splits the first lines most consistently.

    Only delimiters that split the header line (the first non-blank one) into two or more fields
    are candidates, so commas inside one-column names never make columns. A header line without
    any is a title when a later line splits into a recognised header; else the file is one column.
    """
    lines = [part for part in _LINE_SPLIT.split(text, maxsplit=200) if part][:200]
    preferred = "\t" if suffix == ".tsv" else ","
    parsed = {d: r for d in DELIMITERS if (r := _records(lines, d)) is not None}
    candidates = [d for d, records in parsed.items() if records and len(records[0]) >= 2]
    if not candidates:
        for offset in range(1, TITLE_LINES + 1):
            for delimiter, records in parsed.items():
                fields = records[offset] if offset < len(records) else []
                if len(fields) >= 2 and any(classify(normalise_label(f)) for f in fields if f.strip()):
                    return delimiter
        return ONE_COLUMN
    best, best_score = candidates[0], (0.0, 0, 0)
    for delimiter in candidates:
        widths = [len(r) for r in parsed[delimiter]]
        mode, hits = Counter(widths).most_common(1)[0]
        score = (hits / len(widths), mode, 1 if delimiter == preferred else 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


class LineDecoder:
    """Bytes lines to text: UTF-8 first, then the legacy encoding; counts what it had to do."""

    def __init__(self, plan: TextPlan) -> None:
        self.plan = plan
        self.used: Counter[str] = Counter()
        self.first: dict[str, int] = {}
        self.line_no = 0

    def lines(self, fh: IO[bytes], file_name: str) -> Iterator[str]:
        readline = fh.readline
        legacy_used = self.used
        while True:
            raw = readline(MAX_LINE_BYTES)
            if not raw:
                return
            self.line_no += 1
            if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise InputError(f"line {self.line_no} is longer than "
                                 f"{MAX_LINE_BYTES // 2**20} MiB", file=file_name)
            if raw.isascii():
                line = raw.decode("ascii")
            else:
                try:
                    line = raw.decode("utf-8")
                    legacy_used["utf-8"] += 1
                except UnicodeDecodeError:
                    line = self._fallback(raw)
            if "\r" in line and line.find("\r") != len(line) - 2:
                yield from _split_cr(line)
            else:
                yield line

    def _fallback(self, raw: bytes) -> str:
        """A line that is not UTF-8: the file's legacy encoding, else whichever fits the bytes.

        GB18030 accepts almost any byte soup, so it is only used where the sample chose it or
        where the bytes look like Chinese (high bytes in pairs).
        """
        legacy = self.plan.legacy
        if legacy is None:
            order = ["gb18030", "cp1252"] if _gb_plausible(raw) else ["cp1252", "gb18030"]
        else:
            order = [legacy] + [e for e in _LEGACY if e != legacy]
        for encoding in order:
            if encoding == "gb18030" and legacy != "gb18030" and not _gb_plausible(raw):
                continue
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError:
                continue
            self._count(encoding)
            return line
        self._count("replaced")
        return raw.decode(legacy or "utf-8", errors="replace")

    def _count(self, encoding: str) -> None:
        self.used[encoding] += 1
        self.first.setdefault(encoding, self.line_no)

    def notes(self) -> list[str]:
        notes = []
        names = {e: label for e, (_, label) in LEGACY_ENCODINGS.items()}
        legacy = {e: n for e, n in self.used.items() if e in names}
        if legacy and (self.used.get("utf-8") or len(legacy) > 1):
            parts = [f"{n:,} line(s) as {names[e]} (first at line {self.first[e]})"
                     for e, n in legacy.items()]
            utf8 = self.used.get("utf-8", 0)
            notes.append("mixed encodings: each line was decoded on its own; "
                         + f"{utf8:,} line(s) with non-ASCII text as UTF-8, " + ", ".join(parts))
        elif legacy and self.plan.encoding in ("utf-8", "utf-8-sig"):
            e, n = next(iter(legacy.items()))
            notes.append(f"{n:,} line(s) were not UTF-8 and were decoded as {names[e]} "
                         f"(first at line {self.first[e]})")
        if self.used.get("replaced"):
            notes.append(f"{self.used['replaced']:,} line(s) could not be decoded; unreadable "
                         f"bytes were replaced with \ufffd (first at line {self.first['replaced']})")
        return notes


_CR_SPLIT = re.compile(r"(?<=\r)(?!\n)")


def _split_cr(line: str) -> list[str]:
    """Old Mac line ends (a bare CR) become line ends the csv module understands."""
    return [part for part in _CR_SPLIT.split(line) if part]


class CsvRecords:
    """Iterable of (record number, fields); record 1 is the first line, blank lines count."""

    def __init__(self, path: Path, plan: TextPlan, decoder: LineDecoder, file_name: str) -> None:
        self.path, self.plan, self.decoder, self.file_name = path, plan, decoder, file_name

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        number = 0
        try:
            with self.path.open("rb", buffering=1024 * 1024) as fh:
                if self.plan.utf16:
                    lines: Iterable[str] = io.TextIOWrapper(
                        fh, encoding=self.plan.encoding, errors="replace", newline="")
                else:
                    fh.seek(self.plan.bom)
                    lines = self.decoder.lines(fh, self.file_name)
                reader = csv.reader(lines, delimiter=self.plan.delimiter, strict=True)
                for number, fields in enumerate(reader, start=1):
                    yield number, fields
        except InputError:
            raise
        except csv.Error as exc:
            raise InputError(_csv_message(exc), file=self.file_name, row=number + 1) from exc
        except (OSError, UnicodeError, ValueError, MemoryError) as exc:
            raise InputError(f"unreadable text after row {number} ({describe(exc)})",
                             file=self.file_name) from exc


def _csv_message(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return "a quoted field is never closed (missing \")"
    if "expected after" in text:
        return ("text after a closing quote: a field that starts with \" must end with \" "
                "(write \"\" for a quote inside it)")
    if "field larger than field limit" in text:
        return f"a field is longer than the limit of {csv.field_size_limit():,} characters"
    return f"malformed delimited text ({describe(exc)})"


