"""``live show create|import|export``: show files without writing TOML by hand.

- ``create``: a new show file (title, one open category, no contestant yet).
- ``import``: the contestants of a CSV or XLSX sheet (:mod:`live.domain.roster`) into a show
  file: every row is checked, every problem printed as ``row R, column C: why``, and the file
  is written only when all rows are good (to a temporary name, checked by loading it, then
  renamed: never half written).
- ``export``: the show as it stands (the show file with the edits made before the show, read
  from Redis) as a show file, which ``live serve`` loads again.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import tomli_w

from live.domain.errors import Problem, ShowFileError
from live.domain.roster import RosterError, read_roster
from live.domain.show import Show, load_show, parse_show

MAX_SHEET_BYTES = 20 * 1024 * 1024


def show_toml(show: Show) -> str:
    """The show file of ``show`` (TOML; loads back to an equal show)."""
    return tomli_w.dumps(_data(show))


def _data(show: Show) -> dict[str, Any]:
    """The show as a show file's document: only what differs from the defaults (so the
    file stays short, and reads back exactly: defaults are tuples a TOML array is not)."""
    data: dict[str, Any] = show.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    return data


def write_show(show: Show, out: Path) -> None:
    """Write the show file atomically, after checking that it loads back to the same show."""
    text = show_toml(show)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        again = load_show(tmp)
        if again.model_dump() != show.model_dump():  # never expected: a field lost in TOML
            why = "the written file does not load back to the same show"
            raise ShowFileError([Problem(str(out), "(file)", why)])
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def read_sheet(path: Path) -> tuple[list[Any], list[list[Any]]]:
    """The header and rows of the first sheet of an XLSX file, or of a CSV (UTF-8, with or
    without a BOM, as spreadsheets save it)."""
    if path.stat().st_size > MAX_SHEET_BYTES:
        raise ValueError(f"{path}: larger than {MAX_SHEET_BYTES // (1024 * 1024)} MB")
    if path.suffix.lower() == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
    elif path.suffix.lower() == ".csv":
        text = path.read_text(encoding="utf-8-sig")
        rows = [list(r) for r in csv.reader(io.StringIO(text))]
    else:
        raise ValueError(f"{path}: a .csv or .xlsx file is expected")
    if not rows:
        return [], []
    return rows[0], rows[1:]


def create(show_id: str, title: str, title_en: str, out: Path) -> int:
    if out.exists():
        print(f"live: {out} exists; not overwritten", file=sys.stderr)
        return 2
    data = {
        "id": show_id,
        "title": title,
        "title_en": title_en,
        "contestants": [
            {
                "id": "c01",
                "name": "选手",
                "name_en": "Contestant",
                "organisation": "单位",
                "organisation_en": "Organisation",
                "field": "craft",
                "innovation": "成果",
                "innovation_en": "Innovation",
                "order": 1,
            }
        ],
        "categories": [
            {"id": "audience", "name": "人气奖", "name_en": "Audience award", "open": False}
        ],
    }
    try:
        show = parse_show(data, str(out))
    except ShowFileError as exc:
        for p in exc.problems:
            print(f"live: {p.field}: {p.why}", file=sys.stderr)
        return 2
    write_show(show, out)
    print(f"created {out}: import the contestants with `live show import`")
    return 0


def import_sheet(sheet: Path, into: Path, out: Path | None) -> int:
    """Replace the contestants of the show file ``into`` by the sheet's; 0 if written."""
    try:
        base = load_show(into)
        header, rows = read_sheet(sheet)
        people = read_roster(header, rows)
    except RosterError as exc:
        for problem in exc.problems:
            print(f"{sheet}: {problem.field}: {problem.why}", file=sys.stderr)
        print(f"nothing imported: {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    except ShowFileError as exc:
        for p in exc.problems:
            print(f"live: {p.file}: {p.field}: {p.why}", file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # not a workbook
        print(f"live: {sheet}: {exc}", file=sys.stderr)
        return 2
    data = _data(base)
    data["contestants"] = [
        p.model_dump(mode="json", exclude_none=True, exclude_defaults=True) for p in people
    ]
    known = {p.id for p in people}
    for cat in data["categories"]:  # a category naming contestants keeps those still there
        cat["contestants"] = [c for c in cat.get("contestants", []) if c in known]
    try:
        show = parse_show(data, str(out or into))
    except ShowFileError as exc:
        for p in exc.problems:
            print(f"live: {p.field}: {p.why}", file=sys.stderr)
        print("nothing imported", file=sys.stderr)
        return 1
    write_show(show, out or into)
    print(f"imported {len(people)} contestants into {out or into}")
    return 0
