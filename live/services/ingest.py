"""Platform events into the show: chat votes read, users pseudonymised, everything counted in
one atomic step per batch (:mod:`live.redis.ingest`), and each source's state for the console.

Adapters (:mod:`live.ingest`) and the Douyin webhook hand batches of
:class:`~live.domain.ingest.event.Event` to :meth:`Ingest.accept` (or, where the platform wants
its answer at once, to :meth:`Ingest.submit`, a bounded queue drained by a supervised task).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from live import metrics
from live.domain.errors import (
    BadRequest,
    BadSignature,
    IngestDisabled,
    LiveError,
    SignaturesLimited,
    StalePush,
    Unavailable,
)
from live.domain.ingest import douyin
from live.domain.ingest.chatvote import number_key, parse_vote
from live.domain.ingest.event import Event
from live.domain.ingest.source import IngestSource, endpoint_problems, env_allowed
from live.domain.show import Show
from live.redis.ingest import Ballot, IngestStore
from live.services.shows import Service

log = logging.getLogger("live.ingest")

BAD_SIGNATURES_PER_ROOM = 120
"""Douyin pushes with a bad signature one room may receive in a minute (from anywhere); past
it the room's pushes are refused unchecked (429) until the minute ends: a forger flooding from
many addresses delays the room's pushes (the platform sends them again), never guesses at
speed."""
BAD_SIGNATURES_PER_ADDRESS = 20
"""Douyin pushes with a bad signature one address may send in a minute (over its rooms)."""

QUEUE = 1000
"""Pushes waiting to be counted (per process): beyond it a push is answered 503 and the
platform sends it again."""


@dataclass(slots=True)
class SourceState:
    """What the console shows of one platform room in this process."""

    platform: str
    room: str
    category: str
    connected: bool = False
    events: int = 0
    counted: int = 0
    duplicates: int = 0
    bad_signatures: int = 0
    reconnects: int = 0
    lag_ms: int = 0
    """From the platform's timestamp of the latest event to its arrival here."""
    last_event: int = 0
    """When the latest event arrived (ms)."""
    error: str = ""
    statuses: dict[str, int] = field(default_factory=dict)


class CommentSink(Protocol):
    def offer(self, show_id: str, events: list[Event]) -> None: ...


