"""A show's live state: seeding, versions, the consistent read viewers see, edits, display and
voting changes (each announced to every process)."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from typing import Any

from live.domain.errors import ConfigError
from live.domain.ledger.chain import join_position
from live.domain.show import Show
from live.domain.stage import Stage
from live.domain.state import CategoryState, Display, ShowState, parse_edits
from live.redis.base import Op, Read, pairs
from live.redis.partitions import Partitions


@dataclass(frozen=True, slots=True)
class PartitionRead:
    """One vote partition (1..N-1) as read at one instant."""

    version: int
    tallies: dict[str, dict[str, int]]
    voided: dict[str, int]
    heads: dict[str, Any]
    position: str


class ShowStates(Partitions):
    """Read and change what viewers see."""

    async def init_show(self, show: Show) -> None:
        """Seed the live state of a show unless it is already there (a restart keeps it)."""
        k = self.keys(show.id)
        now = await self.now_ms(show.id)
        stage = Stage(contestant=show.running_order()[0].id, since=now)
        ops: list[Op] = [("HSETNX", k.stage, f, v) for f, v in stage.to_redis().items()]
        for cat in show.categories:
            key = k.category(cat.id)
            ops += [
                ("HSETNX", key, "open", "1" if cat.open else "0"),
                ("HSETNX", key, "only", ""),
                ("HSETNX", key, "until", "0"),
                ("HSETNX", key, "cap", str(cat.votes_per_device)),
                ("HSETNX", key, "per", str(cat.per_contestant)),
                ("HSETNX", key, "hide", "1" if cat.hide_tallies else "0"),
            ]
            if cat.open:
                ops.append(("HSETNX", key, "started", "1"))
        ops.append(("SETNX", k.version, "0"))
        ops.append(("SETNX", k.partitions, str(show.partitions)))
        await self.change(show.id, ops)
        seeded = int(await self.call(self.client.get(k.partitions)) or 1)
        if seeded != show.partitions:
            raise ConfigError(
                f"show {show.id!r} was started with partitions = {seeded}; its show file now "
                f"says {show.partitions}: a device's votes would move to another partition "
                "(its caps and the recount would break). Keep the number for the whole show."
            )
        self.parts[show.id] = show.partitions
        await self.mirror(show, seeding=True)

    async def versions(self, shows: list[str]) -> list[int]:
        """The version of each show, in one round trip (per node on a cluster: the shows'
        versions live in different slots, so no MGET). A partitioned show's version is the sum
        of its partitions' (each only grows, so the sum does too)."""
        pipe = self.client.pipeline(transaction=False)
        for show in shows:
            for part in self.partitions(show):
                pipe.get(self.keys(show, part).version)
        raw: list[Any] = await self.call(pipe.execute())
        out, i = [], 0
        for show in shows:
            n = len(self.partitions(show))
            out.append(sum(int(v or 0) for v in raw[i : i + n]))
            i += n
        return out

    async def read_state(self, show: Show) -> ShowState:
        """Everything viewers see, from one instant (``snapshot.lua``), with where the ledger
        stood then."""
        k = self.keys(show.id)
        reads: list[Read] = [
            ("GET", k.version),
            ("HGETALL", k.stage),
            ("HGETALL", k.likes),
            ("HGETALL", k.display),
            ("HGETALL", k.contestants),
        ]
        for cat in show.categories:
            reads.append(("HGETALL", k.category(cat.id)))
            reads.append(("ZRANGE", k.tally(cat.id), 0, -1, "WITHSCORES"))
        platforms = sorted({src.platform for src in show.ingest})
        for platform in platforms:
            for cat in show.categories:
                reads.append(("ZRANGE", k.source_tally(platform, cat.id), 0, -1, "WITHSCORES"))
        if platforms:
            reads.append(("HGETALL", k.sources))
        if show.comments.enabled:  # the newest approved comments, the danmaku layer
            reads.append(("ZRANGE", k.comment_feed, -show.comments.shown, -1))
            reads.append(("HGETALL", k.danmaku))
        reads += [
            ("SMEMBERS", k.revealed),
            ("HGETALL", k.published),
            ("HGETALL", k.void_counts),
            ("HGETALL", k.heads),
            ("XREVRANGE", k.ledger, "+", "-", "COUNT", 1),
        ]
        if show.partitions > 1:
            raw, more = await asyncio.gather(
                self.read_at_once(show.id, reads), self._read_partitions(show)
            )
        else:
            raw, more = await self.read_at_once(show.id, reads), []
        last = raw.pop()
        categories: dict[str, CategoryState] = {}
        tallies: dict[str, dict[str, int]] = {}
        for i, cat in enumerate(show.categories):
            st = pairs(raw[5 + 2 * i])
            categories[cat.id] = CategoryState(
                st.get("open") == "1",
                st.get("only", ""),
                int(st.get("until", 0) or 0),
                st.get("started") == "1",
                int(st.get("cap", cat.votes_per_device)),
                int(st.get("per", cat.per_contestant)),
                st.get("hide", "1" if cat.hide_tallies else "0") == "1",
            )
            tallies[cat.id] = {m: int(float(n)) for m, n in pairs(raw[6 + 2 * i]).items()}
        sources: dict[str, dict[str, dict[str, int]]] = {}
        figures: dict[str, str] = {}
        at = 5 + 2 * len(show.categories)
        for platform in platforms:
            for cat in show.categories:
                got = {m: int(float(n)) for m, n in pairs(raw[at]).items()}
                sources.setdefault(platform, {})[cat.id] = got
                at += 1
        if platforms:
            figures = pairs(raw[at])
            at += 1
        comments: tuple[dict[str, Any], ...] = ()
        danmaku: dict[str, str] = {}
        if show.comments.enabled:
            comments = tuple(json.loads(m) for m in raw[at] or ())
            danmaku = pairs(raw[at + 1])
        likes = pairs(raw[2])
        voided = {cat: int(v) for cat, v in pairs(raw[-2]).items()}
        heads = {cat: json.loads(v) for cat, v in pairs(raw[-1]).items()}
        version, positions = int(raw[0] or 0), [str(last[0][0]) if last else "0-0"]
        for part in more:  # partitions 1..N-1: their votes, voids and chains
            version += part.version
            positions.append(part.position)
            for cat_id, tally in part.tallies.items():
                mine = tallies[cat_id]
                for who, n in tally.items():
                    mine[who] = mine.get(who, 0) + n
            for cat_id, n in part.voided.items():
                voided[cat_id] = voided.get(cat_id, 0) + n
        if more:
            for cat in show.categories:
                chain_heads = [heads.get(cat.id)] + [part.heads.get(cat.id) for part in more]
                if any(chain_heads):
                    heads[cat.id] = {**(heads.get(cat.id) or {}), "partitions": chain_heads}
        return ShowState(
            version=version,
            stage=Stage.from_redis(pairs(raw[1])),
            categories=categories,
            tallies=tallies,
            taps=int(likes.get("taps", 0)),
            likes=int(likes.get("counted", 0)),
            display=Display.from_redis(pairs(raw[3]), set(raw[-4])),
            edits=parse_edits(pairs(raw[4])),
            published={cat: int(v) for cat, v in pairs(raw[-3]).items()},
            voided={cat: n for cat, n in voided.items() if n},
            heads=heads,
            sources=sources,
            source_likes={p: int(figures.get(f"{p}:likes", 0)) for p in platforms},
            source_gifts={p: int(figures.get(f"{p}:gifts", 0)) for p in platforms},
            ledger_last=join_position(positions),
            comments=comments,
            danmaku=danmaku,
        )

    async def _read_partitions(self, show: Show) -> list[PartitionRead]:
        """What partitions 1..N-1 add to a read: each partition's from one instant (its
        tallies with its chain's last entry), the partitions concurrently."""

        async def one(part: int) -> PartitionRead:
            k = self.keys(show.id, part)
            reads: list[Read] = [("GET", k.version)]
            reads += [("ZRANGE", k.tally(cat.id), 0, -1, "WITHSCORES") for cat in show.categories]
            reads += [
                ("HGETALL", k.void_counts),
                ("HGETALL", k.heads),
                ("XREVRANGE", k.ledger, "+", "-", "COUNT", 1),
            ]
            raw = await self.read_at_once(show.id, reads)
            last = raw[-1]
            return PartitionRead(
                version=int(raw[0] or 0),
                tallies={
                    cat.id: {m: int(float(n)) for m, n in pairs(raw[1 + i]).items()}
                    for i, cat in enumerate(show.categories)
                },
                voided={cat: int(v) for cat, v in pairs(raw[-3]).items()},
                heads={cat: json.loads(v) for cat, v in pairs(raw[-2]).items()},
                position=str(last[0][0]) if last else "0-0",
            )

        return list(await asyncio.gather(*(one(p) for p in range(1, show.partitions))))

    async def put_photo(self, show: str, contestant: str, rev: str, webp: bytes) -> None:
        """Keep a photo revision (its use is the guarded edit that names it)."""
        blob = base64.b64encode(webp).decode()
        await self.call(self.client.hset(self.keys(show).photos, f"{contestant}:{rev}", blob))

    async def photo(self, show: str, contestant: str, rev: str) -> bytes | None:
        raw: Any = await self.call(self.client.hget(self.keys(show).photos, f"{contestant}:{rev}"))
        return base64.b64decode(raw) if raw else None

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
        args: list[str | int] = [name, forbid, require, k.events, show.id]
        args += [what, actor, 0]
        for f, v in fields.items():
            args += [f, v]
        version = int(
            await self.call(
                self.script("edit.lua")(keys=[key, target, k.version, k.ledger], args=args)
            )
        )
        if version and show.partitions > 1 and target.startswith(k.base + ":cat:"):
            await self.mirror(show)  # a category's rules (cap, per) changed
        return version

    async def set_display(self, show: Show, fields: dict[str, str], actor: str) -> int:
        """Change what is displayed (overlay category, freeze); announce it."""
        ops: list[Op] = [("HSET", self.keys(show.id).display, *self._flat(fields))]
        entry = {"k": "display", **{f"set_{name}": value for name, value in fields.items()}}
        return (await self.change(show.id, ops, {**entry, "by": actor}, announce=True))[1]

    async def set_revealed(self, show: Show, category: str, shown: bool, actor: str) -> int:
        """Reveal a category's hidden tallies to viewers (or hide them again); announce it."""
        ops: list[Op] = [("SADD" if shown else "SREM", self.keys(show.id).revealed, category)]
        entry = {"k": "display", "reveal" if shown else "hide": category, "by": actor}
        return (await self.change(show.id, ops, entry, announce=True))[1]

    async def set_voting(self, show: Show, category: str, is_open: bool, only: str = "") -> int:
        """Open or close voting in a category outside the stage's voting window; announce it."""
        state = {"open": "1" if is_open else "0", "only": only, "until": "0"}
        if is_open:
            state["started"] = "1"
            state["opened"] = str(await self.now_ms(show.id))
        ops: list[Op] = [("HSET", self.keys(show.id).category(category), *self._flat(state))]
        entry = {"k": "voting", "cat": category, "open": state["open"], "only": only}
        closes = "" if is_open else category
        version = (await self.change(show.id, ops, entry, closes=closes, announce=True))[1]
        await self.mirror(show)
        return version

    @staticmethod
    def _flat(fields: dict[str, str]) -> list[str]:
        return [x for pair in fields.items() for x in pair]
