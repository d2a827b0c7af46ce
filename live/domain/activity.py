"""Votes and likes per minute, folded from the ledger, for the admin console's plots. Pure.

Each accepted vote counts in its category's minute (by its ``t``, Redis's clock); each likes
entry adds its ``taps`` to its minute. The series start at the minute voting first opened (a
``voting`` entry opening a category, or else the first accepted vote) and run to ``now``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

MINUTE_MS = 60_000
MAX_MINUTES = 24 * 60
"""The longest series answered (a day): the plots show the last minutes of a long show."""


class Activity:
    def __init__(self) -> None:
        self.votes: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.likes: dict[int, int] = defaultdict(int)
        self.opened: int | None = None
        """The minute voting first opened (or the first accepted vote came)."""

    def _start(self, minute: int) -> None:
        if self.opened is None or minute < self.opened:
            self.opened = minute

    def feed(self, e: Mapping[str, str]) -> None:
        kind = e.get("k")
        try:
            minute = int(e.get("t", "0")) // MINUTE_MS
        except ValueError:
            return
        if kind == "vote" and e.get("st") == "accepted":
            self.votes[e.get("cat", "")][minute] += 1
            self._start(minute)
        elif kind == "likes":
            self.likes[minute] += int(e.get("taps", "0") or 0)
        elif kind == "voting" and e.get("open") not in (None, "", "0"):
            self._start(minute)

    def series(self, categories: list[str], now_ms: int) -> dict[str, Any]:
        """Per minute from voting's first opening to ``now_ms`` (at most :data:`MAX_MINUTES`,
        the latest): ``{"since", "minute_ms", "votes": {category: [n, ...]}, "likes": [...]}``;
        ``since`` is None (and the series empty) before voting ever opened."""
        if self.opened is None:
            return {"since": None, "minute_ms": MINUTE_MS, "votes": {c: [] for c in categories},
                    "likes": []}  # fmt: skip
        last = max(now_ms // MINUTE_MS, self.opened)
        first = max(self.opened, last - MAX_MINUTES + 1)
        minutes = range(first, last + 1)
        return {
            "since": first * MINUTE_MS,
            "minute_ms": MINUTE_MS,
            "votes": {c: [self.votes.get(c, {}).get(m, 0) for m in minutes] for c in categories},
            "likes": [self.likes.get(m, 0) for m in minutes],
        }
