"""xlsx containers, checked before openpyxl touches them, and every sheet read as rows of cell values.

The archive is checked from its zip directory first (members, declared sizes, compression ratios,
encryption, DTDs in any XML prolog), so zip bombs and XML entity attacks are refused before anything
is expanded. Sheets are then streamed with openpyxl's read-only parser, taught to read every cell
type of the OOXML standard: shared strings (an index outside the table is an error naming the
cell, never another string), inline strings (with ``<is>`` or, as some writers emit, a bare
``<v>``), numbers, booleans, errors, ISO dates, formula strings, and formulas without a cached
value (which are not values at all). A number in a cell formatted as a percentage (``0%``,
``0.00%``) is read as the percent Excel shows, as text: 0.6 becomes "60%" (all its digits, not
the format's rounding), so that a share typed as 60% is never taken for 0.6.
"""

from __future__ import annotations

import codecs
import re
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from screener.files.cells import NO_CACHE, ExcelError, letter
from screener.files.errors import InputError, describe

MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024  # refuse an xlsx whose members expand beyond 512 MiB
MAX_COMPRESSION_RATIO = 200  # ... or with a member expanding more than 200:1 ...
RATIO_CHECK_MIN_BYTES = 10 * 1024 * 1024  # ... when that member is over 10 MiB uncompressed
MAX_ZIP_MEMBERS = 10_000
# Memory budgets: openpyxl holds the whole shared-string table in memory before the first row, so a
# small archive of millions of strings (few cells using them) costs gigabytes. Refused up front:
MAX_SHARED_STRINGS = 2_000_000  # strings in the table ...
MAX_SHARED_TEXT = 64 * 1024 * 1024  # ... characters in all of them ...
SHEET_BYTES_PER_STRING = 10  # ... and more strings than the sheets could refer to (a reference is >= 25 bytes)
SHARED_STRINGS_SLACK = 10_000
MAX_CELL_CHARS = 32_767  # Excel's own limit on a cell's text

# openpyxl reports harmless oddities (unknown extensions, odd dates) as UserWarnings on stderr.
warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")

_XML_REFUSAL = ("refused: the workbook's XML declares entities or a DTD "
                "(possible XML bomb or external-entity attack)")
XML_PROLOG_BYTES = 64 * 1024  # an xlsx part's XML declaration; a root element must start within it
_ROOT_START = re.compile(rb"<[A-Za-z_]")


def _xml_refusal(exc: BaseException) -> str | None:
    """A friendly reason when defusedxml (or lxml, if openpyxl uses it) refused entity tricks."""
    from defusedxml import DefusedXmlException

    if isinstance(exc, DefusedXmlException):
        return _XML_REFUSAL
    if type(exc).__name__ in ("XMLSyntaxError", "ParseError") and "entit" in str(exc).lower():
        return _XML_REFUSAL
    return None


def _check_xml_prologs(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo],
                       where: dict[str, Any]) -> None:
    """Refuse any DTD before openpyxl parses a part, whichever XML library it uses.

    Office never writes a DOCTYPE; defusedxml would refuse entities anyway, but this check gives
    the same clear message whether or not lxml is installed, and looks at the prolog only.
    """
    for info in infos:
        if not info.filename.lower().endswith((".xml", ".rels", ".vml")):
            continue
        with archive.open(info) as member:
            head = member.read(XML_PROLOG_BYTES)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            head = head.decode("utf-16", errors="replace").encode("utf-8")
        root = _ROOT_START.search(head)
        prolog = head if root is None else head[: root.start()]
        if b"<!DOCTYPE" in prolog.upper() or b"<!ENTITY" in prolog.upper():
            raise InputError(_XML_REFUSAL, **where)
        if root is None and len(head) == XML_PROLOG_BYTES:
            raise InputError(f'refused: part "{info.filename}" has no XML element in its first '
                             f"{XML_PROLOG_BYTES // 1024} KiB", **where)


