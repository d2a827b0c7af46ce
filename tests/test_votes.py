"""The vote path over HTTP: caps under concurrency, idempotent retries, statuses."""

from __future__ import annotations

import asyncio
import json

from tests.helpers import LiveServer, vote_body


async def test_200_concurrent_votes_against_cap_1_accept_exactly_one(server: LiveServer) -> None:
    async with server.client(server.cookie()) as http:
        replies = await asyncio.gather(
            *(
                http.post("/api/shows/t/votes", json=vote_body("cap1", "p1", f"vote-{i:05d}"))
                for i in range(200)
            )
        )
    statuses = [r.json()["status"] for r in replies]
    assert statuses.count("accepted") == 1
    assert statuses.count("duplicate") == 199
    assert {r.status_code for r in replies} == {200, 409}
    state = await server.state()
    assert state["tallies"]["cap1"]["p1"] == 1


async def test_200_concurrent_votes_against_cap_20_accept_exactly_20(server: LiveServer) -> None:
    async with server.client(server.cookie()) as http:
        replies = await asyncio.gather(
            *(
                http.post(
                    "/api/shows/t/votes", json=vote_body("cap20", f"p{1 + i % 5}", f"v20-{i:05d}")
                )
                for i in range(200)
            )
        )
    statuses = [r.json()["status"] for r in replies]
    assert statuses.count("accepted") == 20
    state = await server.state()
    assert sum(state["tallies"]["cap20"].values()) == 20


async def test_retry_after_lost_reply_answers_accepted(server: LiveServer) -> None:
    cookie = server.cookie()
    body = json.dumps(vote_body("cap1", "p2", "lost-reply-0001")).encode()
    # Send the request on a raw socket and hang up without reading: the reply is lost.
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /api/shows/t/votes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Cookie: live_device={cookie}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    writer.close()
    async with server.client(cookie) as http:
        for _ in range(250):  # wait until the first attempt reached the ledger
            recount = await server.rt.store.recount("t")
            if "lost-reply-0001" in recount.accepted_vote_ids:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the first attempt never reached the ledger")
        retry = await http.post("/api/shows/t/votes", content=body)
    assert retry.status_code == 200
    assert retry.json()["status"] == "accepted"
    assert retry.json()["reason"] == "replay"  # the first attempt's, answered again
    state = await server.state()
    assert state["tallies"]["cap1"]["p2"] == 1


async def test_vote_id_reused_for_another_vote_is_duplicate(server: LiveServer) -> None:
    async with server.client(server.cookie()) as http:
        first = await http.post("/api/shows/t/votes", json=vote_body("cap20", "p1", "same-id-001"))
        second = await http.post("/api/shows/t/votes", json=vote_body("cap20", "p2", "same-id-001"))
    assert first.json()["status"] == "accepted"
    assert second.status_code == 409
    assert second.json()["status"] == "duplicate"
    assert second.json()["error"]["code"] == "vote_id_reused"


async def test_closed_category_answers_closed_and_counts_nothing(server: LiveServer) -> None:
    async with server.client(server.cookie()) as http:
        reply = await http.post("/api/shows/t/votes", json=vote_body("shut", "p1", "closed-0001"))
    assert reply.status_code == 409
    assert reply.json()["status"] == "closed"
    state = await server.state()
    assert sum(state["tallies"]["shut"].values()) == 0


async def test_opening_a_category_lets_votes_in(server: LiveServer) -> None:
    show = server.rt.service.show("t")
    await server.rt.store.set_voting(show, "shut", True)
    async with server.client(server.cookie()) as http:
        reply = await http.post("/api/shows/t/votes", json=vote_body("shut", "p3", "opened-0001"))
    assert reply.json()["status"] == "accepted"


async def test_voting_open_for_one_contestant_refuses_the_others(server: LiveServer) -> None:
    show = server.rt.service.show("t")
    await server.rt.store.set_voting(show, "cap20", True, only="p4")
    async with server.client(server.cookie()) as http:
        other = await http.post("/api/shows/t/votes", json=vote_body("cap20", "p1", "only-00001"))
        right = await http.post("/api/shows/t/votes", json=vote_body("cap20", "p4", "only-00002"))
    assert (other.json()["status"], other.json()["reason"]) == ("closed", "contestant_not_open")
    assert right.json()["status"] == "accepted"