class Ingest:
    def __init__(
        self,
        service: Service,
        store: IngestStore,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        endpoints: frozenset[str] = frozenset(),
    ) -> None:
        self.service = service
        self.store = store
        self.env = os.environ if env is None else env
        self.endpoints = endpoints
        """Origins a source may name besides its platform's own (``LIVE_INGEST_ENDPOINTS``)."""
        self.clock = clock
        self.states: dict[tuple[str, str, str], SourceState] = {}
        self.queue: asyncio.Queue[tuple[str, list[Event]]] = asyncio.Queue(QUEUE)
        self.comments: CommentSink | None = None
        """Where chat comments that are not votes go (the show's moderated comments)."""

    # -- configuration -------------------------------------------------------------------

    def source(self, show: Show, platform: str, room: str) -> IngestSource | None:
        """The show's source for a platform room (a Douyin ``*`` source takes any room)."""
        return _sources(show).get((platform, room)) or _sources(show).get((platform, "*"))

    def credential(self, show_id: str, src: IngestSource, name: str) -> str:
        """The value of the environment variable a source of ``show_id`` names for a
        credential ('' unset, or a name outside the show's ``LIVE_INGEST_<SHOW>__*``: the show
        file's check, again where it is read)."""
        var = getattr(src, name)
        return self.env.get(var, "") if var and env_allowed(show_id, var) else ""

    def endpoint_problem(self, src: IngestSource) -> str:
        """Why ``src``'s ``url``/``api`` may not be reached ('' when it may)."""
        return "; ".join(endpoint_problems(src, self.endpoints))

    def douyin_source(self, show: Show, headers: Mapping[str, str]) -> IngestSource:
        """The show's Douyin source for a push's ``x-roomid`` with its secret set, or
        :class:`IngestDisabled`: one answer for an unknown room and a receiver without its
        secret (no probing which is which)."""
        src = self.source(show, "douyin", headers.get("x-roomid", ""))
        if src is None or not self.credential(show.id, src, "secret_env"):
            raise IngestDisabled(f"show {show.id!r} receives no Douyin pushes for this room")
        return src

    async def douyin(
        self, show: Show, src: IngestSource, headers: Mapping[str, str], body: bytes, ip: str
    ) -> int | None:
        """Check and queue one Douyin push: how many events it brought, or None for a replay
        of a push taken within 10 minutes (answered 200: the platform stops sending it).
        Checked in this order: the budgets of bad signatures (the room's, the address's: 429
        :class:`SignaturesLimited` before any check once spent), the signature (401), the
        timestamp (5 minutes either way: 401 :class:`StalePush`), the nonce, the body (400)."""
        address = (await self.store.store.pseudonym(show.id))(ip)
        wait_ms = await self.store.reserve_check(
            show.id, src.room, address, BAD_SIGNATURES_PER_ROOM, BAD_SIGNATURES_PER_ADDRESS
        )
        if wait_ms:
            raise SignaturesLimited(
                "too many pushes with a bad signature: try again later", -(-wait_ms // 1000)
            )
        if not douyin.signed(headers, body, self.credential(show.id, src, "secret_env")):
            self.bad_signature(show.id, src)
            raise BadSignature("x-signature does not match the push")
        await self.store.give_back(show.id, src.room, address)
        if not douyin.fresh(headers, int(self.clock() * 1000)):
            self.bad_signature(show.id, src)
            raise StalePush("x-timestamp is more than 5 minutes from the server's clock")
        nonce = headers.get("x-nonce-str", "")
        if not nonce:
            raise BadRequest("x-nonce-str is missing")
        if not await self.store.first_nonce(show.id, nonce):
            return None
        try:
            events = douyin.parse_push(headers, body)
            self.submit(show.id, events)
        except (douyin.BadPush, Unavailable) as exc:
            # Not taken: the platform sends it again (or a fixed one), and that must count.
            await self.store.forget_nonce(show.id, nonce)
            if isinstance(exc, Unavailable):
                raise
            raise BadRequest(str(exc)) from None
        self.state(show.id, src).connected = True
        return len(events)

    def state(self, show_id: str, src: IngestSource) -> SourceState:
        key = (show_id, src.platform, src.room)
        found = self.states.get(key)
        if found is None:
            found = self.states[key] = SourceState(src.platform, src.room, src.category)
        return found

    def report(self, show_id: str) -> list[dict[str, Any]]:
        """Each configured source's state in this process (the console's panel)."""
        show = self.service.show(show_id)
        return [asdict(self.state(show_id, src)) for src in show.ingest]

    # -- counting -------------------------------------------------------------------------

    async def accept(self, show_id: str, events: list[Event]) -> list[str]:
        """Count a batch of one show's events; each one's status (``counted``, ``duplicate``,
        ``comment``, ``closed``, ``early``, ``capped``, or ``unknown_room`` for a room the show
        does not list).

        A comment that is not a vote changes no count but its platform's ``comments`` figure:
        it is not sent to Redis one by one (a third of a busy chat, and a third of the work),
        and so not de-duplicated either; the batch adds its number once."""
        if not events:
            return []
        show = await self.service.current(show_id)
        numbers = _numbers(show)
        pseudonym = await self.store.store.pseudonym(show_id)
        ballots: list[Ballot] = []
        where: list[int] = []
        statuses = ["unknown_room"] * len(events)
        chatter: Counter[str] = Counter()
        said: list[Event] = []
        heard: dict[IngestSource, list[Event]] = {}
        rooms = _sources(show)
        picked: dict[tuple[str, str], IngestSource | None] = {}
        for i, e in enumerate(events):
            where_from = (e.platform, e.room)
            if where_from in picked:
                src = picked[where_from]
            else:
                src = picked[where_from] = rooms.get(where_from) or rooms.get((e.platform, "*"))
            if src is None:
                continue
            heard.setdefault(src, []).append(e)
            if e.kind == "comment":
                number = parse_vote(e.text) if src.category else None
                contestant = numbers.get(src.category, {}).get(number, "") if number else ""
                if not contestant:
                    statuses[i] = "comment"
                    chatter[e.platform] += 1
                    said.append(e)
                    continue
                category = src.category
            else:
                category = contestant = ""
            user = pseudonym(f"{e.platform}:{e.user}")
            ballots.append(Ballot(e, user, category, contestant, src.grace_ms))
            where.append(i)
        now = int(self.clock() * 1000)
        for src, mine in heard.items():
            st = self.state(show_id, src)
            st.events += len(mine)
            st.last_event = now
            newest = max(e.platform_ts for e in mine)
            if newest:
                st.lag_ms = max(0, now - newest)
                metrics.INGEST_LAG.labels(src.platform).set(st.lag_ms / 1000)
        decided: list[str] = []
        if ballots or chatter:
            decided, _ = await self.store.count(show, ballots, dict(chatter))
            for i, status in zip(where, decided, strict=True):
                statuses[i] = status
        tally: Counter[tuple[str, str, str, str]] = Counter()
        for e, status in zip(events, statuses, strict=True):
            tally[(e.platform, e.room, e.kind, status)] += 1
        for (platform, room, kind, status), n in tally.items():
            src = picked.get((platform, room))
            if src is not None:
                st = self.state(show_id, src)
                st.statuses[status] = st.statuses.get(status, 0) + n
                st.counted += n if status == "counted" else 0
                st.duplicates += n if status == "duplicate" else 0
            metrics.INGEST_EVENTS.labels(platform, kind, status).inc(n)
        if said and self.comments is not None:
            self.comments.offer(show_id, said)
        if self.service.changed is not None and "counted" in decided:
            self.service.changed(show_id)
        return statuses

    def submit(self, show_id: str, events: list[Event]) -> None:
        """Queue a batch to be counted soon (a webhook answers before the work is done);
        :class:`Unavailable` (503: the platform sends it again) when the queue is full."""
        try:
            self.queue.put_nowait((show_id, events))
        except asyncio.QueueFull:
            raise Unavailable("too many platform pushes waiting; send again") from None

    async def run(self, beat: Callable[[], None] = lambda: None) -> None:
        """Drain the queue (a supervised task): a batch that cannot be counted now (Redis
        away) is tried again, not dropped; one that can never be (its show is gone) is logged
        and dropped."""
        pending: tuple[str, list[Event]] | None = None
        while True:
            beat()
            if pending is None:
                try:
                    pending = await asyncio.wait_for(self.queue.get(), 1.0)
                except TimeoutError:
                    continue
            try:
                await self.accept(*pending)
            except Unavailable:
                await asyncio.sleep(0.5)
                continue
            except LiveError as exc:  # e.g. the show is no longer served: nothing to count into
                log.error("%d platform events dropped: %s", len(pending[1]), exc.message)
            pending = None

    async def drain(self, timeout: float = 5.0) -> int:  # noqa: ASYNC109 (a bound, not a deadline)
        """Count what is still queued (pushes already answered 200) when the process stops,
        within ``timeout`` seconds; how many batches were counted."""
        done = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not self.queue.empty():
                    show_id, events = self.queue.get_nowait()
                    try:
                        await self.accept(show_id, events)
                    except LiveError as exc:
                        log.error(
                            "%d platform events not counted at shutdown: %s", len(events), exc
                        )
                    done += 1
        if not self.queue.empty():
            log.error("%d platform pushes not counted at shutdown", self.queue.qsize())
        return done

    def bad_signature(self, show_id: str, src: IngestSource) -> None:
        self.state(show_id, src).bad_signatures += 1
        metrics.INGEST_BAD_SIGNATURES.labels(src.platform).inc()


def _sources(show: Show) -> dict[tuple[str, str], IngestSource]:
    return {(src.platform, src.room): src for src in show.ingest}


def _numbers(show: Show) -> dict[str, dict[str, str]]:
    """Per category: a contestant's number (as chat votes name it) -> contestant id."""
    by_number = {number_key(c.label): c.id for c in show.contestants}
    out = {}
    for cat in show.categories:
        eligible = set(show.eligible(cat))
        out[cat.id] = {n: who for n, who in by_number.items() if who in eligible}
    return out
