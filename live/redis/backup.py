"""Reading every key of a show for a backup, and writing them back for a restore.

A backup reads each partition of the show in one atomic step (``backup.lua``: its hashes,
sets, sorted sets, lists and strings, and where each stream ends), then each stream up to that
end: what it holds is one consistent state per partition. The ephemeral key families
(sessions, invites, rate windows, leases: :data:`live.redis.embedded.EPHEMERAL`) are left out;
staff sign in again with new links after a restore.

A restore writes with the app user's own commands (HSET, SADD, ZADD, RPUSH, SETNX, and XADD
with each entry's id): no RESTORE, which its ACL does not allow, and never over an existing
key: the target must hold nothing of the show.
"""

from __future__ import annotations

import fnmatch
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from live.domain.errors import ConfigError
from live.domain.show import partition_tag
from live.redis.embedded import EPHEMERAL
from live.redis.keys import registry_key
from live.redis.store import Store

CHUNK = 1000
"""Fields, members or stream entries written (or read) per command."""


@dataclass(frozen=True, slots=True)
class Record:
    key: str
    """The key without the prefix (``:{show}:stage``): a restore may put it under another."""
    type: str
    value: Any
    """hash, set, zset, list: the flat array; string: the text; stream: its last id."""


def ephemeral(rest: str) -> bool:
    """Whether a key (after its ``{tag}:``) is of an ephemeral family."""
    return any(fnmatch.fnmatchcase(rest, family) for family in EPHEMERAL)


def restorable(key: str, show: str, partitions: int) -> bool:
    """Whether a backup may write ``key`` (without the prefix: ``:{show}:stage``) when it is a
    backup of ``show``: a key of one of the show's partitions, of a lasting family. Never
    another show's key, nor a session, login token, rate window or lease (a backup file is
    input from outside: it must not plant a way in)."""
    for part in range(partitions):
        head = f":{{{partition_tag(show, part, partitions)}}}:"
        if key.startswith(head):
            rest = key[len(head) :]
            return bool(rest) and not ephemeral(rest)
    return False


class Backups:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.client = store.client
        self._read = store.script("backup.lua")

    async def _scan(self, show: str, part: int) -> list[str]:
        base = self.store.keys(show, part).base
        found = []
        async for raw in self.client.scan_iter(match=f"{base}:*", count=1000):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            if not ephemeral(key[len(base) + 1 :]):
                found.append(key)
        return sorted(found)

    async def read_partition(self, show: str, part: int) -> list[Record]:
        """Every lasting key of one partition, read at one instant (a key made between the
        listing and the read is caught by listing again)."""
        cut = len(self.store.prefix)
        for _ in range(5):
            keys = await self._scan(show, part)
            if not keys:
                return []
            raw: list[Any] = await self.store.call(self._read(keys=keys, args=[]))
            if await self._scan(show, part) == keys:
                return [
                    Record(key[cut:], str(t), value)
                    for key, (t, value) in zip(keys, raw, strict=True)
                    if t != "none"
                ]
        raise ConfigError(f"show {show!r} kept gaining keys during the backup: try again")

    async def stream(self, key: str, until: str) -> AsyncIterator[tuple[str, list[str]]]:
        """The entries of a stream (its full name) up to ``until``, in order, as flat lists."""
        start = "-"
        while until:
            read: Any = self.client.xrange(key, start, until, count=CHUNK)
            rows: list[Any] = await self.store.call(read)
            for entry_id, fields in rows:
                flat: list[str] = []
                for k, v in fields.items():
                    flat += [str(k), str(v)]
                yield str(entry_id), flat
            if len(rows) < CHUNK:
                return
            start = "(" + str(rows[-1][0])

    async def heads(self, show: str) -> list[tuple[str, str]]:
        """Each chain's head: its last entry's position ``n`` and hash ``h``."""
        out = []
        for part in self.store.partitions(show):
            key = self.store.keys(show, part).ledger
            read: Any = self.client.xrevrange(key, "+", "-", count=1)
            rows: list[Any] = await self.store.call(read)
            fields = rows[0][1] if rows else {}
            out.append((str(fields.get("n", 0)), str(fields.get("h", "0" * 40))))
        return out

    async def registered(self, show: str) -> str | None:
        """When the show was set up in the browser (its registry entry), if it was."""
        got = await self.store.call(self.client.hget(registry_key(self.store.prefix), show))
        return str(got) if got is not None else None

    # -- restore ------------------------------------------------------------------------------

    async def existing(self, show: str) -> str:
        """A key of ``show`` (any family, any partition) that exists under this prefix, or ''.
        A restore writes only where the show has nothing: appending to a live ledger would
        break its chain for good (the app's ACL cannot take an entry back)."""
        for part in self.store.partitions(show):
            base = self.store.keys(show, part).base
            async for raw in self.client.scan_iter(match=f"{base}:*", count=1000):
                return raw.decode() if isinstance(raw, bytes) else str(raw)
        return ""

    async def write(self, record: Record) -> None:
        """Write one non-stream key under this store's prefix (it must not exist)."""
        key = self.store.prefix + record.key
        value = record.value
        c = self.client
        if record.type == "string":
            if not await self.store.call(c.setnx(key, value)):
                raise ConfigError(f"{key} exists: not overwritten")
            return
        items: list[Any] = list(value)
        step = 2 * CHUNK if record.type in ("hash", "zset") else CHUNK
        for i in range(0, len(items), step):
            part = items[i : i + step]
            if record.type == "hash":
                await self.store.call(
                    c.hset(key, mapping=dict(zip(part[::2], part[1::2], strict=True)))
                )
            elif record.type == "zset":
                scores = {m: float(s) for m, s in zip(part[::2], part[1::2], strict=True)}
                await self.store.call(c.zadd(key, scores))
            elif record.type == "set":
                await self.store.call(c.sadd(key, *part))
            elif record.type == "list":
                await self.store.call(c.rpush(key, *part))
            else:
                raise ConfigError(f"{key}: cannot restore a {record.type!r}")

    async def append(self, key: str, entries: list[tuple[str, list[str]]]) -> None:
        """Append stream entries (full key name) with their own ids, in order."""
        full = self.store.prefix + key
        pipe = self.client.pipeline(transaction=False)
        for entry_id, flat in entries:
            pipe.xadd(full, dict(zip(flat[::2], flat[1::2], strict=True)), id=entry_id)
        await self.store.call(pipe.execute())

    async def register(self, show: str, created: str) -> None:
        await self.store.call(self.client.hsetnx(registry_key(self.store.prefix), show, created))
