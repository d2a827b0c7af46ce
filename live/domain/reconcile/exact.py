"""Exact numbers for the reconciler: rationals, and ``a + b·√d`` where a z-score needs a root.

No float is ever used in a comparison or a sum. Every value is a :class:`Quad`
``a + b·√d`` with rational ``a``, ``b`` and ``d ≥ 0``; all values that meet in one sum share
the same ``d`` (one category's audience variance), so sums stay in this form and comparisons
are exact (square both sides, never approximate). Rounding happens only in :func:`display`,
by one stated rule: half away from zero, to two decimals.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from functools import total_ordering

ZERO = Fraction(0)


@total_ordering
class Quad:
    """``a + b·√d``, exact. ``d`` is kept only while ``b`` is non-zero."""

    __slots__ = ("a", "b", "d")

    def __init__(self, a: Fraction | int, b: Fraction | int = 0, d: Fraction | int = 0) -> None:
        a, b, d = Fraction(a), Fraction(b), Fraction(d)
        if d < 0:
            raise ValueError("a square root of a negative number")
        root = _rational_sqrt(d)
        if root is not None:  # √d is rational: fold it in, so equal values look equal
            a, b, d = a + b * root, ZERO, ZERO
        if b == 0:
            d = ZERO
        self.a, self.b, self.d = a, b, d

    @classmethod
    def of(cls, value: Quad | Fraction | int) -> Quad:
        return value if isinstance(value, Quad) else cls(value)

    def _radicand(self, other: Quad) -> Fraction:
        if self.b and other.b and self.d != other.d:
            raise ValueError("values under different square roots cannot be combined")
        return self.d if self.b else other.d

    def __add__(self, other: Quad | Fraction | int) -> Quad:
        o = Quad.of(other)
        return Quad(self.a + o.a, self.b + o.b, self._radicand(o))

    __radd__ = __add__

    def __neg__(self) -> Quad:
        return Quad(-self.a, -self.b, self.d)

    def __sub__(self, other: Quad | Fraction | int) -> Quad:
        return self + -Quad.of(other)

    def scale(self, k: Fraction | int) -> Quad:
        """Multiply by a rational."""
        return Quad(self.a * k, self.b * k, self.d)

    def sign(self) -> int:
        """-1, 0 or 1, exactly: ``a + b√d`` against 0 by comparing ``a²`` with ``b²d``."""
        sa = (self.a > 0) - (self.a < 0)
        sb = (self.b > 0) - (self.b < 0)
        if sb == 0 or sa == sb:
            return sa if sa else sb
        if sa == 0:
            return sb
        big_a = self.a * self.a > self.b * self.b * self.d
        return sa if big_a else sb

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quad | Fraction | int):
            return NotImplemented
        return (self - other).sign() == 0

    def __lt__(self, other: Quad | Fraction | int) -> bool:
        return (self - other).sign() < 0

    def __hash__(self) -> int:
        return hash((self.a, self.b, self.d))

    def is_rational(self) -> bool:
        return self.b == 0

    def decimal(self, places: int = 30) -> Decimal:
        """An approximation for display only, good to ``places`` digits."""
        with localcontext() as ctx:
            ctx.prec = places + 20
            value = _dec(self.a) + _dec(self.b) * _dec(self.d).sqrt()
            return value

    def exact(self) -> str:
        """The exact value as text: ``p/q`` or ``p/q + r/s*sqrt(t/u)``."""
        if self.b == 0:
            return str(self.a)
        return f"{self.a} + {self.b}*sqrt({self.d})"

    def __repr__(self) -> str:
        return f"Quad({self.exact()})"


def _dec(x: Fraction) -> Decimal:
    return Decimal(x.numerator) / Decimal(x.denominator)


def _rational_sqrt(x: Fraction) -> Fraction | None:
    from math import isqrt

    if x < 0:
        return None
    n, d = x.numerator, x.denominator
    rn, rd = isqrt(n), isqrt(d)
    if rn * rn == n and rd * rd == d:
        return Fraction(rn, rd)
    return None


def display(value: Quad | Fraction | int | None, places: int = 2) -> str:
    """Round for display only: half away from zero, ``places`` decimals. ``None`` is ``""``."""
    if value is None:
        return ""
    q = Quad.of(value)
    exp = Decimal(1).scaleb(-places)
    with localcontext() as ctx:
        ctx.prec = 60
        if q.is_rational():
            d = _dec(q.a)
        else:
            d = q.decimal(40)
        return str(d.quantize(exp, rounding=ROUND_HALF_UP))
