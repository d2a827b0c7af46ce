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

from live.domain.errors import LiveError, Overloaded

log = logging.getLogger("live.likes")

Flush = Callable[[str, dict[str, int]], Awaitable[object]]
MAX_PENDING_DEVICES = 100_000


class LikeBuffer:
    """Taps waiting for the next flush, per show and device, bounded.

    At most ``max_pending`` (show, device) pairs wait at once. Past that, a new device's taps
    are refused with :class:`~live.domain.errors.Overloaded` (503 with ``Retry-After``) rather
    than kept: when the flusher cannot write (Redis away, or the task failed and waits for its
    restart) memory stays bounded and the phone is told to try again.
    """

    def __init__(self, flush: Flush, interval: float, max_pending: int = MAX_PENDING_DEVICES):
        self._flush = flush
        self.interval = interval
        self.max_pending = max_pending
        self.pending: dict[str, dict[str, int]] = {}
        self.size = 0
        """(show, device) pairs in :attr:`pending`."""

    def add(self, show: str, device: str, n: int) -> None:
        per_show = self.pending.setdefault(show, {})
        if device in per_show:
            per_show[device] += n
            return
        if self.size >= self.max_pending:
            raise Overloaded("likes are not being counted right now; try again shortly")
        per_show[device] = n
        self.size += 1

    async def flush(self) -> None:
        batch, self.pending, self.size = self.pending, {}, 0
        for show, devices in batch.items():
            try:
                await self._flush(show, devices)
            except LiveError as exc:
                # Keep them for the next tick, within the bound.
                log.warning("likes not flushed: %s", exc.message)
                kept = self.pending.setdefault(show, {})
                for device, n in devices.items():
                    if device in kept:
                        kept[device] += n
                    elif self.size < self.max_pending:
                        kept[device] = n
                        self.size += 1

    async def run(self, beat: Callable[[], None] = lambda: None) -> None:
        while True:
            beat()
            await asyncio.sleep(self.interval)
            await self.flush()
