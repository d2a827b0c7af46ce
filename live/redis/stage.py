"""The stage in Redis: a compare-and-set on its revision (``stage.lua``), announced at once."""

from __future__ import annotations

from typing import Any

from live.domain.show import Show
from live.domain.stage import CategoryChange, Stage
from live.redis.partitions import Partitions


class Stages(Partitions):
    """Read and move the stage."""

    async def read_stage(self, show: str) -> Stage:
        raw: Any = await self.call(self.client.hgetall(self.keys(show).stage))
        return Stage.from_redis(raw)

    async def apply_stage(
        self, show: Show, old: Stage, new: Stage, changes: list[CategoryChange], actor: str
    ) -> int:
        """Write ``new`` if the stage is still ``old`` (by rev); the new version, or 0."""
        k = self.keys(show.id)
        fields = {**new.to_redis(), "by": actor}
        args: list[str | int] = [old.rev, k.events, show.id, new.since]
        args.append(len(fields))
        for name, value in fields.items():
            args += [name, value]
        for change in changes:
            args += ["1" if change.open else "0", change.only, change.until, change.category]
        keys = [k.stage, k.version, k.ledger, k.heads]
        keys += [k.category(c.category) for c in changes]
        version = int(await self.call(self.script("stage.lua")(keys=keys, args=args)))
        if version and changes:
            await self.mirror(show)
        return version
