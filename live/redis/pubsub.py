"""Pub/sub between server processes: a change made anywhere is pushed everywhere at once.

Each show has its own channel (``{show}:events``, in the show's hash slot). On a Redis Cluster
the broker uses sharded pub/sub (``SSUBSCRIBE``; the scripts ``SPUBLISH``): a message then
travels only to the show's shard, not over the whole cluster bus, and redis-py follows a
shard's failover. A single Redis uses classic ``SUBSCRIBE``/``PUBLISH`` (Redis 6.2 has no
sharded pub/sub). An announcement lost in between is healed by the ticker, which compares
versions every period anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio.cluster import ClusterPubSub, RedisCluster
from redis.exceptions import RedisError

from live.redis.base import Client

log = logging.getLogger("live.broker")


class Broker:
    def __init__(self, client: Client, channels: list[str], on_event: Callable[[str], None]):
        self._client = client
        self._channels = list(channels)
        self._on_event = on_event
        self._new: list[str] = []

    def add(self, channel: str) -> None:
        """Listen to ``channel`` too (a show added while serving), within a second."""
        if channel not in self._channels:
            self._channels.append(channel)
            self._new.append(channel)

    def _take_new(self) -> list[str]:
        new, self._new = self._new, []
        return new

    async def run(self, beat: Callable[[], None] = lambda: None) -> None:
        """Listen forever; after a lost connection, resubscribe with a capped backoff."""
        backoff = 0.1
        while True:
            beat()
            try:
                if isinstance(self._client, RedisCluster):
                    await self._run_sharded(self._client, beat)
                else:
                    async with self._client.pubsub(ignore_subscribe_messages=True) as ps:
                        self._new = []
                        await ps.subscribe(*self._channels)
                        backoff = 0.1
                        while True:
                            beat()
                            if self._new:
                                await ps.subscribe(*self._take_new())
                            self._hand_on(await ps.get_message(timeout=1.0), "message")
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("pub/sub lost (%s); resubscribing", type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _run_sharded(self, client: RedisCluster, beat: Callable[[], None]) -> None:
        ps: ClusterPubSub = client.pubsub(ignore_subscribe_messages=True)
        try:
            self._new = []
            await ps.ssubscribe(*self._channels)
            while True:
                beat()
                if self._new:
                    await ps.ssubscribe(*self._take_new())
                self._hand_on(await ps.get_sharded_message(timeout=1.0), "smessage")
        finally:
            await ps.aclose()

    def _hand_on(self, msg: dict[str, Any] | None, kind: str) -> None:
        if msg is not None and msg.get("type") == kind:
            self._on_event(str(msg["data"]))
