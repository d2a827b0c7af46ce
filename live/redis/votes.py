"""Votes and likes: each decided by one atomic Lua call (``vote.lua``, ``likes.lua``)."""

from __future__ import annotations

from typing import Any

from live.domain.ballot import Ballot
from live.domain.show import Show
from live.domain.state import LikeOutcome, VoteOutcome
from live.redis.base import RedisBase

REFUSAL_WINDOW_MS = 10_000
"""A device's refusals get one ledger entry per window of at least this length (its device
rate window when longer); the rest are counted (see ``vote.lua``)."""


class Votes(RedisBase):
    """Cast votes and count likes."""

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
        raw: list[Any] = await self.call(self.script("vote.lua")(keys=keys, args=args))
        return VoteOutcome(str(raw[0]), str(raw[1]), int(raw[2]), str(raw[3]), int(raw[4]))

    async def add_likes(self, show: Show, batch: dict[str, int], now_ms: int) -> LikeOutcome:
        k = self.keys(show.id)
        args: list[str | int] = [show.likes.cap_per_second, now_ms]
        for device, n in batch.items():
            args += [device, n]
        keys = [k.like_budget(now_ms // 1000), k.likes, k.version, k.ledger]
        raw: list[Any] = await self.call(self.script("likes.lua")(keys=keys, args=args))
        return LikeOutcome(int(raw[0]), int(raw[1]), int(raw[2]))
