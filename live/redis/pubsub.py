"""Pub/sub between server processes: a stage change made anywhere is pushed everywhere at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

log = logging.getLogger("live.broker")


class Broker:
    def __init__(self, client: aioredis.Redis, channel: str, on_event: Callable[[str], None]):
        self._client = client
        self._channel = channel
        self._on_event = on_event

    async def run(self, beat: Callable[[], None] = lambda: None) -> None:
        """Listen forever; after a lost connection, resubscribe with a capped backoff."""
        backoff = 0.1
        while True:
            beat()
            try:
                async with self._client.pubsub(ignore_subscribe_messages=True) as ps:
                    await ps.subscribe(self._channel)
                    backoff = 0.1
                    await self.listen(ps, beat)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("pub/sub lost (%s); resubscribing", type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def listen(self, ps: PubSub, beat: Callable[[], None]) -> None:
        """Hand every event of a subscribed connection on; wake at least once a second."""
        while True:
            beat()
            msg = await ps.get_message(timeout=1.0)
            if msg is not None and msg.get("type") == "message":
                self._on_event(str(msg["data"]))
