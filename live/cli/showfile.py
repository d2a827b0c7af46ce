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

import os
import sys
import zipfile
from pathlib import Path
from typing import Any

from live.domain.errors import Problem, ShowFileError
from live.domain.roster import MAX_SHEET_BYTES, RosterError, read_roster
from live.domain.roster import read_sheet as read_sheet_bytes
from live.domain.setup import show_toml, skeleton, with_roster
from live.domain.show import Show, load_show


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
    """The header and rows of a sheet file (:func:`live.domain.roster.read_sheet`)."""
    if path.stat().st_size > MAX_SHEET_BYTES:
        raise ValueError(f"{path}: larger than {MAX_SHEET_BYTES // (1024 * 1024)} MB")
    return read_sheet_bytes(path.read_bytes(), str(path))


def create(show_id: str, title: str, title_en: str, out: Path) -> int:
    if out.exists():
        print(f"live: {out} exists; not overwritten", file=sys.stderr)
        return 2
    try:
        show = skeleton(show_id, title, title_en, str(out))
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
    try:
        show = with_roster(base, people, str(out or into))
    except ShowFileError as exc:
        for p in exc.problems:
            print(f"live: {p.field}: {p.why}", file=sys.stderr)
        print("nothing imported", file=sys.stderr)
        return 1
    write_show(show, out or into)
    print(f"imported {len(people)} contestants into {out or into}")
    return 0
