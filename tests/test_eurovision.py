"""The reconciler's Eurovision preset against the real, published contests of 2016-2022."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

import pytest

from live.domain.reconcile import preset, reconcile
from live.domain.reconcile.eurovision import (
    contest_inputs,
    is_points_set,
    jury_points,
    read_points,
    unit_sets,
)

DATA = Path(__file__).parent / "data" / "eurovision"
FINALS = ("2016", "2017", "2018", "2019", "2021", "2022")  # no contest in 2020


@pytest.fixture(scope="module")
def rows() -> list:  # type: ignore[type-arg]
    with (DATA / "votes.csv").open(newline="") as fh:
        return read_points(fh)


def _official_totals(year: str, round_: str) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    with (DATA / "votes.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            if r["year"] == year and r["round"] == round_:
                totals[r["to_country"]] += int(r["total_points"])
    return dict(totals)


@pytest.mark.parametrize("year", FINALS)
def test_every_final_total_is_the_official_total(rows: list, year: str) -> None:  # type: ignore[type-arg]
    result = reconcile(preset("eurovision"), contest_inputs(rows, year, "final"))
    official = _official_totals(year, "final")
    assert {r.contestant: int(result.number(r.total)) for r in result.rows} == official
    assert len(result.rows) == len(official)


@pytest.mark.parametrize("year", FINALS)
def test_places_are_by_total_then_televote(rows: list, year: str) -> None:  # type: ignore[type-arg]
    result = reconcile(preset("eurovision"), contest_inputs(rows, year, "final"))
    assert [r.place for r in result.rows] == list(range(1, len(result.rows) + 1))
    for above, below in zip(result.rows, result.rows[1:], strict=False):
        assert above.total is not None and below.total is not None
        assert above.total >= below.total
        if above.total == below.total:
            assert below.decided_by == "audience"
            assert above.audience is not None and below.audience is not None
            assert above.audience > below.audience


def test_official_places_and_totals_spot_checks(rows: list) -> None:  # type: ignore[type-arg]
    checked = 0
    with (DATA / "official.csv").open(newline="") as fh:
        for ref in csv.DictReader(fh):
            result = reconcile(preset("eurovision"), contest_inputs(rows, ref["year"], "final"))
            row = next(r for r in result.rows if r.contestant == ref["country"])
            assert (row.place, result.number(row.total)) == (int(ref["place"]), ref["total"]), ref
            checked += 1
    assert checked == 34


def test_every_points_set_is_a_valid_12_to_1_set(rows: list) -> None:  # type: ignore[type-arg]
    units = 0
    for year in FINALS:
        for round_ in ("final", "semi-final-1", "semi-final-2"):
            for (unit, side), points in unit_sets(rows, year, round_).items():
                assert is_points_set(points), (year, round_, unit, side, points)
                units += 1
    assert units > 700


def _jurors() -> dict[tuple[str, str, str], dict[str, dict[str, int]]]:
    juries: dict[tuple[str, str, str], dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    with (DATA / "jurors.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            for juror in "ABCDE":
                if r[juror] != "NA":
                    juries[(r["year"], r["round"], r["from_country"])][juror][r["to_country"]] = (
                        int(r[juror])
                    )
    return juries


def _running() -> dict[tuple[str, str], dict[str, int]]:
    order: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    with (DATA / "running_order.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            order[(r["year"], r["round"])][r["country"]] = int(r["running"])
    return order


def test_every_jury_2018_2022_from_its_jurors_exponential_weights(rows: list) -> None:  # type: ignore[type-arg]
    official = {(r.year, r.round, r.source, r.target): r.jury for r in rows}
    running = _running()
    juries = {k: v for k, v in _jurors().items() if k[0] >= "2018"}
    for (year, round_, source), ranks in juries.items():
        points = jury_points(ranks, Fraction(19, 100), running.get((year, round_)))
        expected = {t: official[(year, round_, source, t)] for t in points}
        assert points == expected, (year, round_, source)
    assert len(juries) == 313


def test_exact_jury_ties_exist_and_only_the_running_order_separates_them() -> None:
    """Without the running order, the two exact ties share a place: no silent coin flip."""
    ranks = _jurors()[("2018", "final", "PT")]
    points = jury_points(ranks)
    assert points["AT"] == points["BG"] == 8
    assert sorted(ranks[j]["AT"] for j in ranks) == sorted(ranks[j]["BG"] for j in ranks)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "live", "reconcile", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_prints_the_2016_final_best_first() -> None:
    out = _cli(
        "--preset",
        "eurovision",
        "--points",
        str(DATA / "votes.csv"),
        "--year",
        "2016",
        "--round",
        "final",
        "--format",
        "csv",
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "place,entry,expert,audience,total"
    assert lines[1] == "1,UA,211,323,534"
    assert len(lines) == 27


def test_cli_televote_only_round_with_an_extra_unit(tmp_path: Path) -> None:
    path = tmp_path / "points.csv"
    sets = {"AA": ["X", "Y", "Z"], "BB": ["Y", "X", "Z"], "WLD": ["Z", "Y", "X"]}
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "year",
                "round",
                "from_country",
                "to_country",
                "jury_points",
                "televoting_points",
                "note",
            ]
        )
        for unit, order in sets.items():
            for target, pts in zip(order, (12, 10, 8), strict=True):
                w.writerow(["2023", "semi-final-1", unit, target, "", pts, "ignored"])
    out = _cli("--points", str(path), "--year", "2023", "--round", "semi-final-1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "place,entry,expert,audience,total",
        "1,Y,0,32,32",
        "2,X,0,30,30",
        "3,Z,0,28,28",
    ]


def test_cli_bad_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "year,round,from_country,to_country,jury_points,televoting_points\n"
        "2023,final,AA,BB,eleven,3\n"
    )
    out = _cli("--points", str(path), "--year", "2023", "--round", "final")
    assert out.returncode == 2
    assert "line 2: jury_points 'eleven' is not a whole number" in out.stderr
    missing = _cli("--points", str(tmp_path / "none.csv"), "--year", "1", "--round", "x")
    assert missing.returncode == 2 and "none.csv" in missing.stderr
