"""Contestants from a spreadsheet (the list organisers already keep), checked row by row. Pure.

Rows are dicts of column -> text, the first row of the sheet being the header. Every problem is
reported as (row, column, why), with row numbers as the organiser sees them (the header is row
1), and nothing is taken unless every row is good: an import is all or nothing.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

import openpyxl
from pydantic import ValidationError

from live.domain.errors import Problem, ShowFileError
from live.domain.show import Contestant

COLUMNS = (
    "number",
    "name",
    "name_en",
    "organisation",
    "organisation_en",
    "field",
    "innovation",
    "innovation_en",
    "story",
    "story_en",
    "video",
    "id",
)
"""The columns a sheet may have (``number`` and ``name`` … ``innovation_en`` are required;
``id`` defaults to ``c`` + the number, the running order to the row order)."""
REQUIRED = COLUMNS[:8]
ALIASES = {
    "编号": "number",
    "姓名": "name",
    "单位": "organisation",
    "领域": "field",
    "成果": "innovation",
}
"""Chinese headers organisers use, read as their column."""


MAX_SHEET_BYTES = 20 * 1024 * 1024
"""The largest sheet read (a 1,000-row roster is far below this)."""
MAX_ROWS = 5000
"""Contestants one sheet may list (rows after the header that are not blank)."""
MAX_COLUMNS = 2 * len(COLUMNS)
"""Columns read from a sheet: every known column, and as many more (refused as unknown by
name). Cells further right are never read."""
MAX_SCANNED = 100_000
"""Rows (blank ones included) a sheet may span: past this it is refused without reading on."""
MAX_UNPACKED = 24 * 1024 * 1024
"""An XLSX is a ZIP: what its parts hold unpacked, at most (a 1,000-row roster with stories:
~6 MB)."""
MAX_PARTS = 500
"""Files inside one XLSX (a workbook has a dozen)."""
PART_LIMITS = (
    ("xl/worksheets/", 16 * 1024 * 1024),
    ("xl/sharedStrings.xml", 8 * 1024 * 1024),
    ("xl/styles.xml", 256 * 1024),
    ("", 1024 * 1024),
)
"""What one part may hold unpacked, by where it is (the first that matches): a sheet and its
strings hold the roster; everything else (styles, themes, the workbook) is small in a real
file, and openpyxl builds an object per entry of it (10 M empty styles, 50 MB unpacked from a
74 KB upload, would cost gigabytes)."""


def _blank(row: Iterable[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def _bounded_rows(rows: Iterable[Iterable[Any]], name: str) -> list[list[Any]]:
    """The rows up to the last one that is not blank, each cut to :data:`MAX_COLUMNS`;
    :class:`ValueError` past :data:`MAX_ROWS` contestants or :data:`MAX_SCANNED` rows. Lazy
    input is read only as far as needed: a sheet that claims a million rows costs nothing
    beyond the first refusal."""
    out: list[list[Any]] = []
    kept = 0  # rows of ``out`` up to the last that is not blank
    filled = 0
    for scanned, row in enumerate(rows, start=1):
        if scanned > MAX_SCANNED:
            raise _Bound(f"{name}: the sheet spans more than {MAX_SCANNED:,} rows")
        cells = list(row)[:MAX_COLUMNS]
        out.append(cells)
        if not _blank(cells):
            kept = len(out)
            filled += 1
            if filled > MAX_ROWS + 1:  # the header and the contestants
                raise _Bound(f"{name}: more than {MAX_ROWS:,} contestants in one sheet")
    return out[:kept]


def _unpacked_size(data: bytes, name: str) -> None:
    """Refuse an XLSX whose parts claim more than :data:`MAX_UNPACKED` (a ZIP bomb). Python's
    ``zipfile`` never yields more than a part claims (and checks its CRC), so the claim holds."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except Exception:  # BadZipFile, NotImplementedError (an unknown version), ...: one answer
        raise ValueError(f"{name}: not an XLSX workbook (not a ZIP archive)") from None
    if len(parts) > MAX_PARTS:
        raise ValueError(f"{name}: not an XLSX workbook ({len(parts)} parts)")
    if sum(p.file_size for p in parts) > MAX_UNPACKED:
        raise ValueError(f"{name}: unpacks to more than {MAX_UNPACKED // (1024 * 1024)} MB")
    for part in parts:
        limit = next(n for where, n in PART_LIMITS if part.filename.startswith(where))
        if part.file_size > limit:
            raise ValueError(
                f"{name}: its part {part.filename[:80]} unpacks to more than {limit:,} bytes"
            )


