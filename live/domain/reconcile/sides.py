"""The two sides of a result: expert marks and audience votes, each aggregated by its rule. Pure.

Every value is exact (:class:`~live.domain.reconcile.exact.Quad`). Each side yields, per contestant,
``raw`` (the method's own number: a mean mark, points, a share, a z-score) and ``norm`` (raw put
on 0..1 for a weighted sum; a z-score stays on its own scale), plus a breakdown explaining it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from live.domain.reconcile.exact import Quad, display
from live.domain.reconcile.rules import AudienceRule, ExpertRule


@dataclass(frozen=True, slots=True)
class Side:
    raw: Quad
    norm: Quad
    detail: dict[str, Any] = field(default_factory=dict)


def competition_places(values: Mapping[str, Any]) -> dict[str, int]:
    """Places by value, best (largest) first; equal values share the better place (1, 2, 2, 4)."""
    ordered = sorted(values, key=lambda k: values[k], reverse=True)
    places: dict[str, int] = {}
    for i, entry in enumerate(ordered):
        if i and values[entry] == values[ordered[i - 1]]:
            places[entry] = places[ordered[i - 1]]
        else:
            places[entry] = i + 1
    return places


def points_for(place: int, points: tuple[int, ...]) -> int:
    return points[place - 1] if place <= len(points) else 0


class ExpPoly:
    """``Σ c_k · x^k`` with ``x = e^(−decay)``, rational ``c_k``; compared exactly.

    ``e^(−decay)`` is transcendental for a rational ``decay ≠ 0`` (Lindemann–Weierstrass), so
    two sums are equal exactly when their coefficients are; otherwise the sign of the difference
    is read from a decimal evaluation whose precision grows until it is unambiguous.
    """

    __slots__ = ("coef", "decay")

    def __init__(self, coef: Mapping[int, Fraction], decay: Fraction) -> None:
        self.coef = {k: v for k, v in coef.items() if v}
        self.decay = decay

    def _diff_sign(self, other: ExpPoly) -> int:
        keys = set(self.coef) | set(other.coef)
        diff = {k: self.coef.get(k, Fraction(0)) - other.coef.get(k, Fraction(0)) for k in keys}
        diff = {k: v for k, v in diff.items() if v}
        if not diff:
            return 0
        if self.decay == 0:
            total = sum(diff.values(), Fraction(0))
            return (total > 0) - (total < 0)
        prec = 50
        while True:
            with localcontext() as ctx:
                ctx.prec = prec
                x = (-Decimal(self.decay.numerator) / Decimal(self.decay.denominator)).exp()
                value = sum((_d(v) * x**k for k, v in diff.items()), Decimal(0))
                if abs(value) > Decimal(10) ** (-(prec - 15)):
                    return 1 if value > 0 else -1
            prec *= 4  # so close that more digits are needed; it is never exactly 0 here

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExpPoly) and self._diff_sign(other) == 0

    def __lt__(self, other: ExpPoly) -> bool:
        return self._diff_sign(other) < 0

    def __gt__(self, other: ExpPoly) -> bool:
        return self._diff_sign(other) > 0

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.coef.items())))

    def approx(self) -> str:
        with localcontext() as ctx:
            ctx.prec = 30
            x = (-Decimal(self.decay.numerator) / Decimal(self.decay.denominator)).exp()
            v = sum((_d(c) * x**k for k, c in self.coef.items()), Decimal(0))
            return str((12 * v).quantize(Decimal("0.0001")))


def _d(x: Fraction) -> Decimal:
    return Decimal(x.numerator) / Decimal(x.denominator)


def exp_panel(ranks: Mapping[str, Mapping[str, int]], decay: Fraction) -> dict[str, ExpPoly]:
    """Per contestant: the mean over the judges who ranked it of ``e^(−decay·(rank−1))``.

    ``ranks`` is judge -> contestant -> rank (1 = best). Eurovision juries (2018 on) rank by
    the sum of ``12·e^(−0.19·(rank−1))``; with every juror ranking every entry, mean and sum
    order the same way, and the mean keeps a recusal neutral.
    """
    sums: dict[str, dict[int, Fraction]] = {}
    counts: dict[str, int] = {}
    for by_judge in ranks.values():
        for contestant, rank in by_judge.items():
            poly = sums.setdefault(contestant, {})
            poly[rank - 1] = poly.get(rank - 1, Fraction(0)) + 1
            counts[contestant] = counts.get(contestant, 0) + 1
    return {
        c: ExpPoly({k: v / counts[c] for k, v in poly.items()}, decay) for c, poly in sums.items()
    }


def _median(values: list[Fraction]) -> Fraction:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def _judge_ranks(marks: Mapping[str, Mapping[str, Fraction]]) -> dict[str, dict[str, int]]:
    by_judge: dict[str, dict[str, Fraction]] = {}
    for contestant, sheets in marks.items():
        for judge, total in sheets.items():
            by_judge.setdefault(judge, {})[contestant] = total
    return {judge: competition_places(totals) for judge, totals in by_judge.items()}


def expert_side(
    rule: ExpertRule, marks: Mapping[str, Mapping[str, Fraction]], max_total: Fraction
) -> dict[str, Side]:
    """The expert side of every contestant that has at least one sheet.

    ``marks`` is contestant -> judge -> sheet total, recused judges already left out.
    """
    out: dict[str, Side] = {}
    detail: dict[str, Any]
    present = {c: dict(s) for c, s in marks.items() if s}
    if rule.method in ("rank_points", "exp_rank"):
        ranks = _judge_ranks(present)
        top = Fraction(rule.points[0])
        if rule.method == "rank_points":
            for c, sheets in present.items():
                got = {j: points_for(ranks[j][c], rule.points) for j in sheets}
                raw = Fraction(sum(got.values()), len(got))
                detail = {
                    "method": "rank_points",
                    "ranks": {j: ranks[j][c] for j in sheets},
                    "points": got,
                    "sheets": _texts(sheets),
                }
                out[c] = Side(Quad(raw), Quad(raw / top), detail)
        else:
            panel = exp_panel(ranks, Fraction(rule.decay))
            places = competition_places(panel)
            for c, sheets in present.items():
                raw = Fraction(points_for(places[c], rule.points))
                detail = {
                    "method": "exp_rank",
                    "ranks": {j: ranks[j][c] for j in sheets},
                    "panel_score": panel[c].approx(),
                    "panel_place": places[c],
                    "sheets": _texts(sheets),
                }
                out[c] = Side(Quad(raw), Quad(raw / top), detail)
        return out
    sums = {c: sum(s.values(), Fraction(0)) for c, s in present.items()}
    biggest = max(sums.values(), default=Fraction(0))
    for c, sheets in present.items():
        values = list(sheets.values())
        dropped: list[str] = []
        if rule.method == "mean":
            raw = sum(values, Fraction(0)) / len(values)
        elif rule.method == "median":
            raw = _median(values)
        elif rule.method == "sum":
            raw = sums[c]
        else:  # trimmed_mean: drop k highest and k lowest by count, ties by judge id
            k = min(rule.trim, (len(values) - 1) // 2)
            ordered = sorted(sheets, key=lambda j: (sheets[j], j))
            dropped = ordered[:k] + ordered[len(ordered) - k :] if k else []
            kept = [sheets[j] for j in ordered[k : len(ordered) - k]]
            raw = sum(kept, Fraction(0)) / len(kept)
        if rule.method == "sum":
            norm = raw / biggest if biggest else Fraction(0)
        else:
            norm = raw / max_total if max_total else Fraction(0)
        detail = {
            "method": rule.method,
            "sheets": _texts(sheets),
            "dropped": dropped,
            "used": len(values) - len(dropped),
            "value": str(raw),
        }
        out[c] = Side(Quad(raw), Quad(norm), detail)
    return out


def audience_side(rule: AudienceRule, votes: Mapping[str, int]) -> dict[str, Side]:
    """The audience side of every contestant in ``votes`` (votes left after voids)."""
    n = len(votes)
    total = sum(votes.values())
    biggest = max(votes.values(), default=0)
    out: dict[str, Side] = {}
    if rule.method == "rank_points":
        places = competition_places(votes)
        for c, v in votes.items():
            raw = Fraction(points_for(places[c], rule.points))
            out[c] = Side(
                Quad(raw),
                Quad(raw / rule.points[0]),
                {"method": "rank_points", "votes": v, "place": places[c]},
            )
        return out
    if rule.method == "zscore":
        mean = Fraction(total, n) if n else Fraction(0)
        var = sum(((v - mean) ** 2 for v in votes.values()), Fraction(0)) / n if n else Fraction(0)
        for c, v in votes.items():
            z = Quad(0, (v - mean) / var, var) if var else Quad(0)
            out[c] = Side(
                z,
                z,
                {
                    "method": "zscore",
                    "votes": v,
                    "mean": str(mean),
                    "variance": str(var),
                    "value": display(z, 4),
                },
            )
        return out
    for c, v in votes.items():
        if rule.method == "share":
            raw = Fraction(v, total) if total else Fraction(0)
            norm = raw
        elif rule.method == "max_scaled":
            raw = Fraction(v, biggest) if biggest else Fraction(0)
            norm = raw
        else:  # raw
            raw = Fraction(v)
            norm = Fraction(v, biggest) if biggest else Fraction(0)
        out[c] = Side(Quad(raw), Quad(norm), {"method": rule.method, "votes": v, "value": str(raw)})
    return out


def _texts(sheets: Mapping[str, Fraction]) -> dict[str, str]:
    return {j: str(v) for j, v in sorted(sheets.items())}


def spread(values: list[Quad]) -> Decimal:
    """Population standard deviation, for the effective-weight report only (display)."""
    if not values:
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 40
        xs = [v.decimal(30) for v in values]
        mean = sum(xs, Decimal(0)) / len(xs)
        var = sum(((x - mean) ** 2 for x in xs), Decimal(0)) / len(xs)
        return var.sqrt()
