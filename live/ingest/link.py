"""What every adapter shares: jittered backoff, beating while it waits, and the room's lease."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection

from live import metrics
from live.domain.ingest.source import IngestSource
from live.services.ingest import Ingest, SourceState

LEASE_MS = 10_000
BACKOFF_MIN = 0.5
BACKOFF_MAX = 30.0


class Backoff:
    """Waits that double from ``low`` to ``high`` after each failure, each drawn at random
    between half and all of it (so rooms and processes do not retry in step)."""

    def __init__(
        self, low: float | None = None, high: float | None = None, rng: random.Random | None = None
    ) -> None:
        self.low = BACKOFF_MIN if low is None else low
        self.high = BACKOFF_MAX if high is None else high
        self.rng = rng or random.Random()
        self.failures = 0

    def next(self) -> float:
        base: float = min(self.high, self.low * 2.0**self.failures)
        self.failures += 1
        return base * self.rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0


async def sleep_beating(seconds: float, beat: Callable[[], None]) -> None:
    """Sleep, beating at least every second (a room that is down is not a task that is)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        beat()
        await asyncio.sleep(min(1.0, left))
    beat()


class Silent(RuntimeError):
    """A platform socket that sent nothing for too long."""


async def recv_beating(
    ws: ClientConnection, limit: float, beat: Callable[[], None], keep: asyncio.Task[None] | None
) -> str | bytes:
    """The socket's next message, beating every second while waiting (a quiet room is not a
    stuck task); :class:`Silent` after ``limit`` seconds without one. A ``keep`` task (the
    heartbeats) that fails ends the wait with its error. Cancelling ``recv`` is safe in
    websockets' asyncio client: no message is lost."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while True:
        beat()
        if keep is not None and keep.done():
            keep.result()
            raise Silent("the session's keeper ended (another process holds the room)")
        left = end - loop.time()
        if left <= 0:
            raise Silent(f"no message for {limit:g} s")
        try:
            return await asyncio.wait_for(ws.recv(), min(1.0, left))
        except TimeoutError:
            continue


class Adapter:
    """A room's connection loop: hold the lease, run one session, back off, again."""

    def __init__(self, show_id: str, src: IngestSource, ingest: Ingest) -> None:
        self.show_id = show_id
        self.src = src
        self.ingest = ingest
        self.holder = secrets.token_hex(8)
        self.backoff = Backoff()

    @property
    def state(self) -> SourceState:
        return self.ingest.state(self.show_id, self.src)

    @property
    def lease(self) -> str:
        return f"ingest-{self.src.platform}-{self.src.room}"

    async def hold(self) -> bool:
        store = self.ingest.store.store
        return await store.hold_lease(self.show_id, self.lease, self.holder, LEASE_MS)

    def connected(self, up: bool, error: str = "") -> None:
        st = self.state
        st.connected = up
        if error:
            st.error = error[:300]
        metrics.INGEST_CONNECTED.labels(self.src.platform).set(1 if up else 0)

    async def session(self, beat: Callable[[], None]) -> None:
        raise NotImplementedError

    async def run(self, beat: Callable[[], None] = lambda: None) -> None:
        """Forever (a supervised task): sessions while this process holds the room."""
        while True:
            beat()
            try:
                if not await self.hold():
                    await sleep_beating(LEASE_MS / 3000, beat)
                    continue
                await self.session(beat)
                self.connected(False, "the platform ended the session")
            except asyncio.CancelledError:
                self.connected(False)
                raise
            except Exception as exc:  # every failure of the platform or the network: retry
                self.connected(False, f"{type(exc).__name__}: {exc}")
            self.state.reconnects += 1
            await sleep_beating(self.backoff.next(), beat)


def adapters(show_id: str, sources: tuple[IngestSource, ...], ingest: Ingest) -> list[Adapter]:
    """The connection loops a show's sources need (Douyin needs none: it pushes to us)."""
    from live.ingest.bilibili import Bilibili
    from live.ingest.twitch import Twitch

    kinds: dict[str, type[Adapter]] = {"bilibili": Bilibili, "twitch": Twitch}
    return [kinds[src.platform](show_id, src, ingest) for src in sources if src.platform in kinds]
