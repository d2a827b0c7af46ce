"""The admin console's plots: each show's ledger followed from where this process last read
it (every chain), folded into votes and likes per minute (:mod:`live.domain.activity`). A
request reads only the entries added since the previous one."""

from __future__ import annotations

import asyncio
from typing import Any

from live.domain.activity import Activity
from live.services.shows import Service

BATCH = 5000
MAX_PER_REQUEST = 200_000
"""Entries read for one request at most: a first look at a long ledger catches up over a few."""


class ActivityFeed:
    def __init__(self, service: Service) -> None:
        self.service = service
        self._folded: dict[str, tuple[Activity, list[str]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def read(self, show_id: str) -> dict[str, Any]:
        show = self.service.show(show_id)
        store = self.service.store
        lock = self._locks.setdefault(show.id, asyncio.Lock())
        async with lock:  # two consoles asking at once fold each entry once
            activity, cursors = self._folded.setdefault(
                show.id, (Activity(), ["-"] * show.partitions)
            )
            budget = MAX_PER_REQUEST
            for part in range(show.partitions):
                while budget > 0:
                    rows = await store.ledger_after(show.id, cursors[part], BATCH, part)
                    for entry_id, fields in rows:
                        activity.feed(fields)
                        cursors[part] = "(" + entry_id
                    budget -= len(rows)
                    if len(rows) < BATCH:
                        break
            now = await store.now_ms(show.id)
        return activity.series([c.id for c in show.categories], now)
