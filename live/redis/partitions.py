"""A partitioned show's partitions 1..N-1: the copy of its categories' voting state.

``vote.lua`` decides a vote with the state of its category in the vote's own partition (one
slot per call), so every change to a category in partition 0 is copied to the others
(``mirror.lua``) by the store method that made it, and the stage clock heals the copies every
tick.
"""

from __future__ import annotations

import asyncio

from live.domain.show import Show
from live.redis.base import Read, RedisBase


class Partitions(RedisBase):
    """Copy the categories' state from partition 0 to the others."""

    async def mirror(self, show: Show, seeding: bool = False) -> int:
        """Copy the categories' voting state from partition 0 to the show's other partitions
        (``mirror.lua``); how many category copies changed. Called after every change to a
        category's state and by the stage clock every tick (which heals a copy a crash left
        behind). Between a close in partition 0 and its copy, a partition may accept a vote
        for a few ms; deadlines (``until``) need no copy to hold: every partition refuses by
        its own Redis clock. ``seeding``: compare even if partition 0's version was copied
        already (a restart may add categories without bumping it)."""
        if show.partitions == 1:
            return 0
        k = self.keys(show.id)
        reads: list[Read] = [("GET", k.version)]
        reads += [("HGETALL", k.category(cat.id)) for cat in show.categories]
        raw = await self.read_at_once(show.id, reads)
        args: list[str | int] = [int(raw[0] or 0), "1" if seeding else ""]
        for cat, flat in zip(show.categories, raw[1:], strict=True):
            args += [cat.id, len(flat) // 2, *flat]

        async def copy(part: int) -> int:
            kp = self.keys(show.id, part)
            keys = [kp.ledger, kp.heads, kp.mirrored]
            keys += [kp.category(cat.id) for cat in show.categories]
            return max(0, int(await self.call(self.script("mirror.lua")(keys=keys, args=args))))

        done = await asyncio.gather(*(copy(p) for p in range(1, show.partitions)))
        return sum(done)
