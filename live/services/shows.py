"""Use cases: validate (pure), write through the store, and let the hub announce."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any, Protocol

from live import metrics
from live.domain.ballot import Voter, make_ballot, parse_like, parse_vote
from live.domain.errors import (
    BadRequest,
    LiveError,
    RulesFrozen,
    ShowStarted,
    UnknownContestant,
    UnknownShow,
)
from live.domain.identity import Claim, claim_for
from live.domain.ledger.audit import Audit, Verdict, combine, compare
from live.domain.ledger.chain import split_position
from live.domain.ledger.recount import Recount
from live.domain.protocol import Encoded, encode, snapshot, split, split_comments
from live.domain.show import ContestantEdit, RulesEdit, Show, check_running_order, effective
from live.domain.stage import Action, Stage, StageConflict, apply, category_changes, expired
from live.domain.state import LikeOutcome, ShowState, VoteOutcome
from live.redis.store import Store

log = logging.getLogger("live.service")


class LikeSink(Protocol):
    """Where accepted taps go to be merged before one Redis write (the realtime like buffer)."""

    def add(self, show: str, device: str, n: int) -> None: ...


CLOCK_LEASE_MS = 2000
"""The stage clock's lease: renewed every tick (0.2 s), taken over this long after its holder
stops renewing it."""


def wall_ms() -> int:
    return int(time.time() * 1000)


class Service:
    def __init__(
        self,
        shows: dict[str, Show],
        store: Store,
        likes: LikeSink | None = None,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self.shows = shows
        self.store = store
        store.register(shows.values())
        self.likes = likes
        self.changed: Callable[[str], None] | None = None
        """Told the id of a show this process changed (the hub pushes it soon)."""
        self.added: Callable[[Show], None] | None = None
        """Told of a show served from now on (:meth:`add_show`): its channel is listened to."""
        self.clock = clock
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        """Who this process is, for leases."""
        self.skew_ms = 0
        """Redis's clock minus this host's, as last measured by the stage clock: snapshots
        carry ``server_time`` on Redis's clock, the clock their deadlines are on."""

    def add_show(self, show: Show) -> None:
        """Serve ``show`` (new, or redefined before it started) from now on."""
        self.store.register([show])
        self.shows[show.id] = show
        if self.added is not None:
            self.added(show)

    def now(self) -> int:
        """This host's clock moved onto Redis's (ms)."""
        return self.clock() + self.skew_ms

    def show(self, show_id: str) -> Show:
        show = self.shows.get(show_id)
        if show is None:
            raise UnknownShow(f"no show {show_id!r}")
        return show

    async def vote(
        self, show_id: str, raw: bytes | dict[str, Any], voter: Voter
    ) -> tuple[str, VoteOutcome]:
        """Decide one vote. The outcome is final only once the ledger holds it."""
        show = self.show(show_id)
        vote = parse_vote(raw)
        ballot = make_ballot(show, vote, voter, self.now())
        started = time.perf_counter()
        outcome = await self.store.cast_vote(ballot, None, show)  # Redis's clock decides
        metrics.VOTE_SECONDS.observe(time.perf_counter() - started)
        metrics.VOTES.labels(show.id, vote.category, outcome.status).inc()
        if outcome.status == "accepted" and outcome.reason != "replay" and self.changed:
            self.changed(show.id)
        return vote.vote_id, outcome

    async def my_votes(
        self, show_id: str, device: str, claims: tuple[Claim, ...] = ()
    ) -> dict[str, dict[str, Any]]:
        """Per category: the device's cap (as edited), votes used and votes left (in a category
        of an identity tier, the person's, counted across their devices), the ``identity`` it
        needs and whether this device holds it (``verified``)."""
        show = self.show(show_id)
        now = self.now()
        held: dict[str, str] = {
            cat.identity: claim.hash
            for cat in show.categories
            if cat.identity != "device"
            and (claim := claim_for(claims, cat.identity, now, show.retention_ms)) is not None
        }
        caps, used = await self.store.usage(show, device, held)
        out: dict[str, dict[str, Any]] = {}
        for cat in show.categories:
            cap = caps.get(cat.id, cat.votes_per_device)
            n = used.get(cat.id, 0)
            out[cat.id] = {
                "cap": cap,
                "used": n,
                "left": max(0, cap - n),
                "identity": cat.identity,
                "verified": cat.identity == "device" or cat.identity in held,
            }
        return out

    def like(self, show_id: str, raw: bytes | dict[str, Any], device: str) -> int:
        """Take ``+n`` taps into the buffer; they are capped and counted on the next flush."""
        show = self.show(show_id)
        like = parse_like(raw, show)
        if self.likes is None:
            raise RuntimeError("likes are not enabled on this service")
        self.likes.add(show.id, device, like.n)
        return like.n

    async def flush_likes(self, show_id: str, batch: dict[str, int]) -> LikeOutcome:
        outcome = await self.store.add_likes(self.show(show_id), batch)  # by Redis's clock
        metrics.LIKES_TAPS.labels(show_id).inc(outcome.taps)
        metrics.LIKES_COUNTED.labels(show_id).inc(outcome.counted)
        if self.changed:
            self.changed(show_id)
        return outcome

    async def load(self, show_id: str) -> ShowState:
        return await self.store.read_state(self.show(show_id))

    def encode(self, show_id: str, state: ShowState, audience: str) -> Encoded:
        """The encodings of one read: the ``show`` message, the push for ``audience`` (without
        the show's static part and its approved comments), the whole snapshot (pages and the
        JSON API) and the ``comments`` message."""
        show = effective(self.show(show_id), state.edits)
        full = snapshot(show, state, audience, self.now())
        static, pushed = split(full)
        said = split_comments(pushed)
        return Encoded(encode(static), encode(pushed), encode(full), encode(said) if said else "")

    async def state(self, show_id: str, audience: str = "viewer") -> dict[str, Any]:
        show = self.show(show_id)
        state = await self.store.read_state(show)
        return snapshot(effective(show, state.edits), state, audience, self.now())

    async def current(self, show_id: str) -> Show:
        """The show with the edits made before it started (running order, details)."""
        return effective(self.show(show_id), await self.store.read_edits(show_id))

    async def edit_rules(self, show_id: str, category: str, rules: RulesEdit, actor: str) -> int:
        show = self.show(show_id)
        show.category(category)
        fields = {}
        if rules.votes_per_device is not None:
            fields["cap"] = str(rules.votes_per_device)
        if rules.per_contestant is not None:
            fields["per"] = str(rules.per_contestant)
        if rules.hide_tallies is not None:
            fields["hide"] = "1" if rules.hide_tallies else "0"
        if not fields:
            raise BadRequest("give at least one of votes_per_device, per_contestant, hide_tallies")
        key = self.store.keys(show.id).category(category)
        version = await self.store.edit(
            show, (key, "started", "1", ""), key, fields, f"rules:{category}", actor
        )
        if not version:
            raise RulesFrozen(f"voting has started in {category!r}: its rules are frozen")
        return version

    async def _edit_contestants(
        self, show: Show, fields: dict[str, str], what: str, actor: str
    ) -> int:
        keys = self.store.keys(show.id)
        version = await self.store.edit(
            show, (keys.stage, "phase", "", "waiting"), keys.contestants, fields, what, actor
        )
        if not version:
            raise ShowStarted("the show has started: details and running order are fixed")
        return version

    async def edit_contestant(
        self, show_id: str, contestant: str, change: ContestantEdit, actor: str
    ) -> int:
        show = self.show(show_id)
        if contestant not in {c.id for c in show.contestants}:
            raise UnknownContestant(f"no contestant {contestant!r}")
        fields = {f"{contestant}:{k}": v for k, v in change.model_dump(exclude_none=True).items()}
        if not fields:
            raise BadRequest("give at least one field to change")
        return await self._edit_contestants(show, fields, f"contestant:{contestant}", actor)

    async def set_photo(
        self, show_id: str, contestant: str, webp: bytes, rev: str, actor: str
    ) -> int:
        """Use a checked, re-encoded photo for ``contestant`` (a detail: only before the show
        starts). The ledger's edit entry names its revision, the SHA-256 prefix of its bytes."""
        show = self.show(show_id)
        show.contestant(contestant)
        await self.store.put_photo(show.id, contestant, rev, webp)
        return await self._edit_contestants(
            show, {f"{contestant}:photo": rev}, f"photo:{contestant}", actor
        )

    async def set_running_order(self, show_id: str, order: tuple[str, ...], actor: str) -> int:
        show = self.show(show_id)
        check_running_order(show, order)
        fields = {f"{cid}:order": str(i) for i, cid in enumerate(order, start=1)}
        return await self._edit_contestants(show, fields, "running_order", actor)

    async def stage_action(self, show_id: str, action: Action, actor: str) -> Stage:
        """Apply one stage action; of racing actions on the same stage exactly one wins."""
        for _ in range(5):
            show = await self.current(show_id)
            old = await self.store.read_stage(show.id)
            # Redis's clock: the deadline it sets is the one vote.lua enforces.
            new = apply(old, action, show, await self.store.now_ms(show.id))
            if await self.store.apply_stage(show, old, new, category_changes(old, new), actor):
                if new.phase == "results":
                    await self.reveal(show.id, new.category, True, actor)
                return new
        raise StageConflict("the stage kept changing; read it again and retry")

    async def close_expired(self) -> None:
        """Measure this host's clock against Redis's, and close every voting window whose
        countdown has run out, for the shows whose stage-clock lease this process holds (one
        process does it; another takes over within :data:`CLOCK_LEASE_MS` when it dies).
        Votes after a deadline are refused by ``vote.lua`` anyway; this moves the stage on
        and tells every screen."""
        for show in list(self.shows.values()):  # shows may be added meanwhile
            before = self.clock()
            now = await self.store.now_ms(show.id)
            self.skew_ms = now - (before + self.clock()) // 2
            if not await self.store.hold_lease(show.id, "stage-clock", self.holder, CLOCK_LEASE_MS):
                continue
            old = await self.store.read_stage(show.id)
            if expired(old, now):
                new = apply(old, Action("close_voting"), show, now)
                await self.store.apply_stage(show, old, new, category_changes(old, new), "clock")
            # Every tick: the partitions' copies of the categories, healed if a process died
            # between a change and its copy (a no-op write when they agree).
            await self.store.mirror(show)

    async def reveal(self, show_id: str, category: str, shown: bool, actor: str) -> int:
        show = self.show(show_id)
        show.category(category)
        return await self.store.set_revealed(show, category, shown, actor)

    async def set_overlay_category(self, show_id: str, category: str, actor: str) -> int:
        """Pin the overlay's board to ``category``, or (``""``) let it follow the show: the
        category whose voting is open, then its results (:func:`live.domain.protocol.followed`)."""
        show = self.show(show_id)
        if category:
            show.category(category)
        return await self.store.set_display(show, {"overlay_category": category}, actor)

    async def set_overlay_top(self, show_id: str, n: int, actor: str) -> int:
        """How many contestants the overlay's board shows (the top N by votes)."""
        show = self.show(show_id)
        return await self.store.set_display(show, {"overlay_top": str(n)}, actor)

    async def freeze(self, show_id: str, frozen: bool, actor: str) -> int:
        """Hold the overlay's numbers at what they are now (or let them move again)."""
        show = self.show(show_id)
        value = ""
        if frozen:
            state = await self.store.read_state(show)
            value = json.dumps(state.tallies, separators=(",", ":"))
        return await self.store.set_display(show, {"frozen": value}, actor)

    async def set_voting(self, show_id: str, category: str, is_open: bool, only: str = "") -> int:
        """Open or close a category's voting outside the stage's window (``live voting``)."""
        show = self.show(show_id)
        show.category(category)
        return await self.store.set_voting(show, category, is_open, only)

    async def recount(self, show_id: str) -> tuple[Recount, ShowState]:
        """The live state, and the ledger's recount up to where the ledger stood when the
        state was read (``live recount``): the two agree even while votes keep coming."""
        show = self.show(show_id)
        state = await self.store.read_state(show)
        return await self.store.recount(show.id, until=state.ledger_last), state

    async def verify(self, show_id: str) -> Verdict:
        """Re-hash the whole chain, recount it, and compare with the live figures, read first
        (in one atomic read with the ledger's last id) so that votes during the check do not show
        as mismatches; the chain is checked up to that entry."""
        show = self.show(show_id)
        state = await self.store.read_state(show)
        pseudonym = await self.store.pseudonym(show.id)
        verdicts = []
        ends = split_position(state.ledger_last, show.partitions)
        for part, end in enumerate(ends):  # each partition's chain on its own
            audit = Audit(pseudonym)
            async for entry_id, fields in self.store.ledger_entries(show.id, until=end, part=part):
                audit.feed(entry_id, fields)
            verdicts.append(audit.verdict())
        verdict = combine(verdicts)
        compare(
            verdict,
            state.tallies,
            state.likes,
            state.voided,
            state.sources,
            state.source_likes,
            state.source_gifts,
        )
        return verdict

    async def run_stage_clock(
        self, interval: float = 0.2, beat: Callable[[], None] = lambda: None
    ) -> None:
        while True:
            beat()
            await asyncio.sleep(interval)
            try:
                await self.close_expired()
            except LiveError as exc:
                log.warning("stage clock skipped: %s", exc.message)
