"""Redis side of platform events: one ``ingest.lua`` call per batch, and the per-platform
figures read back."""

from __future__ import annotations

import hashlib
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


BAD_SIGNATURE_WINDOW_MS = 60_000
NONCE_MS = 10 * 60_000
"""How long a Douyin push's nonce is remembered: past the 5 minutes a timestamp may be off, on
either side, a replay is refused by its timestamp instead."""


class IngestStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.client = store.client
        self._script = store.script("ingest.lua")
        self._budget = store.script("budget.lua")

    def _checks(self, show: str, room: str, address: str) -> list[str]:
        base = self.store.keys(show).base
        return [f"{base}:win:badsig:room:{room}", f"{base}:win:badsig:ip:{address}"]

    async def reserve_check(
        self, show: str, room: str, address: str, per_room: int, per_address: int
    ) -> int:
        """Take one signature check from the room's and the address's budgets of bad
        signatures (per minute): 0 when taken, else the ms until one is free again. A check
        whose signature is good is given back (:meth:`give_back`): only bad ones use them up.
        ``address`` is the show's pseudonym of the sender's address, never the address."""
        keys = self._checks(show, room, address)
        args: list[int] = [BAD_SIGNATURE_WINDOW_MS, per_room, per_address]
        raw: list[Any] = await self.store.call(self._budget(keys=keys, args=args))
        return int(raw[1]) if int(raw[0]) else 0

    async def give_back(self, show: str, room: str, address: str) -> None:
        """Give a good signature's check back (never below 0, never to a window that ended)."""
        keys = self._checks(show, room, address)
        await self.store.call(self._budget(keys=keys, args=["give"]))

    async def forget_nonce(self, show: str, nonce: str) -> None:
        """Forget a nonce whose push was not taken after all (its retry must be counted)."""
        await self.store.call(self.client.delete(self._nonce_key(show, nonce)))

    async def first_nonce(self, show: str, nonce: str) -> bool:
        """Remember a signed push's nonce; False if it was seen within :data:`NONCE_MS` (a
        replay of the same push)."""
        key = self._nonce_key(show, nonce)
        return bool(await self.store.call(self.client.set(key, "1", nx=True, px=NONCE_MS)))

    def _nonce_key(self, show: str, nonce: str) -> str:
        digest = hashlib.sha256(nonce.encode()).hexdigest()[:32]
        return f"{self.store.keys(show).seen}nonce:{digest}"

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
