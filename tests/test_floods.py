"""Floods on the websockets: the per-address socket cap (4030), a socket sending a thousand
messages a second (``throttled``, then 4029), an oversize frame (1009), and viewers on other
addresses who keep getting every change meanwhile (their staleness is printed, not timed)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from loadtest.stats import summary
from tests.conftest import make_settings
from tests.helpers import LiveServer, next_snapshot, serve, vote_body

CAP = 20


@pytest.fixture
async def server(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with serve(make_settings(redis_url, prefix, tmp_path, ws_per_ip=CAP)) as live:
        yield live


def connect_from(server: LiveServer, address: str, cookie: str | None = None) -> Any:
    headers = {"Cookie": f"live_device={cookie}"} if cookie else None
    # close_timeout: a socket the test never reads stops reading (websockets' flow control), so
    # it would never see the server's answer to its close frame.
    return websockets.connect(
        server.ws_url("t"),
        additional_headers=headers,
        local_addr=(address, 0),
        compression=None,
        close_timeout=0.5,
    )


async def closed_with(ws: Any, wait: float = 5.0) -> int | None:
    try:
        async with asyncio.timeout(wait):
            while True:
                await ws.recv()
    except websockets.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None


async def test_one_address_hits_the_socket_cap_and_others_still_connect(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="live.refusals")
    async with contextlib.AsyncExitStack() as stack:
        held = [
            await stack.enter_async_context(connect_from(server, "127.0.0.1")) for _ in range(CAP)
        ]
        for ws in held:
            assert (await next_snapshot(ws))["type"] == "snapshot"
        extra = [
            await stack.enter_async_context(connect_from(server, "127.0.0.1")) for _ in range(5)
        ]
        codes = [await closed_with(ws) for ws in extra]
        other = await stack.enter_async_context(connect_from(server, "127.0.0.2"))
        assert (await next_snapshot(other))["type"] == "snapshot"
        await held[0].close()
        await asyncio.sleep(0.2)
        again = await stack.enter_async_context(connect_from(server, "127.0.0.1"))
        assert (await next_snapshot(again))["type"] == "snapshot"
    assert codes == [4030] * 5
    assert sum("4030" in r.getMessage() for r in caplog.records) == 5


async def flood(server: LiveServer, rate: int = 1000, seconds: float = 3.0) -> dict[str, Any]:
    """One socket sending pings at ``rate`` a second: what it got back and how it ended."""
    out: dict[str, Any] = {"sent": 0, "pong": 0, "throttled": 0, "code": None}
    async with connect_from(server, "127.0.0.9") as ws:
        await ws.recv()

        async def reader() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg["type"] == "pong":
                        out["pong"] += 1
                    elif msg.get("code") == "throttled":
                        out["throttled"] += 1
            out["code"] = ws.close_code

        task = asyncio.create_task(reader())
        started = time.monotonic()
        with contextlib.suppress(websockets.ConnectionClosed):
            while time.monotonic() - started < seconds and not task.done():
                await ws.send('{"type":"ping"}')
                out["sent"] += 1
                await asyncio.sleep(1 / rate)
        out["seconds"] = time.monotonic() - started
        await asyncio.wait_for(task, 5)
    return out


async def test_a_socket_sending_a_thousand_messages_a_second_is_throttled_then_closed(
    server: LiveServer,
) -> None:
    out = await flood(server)
    print(f"\nflood: {out}")
    burst, rate = server.settings.ws_msg_burst, server.settings.ws_msg_rate
    assert out["code"] == 4029
    assert out["throttled"] > 0
    assert out["pong"] <= burst + rate * out["seconds"] + 1
    assert out["seconds"] < 3.0  # closed before the flood's own end


async def test_a_polite_socket_is_never_throttled(server: LiveServer) -> None:
    async with connect_from(server, "127.0.0.8") as ws:
        await ws.recv()
        pongs = 0
        for _ in range(30):
            await ws.send('{"type":"ping"}')
            while json.loads(await ws.recv())["type"] != "pong":
                pass
            pongs += 1
            await asyncio.sleep(1 / (server.settings.ws_msg_rate / 2))
    assert pongs == 30


async def test_an_oversize_frame_is_closed_with_1009(server: LiveServer) -> None:
    async with connect_from(server, "127.0.0.7") as ws:
        await ws.recv()
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send('{"type":"ping","pad":"' + "x" * server.settings.ws_max_bytes + '"}')
        assert await closed_with(ws) == 1009


async def watch(ws: Any, stop: asyncio.Event, staleness: list[float], versions: list[int]) -> None:
    while not stop.is_set():
        try:
            raw = await asyncio.wait_for(ws.recv(), 0.5)
        except TimeoutError:
            continue
        msg = json.loads(raw)
        if msg["type"] == "snapshot":
            staleness.append(time.time() * 1000 - msg["server_time"])
            versions.append(msg["version"])


async def test_other_viewers_keep_every_change_during_the_floods(server: LiveServer) -> None:
    """Viewers on other addresses see versions only go up and the last vote arrive; their p99
    staleness before and during the floods is printed (a figure, not a timed assertion)."""
    async with contextlib.AsyncExitStack() as stack:
        viewers = [
            await stack.enter_async_context(connect_from(server, f"127.0.1.{i}"))
            for i in range(1, 11)
        ]
        stop = asyncio.Event()
        calm: list[list[float]] = [[] for _ in viewers]
        versions: list[list[int]] = [[] for _ in viewers]
        tasks = [asyncio.create_task(watch(v, stop, calm[i], versions[i]))
                 for i, v in enumerate(viewers)]  # fmt: skip

        async def votes(n: int, tag: str) -> None:
            async with server.client(server.cookie()) as http:
                for i in range(n):
                    body = vote_body("cap20", f"p{1 + i % 5}", f"{tag}-{i:05d}")
                    await http.post("/api/shows/t/votes", json=body)
                    await asyncio.sleep(0.02)

        await votes(40, "calm")
        before = [x for s in calm for x in s]
        for s in calm:
            s.clear()
        cap = [await stack.enter_async_context(connect_from(server, "127.0.0.1"))
               for _ in range(CAP + 10)]  # fmt: skip
        flooded, _ = await asyncio.gather(flood(server, seconds=2.0), votes(40, "storm"))
        with contextlib.suppress(websockets.ConnectionClosed):
            await cap[0].send('{"pad":"' + "x" * server.settings.ws_max_bytes + '"}')
        during = [x for s in calm for x in s]
        final = (await server.state())["version"]
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*tasks)
    b, d = summary(before), summary(during)
    print(f"\nbystander staleness p99: before {b['p99']:.1f} ms, during floods {d['p99']:.1f} ms "
          f"(n {len(before)}, {len(during)}); flood {flooded}")  # fmt: skip
    assert flooded["code"] == 4029
    for seen in versions:
        assert seen == sorted(seen) and seen[-1] == final
