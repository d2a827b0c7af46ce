"""Show files without writing TOML: `live show create`, `live show import` of a CSV or XLSX sheet
(every bad row reported, nothing half-imported) and `live show export` of a show as it stands."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from live import cli as live_cli
from live.domain.roster import RosterError, read_roster
from live.domain.show import load_show
from tests.helpers import SHOW, LiveServer, run_cli, staff_client, staff_login

HEADER = ["编号", "姓名", "name_en", "单位", "organisation_en", "领域", "成果", "innovation_en",
          "story"]  # fmt: skip


def person(i: int) -> list[Any]:
    return [f"{i:02d}", f"选手{i}", f"Player {i}", "工厂", "Works", "craft", f"成果{i}",
            f"Innovation {i}", f"第{i}位选手的故事"]  # fmt: skip


def xlsx(rows: list[list[Any]]) -> bytes:
    """An XLSX workbook: the header, then ``rows``."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def workbook(path: Path, rows: list[list[Any]]) -> Path:
    path.write_bytes(xlsx(rows))
    return path


def cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = live_cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_40_row_sheet_with_two_bad_rows_imports_nothing_until_fixed(
    tmp_path: Path, capsys: Any
) -> None:
    show_file = tmp_path / "show.toml"
    show_file.write_bytes(SHOW.read_bytes())
    before = show_file.read_bytes()
    rows = [person(i) for i in range(1, 41)]
    rows[6][1] = ""  # row 8: no name
    rows[20][0] = "05"  # row 22: the number of row 6 again
    sheet = workbook(tmp_path / "roster.xlsx", rows)
    code, _, err = cli(capsys, "show", "import", "--file", str(sheet), "--into", str(show_file))
    assert code == 1
    assert f"{sheet}: row 8, column name: empty" in err
    assert f"{sheet}: row 22, column id: 'c05' is also on row 6" in err
    assert f"{sheet}: row 22, column number: '05' is also on row 6" in err
    assert "nothing imported" in err
    assert show_file.read_bytes() == before  # nothing half-imported
    rows[6][1] = "选手7"
    rows[20][0] = "21"
    workbook(sheet, rows)
    code, out, err = cli(capsys, "show", "import", "--file", str(sheet), "--into", str(show_file))
    assert code == 0, err
    assert "imported 40 contestants" in out
    show = load_show(show_file)
    assert [c.label for c in show.contestants][:3] == ["01", "02", "03"]
    assert show.contestants[39].name == "选手40" and show.contestants[0].story == "第1位选手的故事"
    assert [c.order for c in show.contestants] == list(range(1, 41))
    assert show.categories == load_show(SHOW).categories  # the rest of the file is kept


def test_a_csv_from_a_spreadsheet_imports_too(tmp_path: Path, capsys: Any) -> None:
    show_file = tmp_path / "show.toml"
    show_file.write_bytes(SHOW.read_bytes())
    lines = [",".join(HEADER)] + [",".join(person(i)) for i in range(1, 6)]
    sheet = tmp_path / "roster.csv"
    sheet.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")  # Excel's BOM
    out = tmp_path / "new.toml"
    code, _, err = cli(
        capsys, "show", "import", "--file", str(sheet), "--into", str(show_file), "--out", str(out)
    )
    assert code == 0, err
    assert len(load_show(out).contestants) == 5


def test_a_sheet_missing_a_column_or_with_an_unknown_one_is_refused() -> None:
    with pytest.raises(RosterError) as err:
        read_roster(["编号", "姓名", "colour"], [["01", "x", "red"]])
    lines = [f"{p.field}: {p.why}" for p in err.value.problems]
    assert "row 1, column colour: unknown column" in lines[0]
    assert "row 1, column name_en: missing column" in lines


def test_a_file_that_is_not_a_sheet_gets_a_clear_error(tmp_path: Path, capsys: Any) -> None:
    fake = tmp_path / "roster.xlsx"
    fake.write_text("<html>not a workbook</html>")
    code, _, err = cli(capsys, "show", "import", "--file", str(fake), "--into", str(SHOW))
    assert code == 2 and str(fake) in err


def test_create_writes_a_show_file_that_loads(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "gala.toml"
    code, _, err = cli(
        capsys, "show", "create", "--id", "gala", "--title", "晚会", "--title-en", "Gala",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    show = load_show(out)
    assert (show.id, show.title, len(show.categories)) == ("gala", "晚会", 1)
    assert cli(capsys, "show", "create", "--id", "gala", "--title", "x", "--title-en", "x",
               "--out", str(out))[0] == 2  # fmt: skip


async def test_export_writes_the_show_as_it_stands_with_its_edits(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Path
) -> None:
    cookie, csrf = await staff_login(server, "admin")
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        reply = await http.post("/api/shows/t/contestants/p2", json={"name": "新名字"})
        assert reply.status_code == 200
    out = tmp_path / "exported.toml"
    code, _, err = await run_cli(
        server, monkeypatch, capsys, "show", "export", "--show", "t", "--out", str(out)
    )
    assert code == 0, err
    show = load_show(out)
    assert next(c for c in show.contestants if c.id == "p2").name == "新名字"
    assert show.categories == load_show(SHOW).categories
