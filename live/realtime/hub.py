"""Local websocket connections, their outboxes, and the one ticker per process.

Guarantees:

- Encode once, write bytes: a change is encoded once per audience into whole websocket frames
  (:func:`text_frame`), and the same ``bytes`` object is written to every socket's transport.
  No per-socket encoding, no per-socket send through the ASGI stack, no sender task: a socket
  is one task (its reader), and the frame bytes are shared, not copied.
- Fan-out never awaits a client: a write goes to a socket whose transport takes it (below its
  high-water mark); a socket above it keeps the latest snapshot in one slot (the latest wins)
  and a small bounded reply queue, written when its transport drains. A socket that stays
  behind for longer than ``slow_after`` is closed with 4008.
- Cost grows with viewers x ticks, not with votes: the ticker reads a show once per tick, and
  only when its version moved (or a stage change poked it).
- Push at once, coalesce under load: the ticker checks versions on a fixed schedule (changes
  made by other processes); a change made in this process (:meth:`Hub.changed`) is pushed at
  once when nothing was pushed in the last interval, else with the next push, so a show is
  pushed at most once per interval however many votes arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from websockets.frames import Frame, Opcode

from live import metrics
from live.domain.errors import WS_FLOODING, WS_TOO_SLOW, LiveError
from live.domain.protocol import Encoded
from live.domain.state import ShowState

log = logging.getLogger("live.hub")

Loader = Callable[[str], Awaitable[ShowState]]
Encoder = Callable[[str, ShowState, str], Encoded]
Versions = Callable[[list[str]], Awaitable[list[int]]]

SLICE = 500
"""Sockets written between two yields to the event loop during a fan-out (~2-5 ms of writes)."""


def text_frame(text: str) -> bytes:
    """One whole, unmasked websocket text frame (a server's frames are never masked, and no
    extension is negotiated), so the same bytes are valid on every socket."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


@dataclass(frozen=True, slots=True)
class Frames:
    """One :class:`Encoded` read as the frames sockets get."""

    show: bytes
    push: bytes
    encoded: Encoded
    comments: bytes = b""
    """The ``comments`` frame (b"": none approved)."""


class Sink(Protocol):
    """What the hub needs of a websocket: the server's protocol object itself
    (:class:`live.web.server.GoingAwayProtocol`), which writes whole frames to the transport
    synchronously."""

    on_drain: Callable[[], None] | None
    """Called when the transport's buffer drains below its low-water mark."""

    def write_frame(self, frame: bytes) -> bool:
        """Write one whole frame; False when the socket is closing (nothing was written)."""
        ...

    def takes_more(self) -> bool:
        """Whether the transport is below its high-water mark (a write would not pile up)."""
        ...

    def close_now(self, code: int) -> None:
        """Send a close frame and end the app's ``receive`` with a disconnect."""
        ...


class Connection:
    """One websocket's outbox: a latest-snapshot slot and a bounded queue of replies, used only
    while its transport is above its high-water mark."""

    __slots__ = (
        "_comments",
        "_replies",
        "_show",
        "_snapshot",
        "audience",
        "behind_since",
        "client",
        "close_code",
        "comments_frame",
        "credential",
        "done",
        "max_replies",
        "show",
        "show_frame",
        "sink",
        "slow_after",
    )

    def __init__(
        self,
        sink: Sink,
        show: str,
        slow_after: float,
        audience: str = "viewer",
        credential: str = "",
        max_replies: int = 32,
        client: tuple[str, int] | None = None,
    ) -> None:
        self.sink = sink
        self.show = show
        self.audience = audience
        self.credential = credential
        """What let a staff or overlay socket in (``session:<hash>`` or ``key:<key>``), which
        :mod:`live.realtime.guard` re-checks; empty for viewers."""
        self.client = client
        self.slow_after = slow_after
        self.max_replies = max_replies
        self._snapshot: bytes | None = None
        self._show: bytes | None = None
        self.show_frame = b""
        """The ``show`` frame this socket was last given (sent again only when it changes)."""
        self._comments: bytes | None = None
        self.comments_frame = b""
        """The ``comments`` frame this socket was last given (likewise)."""
        self._replies: deque[bytes] | None = None
        self.behind_since: float | None = None
        """Since when writes wait for the transport to drain (None: nothing waits)."""
        self.close_code: int | None = None
        self.done = False
        sink.on_drain = self._drained

    def offer_snapshot(self, frame: bytes, now: float) -> None:
        """Write the snapshot frame, or keep it as the one waiting (the latest wins); close the
        socket if it has stayed behind for longer than ``slow_after``."""
        if self.done:
            return
        if self.behind_since is not None and now - self.behind_since > self.slow_after:
            self.close(WS_TOO_SLOW)
            return
        self._snapshot = frame
        self._flush(now)

    def offer_show(self, frame: bytes) -> None:
        """Queue the ``show`` frame if it differs from the one this socket has; it goes out
        before the next snapshot."""
        if frame is self.show_frame or frame == self.show_frame or self.done:
            return
        self.show_frame = self._show = frame

    def offer_comments(self, frame: bytes) -> None:
        """Queue the ``comments`` frame if it differs from the one this socket has; it goes
        out before the next snapshot (whose ``comments_rev`` names it)."""
        if frame is self.comments_frame or frame == self.comments_frame or self.done:
            return
        self.comments_frame = self._comments = frame

    def reply(self, frame: bytes) -> None:
        if self.done:
            return
        if self._replies is None:
            self._replies = deque()
        if len(self._replies) >= self.max_replies:
            self.close(WS_FLOODING)
            return
        self._replies.append(frame)
        self._flush(time.monotonic())

    def close(self, code: int) -> None:
        if self.done:
            return
        self.close_code = code
        self.done = True
        self._snapshot = self._show = self._comments = self._replies = None
        self.sink.on_drain = None
        self.sink.close_now(code)

    def _drained(self) -> None:
        if not self.done:
            self._flush(time.monotonic())

    def _flush(self, now: float) -> None:
        """Write what waits, replies first, then the show, the comments, then the snapshot,
        while the transport takes it."""
        sink = self.sink
        replies = self._replies
        while sink.takes_more():
            if replies:
                frame = replies.popleft()
            elif self._show is not None:
                frame, self._show = self._show, None
            elif self._comments is not None:
                frame, self._comments = self._comments, None
            elif self._snapshot is not None:
                frame, self._snapshot = self._snapshot, None
            else:
                self.behind_since = None
                return
            if not sink.write_frame(frame):  # closing: the reader sees the disconnect
                self.done = True
                return
        waiting = self._show is not None or self._comments is not None
        if replies or waiting or self._snapshot is not None:
            if self.behind_since is None:
                self.behind_since = now
        else:
            self.behind_since = None


