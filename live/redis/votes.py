"""Votes and likes: each decided by one atomic Lua call (``vote.lua``, ``likes.lua``).

Votes are micro-batched: the votes a process is asked to cast within one event-loop turn go to
Redis as one ``vote.lua`` call per show (at most :data:`BATCH_MAX`), which decides each on its
own, one after another, exactly as separate calls would; every caller is answered after that
one call (so after its vote is in the ledger). One call instead of many saves, per vote, the
client's command packing and reply parsing, a pool checkout and a round trip, and Redis's
per-command overhead; a lone vote on a quiet show is sent at once, as a batch of one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from functools import partial
from typing import Any

from redis.asyncio.cluster import PipelineCommand, RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import (
    AskError,
    ClusterDownError,
    NoScriptError,
    ReadOnlyError,
    RedisError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from live.domain.ballot import Ballot
from live.domain.errors import NotReplicated, Unavailable
from live.domain.show import Show, partition_of
from live.domain.state import LikeOutcome, VoteOutcome
from live.redis.base import LEAKED, RedisBase, lost_connection

REFUSAL_WINDOW_MS = 10_000
"""A device's refusals get one ledger entry per window of at least this length (its device
rate window when longer); the rest are counted (see ``vote.lua``)."""
BATCH_MAX = 64
"""Votes per ``vote.lua`` call at most (~15 us of Redis time each: a call stays ~1 ms)."""

_MOVING = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    AskError,  # MovedError too
    TryAgainError,
    ClusterDownError,
    ReadOnlyError,  # a master that became a replica
    SlotNotCoveredError,
)
"""What a failover looks like from the client: worth a fresh slot map and another try."""

_dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))

_Queued = tuple[list[str], list[str | int], "asyncio.Future[list[Any]]"]


def _share(count: int, partitions: int, device: int) -> int:
    """An address's (or subnet's) window count in each of ``partitions``: an even share,
    ``ceil(count / N)``, but never below what one device may cast (``min(count, device)``): a
    phone alone on its address is limited by its own window, as on one partition. The
    address's total over all partitions is then at most N times the share."""
    if partitions == 1:
        return count
    return max(-(-count // partitions), min(count, device))


class Votes(RedisBase):
    """Cast votes and count likes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued: dict[tuple[str, int], list[_Queued]] = {}
        """Per show and partition: a call carries one partition's votes only, so its keys
        share one hash slot (``{show}`` or ``{show~p}``), as a Redis Cluster requires."""
        self._batches: set[asyncio.Task[None]] = set()

    async def cast_vote(self, ballot: Ballot, now_ms: int | None, show: Show) -> VoteOutcome:
        """Decide one vote. ``now_ms`` None: Redis's clock decides its windows (production);
        tests of the windows give a fake time.

        A partitioned show decides the vote in the device's partition: the device's caps and
        its rate window are exact there; an address's and a subnet's windows are shared out
        over the partitions (:func:`_share`), so their limits hold only as closely as that
        address's devices spread over the partitions. The reply's ``version`` is then the
        partition's, which the show's version (the sum) is at least."""
        # A vote of an identity tier is decided in its identity's partition: the person's cap
        # must be counted in one place, whichever device they vote from.
        part = partition_of(ballot.identity or ballot.device, show.partitions)
        k = self.keys(ballot.show, part)
        pseudonym = await self.pseudonym(ballot.show)
        # Rate windows are named by pseudonyms: no key name carries a raw address or device.
        dev, ip, net = pseudonym(ballot.device), pseudonym(ballot.ip), pseudonym(ballot.subnet)
        cat = ballot.category
        lim = show.limits
        split = show.partitions
        keys = [
            k.category(cat.id),
            k.vote_ids,
            k.used(cat.id),
            k.window_device(dev),
            k.window_ip(ip),
            k.window_subnet(net),
            k.ledger,
            k.tally(cat.id),
            k.version,
            k.refusals,
            k.personal,
        ]
        args: list[str | int] = [
            ballot.vote_id,
            ballot.device,
            ballot.ip,
            ballot.subnet,
            cat.id,
            ballot.contestant,
            now_ms or 0,
            cat.votes_per_device,
            cat.per_contestant,
            lim.device.count,
            lim.device.seconds * 1000,
            _share(lim.ip.count, split, lim.device.count),
            lim.ip.seconds * 1000,
            _share(lim.subnet.count, split, lim.device.count),
            lim.subnet.seconds * 1000,
            ballot.ua,
        ]
        args += [dev, ip, pseudonym(ballot.ua)]
        args += [max(REFUSAL_WINDOW_MS, lim.device.seconds * 1000), show.retention_ms]
        # The ledger gets the show's pseudonym of the identity's hash: shows cannot be linked.
        args += [pseudonym(ballot.identity) if ballot.identity else "", ballot.label]
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[list[Any]] = loop.create_future()
        if not self._queued:  # the first of this turn sends them all, after the turn
            loop.call_soon(self._send_votes)
        self._queued.setdefault((ballot.show, part), []).append((keys, args, answer))
        raw = await answer
        return VoteOutcome(
            str(raw[0]), str(raw[1]), int(raw[2]), str(raw[3]), int(raw[4]), int(raw[5])
        )

    def _send_votes(self) -> None:
        queued, self._queued = self._queued, {}
        for votes in queued.values():
            for start in range(0, len(votes), BATCH_MAX):
                task = asyncio.ensure_future(self._send_batch(votes[start : start + BATCH_MAX]))
                self._batches.add(task)  # held until done: a task nobody holds may be collected
                task.add_done_callback(self._batches.discard)

    async def _send_batch(self, batch: list[_Queued]) -> None:
        # Each key once (the votes of a batch share most of theirs) and one JSON argument per
        # vote: packing 30 arguments a vote was a sixth of a vote's CPU in the client.
        index: dict[str, int] = {}
        args = []
        for vote_keys, vote_args, _ in batch:
            where = [index.setdefault(key, len(index) + 1) for key in vote_keys]
            args.append(_dumps([where, [str(a) for a in vote_args]]))
        keys = list(index)
        try:
            if self.wait_replicas:
                raw = await self.call(self._cast_and_wait(keys, args))
            else:
                raw = await self.call(self.script("vote.lua")(keys=keys, args=args))
        except Exception as exc:  # Unavailable: every vote of the batch gets it
            for _, _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            return
        except BaseException:  # cancelled (shutdown): no vote of the batch waits forever
            for _, _, answer in batch:
                answer.cancel()
            raise
        for i, (_, _, answer) in enumerate(batch):
            if not answer.done():  # its caller may have gone (a client that hung up)
                answer.set_result(raw[6 * i : 6 * i + 6])

    async def _cast_and_wait(self, keys: list[str], args: list[str]) -> list[Any]:
        """One ``vote.lua`` call and ``WAIT <replicas> <ms>`` on the same connection (WAIT
        covers what its own connection wrote): the batch's votes are answered only once that
        many replicas hold them, so a failover does not lose an acknowledged vote. When WAIT
        counts fewer, every vote of the batch gets 503 (``not_replicated``); the phone's retry
        with the same ``vote_id`` is a replay, answered ``accepted`` once replicated.

        Hand-written below redis-py's cluster client, which routes WAIT to every node and
        refuses EVALSHA in its pipelines: the two commands go to the slot's master in one
        write. After a redirect or a lost node the client's own routing is run once (a routed
        HLEN, which refreshes its slot map) and the batch is tried again (twice at most).
        """
        script = self.script("vote.lua")
        for attempt in range(3):
            try:
                votes, acked = await self._pipeline_to_master(script, keys, args)
            except (OSError, RedisError) as exc:  # OSError: TimeoutError, lost sockets
                votes, acked = exc, 0
            except LEAKED as exc:
                if not lost_connection(exc):
                    raise
                votes, acked = RedisConnectionError(f"connection lost ({exc})"), 0
            if isinstance(votes, NoScriptError) and attempt < 2:
                await self._load_on_master(script, keys[0])
                continue
            # The script may have run while WAIT failed (the connection dropped in between):
            # then the votes are written but unconfirmed; trying the batch again is safe (each
            # vote is a replay) and confirms them, or they are answered 503.
            failed = next((r for r in (votes, acked) if isinstance(r, BaseException)), None)
            if failed is not None:
                if attempt < 2 and isinstance(failed, _MOVING):
                    with contextlib.suppress(RedisError, OSError, *LEAKED):
                        # One routed single-key command: on MOVED or a lost node the client
                        # refreshes its slot map (multi-key commands go through its pipeline).
                        await self.client.hlen(keys[0])
                    continue
                if failed is votes:
                    raise failed
                raise NotReplicated(
                    "the vote store lost the connection before confirming a copy "
                    f"({type(failed).__name__}); retry with the same vote_id"
                )
            if int(acked) < self.wait_replicas:
                raise NotReplicated(
                    f"the vote store did not confirm a copy on {self.wait_replicas} replica(s) "
                    f"within {self.wait_ms} ms; retry with the same vote_id"
                )
            return list(votes)
        raise Unavailable("the vote store kept moving (failover); retry with the same vote_id")

    async def _pipeline_to_master(
        self, script: AsyncScript, keys: list[str], args: list[str]
    ) -> tuple[Any, Any]:
        evalsha = ("EVALSHA", script.sha, len(keys), *keys, *args)
        wait = ("WAIT", self.wait_replicas, self.wait_ms)
        if isinstance(self.client, RedisCluster):
            node = self.client.get_node_from_key(keys[0])
            if node is None:
                raise ClusterDownError("no node serves the show's slot")
            cmds = [PipelineCommand(0, *evalsha), PipelineCommand(1, *wait)]
            await node.execute_pipeline(cmds)
            return cmds[0].result, cmds[1].result
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.execute_command(*evalsha)
            pipe.execute_command(*wait)
            out = await pipe.execute(raise_on_error=False)
        return out[0], out[1]

    async def _load_on_master(self, script: AsyncScript, key: str) -> None:
        if isinstance(self.client, RedisCluster):
            node = self.client.get_node_from_key(key)
            if node is not None:
                await node.execute_command("SCRIPT", "LOAD", script.script)
        else:
            await self.client.script_load(script.script)

    async def usage(
        self, show: Show, device: str, identities: dict[str, str] | None = None
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Each category's cap (as edited; partition 0's) and the votes used in it, in one
        round trip: by ``device`` (in its partition, under its pseudonym), and in a category of
        an identity tier whose hash ``identities`` holds (tier -> hash), the more of that and
        the identity's own (counted in the identity's partition)."""
        k0 = self.keys(show.id)
        pseudonym = await self.pseudonym(show.id)
        named = pseudonym(device)
        kp = self.keys(show.id, partition_of(device, show.partitions))
        pipe = self.client.pipeline(transaction=False)
        for cat in show.categories:
            pipe.hget(k0.category(cat.id), "cap")
            ident = (identities or {}).get(cat.identity, "")
            if ident:
                ki = self.keys(show.id, partition_of(ident, show.partitions))
                pipe.hmget(ki.used(cat.id), [named, "i:" + pseudonym(ident)])
            else:
                pipe.hmget(kp.used(cat.id), [named])
        raw: list[Any] = await self.call(pipe.execute())
        caps, used = {}, {}
        for i, cat in enumerate(show.categories):
            if raw[2 * i] is not None:
                caps[cat.id] = int(raw[2 * i])
            used[cat.id] = max(int(n or 0) for n in raw[2 * i + 1])
        return caps, used

    async def add_likes(
        self, show: Show, batch: dict[str, int], now_ms: int | None = None
    ) -> LikeOutcome:
        """Count one merged batch; the per-second budget is by Redis's clock unless ``now_ms``
        is given (tests)."""
        k = self.keys(show.id)
        args: list[str | int] = [show.likes.cap_per_second, now_ms or 0]
        for device, n in batch.items():
            args += [device, n]
        keys = [k.like_budget, k.likes, k.version, k.ledger]
        raw: list[Any] = await self.call(self.script("likes.lua")(keys=keys, args=args))
        return LikeOutcome(int(raw[0]), int(raw[1]), int(raw[2]))
