"""Redis killed with SIGKILL mid-stream and restarted on the same data folder: 0 votes lost."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from live.redis.embedded import EmbeddedRedis
from tests.conftest import make_settings
from tests.helpers import BIG, LiveServer, serve, vote_body


@dataclass
class Tally:
    accepted: set[str] = field(default_factory=set)
    unresolved: set[str] = field(default_factory=set)
    outage_latencies: list[float] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)


async def voter(live: LiveServer, n: int, stop: asyncio.Event, out: Tally) -> None:
    """Votes with fresh vote_ids; after a 503 it retries the same vote_id, as a phone does."""
    async with live.client(live.cookie(), timeout=5) as http:
        for i in itertools.count():
            if stop.is_set():
                return
            vid = f"crash-{n:02d}-{i:06d}"
            body = vote_body("all", f"b{1 + i % 120}", vid)
            while True:
                started = time.monotonic()
                try:
                    reply = await http.post("/api/shows/big/votes", json=body)
                except httpx.HTTPError as exc:
                    out.bad.append(f"{vid}: {type(exc).__name__}")
                    return
                took = time.monotonic() - started
                if reply.status_code == 503:
                    out.outage_latencies.append(took)
                    assert reply.json()["error"]["code"] == "unavailable"
                    if stop.is_set():
                        out.unresolved.add(vid)
                        return
                    await asyncio.sleep(0.05)
                    continue
                if reply.status_code != 200 or reply.json()["status"] != "accepted":
                    out.bad.append(f"{vid}: {reply.status_code} {reply.text}")
                    return
                out.accepted.add(vid)
                break


async def test_sigkill_redis_loses_no_accepted_vote(tmp_path: Path, prefix: str) -> None:
    redis = EmbeddedRedis(tmp_path / "redis")
    redis.start()
    try:
        settings = make_settings(redis.url, prefix, tmp_path, BIG, redis_timeout_ms=1000)
        async with serve(settings) as live:
            out = Tally()
            stop = asyncio.Event()
            voters = [asyncio.create_task(voter(live, n, stop, out)) for n in range(20)]
            await asyncio.sleep(1.0)
            async with asyncio.timeout(20):  # a loaded machine may take longer to get going
                while not out.accepted:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            before = len(out.accepted)
            await asyncio.to_thread(redis.kill)
            await asyncio.sleep(0.5)
            async with live.client() as http:
                health = await http.get("/readyz")
            await asyncio.sleep(1.5)
            await asyncio.to_thread(redis.start)  # same port, password and data folder
            await asyncio.sleep(1.5)
            stop.set()
            await asyncio.gather(*voters)
            # A vote left unanswered at the stop is retried now, with its own vote_id.
            async with live.client(live.cookie()) as http:
                for vid in sorted(out.unresolved):
                    n, i = int(vid.split("-")[1]), int(vid.split("-")[2])
                    reply = await http.post(
                        "/api/shows/big/votes", json=vote_body("all", f"b{1 + i % 120}", vid)
                    )
                    assert reply.status_code in (200, 409), reply.text
                    if reply.json()["status"] == "accepted":
                        out.accepted.add(vid)
                    del n
            recount = await live.rt.store.recount("big")
            state = await live.rt.store.read_state(live.rt.service.show("big"))
    finally:
        redis.stop()
    print(
        f"accepted {len(out.accepted)} ({before} before the kill); "
        f"503s during the outage: {len(out.outage_latencies)}, "
        f"slowest {max(out.outage_latencies, default=0) * 1000:.0f} ms"
    )
    assert out.bad == []
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert before > 0 and len(out.accepted) > before  # votes before and after the outage
    assert out.outage_latencies, "the outage produced no 503"
    assert max(out.outage_latencies) < 2.0
    lost = out.accepted - recount.accepted_vote_ids
    assert lost == set()
    assert sum(state.tallies["all"].values()) == len(recount.accepted_vote_ids)
