"""Phones that keep voting through faults, as the real ones do, and remember every answer.

Each vote has its own ``vote_id``; a vote whose answer is a 503, a 429, or lost (timeout, reset,
refused connection) is sent again with the *same* ``vote_id`` until it is answered. The figures
say when each answer came and how long a 503 took, so an experiment can check "503 within 2 s"
and "accepted again within 2 s of the fix".
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx


@dataclass
class Answers:
    accepted: dict[str, float] = field(default_factory=dict)
    """vote_id -> when (monotonic) it was answered ``accepted``."""
    refused: dict[str, str] = field(default_factory=dict)
    """vote_id -> status/reason of a final refusal (closed, duplicate)."""
    unavailable: list[tuple[float, float]] = field(default_factory=list)
    """(when sent, seconds to the 503) for every 503."""
    lost_answers: int = 0
    """Requests that got no answer at all (timeout, reset, connection refused)."""
    statuses: Counter[int] = field(default_factory=Counter)
    unresolved: set[str] = field(default_factory=set)
    """Votes still without a final answer when the run stopped."""
    server_errors: list[str] = field(default_factory=list)
    """Any 500-class answer other than 503 (never expected)."""

    def first_accept_after(self, t: float) -> float | None:
        later = [at for at in self.accepted.values() if at >= t]
        return min(later) - t if later else None

    def slowest_503(self) -> float:
        return max((took for _, took in self.unavailable), default=0.0)


async def vote_until_answered(
    http: httpx.AsyncClient,
    path: str,
    body: dict[str, str],
    out: Answers,
    give_up: Callable[[], bool],
) -> None:
    vid = body["vote_id"]
    while True:
        sent = time.monotonic()
        try:
            reply = await http.post(path, json=body)
        except httpx.HTTPError:
            out.lost_answers += 1
            if give_up():
                out.unresolved.add(vid)
                return
            await asyncio.sleep(0.1)
            continue
        took = time.monotonic() - sent
        out.statuses[reply.status_code] += 1
        if reply.status_code in (503, 429):
            if reply.status_code == 503:
                out.unavailable.append((sent, took))
            if give_up():
                out.unresolved.add(vid)
                return
            await asyncio.sleep(0.05 if reply.status_code == 503 else 0.2)
            continue
        if reply.status_code >= 500:
            out.server_errors.append(f"{vid}: {reply.status_code} {reply.text[:200]}")
            return
        answer = reply.json()
        if answer.get("status") == "accepted":
            out.accepted[vid] = time.monotonic()
        else:
            out.refused[vid] = f"{answer.get('status')}/{answer.get('reason') or answer}"
        return


async def voter(
    base_url: Callable[[], str],
    show: str,
    cookie: str,
    category: str,
    contestants: Sequence[str],
    tag: str,
    stop: asyncio.Event,
    out: Answers,
    pause: float = 0.0,
    grace: float = 10.0,
) -> None:
    """Vote until ``stop``; the vote in hand is retried up to ``grace`` seconds past it."""
    stopped_at: list[float] = []

    def give_up() -> bool:
        if stop.is_set() and not stopped_at:
            stopped_at.append(time.monotonic())
        return bool(stopped_at) and time.monotonic() - stopped_at[0] > grace

    ua = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148"}
    for i in itertools.count():
        if stop.is_set():
            return
        body = {"category": category, "contestant": contestants[i % len(contestants)],
                "vote_id": f"{tag}-{i:06d}"}  # fmt: skip
        async with httpx.AsyncClient(
            base_url=base_url(), cookies={"live_device": cookie}, headers=ua, timeout=5
        ) as http:
            await vote_until_answered(http, f"/api/shows/{show}/votes", body, out, give_up)
        if pause:
            await asyncio.sleep(pause)
