"""The only module that issues Redis data commands.

Every call runs inside a time budget; a Redis that is down, loading, frozen or slow surfaces as
:class:`~live.domain.errors.Unavailable` (HTTP 503) within that budget, never as a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable
from importlib import resources
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from live.domain.ballot import Ballot
from live.domain.errors import LiveError, Unavailable
from live.domain.ledger.chain import Pseudonym, pseudonymiser
from live.domain.ledger.recount import Recount, recount
from live.domain.show import Show
from live.domain.stage import CategoryChange, Stage
from live.domain.state import (
    CategoryState,
    Display,
    JudgingRead,
    LikeOutcome,
    SheetRef,
    ShowState,
    VoteOutcome,
    parse_edits,
)
from live.redis.keys import ShowKeys, events_channel

T = TypeVar("T")
REFUSAL_WINDOW_MS = 10_000
"""A device's refusals get one ledger entry per window of at least this length (its device
rate window when longer); the rest are counted (see ``vote.lua``)."""


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


class Store:
    def __init__(self, client: aioredis.Redis, prefix: str, timeout_ms: int) -> None:
        self.client = client
        self.prefix = prefix
        self.budget = timeout_ms / 1000
        self._vote = client.register_script(load_script("vote.lua"))
        self._likes = client.register_script(load_script("likes.lua"))
        self._stage = client.register_script(load_script("stage.lua"))
        self._edit = client.register_script(load_script("edit.lua"))
        self._sheet = client.register_script(load_script("sheet.lua"))
        self._publish = client.register_script(load_script("publish.lua"))
        self._append = client.register_script(load_script("append.lua"))
        self._keys: dict[str, ShowKeys] = {}
        self._pseudonyms: dict[str, Pseudonym] = {}

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
        await self._append(keys=[k.ledger, k.heads], args=args, client=pipe)

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

    async def init_show(self, show: Show) -> None:
        """Seed the live state of a show unless it is already there (a restart keeps it)."""
        k = self.keys(show.id)
        stage = Stage(contestant=show.running_order()[0].id, since=int(time.time() * 1000))
        pipe = self.client.pipeline(transaction=True)
        for name, value in stage.to_redis().items():
            pipe.hsetnx(k.stage, name, value)
        for cat in show.categories:
            pipe.hsetnx(k.category(cat.id), "open", "1" if cat.open else "0")
            pipe.hsetnx(k.category(cat.id), "only", "")
            pipe.hsetnx(k.category(cat.id), "until", "0")
            pipe.hsetnx(k.category(cat.id), "cap", str(cat.votes_per_device))
            pipe.hsetnx(k.category(cat.id), "per", str(cat.per_contestant))
            pipe.hsetnx(k.category(cat.id), "hide", "1" if cat.hide_tallies else "0")
            if cat.open:
                pipe.hsetnx(k.category(cat.id), "started", "1")
        pipe.setnx(k.version, "0")
        await self.call(pipe.execute())

    async def cast_vote(self, ballot: Ballot, now_ms: int, show: Show) -> VoteOutcome:
        k = self.keys(ballot.show)
        cat = ballot.category
        lim = show.limits
        keys = [
            k.category(cat.id),
            k.vote_ids,
            k.used(cat.id),
            k.window_device(ballot.device),
            k.window_ip(ballot.ip),
            k.window_subnet(ballot.subnet),
            k.ledger,
            k.tally(cat.id),
            k.version,
            k.refusals,
        ]
        args: list[str | int] = [
            ballot.vote_id,
            ballot.device,
            ballot.ip,
            ballot.subnet,
            cat.id,
            ballot.contestant,
            now_ms,
            cat.votes_per_device,
            cat.per_contestant,
            lim.device.count,
            lim.device.seconds * 1000,
            lim.ip.count,
            lim.ip.seconds * 1000,
            lim.subnet.count,
            lim.subnet.seconds * 1000,
            ballot.ua,
        ]
        pseudonym = await self.pseudonym(ballot.show)
        args += [pseudonym(ballot.device), pseudonym(ballot.ip), pseudonym(ballot.ua)]
        args.append(max(REFUSAL_WINDOW_MS, lim.device.seconds * 1000))
        raw: list[Any] = await self.call(self._vote(keys=keys, args=args))
        return VoteOutcome(str(raw[0]), str(raw[1]), int(raw[2]), str(raw[3]), int(raw[4]))

    async def add_likes(self, show: Show, batch: dict[str, int], now_ms: int) -> LikeOutcome:
        k = self.keys(show.id)
        args: list[str | int] = [show.likes.cap_per_second, now_ms]
        for device, n in batch.items():
            args += [device, n]
        keys = [k.like_budget(now_ms // 1000), k.likes, k.version, k.ledger]
        raw: list[Any] = await self.call(self._likes(keys=keys, args=args))
        return LikeOutcome(int(raw[0]), int(raw[1]), int(raw[2]))

    async def versions(self, shows: list[str]) -> list[int]:
        """The version of each show, in one round trip."""
        raw: list[Any] = await self.call(self.client.mget([self.keys(s).version for s in shows]))
        return [int(v or 0) for v in raw]

    async def read_state(self, show: Show) -> ShowState:
        k = self.keys(show.id)
        pipe = self.client.pipeline(transaction=True)
        pipe.get(k.version)
        pipe.hgetall(k.stage)
        pipe.hgetall(k.likes)
        pipe.hgetall(k.display)
        pipe.hgetall(k.contestants)
        for cat in show.categories:
            pipe.hgetall(k.category(cat.id))
            pipe.zrange(k.tally(cat.id), 0, -1, withscores=True)
        pipe.smembers(k.revealed)
        pipe.hgetall(k.published)
        pipe.hgetall(k.void_counts)
        pipe.hgetall(k.heads)
        raw: list[Any] = await self.call(pipe.execute())
        categories: dict[str, CategoryState] = {}
        tallies: dict[str, dict[str, int]] = {}
        for i, cat in enumerate(show.categories):
            st = raw[5 + 2 * i]
            categories[cat.id] = CategoryState(
                st.get("open") == "1",
                st.get("only", ""),
                int(st.get("until", 0) or 0),
                st.get("started") == "1",
                int(st.get("cap", cat.votes_per_device)),
                int(st.get("per", cat.per_contestant)),
                st.get("hide", "1" if cat.hide_tallies else "0") == "1",
            )
            tallies[cat.id] = {member: int(score) for member, score in raw[6 + 2 * i]}
        likes = raw[2]
        return ShowState(
            version=int(raw[0] or 0),
            stage=Stage.from_redis(raw[1]),
            categories=categories,
            tallies=tallies,
            taps=int(likes.get("taps", 0)),
            likes=int(likes.get("counted", 0)),
            display=Display.from_redis(raw[3], raw[-4]),
            edits=parse_edits(raw[4]),
            published={cat: int(v) for cat, v in raw[-3].items()},
            voided={cat: int(v) for cat, v in raw[-2].items() if int(v)},
            heads={cat: json.loads(v) for cat, v in raw[-1].items()},
        )

    async def read_edits(self, show: str) -> dict[str, dict[str, str]]:
        raw: Any = await self.call(self.client.hgetall(self.keys(show).contestants))
        return parse_edits(raw)

    async def edit(
        self,
        show: Show,
        guard: tuple[str, str, str, str],
        target: str,
        fields: dict[str, str],
        what: str,
        actor: str,
    ) -> int:
        """Write ``fields`` into ``target`` if the guard allows it; the new version, or 0.

        ``guard`` is (key, field, forbidden value, required value): the edit is refused when the
        field holds the forbidden value (if given) or differs from the required one (if not).
        """
        k = self.keys(show.id)
        key, name, forbid, require = guard
        args: list[str | int] = [name, forbid, require, events_channel(self.prefix), show.id]
        args += [what, actor, int(time.time() * 1000)]
        for f, v in fields.items():
            args += [f, v]
        return int(await self.call(self._edit(keys=[key, target, k.version, k.ledger], args=args)))

    async def read_stage(self, show: str) -> Stage:
        raw: Any = await self.call(self.client.hgetall(self.keys(show).stage))
        return Stage.from_redis(raw)

    async def apply_stage(
        self, show: Show, old: Stage, new: Stage, changes: list[CategoryChange], actor: str
    ) -> int:
        """Write ``new`` if the stage is still ``old`` (by rev); the new version, or 0."""
        k = self.keys(show.id)
        fields = {**new.to_redis(), "by": actor}
        args: list[str | int] = [old.rev, events_channel(self.prefix), show.id, new.since]
        args.append(len(fields))
        for name, value in fields.items():
            args += [name, value]
        for change in changes:
            args += ["1" if change.open else "0", change.only, change.until, change.category]
        keys = [k.stage, k.version, k.ledger, k.heads]
        keys += [k.category(c.category) for c in changes]
        return int(await self.call(self._stage(keys=keys, args=args)))

    async def _announced(
        self, show: Show, pipe: Pipeline, entry: dict[str, str], actor: str = "", closes: str = ""
    ) -> int:
        """Finish a MULTI that changed what viewers see: ledger entry, version, pub/sub.

        Returns the new version. Every process pushes the show at once on the announcement.
        """
        k = self.keys(show.id)
        fields = dict(entry)
        if actor:
            fields["by"] = actor
        await self.append(pipe, show.id, fields, closes)
        pipe.incr(k.version)
        pipe.publish(events_channel(self.prefix), show.id)
        raw: list[Any] = await self.call(pipe.execute())
        return int(raw[-2])

    async def set_display(self, show: Show, fields: dict[str, str], actor: str) -> int:
        """Change what is displayed (overlay category, freeze); announce it."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.keys(show.id).display, mapping=dict(fields))  # type: ignore[arg-type]
        entry = {"k": "display", **{f"set_{name}": value for name, value in fields.items()}}
        return await self._announced(show, pipe, entry, actor)

    async def set_revealed(self, show: Show, category: str, shown: bool, actor: str) -> int:
        """Reveal a category's hidden tallies to viewers (or hide them again); announce it."""
        pipe = self.client.pipeline(transaction=True)
        (pipe.sadd if shown else pipe.srem)(self.keys(show.id).revealed, category)
        entry = {"k": "display", "reveal" if shown else "hide": category}
        return await self._announced(show, pipe, entry, actor)

    async def set_voting(self, show: Show, category: str, is_open: bool, only: str = "") -> int:
        """Open or close voting in a category outside the stage's voting window; announce it."""
        state = {"open": "1" if is_open else "0", "only": only, "until": "0"}
        if is_open:
            state["started"] = "1"
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.keys(show.id).category(category), mapping=state)  # type: ignore[arg-type]
        entry = {"k": "voting", "cat": category, "open": state["open"], "only": only}
        closes = "" if is_open else category
        return await self._announced(show, pipe, entry, closes=closes)

    async def sheet_op(
        self,
        ref: SheetRef,
        op: str,
        marks: dict[str, str],
        save_id: str,
        base: int,
        actor: str,
        reason: str = "",
    ) -> tuple[str, dict[str, Any]]:
        """Apply one sheet change atomically (see ``sheet.lua``): (outcome, the record)."""
        k = self.keys(ref.show)
        args: list[str | int] = [ref.key, op, json.dumps(marks), save_id, base, actor]
        args += [int(time.time() * 1000), reason, ref.category]
        keys = [k.sheets(ref.category), k.ledger]
        raw: Any = await self.call(self._sheet(keys=keys, args=args))
        record: dict[str, Any] = json.loads(raw[1])
        if not isinstance(record.get("marks"), dict):
            record["marks"] = {}  # cjson writes an empty table as {} or [] alike
        return str(raw[0]), record

    async def set_approval(self, ref: SheetRef, approve: bool | None, actor: str) -> None:
        """Record a judge's approve/reject (``None`` withdraws it), with a ledger entry."""
        k = self.keys(ref.show)
        pipe = self.client.pipeline(transaction=True)
        if approve is None:
            pipe.hdel(k.approvals(ref.category), ref.key)
        else:
            pipe.hset(k.approvals(ref.category), ref.key, "1" if approve else "0")
        value = "" if approve is None else ("1" if approve else "0")
        entry = {
            "k": "approval",
            "cat": ref.category,
            "sheet": ref.key,
            "value": value,
            "by": actor,
        }
        await self.append(pipe, ref.show, entry)
        await self.call(pipe.execute())

    async def judging_read(self, show: str, category: str) -> JudgingRead:
        k = self.keys(show)
        pipe = self.client.pipeline(transaction=True)
        pipe.zrange(k.tally(category), 0, -1, withscores=True)
        pipe.xrevrange(k.ledger, count=1)
        pipe.hgetall(k.sheets(category))
        pipe.hgetall(k.approvals(category))
        raw: list[Any] = await self.call(pipe.execute())
        sheets = {}
        for name, value in raw[2].items():
            record = json.loads(value)
            if not isinstance(record.get("marks"), dict):
                record["marks"] = {}
            sheets[name] = record
        return JudgingRead(
            tallies={c: int(n) for c, n in raw[0]},
            position=raw[1][0][0] if raw[1] else "0-0",
            sheets=sheets,
            approvals=dict(raw[3]),
        )

    async def publish(self, show: Show, category: str, record: str, actor: str) -> int:
        """Append a publication; the new version. Ledger entry, show version and push at once."""
        k = self.keys(show.id)
        keys = [k.publications(category), k.published, k.ledger, k.version]
        args: list[str | int] = [
            record,
            category,
            actor,
            int(time.time() * 1000),
            events_channel(self.prefix),
            show.id,
            hashlib.sha256(record.encode()).hexdigest(),
        ]
        return int(await self.call(self._publish(keys=keys, args=args)))

    async def ledger_pins(self, show: str, category: str, position: str) -> dict[str, Any]:
        """The chain head at ``position`` and the one pinned when ``category``'s voting closed:
        ``{"result": {n, h, id} | None, "close": {n, h, id, t} | None}``."""
        k = self.keys(show)
        pipe = self.client.pipeline(transaction=False)
        pipe.xrange(k.ledger, min=position, max=position, count=1)
        pipe.hget(k.heads, category)
        raw: list[Any] = await self.call(pipe.execute())
        at = None
        if raw[0]:
            entry_id, fields = raw[0][0]
            at = {"n": int(fields.get("n", 0)), "h": fields.get("h", ""), "id": entry_id}
        return {"result": at, "close": json.loads(raw[1]) if raw[1] else None}

    async def publications(self, show: str, category: str) -> list[str]:
        raw: Any = await self.call(
            self.client.lrange(self.keys(show).publications(category), 0, -1)
        )
        return list(raw)

    async def ledger_entries(
        self, show: str, batch: int = 10_000
    ) -> AsyncIterator[tuple[str, dict[str, str]]]:
        """Every ledger entry, oldest first, read in batches.

        The next batch is requested before this one is handed out, so Redis and the network
        work while the caller folds (a recount runs at the slower of the two, not their sum).
        """
        key = self.keys(show).ledger

        def fetch(start: str) -> asyncio.Task[Any]:
            return asyncio.ensure_future(
                self.call(self.client.xrange(key, min=start, max="+", count=batch))
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
        self, show: str, cursor: str, count: int
    ) -> list[tuple[str, dict[str, str]]]:
        """Up to ``count`` ledger entries from ``cursor`` on (``-``: the first; ``(id``: after
        ``id``), oldest first."""
        key = self.keys(show).ledger
        raw: Any = await self.call(self.client.xrange(key, min=cursor, max="+", count=count))
        return [(entry_id, fields) for entry_id, fields in raw or []]

    async def ledger_length(self, show: str) -> int:
        return int(await self.call(self.client.xlen(self.keys(show).ledger)))

    async def recount(self, show: str) -> Recount:
        entries = [fields async for _, fields in self.ledger_entries(show)]
        return recount(entries)
