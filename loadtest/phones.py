"""Simulated phones: viewers, voters and likers, speaking only the public HTTP and websocket API.

- A **viewer** opens ``/ws/shows/{show}`` (no cookie: it only watches), reads every snapshot
  and records its staleness (receipt time minus the snapshot's ``server_time``) and whether the
  version ever went down.
- A **voter** opens the show page once for its device cookie, as a phone does, then votes
  (``POST /api/shows/{show}/votes``, or ``vote`` messages on the websocket) with a fresh
  ``vote_id`` each time; a vote whose answer is lost (timeout, reset, 5xx) is retried with the
  *same* ``vote_id``, so a retry can never count twice.
- A **liker** gets a cookie the same way and sends batched ``like`` messages (``+n`` taps).

Every phone binds its own loopback source address (see :func:`loadtest.wire.source_address`).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from dataclasses import dataclass

from loadtest.stats import Stats
from loadtest.wire import (
    HttpConn,
    OnText,
    Response,
    WireError,
    WsConn,
    http_request,
    source_address,
)

UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Mobile Safari/537.36 live-loadtest"
)
COOKIE = "live_device"
_VERSION = re.compile(rb'"version":(\d+)')
_SERVER_TIME = re.compile(rb'"server_time":(\d+)')


@dataclass(frozen=True)
class Plan:
    """Settings of one run (the command line of ``python -m loadtest``)."""

    host: str = "127.0.0.1"
    port: int = 8000
    show: str = "bench"
    viewers: int = 1000
    voters: int = 50
    likers: int = 50
    vote_transport: str = "http"
    """``http`` or ``ws``."""
    vote_rate: float = 0.0
    """Votes per second per voter; 0: as fast as answers come (closed loop)."""
    like_rate: float = 5.0
    """Like messages per second per liker."""
    like_batch: int = 20
    """Taps per like message (a phone batches its taps)."""
    ramp: float = 5.0
    duration: float = 20.0
    seed: int = 1
    retries: int = 3
    timeout: float = 5.0
    categories: tuple[str, ...] = ("popular", "display")
    contestants: tuple[str, ...] = tuple(f"c{i:02d}" for i in range(1, 13))
    index_base: int = 0
    """Index of this plan's first phone (a shard of a run spread over processes)."""

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"


