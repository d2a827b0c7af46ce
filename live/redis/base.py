"""The connection every Redis noun shares: the client, key names, the time budget of each call,
the Lua scripts, and the ledger's append and pseudonym (every noun writes ledger entries).

Every call runs inside a time budget; a Redis that is down, loading, frozen or slow surfaces as
:class:`~live.domain.errors.Unavailable` (HTTP 503) within that budget, never as a hang.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable
from importlib import resources
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from live.domain.errors import Unavailable
from live.domain.ledger.chain import Pseudonym, pseudonymiser
from live.redis.keys import ShowKeys

T = TypeVar("T")


def load_script(name: str) -> str:
    """A script's source, after the ledger's append function (every script may append)."""
    folder = resources.files("live.redis") / "scripts"
    chain = (folder / "chain.lua").read_text(encoding="utf-8")
    return chain + "\n" + (folder / name).read_text(encoding="utf-8")


def make_client(url: str, pool_size: int, timeout_ms: int) -> aioredis.Redis:
    """A client on a blocking pool (the default pool raises under load) with short timeouts."""
    seconds = timeout_ms / 1000
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=seconds,
        socket_timeout=seconds,
        socket_connect_timeout=min(seconds, 0.5),
        health_check_interval=0,
        decode_responses=True,
        # A retried vote is safe: the script is idempotent on vote_id (a replay says accepted).
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.005), 1),
    )
    return aioredis.Redis(connection_pool=pool)


class RedisBase:
    """What each noun's store (votes, state, stage, judging, ledger) is built on."""

    def __init__(self, client: aioredis.Redis, prefix: str, timeout_ms: int) -> None:
        self.client = client
        self.prefix = prefix
        self.budget = timeout_ms / 1000
        self._scripts: dict[str, AsyncScript] = {}
        self._keys: dict[str, ShowKeys] = {}
        self._pseudonyms: dict[str, Pseudonym] = {}

    def script(self, name: str) -> AsyncScript:
        """The Lua script ``name`` (with the ledger's append function), registered once."""
        found = self._scripts.get(name)
        if found is None:
            found = self._scripts[name] = self.client.register_script(load_script(name))
        return found

    def keys(self, show: str) -> ShowKeys:
        k = self._keys.get(show)
        if k is None:
            k = self._keys[show] = ShowKeys(self.prefix, show)
        return k

    async def append(
        self, pipe: Pipeline, show: str, entry: dict[str, str], closes: str = ""
    ) -> None:
        """Queue one hash-chained ledger entry (no personal fields) on a MULTI pipeline.

        ``closes``: the category whose voting this entry closes; the ledger's head after it is
        pinned for that category. The entry is stamped ``t`` (ms) unless it has one. Nothing
        is sent until the pipeline executes.
        """
        k = self.keys(show)
        args: list[str | int] = [closes]
        for name, value in {**entry, "t": entry.get("t") or str(int(time.time() * 1000))}.items():
            args += [name, value]
        await self.script("append.lua")(keys=[k.ledger, k.heads], args=args, client=pipe)

    async def pseudonym(self, show: str) -> Pseudonym:
        """The show's keyed hash for personal values (its key is made once, kept in Redis)."""
        found = self._pseudonyms.get(show)
        if found is None:
            k = self.keys(show)
            pipe = self.client.pipeline(transaction=True)
            pipe.hsetnx(k.secrets, "pseudonym", secrets.token_hex(32))
            pipe.hget(k.secrets, "pseudonym")
            raw: list[Any] = await self.call(pipe.execute())
            found = self._pseudonyms[show] = pseudonymiser(bytes.fromhex(raw[1]))
        return found

    async def call(self, aw: Awaitable[T]) -> T:
        """Await one Redis operation within the budget; Redis trouble becomes ``Unavailable``."""
        try:
            async with asyncio.timeout(self.budget):
                return await aw
        except (RedisError, OSError, TimeoutError) as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # A cancellation that surfaced as a connection or timeout error is still a
                # cancellation: as Unavailable, a retrying loop would swallow it and never stop.
                raise asyncio.CancelledError from exc
            raise Unavailable(f"the vote store is unavailable ({type(exc).__name__})") from None

    async def ping(self) -> None:
        await self.call(self.client.ping())
