"""Coverage-guided fuzzing of the input readers with atheris (not run in CI).

    python fuzz/fuzz_readers.py csv  -max_total_time=300
    python fuzz/fuzz_readers.py xlsx -max_total_time=300
    python fuzz/fuzz_readers.py csv --replay crash-1234...   # re-run saved inputs, no atheris

The contract checked for every input: ``open_input(...).rows()`` either yields InputRows (row
numbers increasing within each sheet, sheets in ``source.sheets`` order, every row counted in
``rows_per_sheet``) or raises ``InputError`` whose text is one line, free of control characters,
starting with the file name.
Any other exception, a broken invariant, a hang (``-timeout``) or a memory blow-up
(``-rss_limit_mb``) is a finding; libFuzzer saves the input as ``crash-*``/``timeout-*``.

In ``xlsx`` mode an input starting with ``PK`` is taken as a whole workbook; anything else is
split on ``PART_SEP`` into sheet XML, shared strings, workbook XML and styles and zipped into a
workbook, because byte mutations of a deflated zip almost never get past the zip layer.

The corpus (``corpus/``, seeded on first use with small valid files and the hostile cases of
``tests/hostile.py`` that fit ``-max_len``), the crash files and the file each input is written to
(``work/``) live in ``$SCREENER_FUZZ_DIR/<mode>``, default ``/tmp/screener-fuzz/<mode>``.
"""

from __future__ import annotations

import io
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

MODES = ("csv", "xlsx")
MAX_LEN = {"csv": 16 * 1024, "xlsx": 64 * 1024}
PART_SEP = b"\n--part--\n"

try:
    import atheris
except ImportError:  # --replay still works; fuzzing needs atheris (pip install atheris)
    atheris = None

InputRow: Any = None
InputError: Any = None  # set by _load; None would fail loudly rather than catch everything
open_input: Any = None


def _load(instrument: bool) -> None:
    """Import the reader, instrumented for coverage when fuzzing (before anything imports it)."""
    global InputRow, InputError, open_input
    if instrument:
        with atheris.instrument_imports(include=["screener", "openpyxl", "charset_normalizer"]):
            import charset_normalizer  # noqa: F401  (the reader imports it lazily)
            import openpyxl  # noqa: F401

            import screener.files.readers
    import screener.files.readers
    import screener.models

    InputRow = screener.models.InputRow
    InputError = screener.files.readers.InputError
    open_input = screener.files.readers.open_input


# --- building an xlsx from parts ------------------------------------------------------------------

_CT = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
DEFAULT_WORKBOOK = (f'<?xml version="1.0" encoding="UTF-8"?><workbook {_NS} {_R}><sheets>'
                    '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>').encode()
DEFAULT_SHARED = (f'<?xml version="1.0" encoding="UTF-8"?><sst {_NS} count="2" uniqueCount="2">'
                  "<si><t>Name</t></si><si><t>Acme Ltd</t></si></sst>").encode()


def xlsx_from_parts(data: bytes) -> bytes:
    """Sheet XML [PART_SEP shared strings [PART_SEP workbook [PART_SEP styles]]] as a workbook."""
    parts = data.split(PART_SEP, 3)
    sheet = parts[0]
    shared = parts[1] if len(parts) > 1 else DEFAULT_SHARED
    workbook = parts[2] if len(parts) > 2 else DEFAULT_WORKBOOK
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", _CT)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", workbook)
        archive.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        archive.writestr("xl/sharedStrings.xml", shared)
        if len(parts) > 3:
            archive.writestr("xl/styles.xml", parts[3])
    return buffer.getvalue()


# --- the target -----------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # ESC and friends would reach a terminal


def check(path: Path) -> None:
    """Read one file and assert the reader's contract; return quietly if it holds."""
    try:
        source = open_input(path)
        rows = list(source.rows())
    except InputError as error:
        text = str(error)
        assert len(text.splitlines()) == 1, f"not one line: {text!r}"
        assert not _CONTROL.search(text), f"control character in the error: {text!r}"
        assert text.startswith(path.name), f"error does not name the file: {text!r}"
        return
    assert source.sheets, "no sheets but no error"
    order = {sheet: i for i, sheet in enumerate(source.sheets)}
    last: tuple[int, int] = (-1, 0)
    for row in rows:
        assert isinstance(row, InputRow), type(row)
        assert isinstance(row.row, int) and row.row >= 1, f"bad row number {row.row!r}"
        assert row.sheet in order, f"row from unknown sheet {row.sheet!r}"
        key = (order[row.sheet], row.row)
        assert key > last, f"rows out of order: {key} after {last}"
        last = key
        assert row.name is not None or row.not_screened_reason, f"row {row.row}: no name, no reason"
    counted = sum(source.rows_per_sheet.values())
    assert counted == len(rows), f"rows_per_sheet says {counted}, {len(rows)} rows came out"