class Phones:
    """Runs the plan's phones against one server and records into :class:`Stats`."""

    def __init__(self, plan: Plan, stats: Stats) -> None:
        self.plan = plan
        self.stats = stats
        self.stop = asyncio.Event()
        self.sockets: list[WsConn] = []

    # -- helpers ------------------------------------------------------------------------------

    async def _cookie(self, conn: HttpConn) -> str:
        p = self.plan
        raw = http_request("GET", f"/s/{p.show}", p.hostport, headers={"User-Agent": UA})
        reply = await conn.request(raw, p.timeout)
        cookie = reply.cookies.get(COOKIE)
        if reply.status != 200 or not cookie:
            raise WireError("no_cookie", f"HTTP {reply.status}")
        return cookie

    def _target(self, rng: random.Random) -> tuple[str, str]:
        # Skewed like a real audience: a few contestants draw most votes.
        p = self.plan
        k = min(int(rng.paretovariate(1.2)) - 1, len(p.contestants) - 1)
        return rng.choice(p.categories), p.contestants[k]

    async def _pace(self, rate: float, rng: random.Random) -> None:
        if rate > 0:
            await asyncio.sleep(rng.expovariate(rate))

    # -- viewers ------------------------------------------------------------------------------

    async def viewer(self, index: int) -> None:
        p, stats = self.plan, self.stats
        last = [0]

        def on_text(data: bytes) -> None:
            if not data.startswith(b'{"type":"snapshot"'):
                return
            now = time.monotonic()
            v = _VERSION.search(data)
            t = _SERVER_TIME.search(data)
            if v is None or t is None:
                stats.error("bad_snapshot", now)
                return
            version = int(v.group(1))
            if version < last[0]:
                stats.error("version_went_down", now)
            last[0] = version
            stats.snapshot(time.time() * 1000 - int(t.group(1)), now)

        try:
            ws = await WsConn.connect(
                p.host,
                p.port,
                f"/ws/shows/{p.show}",
                on_text,
                {"User-Agent": UA},
                source_address(index),
                p.timeout,
            )
        except WireError as exc:
            stats.error("viewer_" + exc.kind)
            return
        stats.connected["viewers"] += 1
        self.sockets.append(ws)
        stop: asyncio.Future[object] = asyncio.ensure_future(self.stop.wait())
        closed: asyncio.Future[object] = ws.closed  # type: ignore[assignment]
        done, _ = await asyncio.wait({stop, closed}, return_when=asyncio.FIRST_COMPLETED)
        if closed in done:
            stats.error(f"viewer_closed_{ws.closed.result()}")
            stop.cancel()
        stats.connected["viewers"] -= 1

    # -- voters -------------------------------------------------------------------------------

    async def voter(self, index: int) -> None:
        if self.plan.vote_transport == "ws":
            await self._ws_voter(index)
        else:
            await self._http_voter(index)

    async def _http_voter(self, index: int) -> None:
        p, stats = self.plan, self.stats
        rng = random.Random(p.seed * 1_000_003 + index)
        source = source_address(index)
        try:
            conn = await HttpConn.open(p.host, p.port, source)
            cookie = await self._cookie(conn)
        except (WireError, OSError) as exc:
            stats.error("voter_" + getattr(exc, "kind", "connect_error"))
            return
        stats.connected["voters"] += 1
        path = f"/api/shows/{p.show}/votes"
        headers = {
            "Content-Type": "application/json",
            "Cookie": f"{COOKIE}={cookie}",
            "User-Agent": UA,
            "Origin": f"http://{p.hostport}",
        }
        while not self.stop.is_set():
            await self._pace(p.vote_rate, rng)
            cat, who = self._target(rng)
            vid = f"{stats.votes.prefix}{rng.getrandbits(80):020x}"
            body = json.dumps({"category": cat, "contestant": who, "vote_id": vid}).encode()
            raw = http_request("POST", path, p.hostport, body, headers)
            outcome = ""
            for attempt in range(p.retries + 1):
                if attempt:
                    stats.retries += 1
                    await asyncio.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + rng.random()))
                if conn.closed:
                    try:
                        conn = await HttpConn.open(p.host, p.port, source)
                    except OSError:
                        stats.error("connect_error")
                        continue
                sent = time.monotonic()
                try:
                    reply: Response = await conn.request(raw, p.timeout)
                except WireError as exc:
                    stats.error(exc.kind)
                    continue
                now = time.monotonic()
                if reply.status >= 500:
                    stats.error(f"http_{reply.status}", now)
                    continue
                outcome = self._outcome(reply)
                stats.vote_answer((now - sent) * 1000, outcome, now)
                if outcome == "limited":
                    await asyncio.sleep(float(reply.headers.get("retry-after", "1")))
                break
            self._record(vid, cat, who, outcome)
        conn.close()
        stats.connected["voters"] -= 1

    def _outcome(self, reply: Response) -> str:
        try:
            status = json.loads(reply.body).get("status")
        except ValueError:
            status = None
        if isinstance(status, str):
            return status
        self.stats.error(f"http_{reply.status}")
        return f"http_{reply.status}"

    def _record(self, vid: str, cat: str, who: str, outcome: str) -> None:
        if outcome == "accepted":
            self.stats.votes.accepted[vid] = (cat, who)
        elif outcome == "":
            self.stats.votes.unknown[vid] = (cat, who)

    async def _device_socket(self, index: int, on_text: OnText) -> WsConn | None:
        """A websocket with a device cookie got from the show page, as a phone has."""
        p, stats = self.plan, self.stats
        source = source_address(index)
        try:
            conn = await HttpConn.open(p.host, p.port, source)
            try:
                cookie = await self._cookie(conn)
            finally:
                conn.close()
            ws = await WsConn.connect(
                p.host,
                p.port,
                f"/ws/shows/{p.show}",
                on_text,
                {"Cookie": f"{COOKIE}={cookie}", "User-Agent": UA},
                source,
                p.timeout,
            )
        except (WireError, OSError) as exc:
            stats.error("device_" + getattr(exc, "kind", "connect_error"))
            return None
        self.sockets.append(ws)
        return ws

    async def _ws_voter(self, index: int) -> None:
        p, stats = self.plan, self.stats
        rng = random.Random(p.seed * 1_000_003 + index)
        waiting: dict[str, asyncio.Future[str]] = {}

        def on_text(data: bytes) -> None:
            if data.startswith((b'{"type":"snapshot"', b'{"type":"show"', b'{"type":"comments"')):
                return
            msg = json.loads(data)
            fut = waiting.pop(str(msg.get("vote_id")), None)
            if fut is not None and not fut.done():
                status = msg.get("status") if msg.get("type") == "vote_result" else None
                code = "error_" + str(msg.get("code", ""))
                fut.set_result(status if isinstance(status, str) else code)

        ws = await self._device_socket(index, on_text)
        if ws is None:
            return
        stats.connected["voters"] += 1
        loop = asyncio.get_running_loop()
        while not self.stop.is_set() and not ws.closed.done():
            await self._pace(p.vote_rate, rng)
            cat, who = self._target(rng)
            vid = f"{stats.votes.prefix}{rng.getrandbits(80):020x}"
            msg = json.dumps(
                {"type": "vote", "category": cat, "contestant": who, "vote_id": vid}
            ).encode()
            outcome = ""
            for attempt in range(p.retries + 1):
                if attempt:
                    stats.retries += 1
                fut: asyncio.Future[str] = loop.create_future()
                waiting[vid] = fut
                sent = time.monotonic()
                if not ws.send_text(msg):
                    stats.error("ws_closed")
                    break
                try:
                    async with asyncio.timeout(p.timeout):
                        answer = await fut
                except TimeoutError:
                    stats.error("timeout")
                    continue
                now = time.monotonic()
                if answer.startswith("error_"):
                    stats.error(answer, now)
                    if answer == "error_unavailable":
                        continue
                outcome = answer
                stats.vote_answer((now - sent) * 1000, answer, now)
                break
            self._record(vid, cat, who, outcome)
        if ws.closed.done():
            stats.error(f"voter_closed_{ws.closed.result()}")
        stats.connected["voters"] -= 1

    # -- likers -------------------------------------------------------------------------------

    async def liker(self, index: int) -> None:
        p, stats = self.plan, self.stats
        rng = random.Random(p.seed * 2_000_003 + index)

        def on_text(data: bytes) -> None:
            if data.startswith(b'{"type":"like_ack"'):
                stats.taps_acked += int(json.loads(data)["n"])
            elif data.startswith(b'{"type":"error"'):
                stats.error("like_refused")

        ws = await self._device_socket(p.voters + index, on_text)
        if ws is None:
            return
        stats.connected["likers"] += 1
        msg = json.dumps({"type": "like", "n": p.like_batch}).encode()
        while not self.stop.is_set() and not ws.closed.done():
            await self._pace(p.like_rate, rng)
            if ws.send_text(msg):
                stats.taps(p.like_batch, time.monotonic())
        if ws.closed.done():
            stats.error(f"liker_closed_{ws.closed.result()}")
        stats.connected["likers"] -= 1

    async def close_all(self) -> None:
        """Close every websocket politely (bounded), so the server sees normal closes."""
        await asyncio.gather(*(ws.close(wait=2.0) for ws in self.sockets))
