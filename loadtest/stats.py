"""What a run measured: latencies, staleness, outcomes, errors, per second. Pure.

Samples are kept whole (arrays of doubles: 8 bytes each) rather than in a sketch, so the
percentiles are exact; a bounded run of minutes holds a few million samples at most.
"""

from __future__ import annotations

import math
import secrets
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def percentiles(samples: array[float] | list[float], qs: tuple[float, ...]) -> list[float]:
    """Nearest-rank percentiles (``qs`` in 0..100); NaN for no samples."""
    if not samples:
        return [math.nan for _ in qs]
    ordered = sorted(samples)
    n = len(ordered)
    return [ordered[min(n - 1, max(0, math.ceil(q / 100 * n) - 1))] for q in qs]


def summary(samples: array[float] | list[float]) -> dict[str, float | int]:
    p50, p95, p99 = percentiles(samples, (50, 95, 99))
    return {
        "n": len(samples),
        "p50": _r(p50),
        "p95": _r(p95),
        "p99": _r(p99),
        "max": _r(max(samples)) if samples else math.nan,
    }


def _r(x: float) -> float:
    return x if math.isnan(x) else round(x, 2)


@dataclass
class Second:
    """One second of the run (counted from the start)."""

    votes: int = 0
    taps: int = 0
    snapshots: int = 0
    errors: int = 0
    latency: list[float] = field(default_factory=list)
    staleness: list[float] = field(default_factory=list)


@dataclass
class Accepted:
    """Votes the generator was told were accepted, and those whose answer never came."""

    accepted: dict[str, tuple[str, str]] = field(default_factory=dict)
    """vote_id -> (category, contestant)"""
    unknown: dict[str, tuple[str, str]] = field(default_factory=dict)
    """vote_id -> target, for votes whose every attempt timed out or lost its connection."""
    prefix: str = field(default_factory=lambda: "lt" + secrets.token_hex(4))
    """Every vote_id of this run starts with it, so a recount can tell this run's votes from
    those of earlier runs on the same server."""


class Stats:
    """The recorder every simulated phone writes to (one event loop: no locks)."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.latency: array[float] = array("d")
        """ms from sending a vote to its answer, for every answered attempt."""
        self.staleness: array[float] = array("d")
        """ms from the server's ``server_time`` on a snapshot to its receipt."""
        self.outcomes: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.seconds: dict[int, Second] = {}
        self.votes = Accepted()
        self.taps_sent = 0
        self.taps_acked = 0
        self.snapshots = 0
        self.retries = 0
        self.connected: Counter[str] = Counter()
        self.measure_from = 0.0
        """Samples before this (monotonic) time are the ramp: kept per second, not in totals."""

    def merge(self, other: Stats) -> None:
        """Add another process's stats of the same run (same ramp and duration) to these."""
        self.latency.extend(other.latency)
        self.staleness.extend(other.staleness)
        self.outcomes.update(other.outcomes)
        self.errors.update(other.errors)
        self.votes.accepted.update(other.votes.accepted)
        self.votes.unknown.update(other.votes.unknown)
        self.taps_sent += other.taps_sent
        self.taps_acked += other.taps_acked
        self.snapshots += other.snapshots
        self.retries += other.retries
        for k, theirs in other.seconds.items():
            mine = self.seconds.setdefault(k, Second())
            mine.votes += theirs.votes
            mine.taps += theirs.taps
            mine.snapshots += theirs.snapshots
            mine.errors += theirs.errors
            mine.latency += theirs.latency
            mine.staleness += theirs.staleness

    def second(self, now: float | None = None) -> Second:
        k = int((now if now is not None else time.monotonic()) - self.t0)
        s = self.seconds.get(k)
        if s is None:
            s = self.seconds[k] = Second()
        return s

    def measuring(self, now: float) -> bool:
        return now >= self.measure_from

    def vote_answer(self, ms: float, outcome: str, now: float) -> None:
        sec = self.second(now)
        sec.latency.append(ms)
        if outcome == "accepted":
            sec.votes += 1
        if self.measuring(now):
            self.latency.append(ms)
            self.outcomes[outcome] += 1

    def snapshot(self, stale_ms: float, now: float) -> None:
        sec = self.second(now)
        sec.snapshots += 1
        sec.staleness.append(stale_ms)
        self.snapshots += 1
        if self.measuring(now):
            self.staleness.append(stale_ms)

    def taps(self, n: int, now: float) -> None:
        self.second(now).taps += n
        self.taps_sent += n

    def error(self, kind: str, now: float | None = None) -> None:
        self.errors[kind] += 1
        self.second(now).errors += 1

    def timeline(self) -> list[dict[str, Any]]:
        out = []
        for k in sorted(self.seconds):
            s = self.seconds[k]
            lat = percentiles(s.latency, (50, 99))
            stale = percentiles(s.staleness, (99,))
            out.append(
                {
                    "t": k,
                    "votes": s.votes,
                    "taps": s.taps,
                    "snapshots": s.snapshots,
                    "errors": s.errors,
                    "latency_p50_ms": _r(lat[0]),
                    "latency_p99_ms": _r(lat[1]),
                    "staleness_p99_ms": _r(stale[0]),
                }
            )
        return out
