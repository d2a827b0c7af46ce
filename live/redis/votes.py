"""Votes and likes: each decided by one atomic Lua call (``vote.lua``, ``likes.lua``).

Votes are micro-batched: the votes a process is asked to cast within one event-loop turn go to
Redis as one ``vote.lua`` call per show (at most :data:`BATCH_MAX`), which decides each on its
own, one after another, exactly as separate calls would; every caller is answered after that
one call (so after its vote is in the ledger). One call instead of many saves, per vote, the
client's command packing and reply parsing, a pool checkout and a round trip, and Redis's
per-command overhead; a lone vote on a quiet show is sent at once, as a batch of one.
"""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Any

from live.domain.ballot import Ballot
from live.domain.show import Show
from live.domain.state import LikeOutcome, VoteOutcome
from live.redis.base import RedisBase

REFUSAL_WINDOW_MS = 10_000
"""A device's refusals get one ledger entry per window of at least this length (its device
rate window when longer); the rest are counted (see ``vote.lua``)."""
BATCH_MAX = 64
"""Votes per ``vote.lua`` call at most (~15 us of Redis time each: a call stays ~1 ms)."""

_dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))

_Queued = tuple[list[str], list[str | int], "asyncio.Future[list[Any]]"]


class Votes(RedisBase):
    """Cast votes and count likes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued: dict[str, list[_Queued]] = {}
        """Per show: a call carries one show's votes only, so its keys share one hash slot
        (``{show}``), as a Redis Cluster requires."""
        self._batches: set[asyncio.Task[None]] = set()

    async def cast_vote(self, ballot: Ballot, now_ms: int, show: Show) -> VoteOutcome:
        k = self.keys(ballot.show)
        cat = ballot.category
        lim = show.limits
        keys = [
            k.category(cat.id),
            k.vote_ids,
            k.used(cat.id),
            k.window_device(ballot.device),
            k.window_ip(ballot.ip),
            k.window_subnet(ballot.subnet),
            k.ledger,
            k.tally(cat.id),
            k.version,
            k.refusals,
        ]
        args: list[str | int] = [
            ballot.vote_id,
            ballot.device,
            ballot.ip,
            ballot.subnet,
            cat.id,
            ballot.contestant,
            now_ms,
            cat.votes_per_device,
            cat.per_contestant,
            lim.device.count,
            lim.device.seconds * 1000,
            lim.ip.count,
            lim.ip.seconds * 1000,
            lim.subnet.count,
            lim.subnet.seconds * 1000,
            ballot.ua,
        ]
        pseudonym = await self.pseudonym(ballot.show)
        args += [pseudonym(ballot.device), pseudonym(ballot.ip), pseudonym(ballot.ua)]
        args.append(max(REFUSAL_WINDOW_MS, lim.device.seconds * 1000))
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[list[Any]] = loop.create_future()
        if not self._queued:  # the first of this turn sends them all, after the turn
            loop.call_soon(self._send_votes)
        self._queued.setdefault(ballot.show, []).append((keys, args, answer))
        raw = await answer
        return VoteOutcome(str(raw[0]), str(raw[1]), int(raw[2]), str(raw[3]), int(raw[4]))

    def _send_votes(self) -> None:
        queued, self._queued = self._queued, {}
        for votes in queued.values():
            for start in range(0, len(votes), BATCH_MAX):
                task = asyncio.ensure_future(self._send_batch(votes[start : start + BATCH_MAX]))
                self._batches.add(task)  # held until done: a task nobody holds may be collected
                task.add_done_callback(self._batches.discard)

    async def _send_batch(self, batch: list[_Queued]) -> None:
        # Each key once (the votes of a batch share most of theirs) and one JSON argument per
        # vote: packing 30 arguments a vote was a sixth of a vote's CPU in the client.
        index: dict[str, int] = {}
        args = []
        for vote_keys, vote_args, _ in batch:
            where = [index.setdefault(key, len(index) + 1) for key in vote_keys]
            args.append(_dumps([where, [str(a) for a in vote_args]]))
        keys = list(index)
        try:
            raw: list[Any] = await self.call(self.script("vote.lua")(keys=keys, args=args))
        except Exception as exc:  # Unavailable: every vote of the batch gets it
            for _, _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            return
        except BaseException:  # cancelled (shutdown): no vote of the batch waits forever
            for _, _, answer in batch:
                answer.cancel()
            raise
        for i, (_, _, answer) in enumerate(batch):
            if not answer.done():  # its caller may have gone (a client that hung up)
                answer.set_result(raw[5 * i : 5 * i + 5])

    async def add_likes(self, show: Show, batch: dict[str, int], now_ms: int) -> LikeOutcome:
        k = self.keys(show.id)
        args: list[str | int] = [show.likes.cap_per_second, now_ms]
        for device, n in batch.items():
            args += [device, n]
        keys = [k.like_budget(now_ms // 1000), k.likes, k.version, k.ledger]
        raw: list[Any] = await self.call(self.script("likes.lua")(keys=keys, args=args))
        return LikeOutcome(int(raw[0]), int(raw[1]), int(raw[2]))
