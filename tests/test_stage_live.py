"""The stage on real Redis: server-side auto-close, refusals after it, racing actions."""

from __future__ import annotations

import asyncio
import time

from live.domain.ballot import Voter, make_ballot, parse_vote
from live.domain.errors import LiveError
from live.domain.stage import Action
from live.services.shows import Service, wall_ms
from tests.helpers import LiveServer, all_entries, next_snapshot, snapshot_where, vote_body


async def test_countdown_end_closes_voting_on_the_server(server: LiveServer) -> None:
    svc = server.rt.service
    await svc.stage_action("t", Action("next"), "test")
    await svc.stage_action(
        "t", Action("open_voting", category="shut", for_contestant=True, seconds=1), "test"
    )
    async with server.connect("t") as ws, server.client(server.cookie()) as http:
        first = await http.post("/api/shows/t/votes", json=vote_body("shut", "p1", "in-time-01"))
        snap = await snapshot_where(ws, lambda s: s["stage"]["phase"] == "closed", wait=5)
        late = await http.post("/api/shows/t/votes", json=vote_body("shut", "p1", "too-late-01"))
    assert first.json()["status"] == "accepted"
    assert snap["categories"][2]["open"] is False
    assert late.status_code == 409
    assert late.json()["status"] == "closed"
    entries = await all_entries(server)
    refused = [e for e in entries if e.get("vid") == "too-late-01"]
    assert [(e["st"], e["why"]) for e in refused] == [("closed", "category_closed")]
    assert any(e.get("k") == "stage" and e.get("by") == "clock" for e in entries)


async def test_vote_after_the_deadline_is_refused_even_before_the_clock_closes(
    server: LiveServer,
) -> None:
    svc = server.rt.service
    await svc.stage_action("t", Action("next"), "test")
    await svc.stage_action("t", Action("open_voting", category="shut", seconds=1), "test")
    show = svc.show("t")
    stage = await server.rt.store.read_stage("t")
    ballot = make_ballot(
        show,
        parse_vote(vote_body("shut", "p2", "after-deadline")),
        Voter("dev-x", "127.0.0.1"),
    )
    outcome = await server.rt.store.cast_vote(ballot, stage.deadline, show)
    assert (outcome.status, outcome.reason) == ("closed", "window_ended")


async def test_of_50_racing_closes_exactly_one_wins(server: LiveServer) -> None:
    svc = server.rt.service
    await svc.stage_action("t", Action("next"), "test")
    await svc.stage_action("t", Action("open_voting", category="cap20"), "test")
    results = await asyncio.gather(
        *(svc.stage_action("t", Action("close_voting"), f"admin{i}") for i in range(50)),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, LiveError)]
    assert len(wins) == 1 and len(losses) == 49
    assert {e.code for e in losses} == {"illegal_transition"}
    stage = await server.rt.store.read_stage("t")
    assert (stage.phase, stage.rev) == ("closed", 3)  # next, open, and one close


async def test_stage_change_reaches_viewers_with_a_countdown_they_can_show(
    server: LiveServer,
) -> None:
    async with server.connect("t") as ws:
        await next_snapshot(ws)
        await server.rt.service.stage_action("t", Action("present", "p3", seconds=90), "test")
        snap = await snapshot_where(ws, lambda s: s["stage"]["contestant"] == "p3")
    remaining = snap["stage"]["deadline"] - snap["server_time"]
    assert 85_000 < remaining <= 90_000
    assert abs(snap["server_time"] - time.time() * 1000) < 5_000


async def test_the_stage_clock_runs_under_a_lease_another_process_takes_over(
    server: LiveServer,
) -> None:
    store = server.rt.store
    key = store.keys("t").lease("stage-clock")
    for _ in range(50):  # the clock ticks every 0.2 s
        if await store.client.get(key) == server.rt.service.holder:
            break
        await asyncio.sleep(0.05)
    assert await store.client.get(key) == server.rt.service.holder
    # Two holders of a lease of their own: one has it, the other waits for it to lapse.
    assert await store.hold_lease("t", "test-job", "proc-a", 300)
    assert not await store.hold_lease("t", "test-job", "proc-b", 300)
    assert await store.hold_lease("t", "test-job", "proc-a", 300)  # renewed
    await asyncio.sleep(0.45)
    assert await store.hold_lease("t", "test-job", "proc-b", 300)
    assert not await store.hold_lease("t", "test-job", "proc-a", 300)


async def test_a_countdown_deadline_is_set_by_redis_s_clock(server: LiveServer) -> None:
    # This host's clock an hour behind (a badly set app host): the deadline still follows
    # Redis's clock, the one vote.lua refuses late votes by.
    behind = Service(server.rt.service.shows, server.rt.store, clock=lambda: wall_ms() - 3_600_000)
    await behind.stage_action("t", Action("next"), "test")
    before = await server.rt.store.now_ms("t")
    stage = await behind.stage_action("t", Action("present", "p2", seconds=30), "test")
    after = await server.rt.store.now_ms("t")
    assert before + 30_000 <= stage.deadline <= after + 30_000
