"""Judges' sheets, approvals and published results in Redis."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from live.domain.show import Show
from live.domain.state import JudgingRead, SheetRef
from live.redis.base import Op, RedisBase, pairs


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

    async def judging_read(self, show: str, category: str) -> JudgingRead:
        k = self.keys(show)
        raw = await self.read_at_once(
            show,
            [
                ("ZRANGE", k.tally(category), 0, -1, "WITHSCORES"),
                ("XREVRANGE", k.ledger, "+", "-", "COUNT", 1),
                ("HGETALL", k.sheets(category)),
                ("HGETALL", k.approvals(category)),
            ],
        )
        sheets = {}
        for name, value in pairs(raw[2]).items():
            record = json.loads(value)
            if not isinstance(record.get("marks"), dict):
                record["marks"] = {}
            sheets[name] = record
        return JudgingRead(
            tallies={c: int(n) for c, n in pairs(raw[0]).items()},
            position=raw[1][0][0] if raw[1] else "0-0",
            sheets=sheets,
            approvals=pairs(raw[3]),
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
        ``{"result": {n, h, id} | None, "close": {n, h, id, t} | None}``."""
        k = self.keys(show)
        pipe = self.client.pipeline(transaction=False)
        pipe.xrange(k.ledger, min=position, max=position, count=1)
        pipe.hget(k.heads, category)
        raw: list[Any] = await self.call(pipe.execute())
        at = None
        if raw[0]:
            entry_id, fields = raw[0][0]
            at = {"n": int(fields.get("n", 0)), "h": fields.get("h", ""), "id": entry_id}
        return {"result": at, "close": json.loads(raw[1]) if raw[1] else None}

    async def publications(self, show: str, category: str) -> list[str]:
        raw: Any = await self.call(
            self.client.lrange(self.keys(show).publications(category), 0, -1)
        )
        return list(raw)
