"""The push path: snapshots on connect and on change, stage pushes at once, ws votes and likes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from live.domain.stage import Action
from live.domain.state import ShowState
from live.settings import DEMO_SHOW
from tests.conftest import make_settings
from tests.helpers import LiveServer, next_snapshot, serve, snapshot_where, vote_body

CAT = "best-display"


async def test_first_messages_are_the_show_then_a_full_snapshot(server: LiveServer) -> None:
    async with server.connect("t") as ws:
        show = json.loads(await ws.recv())
        snap = json.loads(await ws.recv())
    assert show["type"] == "show"
    assert show["show"]["id"] == "t"
    assert [c["id"] for c in show["contestants"]] == ["p1", "p2", "p3", "p4", "p5"]
    assert [c["id"] for c in show["categories"]] == ["cap1", "cap20", "shut", "secret"]
    assert show["categories"][0]["contestants"] == ["p1", "p2", "p3", "p4", "p5"]
    assert snap["type"] == "snapshot"
    assert snap["show_rev"] == show["show_rev"]
    assert isinstance(snap["version"], int)
    assert snap["stage"]["contestant"] == "p1"
    assert [c["id"] for c in snap["categories"]] == ["cap1", "cap20", "shut", "secret"]
    assert snap["tallies"]["cap1"] == {f"p{i}": 0 for i in range(1, 6)}
    assert snap["likes"] == {"taps": 0, "counted": 0}
    # What never changes during the show is not pushed again.
    assert "contestants" not in snap and "show" not in snap
    assert all("name" not in c and "contestants" not in c for c in snap["categories"])


async def test_a_push_is_a_tenth_of_the_whole_state_and_the_show_is_sent_once(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    async with serve(make_settings(redis_url, prefix, tmp_path, DEMO_SHOW)) as live:
        async with live.connect("demo") as ws:
            first = [await ws.recv(), await ws.recv()]
            async with live.client(live.cookie()) as http:
                reply = await http.post(
                    "/api/shows/demo/votes", json=vote_body(CAT, "c01", "bytes-0001")
                )
                assert reply.json()["status"] == "accepted", reply.text
            pushed = []
            async with asyncio.timeout(5):
                while True:
                    text = await ws.recv()
                    pushed.append(text)
                    if json.loads(text).get("tallies", {}).get(CAT, {}).get("c01") == 1:
                        break
            whole = await live.state("demo")
    kinds = [json.loads(t)["type"] for t in first + pushed]
    push_bytes = len(pushed[-1].encode())
    whole_bytes = len(json.dumps(whole, ensure_ascii=False, separators=(",", ":")).encode())
    print(f"one push after one vote (demo show): {push_bytes} B; the whole state {whole_bytes} B")
    assert kinds.count("show") == 1 and kinds[0] == "show"
    assert push_bytes <= 1024
    assert push_bytes * 4 < whole_bytes


async def test_a_vote_arrives_as_a_new_snapshot_with_a_higher_version(server: LiveServer) -> None:
    async with server.connect("t") as ws:
        first = await next_snapshot(ws)
        async with server.client(server.cookie()) as http:
            reply = await http.post(
                "/api/shows/t/votes", json=vote_body("cap20", "p3", "push-0001")
            )
        assert reply.json()["status"] == "accepted"
        snap = await snapshot_where(ws, lambda s: s["tallies"]["cap20"]["p3"] == 1)
    assert snap["version"] > first["version"]


async def test_stage_change_is_pushed_at_once_not_on_the_next_tick(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    # With a one-minute ticker only the pub/sub path can deliver within the wait below.
    settings = make_settings(redis_url, prefix, tmp_path, push_interval_ms=60_000)
    async with serve(settings) as live, live.connect("t") as ws:
        await next_snapshot(ws)
        await asyncio.sleep(0.1)
        await live.rt.service.stage_action("t", Action("present", "p4"), "test")
        snap = await next_snapshot(ws, wait=5)
    assert snap["stage"]["contestant"] == "p4"


async def test_a_vote_in_a_quiet_show_is_pushed_at_once_not_on_the_next_tick(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    # With a one-minute ticker only the push-at-once path can deliver within the wait below.
    settings = make_settings(redis_url, prefix, tmp_path, push_interval_ms=60_000)
    async with serve(settings) as live, live.connect("t") as ws:
        await next_snapshot(ws)
        async with live.client(live.cookie()) as http:
            reply = await http.post(
                "/api/shows/t/votes", json=vote_body("cap20", "p2", "soon-0001")
            )
        assert reply.json()["status"] == "accepted"
        snap = await snapshot_where(ws, lambda s: s["tallies"]["cap20"]["p2"] == 1, wait=5)
        # A second vote at once is coalesced: it waits for the interval (here a minute).
        async with live.client(live.cookie()) as http:
            reply = await http.post(
                "/api/shows/t/votes", json=vote_body("cap20", "p3", "soon-0002")
            )
        assert reply.json()["status"] == "accepted"
        with pytest.raises(TimeoutError):
            await snapshot_where(ws, lambda s: s["tallies"]["cap20"]["p3"] == 1, wait=1.5)
    assert snap["version"] == reply.json()["version"] - 1


async def test_vote_over_websocket_gets_the_same_answers(server: LiveServer) -> None:
    async with server.connect("t", server.cookie()) as ws:
        await next_snapshot(ws)
        answers = []
        for contestant, vid in (("p1", "wsvote-001"), ("p1", "wsvote-001"), ("p2", "wsvote-002")):
            await ws.send(json.dumps({"type": "vote", **vote_body("cap1", contestant, vid)}))
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if msg["type"] == "vote_result":
                    answers.append((msg["vote_id"], msg["status"], msg["reason"]))
                    break
    assert answers == [
        ("wsvote-001", "accepted", ""),
        ("wsvote-001", "accepted", "replay"),
        ("wsvote-002", "duplicate", "cap_reached"),
    ]


async def test_likes_are_capped_per_device_per_second_and_both_counts_shown(
    server: LiveServer,
) -> None:
    cookie = server.cookie()
    async with server.connect("t", cookie) as ws:
        await next_snapshot(ws)
        for _ in range(5):  # 100 taps within well under a second; the cap is 20 per second
            await ws.send(json.dumps({"type": "like", "n": 20}))
        snap = await snapshot_where(ws, lambda s: s["likes"]["taps"] == 100)
    assert 20 <= snap["likes"]["counted"] <= 40  # 20 per second; the burst may straddle a second
    async with server.client(cookie) as http:
        reply = await http.post("/api/shows/t/likes", json={"n": 3})
    assert reply.status_code == 202
    assert reply.json() == {"status": "received", "n": 3}


async def test_reconnecting_viewer_resyncs_from_the_snapshot(server: LiveServer) -> None:
    async with server.connect("t") as ws:
        await next_snapshot(ws)
    async with server.client(server.cookie()) as http:
        await http.post("/api/shows/t/votes", json=vote_body("cap20", "p5", "while-away-1"))
    async with server.connect("t") as ws:
        snap = await snapshot_where(ws, lambda s: s["tallies"]["cap20"]["p5"] == 1)
    assert snap["tallies"]["cap20"]["p5"] == 1


async def test_a_burst_of_new_viewers_reads_the_show_once(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """A reconnect storm (every phone at once after a restart) before the ticker has a snapshot:
    the viewers share one read of the show instead of one each."""
    async with serve(make_settings(redis_url, prefix, tmp_path, push_interval_ms=60_000)) as live:
        hub = live.rt.hub
        load = hub._load
        reads = 0

        async def counted(show: str) -> ShowState:
            nonlocal reads
            reads += 1
            return await load(show)

        hub._load = counted
        hub.latest.clear()
        sockets = [live.connect("t") for _ in range(50)]
        opened = await asyncio.gather(*(s.__aenter__() for s in sockets))
        try:
            snaps = await asyncio.gather(*(next_snapshot(ws) for ws in opened))
        finally:
            await asyncio.gather(*(s.__aexit__(None, None, None) for s in sockets))
    assert len({s["version"] for s in snaps}) == 1
    assert reads <= 2  # one shared read (and at most one tick's)