def check_zip(path: Path, where: dict[str, Any]) -> None:
    """Check the archive before openpyxl touches it: sizes first, then each XML prolog."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            _check_sizes(infos, where)
            _check_xml_prologs(archive, infos, where)
            _check_shared_strings(archive, infos, where)
    except InputError:
        raise
    except (zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"corrupt or truncated xlsx workbook ({describe(exc)})", **where) from exc
    except Exception as exc:  # zlib.error, unsupported compression, OSError ...
        raise InputError(f"unreadable xlsx workbook ({describe(exc)})", **where) from exc


def _check_shared_strings(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], where: dict[str, Any]) -> None:
    """Stream the shared-string table (flat memory) and refuse it past the budgets, stopping at once."""
    from xml.etree.ElementTree import iterparse

    table = [i for i in infos if i.filename.lower().rsplit("/", 1)[-1] == "sharedstrings.xml"]
    if not table:
        return
    sheet_bytes = sum(i.file_size for i in infos if "/worksheets/" in i.filename.lower())
    limit = min(MAX_SHARED_STRINGS, sheet_bytes // SHEET_BYTES_PER_STRING + SHARED_STRINGS_SLACK)
    count = chars = 0
    with archive.open(table[0]) as member:
        for _, element in iterparse(member, events=("end",)):
            if element.tag.rsplit("}", 1)[-1] != "si":
                continue
            count += 1
            size = sum(len(text) for text in element.itertext())
            element.clear()
            chars += size
            if size > MAX_CELL_CHARS:
                raise InputError(f"refused: shared string {count:,} holds {size:,} characters (a cell holds at "
                                 f"most {MAX_CELL_CHARS:,}); damaged or crafted workbook", **where)
            if count > limit:
                raise InputError(
                    f"refused: the shared-string table holds more than {limit:,} strings for "
                    f"{sheet_bytes / 2**20:,.1f} MiB of sheet data (limit {MAX_SHARED_STRINGS:,}, and no more "
                    "than the sheets can use); crafted to exhaust memory, or save it again from Excel", **where)
            if chars > MAX_SHARED_TEXT:
                raise InputError(f"refused: the shared strings hold more than {MAX_SHARED_TEXT // 2**20} Mi "
                                 "characters of text (the limit); split the workbook", **where)


def _check_sizes(infos: list[zipfile.ZipInfo], where: dict[str, Any]) -> None:
    """Zip bombs show in the central directory, before anything is decompressed.

    Python's zipfile never inflates past a member's declared size (it fails the CRC instead), so
    the declared sizes bound what openpyxl can expand.
    """
    if len(infos) > MAX_ZIP_MEMBERS:
        raise InputError(f"refused: the workbook has {len(infos):,} parts "
                         f"(limit {MAX_ZIP_MEMBERS:,})", **where)
    total = sum(info.file_size for info in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise InputError(
            f"refused: the workbook would expand to {total / 2**20:,.0f} MiB uncompressed "
            f"(limit {MAX_UNCOMPRESSED_BYTES // 2**20} MiB); possible zip bomb", **where)
    for info in infos:
        if info.flag_bits & 0x1:
            raise InputError("encrypted zip archive: save the workbook without a password", **where)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_CHECK_MIN_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise InputError(
                f'refused: part "{info.filename}" expands {ratio:,.0f}:1 '
                f"(limit {MAX_COMPRESSION_RATIO}:1); possible zip bomb", **where)
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names:
        raise InputError("not an xlsx workbook (zip archive without workbook content)", **where)


class BadCell(ValueError):
    """A cell whose stored value cannot be what its type says; the caller names sheet and row."""

    def __init__(self, element: Any, message: str) -> None:
        super().__init__(message)
        self.coordinate = element.get("r")


def _sheet_parser_class() -> type:
    """openpyxl's sheet parser, taught every cell type and to tell missing values apart.

    The public read-only API returns None for both an empty cell and a formula whose value was
    never computed, and the plain string for an error; the parser (openpyxl >= 3.1) still sees them.
    Excel stores a computed empty text as ``t="str"`` with an empty ``<v>``; a formula with no
    ``<v>``, or an empty one of numeric type (what openpyxl and other writers leave), was never
    computed. openpyxl drops an inline string held in ``<v>`` (the row then looks blank and would
    vanish) and reads a negative shared-string index from the end of the table: both are handled
    here.
    """
    from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

    class CellParser(WorkSheetParser):  # type: ignore[misc]
        percent_styles: frozenset[int] = frozenset()  # set per workbook by Book.records

        def parse_cell(self, element: Any) -> dict[str, Any]:
            kind = element.get("t", "n")
            if kind == "s":
                self._check_shared(element)
            try:
                cell = super().parse_cell(element)
            except (ValueError, IndexError, TypeError, OverflowError) as exc:
                value = element.findtext(VALUE_TAG)
                raise BadCell(element, f'a cell of type "{kind}" holds {value!r}, which is not '
                              f"such a value ({describe(exc)})") from exc
            if kind == "n" and cell["style_id"] in self.percent_styles and cell["data_type"] == "n" \
                    and cell["value"].__class__ in (int, float):
                cell["value"] = percent_text(cell["value"])
            if cell["value"] is None:
                if kind == "inlineStr" and element.findtext(VALUE_TAG):
                    cell["value"], cell["data_type"] = element.findtext(VALUE_TAG), "s"
                elif element.find(FORMULA_TAG) is not None and (
                    element.find(VALUE_TAG) is None or kind == "n"
                ):
                    cell["value"] = NO_CACHE
            elif cell["data_type"] == "e":
                cell["value"] = ExcelError(str(cell["value"]))
            if cell["value"].__class__ is str:
                if len(cell["value"]) > MAX_CELL_CHARS:
                    raise BadCell(element, f"a cell holds {len(cell['value']):,} characters (a cell holds "
                                  f"at most {MAX_CELL_CHARS:,}); damaged or crafted workbook")
                if "_x" in cell["value"]:
                    cell["value"] = _unescape_controls(cell["value"])
            return cell

        def _check_shared(self, element: Any) -> None:
            value = (element.findtext(VALUE_TAG) or "").strip()
            if not value:
                return
            count = len(self.shared_strings)
            if not value.isdigit() or int(value) >= count:
                raise BadCell(element, f"shared-string index {value} is outside the workbook's "
                              f"{count:,} shared strings (damaged or tampered workbook)")

    return CellParser


_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')  # quoted text, escapes, [colour], padding


def percent_styles(workbook: Any) -> frozenset[int]:
    """The workbook's cell-style ids whose number format shows a percentage (its positive section).

    openpyxl has already renumbered custom formats: an id under 164 is built in, above it indexes
    the workbook's own formats.
    """
    from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE

    custom = list(getattr(workbook, "_number_formats", ()))
    found = set()
    for index, style in enumerate(getattr(workbook, "_cell_styles", ())):
        fid = style.numFmtId
        code = BUILTIN_FORMATS.get(fid) if fid < BUILTIN_FORMATS_MAX_SIZE else (
            custom[fid - BUILTIN_FORMATS_MAX_SIZE] if fid - BUILTIN_FORMATS_MAX_SIZE < len(custom) else None)
        if code and "%" in _FORMAT_LITERALS.sub("", code.split(";")[0]):
            found.add(index)
    return frozenset(found)


def percent_text(value: float) -> str:
    """A fraction as the percent it shows: 0.6 -> "60%", 0.605 -> "60.5%" (float noise rounded off)."""
    return f"{round(value * 100, 9):.15g}%"


_CONTROL_ESCAPE = re.compile(r"_x(00[01][0-9A-Fa-f]|005[Ff])_")


def _unescape_controls(text: str) -> str:
    """Excel stores a control character (a CR, say) as ``_x000D_``; openpyxl passes it on as is.

    Only control characters and ``_x005F_`` (a literal underscore before such a sequence) are
    expanded, in one pass, so other ``_xHHHH_`` text stays as typed. openpyxl already drops the
    ``x005F_`` of shared strings, so a name literally typed as "_x000D_" reads as a CR: harmless,
    whereas leaving the escapes in a name ("Huawei_x000D_") lowers its match score.
    """
    return _CONTROL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


class Book:
    """An open read-only workbook plus the file handle under it."""

    def __init__(self, handle: IO[bytes], workbook: Any, file_name: str) -> None:
        self.handle = handle
        self.workbook = workbook
        self.file_name = file_name
        self.parser_class = _sheet_parser_class()
        self.percent_styles = percent_styles(workbook)

    @classmethod
    def open(cls, path: Path, file_name: str) -> Book:
        import openpyxl

        where = {"file": file_name}
        if not getattr(openpyxl, "DEFUSEDXML", False):
            raise InputError("refusing to read xlsx: defusedxml is not active in openpyxl "
                             "(install defusedxml and unset OPENPYXL_DEFUSEDXML)", **where)
        handle = path.open("rb")
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True,
                                              keep_links=False)
        except Exception as exc:
            handle.close()
            reason = _xml_refusal(exc)
            if reason is None:
                if isinstance(exc, zipfile.BadZipFile):
                    reason = f"corrupt or truncated xlsx workbook ({describe(exc)})"
                elif isinstance(exc, KeyError):
                    reason = f"not an xlsx workbook: a required part is missing ({describe(exc)})"
                else:
                    cause = exc.__cause__ or exc
                    reason = _xml_refusal(cause) or f"unreadable xlsx workbook ({describe(cause)})"
            raise InputError(reason, **where) from exc
        return cls(handle, workbook, file_name)

    def close(self) -> None:
        try:
            self.workbook.close()
        finally:
            self.handle.close()

    def records(self, sheet: str) -> Iterator[tuple[int, list[Any]]]:
        """(row number, cell values) for every row element of a sheet, in file order."""
        worksheet = self.workbook[sheet]
        book = self.workbook
        last = 0
        try:
            with worksheet._get_source() as source:
                parser = self.parser_class(
                    source, worksheet._shared_strings, data_only=True, epoch=book.epoch,
                    date_formats=book._date_formats, timedelta_formats=book._timedelta_formats)
                parser.percent_styles = self.percent_styles
                for index, cells in parser.parse():
                    if index <= last:  # Excel requires ascending rows; a repeat would hide one
                        raise InputError(
                            f"damaged sheet: row {index} comes after row {last} (row numbers "
                            "must increase)" if last else f"damaged sheet: row number {index}",
                            file=self.file_name, sheet=sheet)
                    last = index
                    if not cells:
                        yield index, []
                        continue
                    width = max(cell["column"] for cell in cells)
                    values: list[Any] = [None] * width
                    for cell in cells:
                        values[cell["column"] - 1] = cell["value"]
                    yield index, values
        except InputError:
            raise
        except BadCell as exc:
            row, column = _cell_position(exc.coordinate, last)
            raise InputError(exc.args[0], file=self.file_name, sheet=sheet, row=row,
                             column=column) from exc
        except Exception as exc:
            reason = _xml_refusal(exc) or (
                f"unreadable sheet data after row {last} ({describe(exc)})" if last
                else f"unreadable sheet data ({describe(exc)})")
            raise InputError(reason, file=self.file_name, sheet=sheet) from exc




def _cell_position(coordinate: str | None, last: int) -> tuple[int | None, str | None]:
    """Row and column letter of a cell reference ("B7"), or the row after the last one read."""
    from openpyxl.utils.cell import coordinate_to_tuple

    try:
        row, column = coordinate_to_tuple(coordinate or "")
    except (TypeError, ValueError):
        return last + 1, None
    return row, letter(column - 1)
