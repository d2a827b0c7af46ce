"""Origin checks on the websocket and on cookie-carrying POSTs (cross-site requests refused)."""

from __future__ import annotations

import asyncio

import pytest
from websockets.exceptions import ConnectionClosed

from live.domain.origin import origin_allowed
from tests.helpers import LiveServer, next_snapshot, vote_body


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "ok"),
    [
        (None, "a.test", (), True),
        ("http://a.test", "a.test", (), True),
        ("https://A.test", "a.test", (), True),
        ("http://evil.test", "a.test", (), False),
        ("null", "a.test", (), False),
        ("", "a.test", (), False),
        ("file://", "a.test", (), False),
        ("https://vote.example.com", "internal:8000", ("https://vote.example.com",), True),
        ("http://a.test", "a.test", ("https://vote.example.com",), False),
    ],
)
def test_origin_rule(origin: str | None, host: str, allowed: tuple[str, ...], ok: bool) -> None:
    assert origin_allowed(origin, host, allowed) is ok


@pytest.mark.parametrize("origin", ["http://evil.test", "null"])
async def test_foreign_origin_websocket_is_closed_with_4403(
    server: LiveServer, origin: str
) -> None:
    async with server.connect("t", server.cookie(), origin=origin) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_same_origin_websocket_is_accepted(server: LiveServer) -> None:
    async with server.connect("t", origin=f"http://127.0.0.1:{server.port}") as ws:
        snap = await next_snapshot(ws)
    assert snap["type"] == "snapshot"


async def test_cross_site_vote_post_is_refused_and_not_counted(server: LiveServer) -> None:
    async with server.client(server.cookie()) as http:
        reply = await http.post(
            "/api/shows/t/votes",
            json=vote_body("cap20", "p1", "csrf-vote-1"),
            headers={"Origin": "http://evil.test"},
        )
        same = await http.post(
            "/api/shows/t/votes",
            json=vote_body("cap20", "p1", "csrf-vote-2"),
            headers={"Origin": f"http://127.0.0.1:{server.port}"},
        )
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "forbidden_origin"
    assert same.json()["status"] == "accepted"
    assert (await server.state())["tallies"]["cap20"]["p1"] == 1
