"""Use cases: validate (pure), write through the store, and let the hub announce."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from live.ballot import make_ballot, parse_like, parse_vote
from live.errors import UnknownShow
from live.hub import Hub
from live.likes import LikeBuffer
from live.protocol import encode, show_static, snapshot
from live.show import Show
from live.store import LikeOutcome, Store, VoteOutcome


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

    async def state(self, show_id: str) -> dict[str, Any]:
        show = self.show(show_id)
        state = await self.store.read_state(show)
        return snapshot(show, state, self._static[show.id])

    async def encoded_state(self, show_id: str) -> tuple[int, str]:
        message = await self.state(show_id)
        return int(message["version"]), encode(message)
