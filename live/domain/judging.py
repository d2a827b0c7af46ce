"""Judges' sheets as data: marks checked against a category's criteria. Pure.

A sheet moves ``empty -> draft -> submitted -> locked``; ``recused`` takes the judge out of one
contestant. Drafts may be partial and do not count; submitted and locked sheets count. A locked
sheet changes only through an admin correction, which carries who, when and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from live.domain.errors import SheetInvalid
from live.domain.reconcile import Inputs
from live.domain.show import Category, Criterion, Show
from live.domain.state import JudgingRead

STATES = ("empty", "draft", "submitted", "locked", "recused")
COUNTED = ("submitted", "locked")
OPS = ("save", "submit", "lock", "recuse", "unrecuse")


def _number(field: str, value: Any) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SheetInvalid(field, "a number is required")
    text = repr(value) if isinstance(value, float) else str(value)
    if len(text) > 12:
        raise SheetInvalid(field, "too many digits")
    try:
        return Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise SheetInvalid(field, f"{text!r} is not a number") from None


def check_marks(
    criteria: tuple[Criterion, ...], marks: Mapping[str, Any], complete: bool
) -> dict[str, str]:
    """The marks as exact decimal text, or :class:`SheetInvalid` naming the first bad field.

    ``complete``: every criterion must have a mark (submit, lock, correction); a draft may be
    partial.
    """
    known = {c.id: c for c in criteria}
    for name in marks:
        if name not in known:
            raise SheetInvalid(f"marks.{name}", "no such criterion on this sheet")
    out: dict[str, str] = {}
    for c in criteria:
        field = f"marks.{c.id}"
        if c.id not in marks or marks[c.id] is None:
            if complete:
                raise SheetInvalid(field, "missing: every criterion needs a mark")
            continue
        value = _number(field, marks[c.id])
        if value < c.min:
            raise SheetInvalid(field, f"{_text(value)} is below the minimum {c.min}")
        if value > c.max:
            raise SheetInvalid(field, f"{_text(value)} is above the maximum {c.max}")
        step = Fraction(c.step)
        if (value - c.min) % step:
            raise SheetInvalid(field, f"{_text(value)} is not on a step of {c.step} from {c.min}")
        out[c.id] = _text(value)
    return out


def _text(value: Fraction) -> str:
    """A mark as short exact text: ``7``, ``7.5`` (marks are on decimal steps)."""
    if value.denominator == 1:
        return str(value.numerator)
    whole, rest = divmod(value.numerator, value.denominator)
    digits = ""
    for _ in range(6):
        rest *= 10
        d, rest = divmod(rest, value.denominator)
        digits += str(d)
        if not rest:
            break
    return f"{whole}.{digits}" if not rest else str(value)


def sheet_total(marks: Mapping[str, str]) -> Fraction:
    return sum((Fraction(v) for v in marks.values()), Fraction(0))


def max_total(criteria: tuple[Criterion, ...]) -> Fraction:
    return Fraction(sum(c.max for c in criteria))


def inputs_from(
    show: Show, category: Category, read: JudgingRead, judges: tuple[str, ...]
) -> Inputs:
    """The reconciler's inputs from one consistent read. Pure.

    Counted: submitted and locked sheets. A recused judge's sheet and approval are left out
    of that contestant only.
    """
    order = show.eligible(category)
    marks: dict[str, dict[str, Fraction]] = {}
    recused: dict[str, set[str]] = {}
    for key, record in read.sheets.items():
        judge, _, contestant = key.partition("|")
        if record.get("state") == "recused":
            recused.setdefault(contestant, set()).add(judge)
        elif record.get("state") in COUNTED:
            marks.setdefault(contestant, {})[judge] = sheet_total(record["marks"])
    approvals: dict[str, dict[str, bool]] = {}
    for key, value in read.approvals.items():
        judge, _, contestant = key.partition("|")
        if judge not in recused.get(contestant, set()):
            approvals.setdefault(contestant, {})[judge] = value == "1"
    criteria = show.criteria_of(category)
    return Inputs(
        order=order,
        votes=audience_votes(category, read, order),
        marks=marks,
        max_total=max_total(criteria) if criteria else Fraction(100),
        judges=judges,
        approvals=approvals,
        recused={c: frozenset(j) for c, j in recused.items()},
        position=read.position,
    )


def audience_votes(category: Category, read: JudgingRead, order: tuple[str, ...]) -> dict[str, int]:
    """Each contestant's audience votes: the weighted sum of the sources the category's rules
    name (``audience.sources``; default the web's votes alone)."""
    weights = category.rules.audience.weights
    out = {c: weights.get("web", 0) * read.tallies.get(c, 0) for c in order}
    for platform, votes in read.sources.items():
        weight = weights.get(platform, 0)
        if weight:
            for c in order:
                out[c] += weight * votes.get(c, 0)
    return out
