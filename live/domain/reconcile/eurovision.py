"""Eurovision-style points files: read them, and rebuild a jury's points from its jurors. Pure.

A points file is CSV with at least the columns ``year, round, from_country, to_country,
jury_points, televoting_points`` (others are ignored). Jury points may be empty (or ``NA``):
televote-only rounds and extra televote-only voting units (e.g. "rest of the world") count only
their televote. Each voting unit's points are the 12-10-8-7-…-1 set.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from live.domain.reconcile.engine import Inputs
from live.domain.reconcile.rules import EUROVISION_POINTS
from live.domain.reconcile.sides import competition_places, exp_panel, points_for

REQUIRED = ("year", "round", "from_country", "to_country", "jury_points", "televoting_points")
MISSING = ("", "NA", "na", "-")


class PointsFileError(ValueError):
    """A points file that cannot be read; the message names the line and the column."""


@dataclass(frozen=True, slots=True)
class PointsRow:
    year: str
    round: str
    source: str
    target: str
    jury: int | None
    tele: int | None


def _points(value: str | None, line: int, column: str) -> int | None:
    text = (value or "").strip()
    if text in MISSING:
        return None
    try:
        n = int(text)
    except ValueError:
        raise PointsFileError(f"line {line}: {column} {text!r} is not a whole number") from None
    if not 0 <= n <= 12:
        raise PointsFileError(f"line {line}: {column} {n} is not between 0 and 12")
    return n


def read_points(lines: Iterable[str]) -> list[PointsRow]:
    reader = csv.DictReader(lines)
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        raise PointsFileError(f"missing columns: {', '.join(missing)}")
    rows = []
    for rec in reader:
        line = reader.line_num
        source = (rec["from_country"] or "").strip()
        target = (rec["to_country"] or "").strip()
        if not source or not target:
            raise PointsFileError(f"line {line}: from_country and to_country are required")
        rows.append(
            PointsRow(
                (rec["year"] or "").strip(),
                (rec["round"] or "").strip(),
                source,
                target,
                _points(rec["jury_points"], line, "jury_points"),
                _points(rec["televoting_points"], line, "televoting_points"),
            )
        )
    return rows


def contest_inputs(rows: Iterable[PointsRow], year: str, round_: str) -> Inputs:
    """One contest's inputs: experts are the juries (sheet = jury points), audience = televote."""
    marks: dict[str, dict[str, Fraction]] = {}
    tele: dict[str, int] = {}
    entries: set[str] = set()
    for r in rows:
        if r.year != year or r.round != round_:
            continue
        entries.add(r.target)
        tele[r.target] = tele.get(r.target, 0) + (r.tele or 0)
        if r.jury is not None:
            marks.setdefault(r.target, {})[r.source] = Fraction(r.jury)
    if not entries:
        raise PointsFileError(f"no rows for year {year!r} round {round_!r}")
    order = tuple(sorted(entries))
    return Inputs(order=order, votes=tele, marks=marks, max_total=Fraction(12))


def unit_sets(
    rows: Iterable[PointsRow], year: str, round_: str
) -> dict[tuple[str, str], list[int]]:
    """(voting unit, ``jury``/``tele``) -> the non-zero points it gave, for set checks."""
    sets: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        if r.year != year or r.round != round_:
            continue
        for side, value in (("jury", r.jury), ("tele", r.tele)):
            if value is not None:
                sets.setdefault((r.source, side), [])
                if value:
                    sets[(r.source, side)].append(value)
    return sets


def is_points_set(points: list[int]) -> bool:
    """Whether ``points`` is exactly one 12, 10, 8, 7, … 1 set."""
    return sorted(points, reverse=True) == list(EUROVISION_POINTS)


def jury_points(
    ranks: Mapping[str, Mapping[str, int]],
    decay: Fraction = Fraction(19, 100),
    running_order: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """A jury's points from its jurors' rankings (juror -> entry -> rank, 1 = best).

    From 2018 the jury ranking orders entries by ``Σ 12·e^(−0.19·(rank−1))`` over jurors
    (a missing juror simply adds nothing); the top ten get 12, 10, 8, 7, … 1. Exact: see
    :class:`~live.domain.reconcile.sides.ExpPoly`. Two entries tie exactly only when their jurors'
    ranks are the same multiset; the published sets then favour the entry that performed
    earlier, so ``running_order`` (entry -> position) breaks such ties. Without it a tie
    shares the better place.
    """
    scores = exp_panel(ranks, decay)
    # exp_panel averages over the jurors who ranked each entry; a jury's jurors rank every
    # entry, so this orders as the sum does.
    places = competition_places(scores)
    if running_order:
        ordered = sorted(scores, key=lambda e: (places[e], running_order.get(e, 10**6), e))
        places = {entry: i + 1 for i, entry in enumerate(ordered)}
    return {entry: points_for(place, EUROVISION_POINTS) for entry, place in places.items()}