class Hub:
    """Owns the per-process ticker and the registry of local connections."""

    def __init__(self, load: Loader, encode: Encoder, versions: Versions, interval: float):
        self._load = load
        self._encode = encode
        self._versions = versions
        self.interval = interval
        self.connections: dict[str, set[Connection]] = {}
        self.latest: dict[tuple[str, str], Frames] = {}
        self._seen: dict[str, int] = {}
        self._served: dict[tuple[str, str], tuple[int, str]] = {}
        """(show, audience) -> (version, snapshot) last served by :meth:`current`."""
        self._poke = asyncio.Event()
        self._forced: set[str] = set()
        self._soon = False
        """A change made in this process waits to be pushed (see :meth:`changed`)."""
        self.closed_by_server: Counter[int] = Counter()
        """How many sockets this process closed, by close code (4008: too slow, ...)."""
        self._loading: dict[str, asyncio.Future[ShowState]] = {}
        """Per show: the one read in flight for new connections before the ticker has a
        snapshot (a reconnect storm after a restart reads the show once, not once a phone)."""

    def add(self, conn: Connection) -> None:
        self.connections.setdefault(conn.show, set()).add(conn)
        metrics.WS_CONNECTIONS.labels(conn.audience).inc()

    def remove(self, conn: Connection) -> None:
        if conn.close_code is not None:
            self.closed_by_server[conn.close_code] += 1
        conns = self.connections.get(conn.show)
        if conns is not None and conn in conns:
            metrics.WS_CONNECTIONS.labels(conn.audience).dec()
            conns.discard(conn)
            if not conns:
                del self.connections[conn.show]
                self._seen.pop(conn.show, None)
                for key in [k for k in self.latest if k[0] == conn.show]:
                    del self.latest[key]

    def close_where(self, show: str, pred: Callable[[Connection], bool], code: int) -> int:
        """Close every local connection of ``show`` that ``pred`` selects."""
        chosen = [c for c in self.connections.get(show, ()) if pred(c)]
        for conn in chosen:
            conn.close(code)
        return len(chosen)

    def poke(self, show: str) -> None:
        """Push ``show`` now rather than on the next tick (a stage change)."""
        self._forced.add(show)
        self._poke.set()

    async def current(self, show: str, audience: str = "viewer") -> str:
        """The show's snapshot as its sockets get it, for pages and ``GET /api/shows/{show}``.

        While the show's version has not moved this is the snapshot already encoded (one
        ``GET`` of the version instead of a full read); when Redis does not answer it is the
        last one known, so pages stay up through a short outage. Only a show never served
        before raises :class:`~live.domain.errors.Unavailable` then.
        """
        key = (show, audience)
        cached = self._served.get(key)
        try:
            version = (await self._versions([show]))[0]
        except LiveError:
            if cached is None:
                raise
            return cached[1]
        if cached is not None and cached[0] == version:
            return cached[1]
        latest = self.latest.get(key)
        if latest is not None and self._seen.get(show) == version:
            full = latest.encoded.full
        else:
            full = self._encode(show, await self._load(show), audience).full
        self._served[key] = (version, full)
        return full

    def redefined(self, show: str) -> None:
        """``show``'s definition changed (set up in the browser; its version may not have
        moved here): what was encoded with the old one is dropped, and its sockets get the new
        one on the next tick."""
        self._seen.pop(show, None)
        for key in [k for k in self._served if k[0] == show]:
            del self._served[key]
        self.poke(show)

    def changed(self, show: str) -> None:
        """``show`` changed in this process (a vote, likes): push it as soon as the interval
        since the last push allows (at once when the show is quiet)."""
        if show in self.connections and not self._soon:
            # Only the first change of an interval wakes the ticker: under load, votes cost
            # it nothing more until it pushes.
            self._soon = True
            self._poke.set()

    async def first_snapshot(self, show: str, audience: str) -> Frames:
        """The frames a new connection starts with: the ticker's latest, else a fresh read."""
        cached = self.latest.get((show, audience))
        if cached is not None:
            return cached
        loading = self._loading.get(show)
        if loading is None:
            loading = self._loading[show] = asyncio.ensure_future(self._load(show))

            def settle(done: asyncio.Future[ShowState]) -> None:
                self._loading.pop(show, None)
                if not done.cancelled():
                    done.exception()  # retrieved: its waiters (if any are left) get it

            loading.add_done_callback(settle)
        # Shielded: a phone that hangs up does not cancel the read the others wait on.
        state = await asyncio.shield(loading)
        return self._frames(self._encode(show, state, audience), None)

    @staticmethod
    def _frames(encoded: Encoded, previous: Frames | None) -> Frames:
        # The same show and comments frame objects for every socket while they do not change:
        # sockets compare them by identity.
        same_show = previous is not None and previous.encoded.show == encoded.show
        show = previous.show if previous is not None and same_show else text_frame(encoded.show)
        comments = b""
        if encoded.comments:
            if previous is not None and previous.encoded.comments == encoded.comments:
                comments = previous.comments
            else:
                comments = text_frame(encoded.comments)
        return Frames(show, text_frame(encoded.push), encoded, comments)

    async def fan_out(self, show: str, state: ShowState) -> None:
        """Write the show's new frames to its sockets, yielding to the loop every
        :data:`SLICE` sockets so that votes and pings are served during a large fan-out."""
        now = started = time.monotonic()
        conns = list(self.connections.get(show, ()))
        frames: dict[str, Frames] = {}
        for audience in {c.audience for c in conns}:
            key = (show, audience)
            # Encoded and framed once per audience; every socket is written the same bytes.
            frames[audience] = self._frames(
                self._encode(show, state, audience), self.latest.get(key)
            )
            self.latest[key] = frames[audience]
        for start in range(0, len(conns), SLICE):
            if start:
                await asyncio.sleep(0)
                now = time.monotonic()
            for conn in conns[start : start + SLICE]:
                f = frames[conn.audience]
                if conn.show_frame is not f.show:
                    conn.offer_show(f.show)
                if f.comments and conn.comments_frame is not f.comments:
                    conn.offer_comments(f.comments)
                conn.offer_snapshot(f.push, now)
        metrics.PUSHES.inc(len(conns))
        metrics.PUSH_BYTES.inc(sum(len(frames[c.audience].push) for c in conns))
        metrics.PUSH_SECONDS.observe(time.monotonic() - started)

    async def tick(self) -> bool:
        """Push every show whose version moved (or that was poked); whether any was pushed."""
        forced, self._forced = self._forced, set()
        shows = list(self.connections)
        if not shows:
            return False
        versions = await self._versions(shows)
        pushed = False
        for show, version in zip(shows, versions, strict=True):
            if self._seen.get(show) == version and show not in forced:
                continue
            state = await self._load(show)
            if show in self.connections:
                self._seen[show] = state.version
                await self.fan_out(show, state)
                pushed = True
        return pushed

    async def run(self, beat: Callable[[], None] = lambda: None) -> None:
        """Tick on a fixed schedule (not ``interval`` after each fan-out, which drifts under
        load), at once on a stage change, and on a local change when the last push is at
        least ``interval`` old."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + self.interval
        last_push = -self.interval
        fresh_at = loop.time()  # when the sockets were last found to have the current state
        while True:
            beat()
            now = loop.time()
            until = next_tick
            if self._soon:
                until = min(until, max(now, last_push + self.interval))
            if not self._forced and now < until:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(until - now):
                        await self._poke.wait()
                self._poke.clear()
                now = loop.time()
                if not self._forced and now < next_tick:
                    if not self._soon or now < last_push + self.interval:
                        continue  # a local change within the interval: wait for its turn
            self._soon = False
            if now >= next_tick:
                # Missed ticks (a long fan-out) are skipped, not made up in a burst.
                next_tick += self.interval * (1 + int((now - next_tick) // self.interval))
            await asyncio.sleep(0)  # however the loop got here, others run between ticks
            metrics.STALENESS.set(loop.time() - fresh_at)
            try:
                pushed = await self.tick()
                fresh_at = now
                if pushed:
                    # The schedule follows the last push (measured before the fan-out, so a
                    # long fan-out does not stretch it): at most one push per interval.
                    last_push = now
                    next_tick = max(next_tick, now + self.interval)
            except LiveError as exc:  # Redis away: viewers keep the last state until it is back
                log.warning("tick skipped: %s", exc.message)