def make_target(mode: str, folder: Path):
    """The libFuzzer entry point: each input becomes ``folder/input.<mode>``, overwritten each time."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"input.{mode}"

    def test_one_input(data: bytes) -> None:
        if mode == "xlsx" and not data.startswith(b"PK"):
            data = xlsx_from_parts(data)
        path.write_bytes(data)
        check(path)

    return test_one_input


# --- seeds ----------------------------------------------------------------------------------------


def _seed_files(mode: str, folder: Path) -> None:
    """Small valid files for ``mode`` plus the hostile cases, written into ``folder``."""
    import hostile

    folder.mkdir(parents=True, exist_ok=True)
    if mode == "csv":
        seeds = {
            "plain": "Customer Name,Country,Address\nAcme Ltd,US,1 Main St\nHuawei,CN,Shenzhen\n",
            "semicolon": "Name;Country\nSociété Générale;FR\n\n;;\nMüller GmbH;DE\n",
            "quoted": 'Title\nName,Address\n"Acme, Inc.","1 Main St\nSpringfield"\n"Say ""hi""",x\n',
            "tabs": "Company\tCountry\n华为技术有限公司\t中国\n=HYPERLINK(\"x\")\tUS\n",
        }
        for name, text in seeds.items():
            (folder / f"seed-{name}").write_bytes(text.encode())
        (folder / "seed-cp1252").write_bytes("Name|Country\nNestlé SA|CH\r\n".encode("cp1252"))
        (folder / "seed-gb18030").write_bytes("客户名称,国家\n中兴通讯,中国\n".encode("gb18030"))
        (folder / "seed-utf16").write_bytes("Name\tCountry\nAcme\tUS\n".encode("utf-16"))
        (folder / "seed-cr").write_bytes(b"Name,Country\rAcme,US\rBeta,DE\r")
    else:
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = "Orders"
        sheet.append(["Orders 2024"])
        sheet.append(["Customer Name", "Country", "Address"])
        sheet.append(["Acme Ltd", "US", "1 Main St"])
        sheet.append([12345, None, None])
        sheet.append(['=CONCAT("a","b")', "DE", None])
        second = book.create_sheet("More")
        second.append(["Name"])
        second.append(["Beta GmbH"])
        buffer = io.BytesIO()
        book.save(buffer)
        (folder / "seed-openpyxl").write_bytes(buffer.getvalue())
        sheet_xml = hostile.SHEET.replace(
            "</sheetData>",
            '<row r="3"><c r="A3" t="s"><v>1</v></c><c r="B3"><v>1.5</v></c></row>'
            '<row r="5"><c r="A5" t="e"><f>X()</f><v>#N/A</v></c><c r="C5" t="b"><v>1</v></c></row>'
            "</sheetData>").encode()
        (folder / "seed-parts-sheet").write_bytes(sheet_xml)
        (folder / "seed-parts-all").write_bytes(
            PART_SEP.join([sheet_xml, DEFAULT_SHARED, DEFAULT_WORKBOOK,
                           b'<styleSheet xmlns="http://schemas.openxmlformats.org/'
                           b'spreadsheetml/2006/main"/>']))
    with tempfile.TemporaryDirectory(prefix="screener-seeds-") as tmp:
        for name, make, _ in hostile.HOSTILE_CASES:
            case = Path(tmp) / name
            case.mkdir()
            made = make(case)
            if not made.is_file() or made.stat().st_size > MAX_LEN[mode]:
                continue
            data = made.read_bytes()
            if (mode == "xlsx") == (made.suffix in (".xlsx", ".xlsm") or data[:2] == b"PK"):
                (folder / f"hostile-{name}").write_bytes(data)


def _replay(mode: str, files: list[str]) -> int:
    failed = 0
    with tempfile.TemporaryDirectory(prefix="screener-fuzz-") as tmp:
        target = make_target(mode, Path(tmp))
        for name in files:
            try:
                target(Path(name).read_bytes())
            except Exception as exc:  # report every saved input, not just the first
                failed += 1
                print(f"{name}: {type(exc).__name__}: {exc}")
            else:
                print(f"{name}: ok")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in MODES:
        print(f"usage: {argv[0]} csv|xlsx [libFuzzer options] [corpus dir ...]\n"
              f"       {argv[0]} csv|xlsx --replay FILE ...", file=sys.stderr)
        return 2
    mode, rest = argv[1], argv[2:]
    if rest[:1] == ["--replay"]:
        _load(instrument=False)
        return _replay(mode, rest[1:])
    if atheris is None:
        print("atheris is not installed: pip install atheris (Linux/macOS, CPython 3.8-3.11 wheels)",
              file=sys.stderr)
        return 2
    _load(instrument=True)
    options = [a for a in rest if a.startswith("-")]
    dirs = [a for a in rest if not a.startswith("-")]
    home = Path(os.environ.get("SCREENER_FUZZ_DIR", "/tmp/screener-fuzz")) / mode
    if not dirs:
        corpus = home / "corpus"
        if not corpus.exists():
            _seed_files(mode, corpus)
        dirs = [str(corpus)]
        if not any(o.startswith("-artifact_prefix=") for o in options):
            options.append(f"-artifact_prefix={home}/")
    defaults = {"-max_len=": MAX_LEN[mode], "-timeout=": 20, "-rss_limit_mb=": 2048}
    for flag, value in defaults.items():
        if not any(o.startswith(flag) for o in options):
            options.append(f"{flag}{value}")
    atheris.Setup([argv[0], *options, *dirs], make_target(mode, home / "work"))
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
