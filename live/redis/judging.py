"""Judges' sheets, approvals and published results in Redis."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from live.domain.ledger.chain import join_position, split_position
from live.domain.show import Show
from live.domain.state import JudgingRead, SheetRef
from live.redis.base import Op, Read, RedisBase, pairs


class Judging(RedisBase):
    """Sheets, approvals, the read a result is computed from, and publications."""

    async def sheet_op(
        self,
        ref: SheetRef,
        op: str,
        marks: dict[str, str],
        save_id: str,
        base: int,
        actor: str,
        reason: str = "",
    ) -> tuple[str, dict[str, Any]]:
        """Apply one sheet change atomically (see ``sheet.lua``): (outcome, the record)."""
        k = self.keys(ref.show)
        args: list[str | int] = [ref.key, op, json.dumps(marks), save_id, base, actor]
        args += [0, reason, ref.category]
        keys = [k.sheets(ref.category), k.ledger]
        raw: Any = await self.call(self.script("sheet.lua")(keys=keys, args=args))
        record: dict[str, Any] = json.loads(raw[1])
        if not isinstance(record.get("marks"), dict):
            record["marks"] = {}  # cjson writes an empty table as {} or [] alike
        return str(raw[0]), record

    async def set_approval(self, ref: SheetRef, approve: bool | None, actor: str) -> None:
        """Record a judge's approve/reject (``None`` withdraws it), with a ledger entry."""
        k = self.keys(ref.show)
        op: Op = ("HDEL", k.approvals(ref.category), ref.key)
        if approve is not None:
            op = ("HSET", k.approvals(ref.category), ref.key, "1" if approve else "0")
        value = "" if approve is None else ("1" if approve else "0")
        entry = {
            "k": "approval",
            "cat": ref.category,
            "sheet": ref.key,
            "value": value,
            "by": actor,
        }
        await self.change(ref.show, [op], entry)

    async def judging_read(
        self, show: str, category: str, platforms: Sequence[str] = ()
    ) -> JudgingRead:
        """The category's tallies, sheets and approvals, each partition's from one instant
        (its tally with its chain's last entry id: the read's position), and the chat votes of
        ``platforms`` (partition 0's, read with its tally)."""
        k = self.keys(show)
        parts = self.partitions(show)
        first: list[Read] = [
            ("ZRANGE", k.tally(category), 0, -1, "WITHSCORES"),
            ("XREVRANGE", k.ledger, "+", "-", "COUNT", 1),
            ("HGETALL", k.sheets(category)),
            ("HGETALL", k.approvals(category)),
        ]
        first += [("ZRANGE", k.source_tally(p, category), 0, -1, "WITHSCORES") for p in platforms]
        reads = [self.read_at_once(show, first)]
        for part in parts[1:]:
            kp = self.keys(show, part)
            votes: list[Read] = [
                ("ZRANGE", kp.tally(category), 0, -1, "WITHSCORES"),
                ("XREVRANGE", kp.ledger, "+", "-", "COUNT", 1),
            ]
            reads.append(self.read_at_once(show, votes))
        raw, *more = await asyncio.gather(*reads)
        sheets = {}
        for name, value in pairs(raw[2]).items():
            record = json.loads(value)
            if not isinstance(record.get("marks"), dict):
                record["marks"] = {}
            sheets[name] = record
        tallies: dict[str, int] = {}
        positions = []
        for tally, last in [raw[:2], *more]:
            for c, n in pairs(tally).items():
                tallies[c] = tallies.get(c, 0) + int(float(n))
            positions.append(last[0][0] if last else "0-0")
        sources = {
            p: {c: int(float(n)) for c, n in pairs(raw[4 + i]).items()}
            for i, p in enumerate(platforms)
        }
        return JudgingRead(
            tallies=tallies,
            position=join_position(positions),
            sheets=sheets,
            approvals=pairs(raw[3]),
            sources={p: v for p, v in sources.items() if v},
        )

    async def publish(self, show: Show, category: str, record: str, actor: str) -> int:
        """Append a publication; the new version. Ledger entry, show version and push at once."""
        k = self.keys(show.id)
        keys = [k.publications(category), k.published, k.ledger, k.version]
        args: list[str | int] = [
            record,
            category,
            actor,
            0,
            k.events,
            show.id,
            hashlib.sha256(record.encode()).hexdigest(),
        ]
        return int(await self.call(self.script("publish.lua")(keys=keys, args=args)))

    async def ledger_pins(self, show: str, category: str, position: str) -> dict[str, Any]:
        """The chain head at ``position`` and the one pinned when ``category``'s voting closed:
        ``{"result": {n, h, id} | None, "close": {n, h, id, t} | None}``; for a partitioned
        show also ``"partitions"``: the same pair for each chain, partition 0 first."""
        parts = self.partitions(show)
        ids = split_position(position, len(parts))
        pipe = self.client.pipeline(transaction=False)
        for part, entry in zip(parts, ids, strict=True):
            k = self.keys(show, part)
            pipe.xrange(k.ledger, min=entry, max=entry, count=1)
            pipe.hget(k.heads, category)
        raw: list[Any] = await self.call(pipe.execute())
        chains = []
        for i in range(len(parts)):
            at = None
            if raw[2 * i]:
                entry_id, fields = raw[2 * i][0]
                at = {"n": int(fields.get("n", 0)), "h": fields.get("h", ""), "id": entry_id}
            close = raw[2 * i + 1]
            chains.append({"result": at, "close": json.loads(close) if close else None})
        if len(chains) == 1:
            return chains[0]
        return {**chains[0], "partitions": chains}

    async def publications(self, show: str, category: str) -> list[str]:
        raw: Any = await self.call(
            self.client.lrange(self.keys(show).publications(category), 0, -1)
        )
        return list(raw)
