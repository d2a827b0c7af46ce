"""The reconciler: (rule set, expert sheets, audience votes after voids) -> an explained ranking.

Pure and exact. :func:`reconcile` never looks at input order (contestants that stay tied after
the whole tie-break chain share a place and are listed by id), never draws lots, and records in
every row why it sits where it does.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import cmp_to_key
from typing import Any

from live.domain.reconcile.exact import Quad, display
from live.domain.reconcile.rules import RuleSet, Stage, rules_hash
from live.domain.reconcile.sides import Side, audience_side, expert_side, spread


@dataclass(frozen=True)
class Inputs:
    """Everything a result depends on, already read from the ledger and the judges' sheets."""

    order: tuple[str, ...]
    """The field, in running order."""
    votes: Mapping[str, int]
    """contestant -> votes left after voids (absent means 0)."""
    marks: Mapping[str, Mapping[str, Fraction]] = field(default_factory=dict)
    """contestant -> judge -> sheet total; recused judges are absent."""
    max_total: Fraction = Fraction(100)
    judges: tuple[str, ...] = ()
    """The seated panel (the ``seated`` denominator of an approval gate)."""
    approvals: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)
    """contestant -> judge -> approve (True) or reject (False)."""
    recused: Mapping[str, frozenset[str]] = field(default_factory=dict)
    position: str | None = None
    """The ledger position the votes were read at."""


@dataclass(frozen=True)
class Row:
    place: int
    contestant: str
    expert: Quad | None
    audience: Quad | None
    total: Quad | None
    decided_by: str
    """What separates this row from the one above: ``total``, a tie-break key, a stage, or
    ``tie`` (declared: shared place)."""
    reached: int = 0
    award: str | None = None
    breakdown: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    rows: tuple[Row, ...]
    rules_hash: str
    position: str | None
    scale: int
    """Display multiplier: 100 for ``weighted`` (0..100), 1 for ``points_sum``."""
    effective_weights: dict[str, str] | None

    def number(self, value: Quad | None) -> str:
        if value is None:
            return ""
        if self.scale == 1 and value.is_rational() and value.a.denominator == 1:
            return str(value.a.numerator)
        return display(value.scale(self.scale), 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "rules_hash": self.rules_hash,
            "position": self.position,
            "rounding": "display only: half away from zero, 2 decimals",
            "effective_weights": self.effective_weights,
            "rows": [
                {
                    "place": r.place,
                    "contestant": r.contestant,
                    "expert": self.number(r.expert),
                    "audience": self.number(r.audience),
                    "total": self.number(r.total),
                    "award": r.award,
                    "reached": r.reached,
                    "decided_by": r.decided_by,
                    "exact": {
                        "expert": r.expert.exact() if r.expert is not None else None,
                        "audience": r.audience.exact() if r.audience is not None else None,
                        "total": r.total.exact() if r.total is not None else None,
                    },
                    "breakdown": r.breakdown,
                }
                for r in self.rows
            ],
        }

    def to_csv(self, names: Mapping[str, str] | None = None) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["place", "entry", "expert", "audience", "total"])
        for r in self.rows:
            entry = names.get(r.contestant, r.contestant) if names else r.contestant
            w.writerow(
                [
                    r.place,
                    entry,
                    self.number(r.expert),
                    self.number(r.audience),
                    self.number(r.total),
                ]
            )
        return buf.getvalue()


@dataclass
class _Entry:
    id: str
    index: int
    expert: Side | None
    audience: Side | None
    total: Quad | None
    countback: tuple[Fraction, ...]
    reached: int = 0
    breakdown: dict[str, Any] = field(default_factory=dict)


def _cmp_opt(a: Quad | None, b: Quad | None) -> int:
    """Better first: larger value; a missing value ranks after any value."""
    if a is None or b is None:
        return (a is None) - (b is None)
    return (b - a).sign()


def _key(name: str) -> Callable[[_Entry, _Entry], int]:
    if name == "total":
        return lambda x, y: _cmp_opt(x.total, y.total)
    if name == "audience":
        return lambda x, y: _cmp_opt(
            x.audience.norm if x.audience else None, y.audience.norm if y.audience else None
        )
    if name == "expert":
        return lambda x, y: _cmp_opt(
            x.expert.norm if x.expert else None, y.expert.norm if y.expert else None
        )
    if name == "countback":

        def countback(x: _Entry, y: _Entry) -> int:
            for a, b in zip(x.countback, y.countback, strict=False):
                if a != b:
                    return -1 if a > b else 1
            return len(y.countback) - len(x.countback)

        return countback
    if name == "reached":
        return lambda x, y: y.reached - x.reached
    if name == "running_order":
        return lambda x, y: x.index - y.index
    raise ValueError(f"unknown ranking key {name!r}")


def _chain(names: list[str]) -> Callable[[_Entry, _Entry], tuple[int, str]]:
    keys = [(n, _key(n)) for n in names]

    def compare(x: _Entry, y: _Entry) -> tuple[int, str]:
        for name, key in keys:
            c = key(x, y)
            if c:
                return c, name
        return 0, "tie"

    return compare


def _sorted(
    entries: list[_Entry], chain: Callable[[_Entry, _Entry], tuple[int, str]]
) -> list[_Entry]:
    # by id first, so that entries in a declared tie are listed the same whatever the input order
    by_id = sorted(entries, key=lambda e: e.id)

    def cmp(x: _Entry, y: _Entry) -> int:
        return chain(x, y)[0]

    return sorted(by_id, key=cmp_to_key(cmp))


