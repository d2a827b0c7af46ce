"""The shows set up in the browser: their show files, in Redis, where every process reads them.

A show served from a file is defined by that file. A show created on the setup page has no
file: its show file (the same TOML) is kept in ``{show}:definition``, and its id in the
registry (:func:`~live.redis.keys.registry_key`), which every process polls and serves from
(:class:`live.services.setup.Setup`). A definition changes only through ``define.lua``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from live.domain.show import Show
from live.redis.keys import organisers_key, registry_key
from live.redis.store import Store


@dataclass(frozen=True, slots=True)
class Definition:
    show: str
    toml: str
    rev: str


class Registry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.key = registry_key(store.prefix)
        self.organisers = organisers_key(store.prefix)
        self._define = store.script("define.lua")
        self._quota = store.script("quota.lua")

    async def quota(self, op: str, show: str, staff: str, quota: int = 0) -> tuple[str, int, int]:
        """An organiser's grant (``quota.lua``): ``take`` one show of it, ``give`` one back,
        ``grant`` a quota (the operator's, ``live staff organiser``); (status, used, quota)."""
        keys = [self.organisers]
        args: list[str | int] = [op, f"{show}|{staff}", quota]
        raw: list[Any] = await self.store.call(self._quota(keys=keys, args=args))
        if str(raw[0]) == "none":
            return "none", 0, 0
        return str(raw[0]), int(raw[1]), int(raw[2])

    async def ids(self) -> list[str]:
        """The shows set up in the browser, in the order they were created."""
        raw: dict[Any, Any] = await self.store.call(self.store.client.hgetall(self.key))
        pairs = sorted((int(v), str(k)) for k, v in raw.items())
        return [show for _, show in pairs]

    async def revision(self, show: str) -> str | None:
        """The revision of ``show``'s definition, or None if it has none (a file's show)."""
        # Partition 0's keys do not depend on the partition count: a show not loaded here yet
        # is read through a one-partition view.
        key = self.store.keys(show).definition
        rev = await self.store.call(self.store.client.hget(key, "rev"))
        return str(rev) if rev is not None else None

    async def definition(self, show: str) -> Definition | None:
        key = self.store.keys(show).definition
        raw: list[Any] = await self.store.call(self.store.client.hmget(key, ["toml", "rev"]))
        if raw[0] is None or raw[1] is None:
            return None
        return Definition(show, str(raw[0]), str(raw[1]))

    async def define(
        self,
        show: Show,
        toml: str,
        rev: str,
        replaces: str,
        actor: str,
        create: bool,
        dropped: tuple[str, ...] = (),
    ) -> tuple[str, int]:
        """Store ``show``'s show file (``define.lua``); (status, version). A new show is then
        listed in the registry (after its definition: a crash in between leaves a definition
        no process serves, and the same create, retried, lists it). ``dropped``: categories of
        the current definition the new one leaves out (checked not to have started)."""
        if show.id not in self.store.parts:
            self.store.register([show])
        k = self.store.keys(show.id)
        cats = [k.category(c.id) for c in show.categories]
        args: list[str | int] = ["create" if create else "replace", toml, rev, replaces, actor]
        args += [k.events, show.id, show.running_order()[0].id]
        args.append(json.dumps({c.id: c.photo or "" for c in show.contestants}))
        for c in show.categories:
            args += ["1" if c.open else "0", c.votes_per_device, c.per_contestant]
            args += ["1" if c.hide_tallies else "0"]
        keys = [k.definition, k.stage, k.contestants, k.version, k.ledger, *cats]
        keys += [k.category(c) for c in dropped]
        raw: list[Any] = await self.store.call(self._define(keys=keys, args=args))
        status, version = str(raw[0]), int(raw[1])
        if status == "ok" and create:
            created = str(int(time.time() * 1000))
            await self.store.call(self.store.client.hsetnx(self.key, show.id, created))
        return status, version
