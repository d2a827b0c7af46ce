"""A background loop that retries on Unavailable still stops when it is cancelled."""

from __future__ import annotations

import asyncio

from redis.exceptions import ConnectionError as RedisConnectionError

from live.domain.errors import LiveError
from live.redis.store import Store, make_client


async def cancel_becomes_connection_error() -> None:
    """What a client library does when it turns a cancel mid-read into a connection error."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        raise RedisConnectionError("connection lost while reading") from None


async def test_a_cancelled_retry_loop_stops(redis_url: str) -> None:
    client = make_client(redis_url, 2, 60_000)
    store = Store(client, "cancel", 60_000)
    rounds = 0

    async def loop() -> None:  # shaped like live.guard.run and the other lifespan loops
        nonlocal rounds
        while True:
            rounds += 1
            try:
                await store.call(cancel_becomes_connection_error())
            except LiveError:
                await asyncio.sleep(0.01)

    try:
        task = asyncio.create_task(loop())
        await asyncio.sleep(0.05)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2)
        assert done == {task} and task.cancelled()
        assert rounds == 1
    finally:
        await client.aclose()
        await client.connection_pool.disconnect()
