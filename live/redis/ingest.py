"""Redis side of platform events: one ``ingest.lua`` call per batch, and the per-platform
figures read back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from live.domain.ingest.event import Event
from live.domain.show import Show
from live.redis.store import Store

SEEN_MS = 2 * 86_400_000
"""How long a day's set of seen event ids is kept: a repeat within 24 h is always caught."""


@dataclass(slots=True)  # not frozen: one per event on the hot path
class Ballot:
    """One event as ``ingest.lua`` decides it: the user already a pseudonym, and for a chat
    vote its category and contestant ('' for a like or a gift)."""

    event: Event
    user: str
    category: str = ""
    contestant: str = ""
    grace_ms: int = 0


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class IngestStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.client = store.client
        self._script = store.script("ingest.lua")

    async def count(
        self, show: Show, ballots: Sequence[Ballot], comments: dict[str, int] | None = None
    ) -> tuple[list[str], int]:
        """Decide a batch of events in one atomic step: each one's status, and the show's
        version after. ``comments``: per platform, the comments of the batch that are not
        votes (added to its ``comments`` figure)."""
        k = self.store.keys(show.id)
        index: dict[str, int] = {}
        for key in (k.ledger, k.version, k.sources, k.seen):
            index.setdefault(key, len(index) + 1)
        events = []
        places: dict[tuple[str, str], list[int]] = {}  # (platform, category) -> key indexes
        for b in ballots:
            e = b.event
            cat = b.category or show.categories[0].id
            where = places.get((e.platform, cat))
            if where is None:
                keys = (k.category(cat), k.source_used(cat), k.source_tally(e.platform, cat))
                where = places[(e.platform, cat)] = [
                    index.setdefault(key, len(index) + 1) for key in keys
                ]
            fields = [
                e.kind, e.platform, e.room, e.event_id, b.user, b.category, b.contestant,
                str(e.count), str(e.platform_ts), str(b.grace_ms),
                e.text if e.kind == "gift" else "",
            ]  # fmt: skip
            events.append([where, fields])
        raw: list[Any] = await self.store.call(
            self._script(
                keys=list(index), args=[0, SEEN_MS, _dumps(events), _dumps(comments or {})]
            )
        )
        return [str(s) for s in raw[:-1]], int(raw[-1])

    async def figures(self, show: Show) -> dict[str, dict[str, int]]:
        """Per platform: votes, likes, gifts, comments, duplicates, refused."""
        raw: Any = await self.store.call(self.client.hgetall(self.store.keys(show.id).sources))
        out: dict[str, dict[str, int]] = {}
        for name, value in raw.items():
            platform, _, what = str(name).partition(":")
            out.setdefault(platform, {})[what] = int(value)
        return out
