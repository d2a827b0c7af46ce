"""Raw personal values: where they are kept, how they are read back, and how they are purged.

A vote's device id, address and user agent reach the ledger only as keyed pseudonyms; the raw
values go to each partition's ``pii`` hash (``vote.lua``), which expires the show's
``retention`` after its last write. Fraud signals read them from there (a network needs the
address, a scripted client its user agent), and moderators see them in the flag queue. After
the hash expired or ``live purge`` deleted it, everything keeps working on pseudonyms.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from live.redis.store import Store

CHUNK = 5000
"""Ledger entries read per round trip when a purge counts the entries of older ledgers."""


@dataclass(frozen=True, slots=True)
class Purged:
    raw_values: int
    """Raw values deleted from the ``pii`` hashes."""
    keys: int
    """Keys deleted: the ``pii`` hashes and the short-lived rate windows and like budgets."""
    raw_entries: int
    """Ledger entries written before pseudonymous ledgers, which hold raw values (an
    append-only ledger cannot be rewritten; such a show keeps them)."""


class Personal:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.client = store.client

    async def resolve(self, show: str, part: int, pseudonyms: list[str]) -> dict[str, str]:
        """The raw value of each pseudonym found in partition ``part`` (none once purged)."""
        if not pseudonyms:
            return {}
        key = self.store.keys(show, part).personal
        raw: list[Any] = await self.store.call(self.client.hmget(key, pseudonyms))
        return {p: _text(v) for p, v in zip(pseudonyms, raw, strict=True) if v is not None}

    async def purged(self, show: str) -> str:
        """When the show's personal values were last purged (ms, as text), '' if never."""
        raw: Any = await self.store.call(self.client.hget(self.store.keys(show).secrets, "purged"))
        return _text(raw) if raw else ""

    async def purge(self, show: str) -> Purged:
        """Delete every raw personal value of ``show`` that Redis still holds outside older
        ledgers, and mark the time so a running fraud consumer forgets what it read."""
        values = keys = 0
        for part in self.store.partitions(show):
            k = self.store.keys(show, part)
            found: list[str] = []
            for family in ("win:*", "likebudget:*"):
                async for name in self.client.scan_iter(match=f"{k.base}:{family}", count=1000):
                    found.append(_text(name))
            values += int(await self.store.call(self.client.hlen(k.personal)))
            for name in [k.personal, *found]:
                keys += int(await self.store.call(self.client.delete(name)))
        await self.store.call(
            self.client.hset(self.store.keys(show).secrets, "purged", str(int(time.time() * 1000)))
        )
        return Purged(values, keys, await self._raw_entries(show))

    async def _raw_entries(self, show: str) -> int:
        count = 0
        for part in self.store.partitions(show):
            cursor = "-"
            while True:
                rows = await self.store.ledger_after(show, cursor, CHUNK, part)
                count += sum(1 for _, fields in rows if "dev" in fields)
                if len(rows) < CHUNK:
                    break
                cursor = "(" + rows[-1][0]
        return count


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
