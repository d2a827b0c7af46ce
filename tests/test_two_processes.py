"""Two server processes on one Redis: a vote taken by one is pushed by the other."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets

from live.redis.embedded import free_port
from live.web.identity import COOKIE, Devices
from tests.helpers import SECRET, SHOW, next_snapshot, snapshot_where, vote_body


@pytest.fixture
async def two_servers(
    redis_url: str, prefix: str, tmp_path: Path
) -> AsyncIterator[tuple[int, int, dict[str, str]]]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "LIVE_KEY_PREFIX": prefix,
        "LIVE_SECRET_KEY": SECRET,
        "LIVE_SHOW_FILES": str(SHOW),
        "LIVE_DATA_DIR": str(tmp_path),
    }
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(  # noqa: ASYNC220 (starting, not waiting: nothing blocks)
            [sys.executable, "-m", "live", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        async with httpx.AsyncClient() as http:
            for port in ports:
                for _ in range(200):
                    try:
                        if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.05)
                else:
                    raise AssertionError(f"server on {port} did not start")
        yield ports[0], ports[1], env
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


async def test_vote_on_one_process_is_pushed_by_the_other(
    two_servers: tuple[int, int, dict[str, str]],
) -> None:
    a, b, _ = two_servers
    cookie = Devices(SECRET).issue()[1]
    async with websockets.connect(f"ws://127.0.0.1:{b}/ws/shows/t") as ws:
        await next_snapshot(ws)
        async with httpx.AsyncClient(cookies={COOKIE: cookie}) as http:
            reply = await http.post(
                f"http://127.0.0.1:{a}/api/shows/t/votes",
                json=vote_body("cap20", "p2", "cross-proc-1"),
            )
        assert reply.json()["status"] == "accepted"
        snap = await snapshot_where(ws, lambda s: s["tallies"]["cap20"]["p2"] == 1)
    assert snap["version"] >= reply.json()["version"]


async def test_stage_change_from_the_cli_reaches_a_server_process(
    two_servers: tuple[int, int, dict[str, str]],
) -> None:
    _, b, env = two_servers
    async with websockets.connect(f"ws://127.0.0.1:{b}/ws/shows/t") as ws:
        await next_snapshot(ws)
        done = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "live",
            "stage",
            "present",
            "--show",
            "t",
            "--contestant",
            "p5",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
        )
        assert await done.wait() == 0
        snap = await snapshot_where(ws, lambda s: s["stage"]["contestant"] == "p5")
    assert snap["stage"]["phase"] == "presenting"
