"""Reading the ledger stream: in batches, after a cursor, its length, and the recount."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from live.domain.errors import LiveError
from live.domain.ledger.chain import split_position
from live.domain.ledger.recount import Recount, recount
from live.redis.base import RedisBase


class Ledger(RedisBase):
    """Read the ledger (it is written by every script, through ``chain.lua``)."""

    async def ledger_entries(
        self, show: str, batch: int = 10_000, until: str = "+", part: int = 0
    ) -> AsyncIterator[tuple[str, dict[str, str]]]:
        """Every entry of partition ``part``'s chain up to ``until`` (an entry id, included;
        ``+``: the end), oldest first, read in batches.

        The next batch is requested before this one is handed out, so Redis and the network
        work while the caller folds (a recount runs at the slower of the two, not their sum).
        """
        key = self.keys(show, part).ledger

        def fetch(start: str) -> asyncio.Task[Any]:
            return asyncio.ensure_future(
                self.call(self.client.xrange(key, min=start, max=until, count=batch))
            )

        pending = fetch("-")
        try:
            while True:
                rows: list[Any] = (await pending) or []
                more = len(rows) == batch
                if more:
                    pending = fetch("(" + rows[-1][0])
                for entry_id, fields in rows:
                    yield entry_id, fields
                if not more:
                    return
        finally:
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, LiveError):
                    await pending

    async def ledger_after(
        self, show: str, cursor: str, count: int, part: int = 0
    ) -> list[tuple[str, dict[str, str]]]:
        """Up to ``count`` entries of partition ``part``'s chain from ``cursor`` on (``-``:
        the first; ``(id``: after ``id``), oldest first."""
        key = self.keys(show, part).ledger
        raw: Any = await self.call(self.client.xrange(key, min=cursor, max="+", count=count))
        return [(entry_id, fields) for entry_id, fields in raw or []]

    async def ledger_length(self, show: str, part: int = 0) -> int:
        return int(await self.call(self.client.xlen(self.keys(show, part).ledger)))

    async def recount(self, show: str, until: str = "+") -> Recount:
        """Every tally rebuilt from the show's chains, each up to its id in ``until`` (a
        position, see :func:`~live.domain.ledger.chain.join_position`; ``+``: the ends)."""
        parts = self.partitions(show)
        ends = ["+"] * len(parts) if until == "+" else split_position(until, len(parts))
        total = Recount()
        for part, end in zip(parts, ends, strict=True):
            entries = self.ledger_entries(show, until=end, part=part)
            total.merge(recount([fields async for _, fields in entries]))
        return total
