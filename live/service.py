"""Use cases: validate (pure), write through the store, and let the hub announce."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from live.ballot import make_ballot, parse_like, parse_vote
from live.errors import LiveError, UnknownShow
from live.hub import Hub
from live.likes import LikeBuffer
from live.protocol import encode, show_static, snapshot
from live.show import Show
from live.stage import Action, Stage, StageConflict, apply, category_changes, expired
from live.store import LikeOutcome, ShowState, Store, VoteOutcome

log = logging.getLogger("live.service")


def wall_ms() -> int:
    return int(time.time() * 1000)


class Service:
    def __init__(
        self,
        shows: dict[str, Show],
        store: Store,
        hub: Hub | None = None,
        likes: LikeBuffer | None = None,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self.shows = shows
        self.store = store
        self.hub = hub
        self.likes = likes
        self.clock = clock
        self._static = {sid: show_static(show) for sid, show in shows.items()}

    def show(self, show_id: str) -> Show:
        show = self.shows.get(show_id)
        if show is None:
            raise UnknownShow(f"no show {show_id!r}")
        return show

    async def vote(
        self, show_id: str, raw: bytes | dict[str, Any], device: str, ip: str
    ) -> tuple[str, VoteOutcome]:
        """Decide one vote. The outcome is final only once the ledger holds it."""
        show = self.show(show_id)
        vote = parse_vote(raw)
        ballot = make_ballot(show, vote, device, ip)
        return vote.vote_id, await self.store.cast_vote(ballot, self.clock(), show)

    def like(self, show_id: str, raw: bytes | dict[str, Any], device: str) -> int:
        """Take ``+n`` taps into the buffer; they are capped and counted on the next flush."""
        show = self.show(show_id)
        like = parse_like(raw, show)
        if self.likes is None:
            raise RuntimeError("likes are not enabled on this service")
        self.likes.add(show.id, device, like.n)
        return like.n

    async def flush_likes(self, show_id: str, batch: dict[str, int]) -> LikeOutcome:
        return await self.store.add_likes(self.show(show_id), batch, self.clock())

    async def load(self, show_id: str) -> ShowState:
        return await self.store.read_state(self.show(show_id))

    def encode(self, show_id: str, state: ShowState, audience: str) -> str:
        show = self.show(show_id)
        return encode(snapshot(show, state, self._static[show.id], audience, self.clock()))

    async def state(self, show_id: str, audience: str = "viewer") -> dict[str, Any]:
        show = self.show(show_id)
        state = await self.store.read_state(show)
        return snapshot(show, state, self._static[show.id], audience, self.clock())

    async def stage_action(self, show_id: str, action: Action, actor: str) -> Stage:
        """Apply one stage action; of racing actions on the same stage exactly one wins."""
        show = self.show(show_id)
        for _ in range(5):
            old = await self.store.read_stage(show.id)
            new = apply(old, action, show, self.clock())
            if await self.store.apply_stage(show, old, new, category_changes(old, new), actor):
                if new.phase == "results":
                    await self.reveal(show.id, new.category, True, actor)
                return new
        raise StageConflict("the stage kept changing; read it again and retry")

    async def close_expired(self) -> None:
        """Close every voting window whose countdown has run out (any process may do it)."""
        now = self.clock()
        for show in self.shows.values():
            old = await self.store.read_stage(show.id)
            if expired(old, now):
                new = apply(old, Action("close_voting"), show, now)
                await self.store.apply_stage(show, old, new, category_changes(old, new), "clock")

    async def reveal(self, show_id: str, category: str, shown: bool, actor: str) -> int:
        show = self.show(show_id)
        show.category(category)
        state = await self.store.read_state(show)
        revealed = set(state.display.revealed)
        (revealed.add if shown else revealed.discard)(category)
        return await self.store.set_display(show, {"revealed": json.dumps(sorted(revealed))}, actor)

    async def set_overlay_category(self, show_id: str, category: str, actor: str) -> int:
        show = self.show(show_id)
        show.category(category)
        return await self.store.set_display(show, {"overlay_category": category}, actor)

    async def freeze(self, show_id: str, frozen: bool, actor: str) -> int:
        """Hold the overlay's numbers at what they are now (or let them move again)."""
        show = self.show(show_id)
        value = ""
        if frozen:
            state = await self.store.read_state(show)
            value = json.dumps(state.tallies, separators=(",", ":"))
        return await self.store.set_display(show, {"frozen": value}, actor)

    async def run_stage_clock(self, interval: float = 0.2) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.close_expired()
            except LiveError as exc:
                log.warning("stage clock skipped: %s", exc.message)