class _Bound(ValueError):
    """A bound of this module passed (its message is for the organiser as it is)."""


def _xlsx_rows(data: bytes, name: str) -> list[list[Any]]:
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # a hostile file: whatever openpyxl or the XML parser raise, one answer
        raise ValueError(f"{name}: not an XLSX workbook") from None
    try:
        sheet = book.worksheets[0]
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()  # the file's <dimension> says nothing we trust
        return _bounded_rows(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), name)
    except _Bound:
        raise
    except Exception:
        raise ValueError(f"{name}: not an XLSX workbook (a sheet cannot be read)") from None
    finally:
        book.close()


def read_sheet(data: bytes, name: str) -> tuple[list[Any], list[list[Any]]]:
    """The header and rows of the first sheet of an XLSX file, or of a CSV (UTF-8, with or
    without a BOM, as spreadsheets save it); ``name``'s suffix says which. Raises
    :class:`ValueError` with a sentence for a file that is neither, or one past the bounds
    above. An XLSX's own ``<dimension>`` is ignored (it may claim 17 billion cells): rows are
    read as they are in the file, at most :data:`MAX_COLUMNS` wide. CPU-bound for a large
    sheet: call it off the event loop."""
    if len(data) > MAX_SHEET_BYTES:
        raise ValueError(f"{name}: larger than {MAX_SHEET_BYTES // (1024 * 1024)} MB")
    lower = name.lower()
    if lower.endswith(".xlsx"):
        _unpacked_size(data, name)
        rows = _xlsx_rows(data, name)
    elif lower.endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError(f"{name}: a CSV must be UTF-8 (save it as CSV UTF-8)") from None
        try:
            rows = _bounded_rows(csv.reader(io.StringIO(text)), name)
        except csv.Error:
            raise ValueError(f"{name}: not a CSV file (a field is too long or malformed)") from None
    else:
        raise ValueError(f"{name}: a .csv or .xlsx file is expected")
    if not rows:
        return [], []
    return rows[0], rows[1:]


def _problem(row: int, column: str, why: str) -> Problem:
    """A sheet's problem: where (``row R, column C``) and why; the CLI adds the file."""
    return Problem("", f"row {row}, column {column}", why)


class RosterError(ShowFileError):
    """Every problem of a sheet (``problems``); nothing of it was taken."""


def _column(header: str) -> str:
    name = header.strip()
    return ALIASES.get(name, name.lower())


def read_roster(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> tuple[Contestant, ...]:
    """The contestants of a sheet (header row, then one row per contestant, in running order),
    or :class:`RosterError` listing every problem."""
    columns = [_column(str(h or "")) for h in header]
    problems: list[Problem] = []
    unknown = [c for c in columns if c and c not in COLUMNS]
    for c in unknown:
        problems.append(_problem(1, c, f"unknown column (known: {', '.join(COLUMNS)})"))
    for c in REQUIRED:
        if c not in columns:
            problems.append(_problem(1, c, "missing column"))
    if problems:
        raise RosterError(problems)
    out: list[Contestant] = []
    seen: dict[tuple[str, str], int] = {}  # (column, value) -> the first row with it
    order = 0
    for n, raw in enumerate(rows, start=2):
        cells = [("" if v is None else str(v).strip()) for v in raw]
        if not any(cells):
            continue  # a blank row
        order += 1
        row: dict[str, Any] = {c: v for c, v in zip(columns, cells, strict=False) if c and v}
        row.setdefault("id", f"c{row.get('number', order)}".lower())
        row["order"] = order
        try:
            person = Contestant.model_validate(row)
        except ValidationError as exc:
            for err in exc.errors():
                where = str(err["loc"][0]) if err["loc"] else "?"
                problems.append(_problem(n, where, _why(err, row.get(where))))
            continue
        for key, value in (("id", person.id), ("number", person.label)):
            first = seen.get((key, value))
            if first is not None:
                problems.append(_problem(n, key, f"{value!r} is also on row {first}"))
            seen.setdefault((key, value), n)
        out.append(person)
    if not out and not problems:
        problems.append(_problem(2, "name", "the sheet has no contestant"))
    if problems:
        raise RosterError(problems)
    return tuple(out)


def _why(err: Mapping[str, Any], value: Any) -> str:
    if err["type"] == "missing":
        return "empty"
    shown = repr(value) if value is not None else "nothing"
    return f"{err['msg']} (got {shown})"
