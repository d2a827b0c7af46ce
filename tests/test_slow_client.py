"""A viewer that stops reading is closed and never delays the pushes to everyone else."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import socket
import time
from pathlib import Path

from websockets.exceptions import ConnectionClosed

from tests.conftest import make_settings
from tests.helpers import BIG, LiveServer, next_snapshot, serve, vote_body


async def stalled_viewer(live: LiveServer) -> socket.socket:
    """A websocket client that completes the handshake and then never reads again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", live.port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(
        sock,
        (
            "GET /ws/shows/big HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode(),
    )
    head = await loop.sock_recv(sock, 512)
    assert head.startswith(b"HTTP/1.1 101")
    return sock


HEAD = re.compile(r'^\{"type":"snapshot","version":(\d+),')


async def follow(live: LiveServer, target: asyncio.Future[int], seen: dict[int, float]) -> None:
    """A healthy viewer: read snapshots until one reaches the target version.

    Server and 100 viewers share this test's one event loop, so a viewer reads only the head
    of each snapshot (decoding all of them would make the test clients the slow ones).
    """
    async with live.connect("big", max_size=None) as ws:
        await next_snapshot(ws)
        while True:
            try:
                head = HEAD.match(await asyncio.wait_for(ws.recv(), 20))
            except ConnectionClosed as exc:  # a healthy viewer must never be dropped
                raise AssertionError(f"a healthy viewer was closed: {exc.rcvd}") from None
            if head and target.done() and int(head.group(1)) >= target.result():
                seen[id(ws)] = time.monotonic()
                return


async def test_stalled_viewer_is_closed_and_100_others_keep_up(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    settings = make_settings(
        # 2 s of headroom: server and 100 viewers share one event loop in this test, and a
        # busy moment must not make a healthy test client look stalled.
        redis_url,
        prefix,
        tmp_path,
        BIG,
        push_interval_ms=100,
        slow_client_ms=2000,
    )
    server = serve(settings, send_buffer=32_768)
    async with server as live, contextlib.AsyncExitStack() as stack:
        stalled = await stalled_viewer(live)
        stack.callback(stalled.close)
        stalled_port = stalled.getsockname()[1]

        def stalled_open() -> bool:
            return any(
                c.client is not None and c.client[1] == stalled_port
                for conns in live.rt.hub.connections.values()
                for c in conns
            )

        target: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        seen: dict[int, float] = {}
        viewers = [asyncio.create_task(follow(live, target, seen)) for _ in range(100)]
        while sum(len(c) for c in live.rt.hub.connections.values()) < 101:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        # Every vote changes the snapshot; behind a 32 KB send buffer (a phone on a bad network)
        # the stalled socket's buffers fill within seconds.
        async with live.client(live.cookie()) as http:
            version = 0
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                reply = await http.post(
                    "/api/shows/big/votes",
                    json=vote_body("all", f"b{1 + version % 120}", f"slow-{version:06d}"),
                )
                version = reply.json()["version"]
                await asyncio.sleep(0.01)
                if not stalled_open():
                    break
            open_now = sum(len(c) for c in live.rt.hub.connections.values())
            stalled_dropped = not stalled_open()
            # One last vote, made after the target is known, so every viewer must see it.
            target.set_result(version + 1)
            reply = await http.post(
                "/api/shows/big/votes", json=vote_body("all", "b1", "slow-last-vote")
            )
            assert reply.json()["version"] == version + 1
            last_vote = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*viewers), 30)
        closed = dict(live.rt.hub.closed_by_server)
    assert stalled_dropped and open_now == 100  # the stalled one, and only it, was dropped
    assert closed == {4008: 1}  # ... as too slow, and nobody else was
    assert len(seen) == 100  # every healthy viewer reached the final version
    lags = sorted(t - last_vote for t in seen.values())
    print(f"healthy viewers reached the last version within {lags[-1] * 1000:.0f} ms")
    assert lags[-1] < 10.0
