"""Redis side of moderation: voids and restores (one Lua step), flags, the moderation log."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from live.domain.show import Show
from live.redis.base import Op
from live.redis.keys import ShowKeys
from live.redis.store import Store


@dataclass(frozen=True, slots=True)
class Moderated:
    changed: int
    unchanged: int
    """Already voided (void) or already counted (restore): idempotent, nothing written."""
    unknown: int
    """Not an accepted vote of this show."""
    version: int


@dataclass(frozen=True, slots=True)
class Target:
    device: str
    """The device's pseudonym."""
    category: str
    contestant: str


def _vote_ids(k: ShowKeys) -> str:
    return k.vote_ids


class ModerationStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.client = store.client
        self._void = store.script("void.lua")

    async def moderate(
        self, show: Show, op: str, vids: list[str], actor: str, reason: str, ref: str
    ) -> Moderated:
        """Void or restore ``vids`` atomically per partition (see ``void.lua``): a vote is
        voided in the partition that counted it, in that partition's chain and log. Vote ids
        no partition knows are counted ``unknown`` (by partition 0)."""
        found = await self._where(show.id, vids)
        groups: dict[int, list[str]] = {}
        for vid in vids:
            for part in found.get(vid) or [0]:
                groups.setdefault(part, []).append(vid)
        cats = [c.id for c in show.categories]
        total = [0, 0, 0]
        for part, group in sorted(groups.items()):
            k = self.store.keys(show.id, part)
            keys = [k.vote_ids, k.voided, k.void_counts, k.ledger, k.version, k.moderation_log]
            for cat in cats:
                keys += [k.tally(cat), k.used(cat)]
            # A partition's own channel has no listener (a script may only publish in its own
            # slot); the version it bumps reaches viewers with the hub's next version poll.
            args: list[str | int] = [op, actor, reason, 0]
            args += [show.integrity.voided_cap, k.events, show.id, ref]
            args += [len(cats), *cats, *group]
            raw: Any = await self.store.call(self._void(keys=keys, args=args))
            for i in range(3):
                total[i] += int(raw[i])
        version = (await self.store.versions([show.id]))[0]
        return Moderated(total[0], total[1], total[2], version)

    async def _where(self, show: str, vids: list[str]) -> dict[str, list[int]]:
        """The partitions whose vote index holds each of ``vids`` (one, unless a vote id was
        reused by devices of different partitions)."""
        if not vids:
            return {}
        if len(self.store.partitions(show)) == 1:
            return {vid: [0] for vid in vids}
        out: dict[str, list[int]] = {}
        for part, found in enumerate(await self._hmget_each(show, _vote_ids, vids)):
            for vid, fp in zip(vids, found, strict=True):
                if fp:
                    out.setdefault(vid, []).append(part)
        return out

    async def _hmget_each(
        self, show: str, key: Callable[[ShowKeys], str], vids: list[str]
    ) -> list[list[Any]]:
        """HMGET of ``vids`` in the hash ``key`` names, in every partition (one round trip):
        per partition, per vid, the value or None."""
        pipe = self.client.pipeline(transaction=False)
        for part in self.store.partitions(show):
            pipe.hmget(key(self.store.keys(show, part)), vids)
        raw: list[list[Any]] = await self.store.call(pipe.execute())
        return raw

    async def _hmget_first(
        self, show: str, key: Callable[[ShowKeys], str], vids: list[str]
    ) -> list[Any]:
        """Per vid, the first value found in any partition's hash ``key``."""
        raw = await self._hmget_each(show, key, vids)
        return [next((r[i] for r in raw if r[i]), None) for i in range(len(vids))]

    async def targets(self, show: str, vids: list[str]) -> dict[str, Target]:
        """Device, category and contestant of each accepted vote among ``vids``."""
        if not vids:
            return {}
        raw = await self._hmget_first(show, _vote_ids, vids)
        out = {}
        for vid, fp in zip(vids, raw, strict=True):
            if fp:
                dev, cat, who = fp.split("\n")[:3]  # an identity tier's vote adds "i:<pid>"
                out[vid] = Target(dev, cat, who)
        return out

    async def voided(self, show: str, vids: list[str]) -> dict[str, dict[str, Any]]:
        """The void record (by, why, t, ref) of each voided vote among ``vids``."""
        if not vids:
            return {}
        raw = await self._hmget_first(show, lambda k: k.voided, vids)
        return {vid: json.loads(r) for vid, r in zip(vids, raw, strict=True) if r}

    async def log(self, show: str, last: int = 200) -> list[dict[str, Any]]:
        """The last moderation actions, oldest first (each partition keeps its own log)."""
        pipe = self.client.pipeline(transaction=False)
        for part in self.store.partitions(show):
            pipe.lrange(self.store.keys(show, part).moderation_log, -last, -1)
        raw: list[Any] = await self.store.call(pipe.execute())
        entries = [json.loads(r) for found in raw for r in found]
        entries.sort(key=lambda e: e.get("t", 0))
        return entries[-last:]

    async def write_flags(
        self,
        show: str,
        clusters: dict[str, str],
        flagged: dict[str, list[str]],
        personal: dict[str, str],
        retention_ms: int,
    ) -> None:
        """Replace the changed clusters' records and append their newly flagged vote ids, in
        one transaction (a record's ``flagged`` count never runs ahead of its list), with the
        raw values their pseudonyms stand for (``personal``: into the show's ``pii`` hash,
        whose expiry moves to ``retention_ms`` from now)."""
        if not clusters:
            return
        keys = self.store.keys(show)
        ops: list[Op] = [("HSET", keys.flags, *(x for pair in clusters.items() for x in pair))]
        ops += [("RPUSH", keys.flag_votes(cid), *vids) for cid, vids in flagged.items() if vids]
        if personal:
            ops.append(("HSET", keys.personal, *(x for pair in personal.items() for x in pair)))
            ops.append(("PEXPIRE", keys.personal, str(retention_ms)))
        await self.store.change(show, ops)

    async def personal(self, show: str, pseudonyms: list[str]) -> dict[str, str]:
        """The raw values still kept for ``pseudonyms`` (partition 0's ``pii`` hash, where the
        flagger puts every value a flag names)."""
        if not pseudonyms:
            return {}
        raw: list[Any] = await self.store.call(
            self.client.hmget(self.store.keys(show).personal, pseudonyms)
        )
        return {p: v for p, v in zip(pseudonyms, raw, strict=True) if v is not None}

    async def flag_votes(self, show: str, cluster: str) -> list[str]:
        """A cluster's flagged vote ids, oldest first, without repeats."""
        raw: Any = await self.store.call(
            self.client.lrange(self.store.keys(show).flag_votes(cluster), 0, -1)
        )
        return list(dict.fromkeys(raw))

    async def flags(self, show: str) -> dict[str, dict[str, Any]]:
        raw: Any = await self.store.call(self.client.hgetall(self.store.keys(show).flags))
        return {cid: json.loads(blob) for cid, blob in raw.items()}

    async def flag(self, show: str, cluster: str) -> dict[str, Any] | None:
        raw: Any = await self.store.call(self.client.hget(self.store.keys(show).flags, cluster))
        return json.loads(raw) if raw else None

    async def hold_lease(self, show: str, name: str, holder: str, ms: int) -> bool:
        """Take or renew a lease; True while ``holder`` has it (one atomic step)."""
        return await self.store.hold_lease(show, name, holder, ms)
