"""Local websocket connections, their bounded outboxes, and the one ticker per process.

Guarantees:

- Fan-out never awaits a client: the ticker encodes a snapshot once and drops it into each
  connection's single snapshot slot (the latest wins), plus a small bounded reply queue.
- Each connection has its own sender task, so one stalled phone delays nobody else. A connection
  whose send has been blocked for longer than ``slow_after`` is closed with 4008.
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
from dataclasses import replace
from typing import Protocol

from live.domain.errors import WS_FLOODING, WS_TOO_SLOW, LiveError
from live.domain.protocol import Encoded
from live.domain.state import ShowState

log = logging.getLogger("live.hub")

Loader = Callable[[str], Awaitable[ShowState]]
Encoder = Callable[[str, ShowState, str], Encoded]
Versions = Callable[[list[str]], Awaitable[list[int]]]


class Socket(Protocol):
    """What the hub needs of a websocket (Starlette's ``WebSocket`` is one)."""

    async def send_text(self, data: str) -> None: ...


class Connection:
    """One websocket's outbox: a latest-snapshot slot and a bounded queue of replies."""

    __slots__ = (
        "_replies",
        "_show",
        "_snapshot",
        "_wake",
        "audience",
        "close_code",
        "credential",
        "done",
        "max_replies",
        "send_started",
        "show",
        "show_text",
        "slow_after",
        "ws",
    )

    def __init__(
        self,
        ws: Socket,
        show: str,
        slow_after: float,
        audience: str = "viewer",
        credential: str = "",
        max_replies: int = 32,
    ) -> None:
        self.ws = ws
        self.show = show
        self.audience = audience
        self.credential = credential
        """What let a staff or overlay socket in (``session:<hash>`` or ``key:<key>``), which
        :mod:`live.realtime.guard` re-checks; empty for viewers."""
        self.slow_after = slow_after
        self.max_replies = max_replies
        self._snapshot: str | None = None
        self._show: str | None = None
        self.show_text = ""
        """The ``show`` message this socket was last given (sent again only when it changes)."""
        self._replies: deque[str] = deque()
        self._wake = asyncio.Event()
        self.send_started: float | None = None
        self.close_code: int | None = None
        self.done = asyncio.Event()

    def offer_snapshot(self, text: str, now: float) -> None:
        """Replace whatever snapshot was waiting; close the socket if it stopped draining."""
        if self.done.is_set():
            return
        if self.send_started is not None and now - self.send_started > self.slow_after:
            self.close(WS_TOO_SLOW)
            return
        self._snapshot = text
        self._wake.set()

    def offer_show(self, text: str) -> None:
        """Queue the ``show`` message if it differs from the one this socket has; it is sent
        before the next snapshot."""
        if text is self.show_text or text == self.show_text or self.done.is_set():
            return
        self.show_text = self._show = text
        self._wake.set()

    def reply(self, text: str) -> None:
        if self.done.is_set():
            return
        if len(self._replies) >= self.max_replies:
            self.close(WS_FLOODING)
            return
        self._replies.append(text)
        self._wake.set()

    def close(self, code: int) -> None:
        if self.close_code is None:
            self.close_code = code
        self.done.set()

    async def run_sender(self) -> None:
        """Send replies first, then the ``show`` message if it changed, then the latest
        snapshot; end the connection on a send error."""
        try:
            while not self.done.is_set():
                await self._wake.wait()
                self._wake.clear()
                while self._replies or self._show is not None or self._snapshot is not None:
                    if self._replies:
                        text = self._replies.popleft()
                    elif self._show is not None:
                        text, self._show = self._show, None
                    else:
                        text, self._snapshot = self._snapshot or "", None
                    self.send_started = time.monotonic()
                    await self.ws.send_text(text)
                    self.send_started = None
        except Exception:  # the peer went away mid-send: nothing to report to it
            self.done.set()


class Hub:
    """Owns the per-process ticker and the registry of local connections."""

    def __init__(self, load: Loader, encode: Encoder, versions: Versions, interval: float):
        self._load = load
        self._encode = encode
        self._versions = versions
        self.interval = interval
        self.connections: dict[str, set[Connection]] = {}
        self.latest: dict[tuple[str, str], Encoded] = {}
        self._seen: dict[str, int] = {}
        self._served: dict[tuple[str, str], tuple[int, str]] = {}
        """(show, audience) -> (version, snapshot) last served by :meth:`current`."""
        self._poke = asyncio.Event()
        self._forced: set[str] = set()
        self._soon = False
        """A change made in this process waits to be pushed (see :meth:`changed`)."""
        self.closed_by_server: Counter[int] = Counter()
        """How many sockets this process closed, by close code (4008: too slow, ...)."""

    def add(self, conn: Connection) -> None:
        self.connections.setdefault(conn.show, set()).add(conn)

    def remove(self, conn: Connection) -> None:
        if conn.close_code is not None:
            self.closed_by_server[conn.close_code] += 1
        conns = self.connections.get(conn.show)
        if conns is not None:
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
        if latest is None or self._seen.get(show) != version:
            latest = self._encode(show, await self._load(show), audience)
        self._served[key] = (version, latest.full)
        return latest.full

    def changed(self, show: str) -> None:
        """``show`` changed in this process (a vote, likes): push it as soon as the interval
        since the last push allows (at once when the show is quiet)."""
        if show in self.connections and not self._soon:
            # Only the first change of an interval wakes the ticker: under load, votes cost
            # it nothing more until it pushes.
            self._soon = True
            self._poke.set()

    async def first_snapshot(self, show: str, audience: str) -> Encoded:
        """The snapshot a new connection starts with: the ticker's latest, else a fresh read."""
        cached = self.latest.get((show, audience))
        if cached is not None:
            return cached
        return self._encode(show, await self._load(show), audience)

    def fan_out(self, show: str, state: ShowState) -> None:
        now = time.monotonic()
        conns = self.connections.get(show, set())
        for audience in {c.audience for c in conns}:
            encoded = self._encode(show, state, audience)  # once per audience, not per socket
            previous = self.latest.get((show, audience))
            if previous is not None and previous.show == encoded.show:
                # The same show message object for every socket: they compare it by identity.
                encoded = replace(encoded, show=previous.show)
            self.latest[(show, audience)] = encoded
            for conn in [c for c in conns if c.audience == audience]:
                conn.offer_show(encoded.show)
                conn.offer_snapshot(encoded.push, now)

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
                self.fan_out(show, state)
                pushed = True
        return pushed

    async def run(self, beat: Callable[[], None] = lambda: None) -> None:
        """Tick on a fixed schedule (not ``interval`` after each fan-out, which drifts under
        load), at once on a stage change, and on a local change when the last push is at
        least ``interval`` old."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + self.interval
        last_push = -self.interval
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
            try:
                if await self.tick():
                    # The schedule follows the last push (measured before the fan-out, so a
                    # long fan-out does not stretch it): at most one push per interval.
                    last_push = now
                    next_tick = max(next_tick, now + self.interval)
            except LiveError as exc:  # Redis away: viewers keep the last state until it is back
                log.warning("tick skipped: %s", exc.message)
