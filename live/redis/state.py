"""A show's live state: seeding, versions, the consistent read viewers see, edits, display and
voting changes (each announced to every process)."""

from __future__ import annotations

import json
import time
from typing import Any

from redis.asyncio.client import Pipeline

from live.domain.show import Show
from live.domain.stage import Stage
from live.domain.state import CategoryState, Display, ShowState, parse_edits
from live.redis.base import RedisBase
from live.redis.keys import events_channel


class ShowStates(RedisBase):
    """Read and change what viewers see."""

    async def init_show(self, show: Show) -> None:
        """Seed the live state of a show unless it is already there (a restart keeps it)."""
        k = self.keys(show.id)
        stage = Stage(contestant=show.running_order()[0].id, since=int(time.time() * 1000))
        pipe = self.client.pipeline(transaction=True)
        for name, value in stage.to_redis().items():
            pipe.hsetnx(k.stage, name, value)
        for cat in show.categories:
            pipe.hsetnx(k.category(cat.id), "open", "1" if cat.open else "0")
            pipe.hsetnx(k.category(cat.id), "only", "")
            pipe.hsetnx(k.category(cat.id), "until", "0")
            pipe.hsetnx(k.category(cat.id), "cap", str(cat.votes_per_device))
            pipe.hsetnx(k.category(cat.id), "per", str(cat.per_contestant))
            pipe.hsetnx(k.category(cat.id), "hide", "1" if cat.hide_tallies else "0")
            if cat.open:
                pipe.hsetnx(k.category(cat.id), "started", "1")
        pipe.setnx(k.version, "0")
        await self.call(pipe.execute())

    async def versions(self, shows: list[str]) -> list[int]:
        """The version of each show, in one round trip."""
        raw: list[Any] = await self.call(self.client.mget([self.keys(s).version for s in shows]))
        return [int(v or 0) for v in raw]

    async def read_state(self, show: Show) -> ShowState:
        k = self.keys(show.id)
        pipe = self.client.pipeline(transaction=True)
        pipe.get(k.version)
        pipe.hgetall(k.stage)
        pipe.hgetall(k.likes)
        pipe.hgetall(k.display)
        pipe.hgetall(k.contestants)
        for cat in show.categories:
            pipe.hgetall(k.category(cat.id))
            pipe.zrange(k.tally(cat.id), 0, -1, withscores=True)
        pipe.smembers(k.revealed)
        pipe.hgetall(k.published)
        pipe.hgetall(k.void_counts)
        pipe.hgetall(k.heads)
        pipe.xrevrange(k.ledger, count=1)  # where the ledger stood, in the same MULTI
        raw: list[Any] = await self.call(pipe.execute())
        last = raw.pop()
        categories: dict[str, CategoryState] = {}
        tallies: dict[str, dict[str, int]] = {}
        for i, cat in enumerate(show.categories):
            st = raw[5 + 2 * i]
            categories[cat.id] = CategoryState(
                st.get("open") == "1",
                st.get("only", ""),
                int(st.get("until", 0) or 0),
                st.get("started") == "1",
                int(st.get("cap", cat.votes_per_device)),
                int(st.get("per", cat.per_contestant)),
                st.get("hide", "1" if cat.hide_tallies else "0") == "1",
            )
            tallies[cat.id] = {member: int(score) for member, score in raw[6 + 2 * i]}
        likes = raw[2]
        return ShowState(
            version=int(raw[0] or 0),
            stage=Stage.from_redis(raw[1]),
            categories=categories,
            tallies=tallies,
            taps=int(likes.get("taps", 0)),
            likes=int(likes.get("counted", 0)),
            display=Display.from_redis(raw[3], raw[-4]),
            edits=parse_edits(raw[4]),
            published={cat: int(v) for cat, v in raw[-3].items()},
            voided={cat: int(v) for cat, v in raw[-2].items() if int(v)},
            heads={cat: json.loads(v) for cat, v in raw[-1].items()},
            ledger_last=str(last[0][0]) if last else "0-0",
        )

    async def read_edits(self, show: str) -> dict[str, dict[str, str]]:
        raw: Any = await self.call(self.client.hgetall(self.keys(show).contestants))
        return parse_edits(raw)

    async def edit(
        self,
        show: Show,
        guard: tuple[str, str, str, str],
        target: str,
        fields: dict[str, str],
        what: str,
        actor: str,
    ) -> int:
        """Write ``fields`` into ``target`` if the guard allows it; the new version, or 0.

        ``guard`` is (key, field, forbidden value, required value): the edit is refused when the
        field holds the forbidden value (if given) or differs from the required one (if not).
        """
        k = self.keys(show.id)
        key, name, forbid, require = guard
        args: list[str | int] = [name, forbid, require, events_channel(self.prefix), show.id]
        args += [what, actor, int(time.time() * 1000)]
        for f, v in fields.items():
            args += [f, v]
        return int(
            await self.call(
                self.script("edit.lua")(keys=[key, target, k.version, k.ledger], args=args)
            )
        )

    async def _announced(
        self, show: Show, pipe: Pipeline, entry: dict[str, str], actor: str = "", closes: str = ""
    ) -> int:
        """Finish a MULTI that changed what viewers see: ledger entry, version, pub/sub.

        Returns the new version. Every process pushes the show at once on the announcement.
        """
        k = self.keys(show.id)
        fields = dict(entry)
        if actor:
            fields["by"] = actor
        await self.append(pipe, show.id, fields, closes)
        pipe.incr(k.version)
        pipe.publish(events_channel(self.prefix), show.id)
        raw: list[Any] = await self.call(pipe.execute())
        return int(raw[-2])

    async def set_display(self, show: Show, fields: dict[str, str], actor: str) -> int:
        """Change what is displayed (overlay category, freeze); announce it."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.keys(show.id).display, mapping=dict(fields))  # type: ignore[arg-type]
        entry = {"k": "display", **{f"set_{name}": value for name, value in fields.items()}}
        return await self._announced(show, pipe, entry, actor)

    async def set_revealed(self, show: Show, category: str, shown: bool, actor: str) -> int:
        """Reveal a category's hidden tallies to viewers (or hide them again); announce it."""
        pipe = self.client.pipeline(transaction=True)
        (pipe.sadd if shown else pipe.srem)(self.keys(show.id).revealed, category)
        entry = {"k": "display", "reveal" if shown else "hide": category}
        return await self._announced(show, pipe, entry, actor)

    async def set_voting(self, show: Show, category: str, is_open: bool, only: str = "") -> int:
        """Open or close voting in a category outside the stage's voting window; announce it."""
        state = {"open": "1" if is_open else "0", "only": only, "until": "0"}
        if is_open:
            state["started"] = "1"
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.keys(show.id).category(category), mapping=state)  # type: ignore[arg-type]
        entry = {"k": "voting", "cat": category, "open": state["open"], "only": only}
        closes = "" if is_open else category
        return await self._announced(show, pipe, entry, closes=closes)
