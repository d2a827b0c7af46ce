"""Likes merged in memory for one short tick, then written in one Redis call per show.

Taps arrive many times a second from many phones; writing each would cost a round trip per
message. The buffer sums per device, and the Lua script applies the per-device per-second cap
atomically. Likes not yet flushed when the process dies are lost (at most one tick of them);
votes never take this path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from live.errors import LiveError

log = logging.getLogger("live.likes")

Flush = Callable[[str, dict[str, int]], Awaitable[object]]
MAX_PENDING_DEVICES = 100_000


class LikeBuffer:
    def __init__(self, flush: Flush, interval: float) -> None:
        self._flush = flush
        self.interval = interval
        self.pending: dict[str, dict[str, int]] = {}

    def add(self, show: str, device: str, n: int) -> None:
        per_show = self.pending.setdefault(show, {})
        per_show[device] = per_show.get(device, 0) + n

    async def flush(self) -> None:
        batch, self.pending = self.pending, {}
        for show, devices in batch.items():
            try:
                await self._flush(show, devices)
            except LiveError as exc:
                # Keep them for the next tick, within a bound so an outage cannot grow memory.
                log.warning("likes not flushed: %s", exc.message)
                kept = self.pending.setdefault(show, {})
                if len(kept) + len(devices) <= MAX_PENDING_DEVICES:
                    for device, n in devices.items():
                        kept[device] = kept.get(device, 0) + n

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()