def _total(rules: RuleSet, e: Side | None, a: Side | None) -> Quad | None:
    if rules.combine.method == "points_sum":
        return (e.raw if e else Quad(0)) + (a.raw if a else Quad(0))
    we, wa = rules.combine.expert_weight, rules.combine.audience_weight
    if we + wa == 0:
        return None
    if (we and e is None) or (wa and a is None):
        return None  # a weighted side with nothing in it: no total, ranked after every total
    value = Quad(0)
    if we and e is not None:
        value = value + e.norm.scale(we)
    if wa and a is not None:
        value = value + a.norm.scale(wa)
    return value.scale(Fraction(1, we + wa))


def _gate(stage: Stage, entry: _Entry, inputs: Inputs) -> bool:
    said = inputs.approvals.get(entry.id, {})
    yes = sum(1 for v in said.values() if v)
    recused = inputs.recused.get(entry.id, frozenset())
    if stage.denominator == "seated":
        denom = len(inputs.judges)
    elif stage.denominator == "present":
        denom = len([j for j in inputs.judges if j not in recused])
    else:
        denom = len(said)
    need = Fraction(stage.fraction)
    passed = denom > 0 and (
        Fraction(yes, denom) >= need if stage.inclusive else Fraction(yes, denom) > need
    )
    entry.breakdown.setdefault("gates", []).append(
        {
            "approve": yes,
            "denominator": denom,
            "of": stage.denominator,
            "needs": ("≥ " if stage.inclusive else "> ") + stage.fraction,
            "passed": passed,
        }
    )
    return passed


def _top(stage: Stage, alive: list[_Entry], rules: RuleSet) -> list[_Entry]:
    chain = _chain([stage.by, *rules.tiebreak] if stage.ties == "tiebreak" else [stage.by])
    ordered = _sorted(alive, chain)
    if len(ordered) <= stage.n:
        return ordered
    last = ordered[stage.n - 1]
    return [e for i, e in enumerate(ordered) if i < stage.n or chain(e, last)[0] == 0]


def reconcile(rules: RuleSet, inputs: Inputs) -> Result:
    """Rank ``inputs.order`` under ``rules``, explaining every number."""
    recused = inputs.recused
    marks = {
        c: {j: m for j, m in inputs.marks.get(c, {}).items() if j not in recused.get(c, ())}
        for c in inputs.order
    }
    experts = expert_side(rules.expert, marks, inputs.max_total)
    votes = {c: int(inputs.votes.get(c, 0)) for c in inputs.order}
    audience = audience_side(rules.audience, votes)
    entries: list[_Entry] = []
    for i, cid in enumerate(inputs.order):
        side_e, side_a = experts.get(cid), audience.get(cid)
        back = tuple(sorted(marks[cid].values(), reverse=True))
        entry = _Entry(cid, i, side_e, side_a, _total(rules, side_e, side_a), back)
        entry.breakdown = {
            "expert": side_e.detail if side_e else {"method": rules.expert.method, "sheets": {}},
            "audience": side_a.detail if side_a else {},
            "recused": sorted(recused.get(cid, ())),
        }
        entries.append(entry)

    alive = list(entries)
    for n, stage in enumerate(rules.stages, start=1):
        if stage.kind == "gate":
            alive = [e for e in alive if _gate(stage, e, inputs)]
        else:
            alive = _top(stage, alive, rules)
        for e in alive:
            e.reached = n
    chain = _chain(["reached", "total", *rules.tiebreak])
    ordered = _sorted(entries, chain)

    last_gate = max((n for n, s in enumerate(rules.stages, 1) if s.kind == "gate"), default=0)
    awards = [a.name for a in rules.awards for _ in range(a.count)]
    points = rules.combine.method == "points_sum"

    def shown(side: Side | None) -> Quad | None:
        # points are shown as they are (a missing side gave none); weighted sides on 0..1
        if points:
            return side.raw if side else Quad(0)
        return side.norm if side else None

    rows: list[Row] = []
    for i, e in enumerate(ordered):
        if i == 0:
            place, why = 1, "total"
        else:
            cmp, why = chain(ordered[i - 1], e)
            place = rows[-1].place if cmp == 0 else i + 1
        why = f"stage {e.reached + 1}" if why == "reached" else why
        award = None
        if e.reached >= last_gate and place - 1 < len(awards):
            award = awards[place - 1]  # a tie across an award line takes the better award
        rows.append(
            Row(
                place,
                e.id,
                shown(e.expert),
                shown(e.audience),
                e.total,
                why,
                e.reached,
                award,
                e.breakdown,
            )
        )
    return Result(
        tuple(rows),
        rules_hash(rules),
        inputs.position,
        1 if points else 100,
        _effective(rules, entries),
    )


def _effective(rules: RuleSet, entries: list[_Entry]) -> dict[str, str] | None:
    """Each side's real share of the spread of totals: ``w·sd(side) / Σ w·sd``.

    A nominal 60/40 is not the real weight when one side's values are spread much wider than
    the other's. Display only (a square root), four decimals.
    """
    if rules.combine.method != "weighted":
        return None
    both = [e for e in entries if e.expert and e.audience]
    sd_e = spread([e.expert.norm for e in both if e.expert])
    sd_a = spread([e.audience.norm for e in both if e.audience])
    we = Decimal(rules.combine.expert_weight) * sd_e
    wa = Decimal(rules.combine.audience_weight) * sd_a
    if we + wa == 0:
        return {"expert": "", "audience": ""}
    q = Decimal("0.0001")
    return {
        "expert": str((we / (we + wa)).quantize(q)),
        "audience": str((wa / (we + wa)).quantize(q)),
    }
