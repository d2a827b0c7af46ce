"""The redis-server that `live serve` started is supervised: killed with SIGKILL (as an OOM
killer would) while phones vote, it is started again on the same data folder; votes are
accepted again within 10 s, and no vote that was answered `accepted` is lost."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from live.domain.ledger.recount import Recount
from live.redis.embedded import free_port
from live.redis.store import Store, make_client
from tests.helpers import BIG, vote_body


@dataclass
class Phones:
    accepted: set[str] = field(default_factory=set)
    accepted_at: list[float] = field(default_factory=list)
    unavailable: int = 0
    retry_after: set[str] = field(default_factory=set)
    bad: list[str] = field(default_factory=list)


async def phone(base: str, n: int, stop: asyncio.Event, out: Phones) -> None:
    """Votes with fresh vote_ids; a 503 or a lost answer is retried with the same vote_id."""
    async with httpx.AsyncClient(base_url=base, timeout=3) as http:
        await http.get("/s/big")  # the device cookie, as a real phone gets it
        for i in itertools.count():
            vid = f"oom-{n:02d}-{i:06d}"
            body = vote_body("all", f"b{1 + i % 120}", vid)
            while True:
                try:
                    reply = await http.post("/api/shows/big/votes", json=body)
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)
                    continue
                if reply.status_code == 503:
                    out.unavailable += 1
                    out.retry_after.add(reply.headers.get("Retry-After", ""))
                    await asyncio.sleep(0.05)
                    continue
                if reply.status_code != 200 or reply.json()["status"] != "accepted":
                    out.bad.append(f"{vid}: {reply.status_code} {reply.text}")
                    return
                out.accepted.add(vid)
                out.accepted_at.append(time.monotonic())
                break
            if stop.is_set():
                return


async def recount_from(data: Path) -> Recount:
    info = json.loads((data / "redis.json").read_text())
    client = make_client(info["admin_url"], 2, 5000)
    try:
        return await Store(client, "live", 5000).recount("big")
    finally:
        await client.aclose()
        await client.connection_pool.disconnect()


def start_serve(port: int, data: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    """``live serve`` with no REDIS_URL: it starts (and supervises) its own redis-server."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "LIVE_SECRET_KEY")}
    log = log_path.open("wb")
    argv = [sys.executable, "-m", "live", "serve", "--port", str(port), "--data-dir", str(data)]
    argv += ["--show-file", str(BIG), "--no-access-log"]
    return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT), log


async def test_killed_embedded_redis_comes_back_and_loses_no_vote(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    server, log = start_serve(port, data, tmp_path / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as http, asyncio.timeout(60):
            while True:
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                await asyncio.sleep(0.1)
        first_pid = json.loads((data / "redis.json").read_text())["pid"]
        out = Phones()
        stop = asyncio.Event()
        phones = [asyncio.create_task(phone(base, n, stop, out)) for n in range(8)]
        await asyncio.sleep(1.5)
        before = len(out.accepted)
        os.kill(first_pid, signal.SIGKILL)
        killed = time.monotonic()
        async with asyncio.timeout(30):
            while not any(t > killed + 0.3 for t in out.accepted_at):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        back_after = min(t for t in out.accepted_at if t > killed + 0.3) - killed
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*phones)
        second_pid = json.loads((data / "redis.json").read_text())["pid"]
        recount = await recount_from(data)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    print(
        f"accepted {len(out.accepted)} ({before} before the kill); 503s {out.unavailable}; "
        f"accepted again {back_after:.2f} s after the kill"
    )
    assert out.bad == []
    assert before > 0 and len(out.accepted) > before
    assert second_pid != first_pid  # a new redis-server, on the same data folder
    assert out.unavailable > 0 and out.retry_after == {"1"}
    assert back_after < 10
    assert out.accepted - set(recount.accepted_vote_ids) == set()  # 0 lost
    assert len(recount.accepted_vote_ids) == len(out.accepted)
