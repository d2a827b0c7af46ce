"""Moderators void and restore votes: ledger entries, tallies and pushes at once, attributed."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import make_settings
from tests.helpers import (
    RATE_LIMITED,
    SHOW,
    LiveServer,
    all_entries,
    serve,
    snapshot_where,
    staff_client,
    staff_login,
    vote_body,
)


async def _vote(server: LiveServer, cookie: str, cat: str, who: str, vid: str, **kw: Any) -> int:
    async with server.client(cookie, **kw) as http:
        reply = await http.post("/api/shows/t/votes", json=vote_body(cat, who, vid))
    return reply.status_code


async def _moderate(
    http: httpx.AsyncClient, csrf: str, path: str = "/api/shows/t/voids", **body: Any
) -> httpx.Response:
    return await http.post(path, json=body, headers={"X-CSRF-Token": csrf})


def _tally(state: dict[str, Any], cat: str) -> dict[str, int]:
    return dict(state["tallies"][cat])


def _voided(state: dict[str, Any], cat: str) -> int:
    return int(next(c for c in state["categories"] if c["id"] == cat)["voided"])


async def test_void_and_restore_change_tallies_and_are_idempotent(server: LiveServer) -> None:
    for i in range(3):
        assert await _vote(server, server.cookie(), "cap20", "p1", f"mod-p1-{i:03d}") == 200
    assert await _vote(server, server.cookie(), "cap20", "p2", "mod-p2-000") == 200
    cookie, csrf = await staff_login(server, "moderator", "Mo")
    async with staff_client(server, cookie) as http:
        void: dict[str, Any] = {
            "op": "void",
            "vote_ids": ["mod-p1-000", "mod-p1-001"],
            "reason": "same farm",
        }
        first = await _moderate(http, csrf, **void)
        assert first.status_code == 200, first.text
        assert first.json() | {"version": 0} == {
            "op": "void", "by": first.json()["by"], "changed": 2, "unchanged": 0, "unknown": 0,
            "version": 0,
        }  # fmt: skip
        state = await server.state()
        assert _tally(state, "cap20")["p1"] == 1 and _voided(state, "cap20") == 2
        again = (await _moderate(http, csrf, **void)).json()
        assert (again["changed"], again["unchanged"]) == (0, 2)
        assert _tally(await server.state(), "cap20")["p1"] == 1
        restore: dict[str, Any] = {**void, "op": "restore", "vote_ids": ["mod-p1-001", "nope-0000"]}
        back = (await _moderate(http, csrf, **restore)).json()
        assert (back["changed"], back["unknown"]) == (1, 1)
        state = await server.state()
        assert _tally(state, "cap20")["p1"] == 2 and _voided(state, "cap20") == 1


async def test_a_void_reaches_viewers_as_a_new_snapshot(server: LiveServer) -> None:
    """The push follows the void (the time it took is printed, not asserted: a figure)."""
    assert await _vote(server, server.cookie(), "cap20", "p3", "push-void-1") == 200
    cookie, csrf = await staff_login(server, "moderator")
    async with server.connect("t") as ws, staff_client(server, cookie) as http:
        before = await snapshot_where(ws, lambda s: s["tallies"]["cap20"].get("p3") == 1)
        started = time.monotonic()
        body: dict[str, Any] = {"op": "void", "vote_ids": ["push-void-1"], "reason": "test push"}
        assert (await _moderate(http, csrf, **body)).status_code == 200
        snap = await snapshot_where(ws, lambda s: s["tallies"]["cap20"].get("p3") == 0)
        print(f"\nvoid to viewer snapshot: {1000 * (time.monotonic() - started):.0f} ms")
    assert _voided(snap, "cap20") == 1 and snap["version"] > before["version"]


async def test_the_preview_shows_the_ranking_before_and_after(server: LiveServer) -> None:
    for i in range(3):
        assert await _vote(server, server.cookie(), "cap20", "p4", f"prev-p4-{i}xxxx") == 200
    for i in range(2):
        assert await _vote(server, server.cookie(), "cap20", "p5", f"prev-p5-{i}xxxx") == 200
    cookie, csrf = await staff_login(server, "moderator")
    async with staff_client(server, cookie) as http:
        body: dict[str, Any] = {
            "op": "void",
            "vote_ids": ["prev-p4-0xxxx", "prev-p4-1xxxx"],
            "reason": "x",
        }
        reply = await _moderate(http, csrf, "/api/shows/t/voids/preview", **body)
        assert reply.status_code == 200, reply.text
        preview = reply.json()
        rows = {r["contestant"]: r for r in preview["categories"][0]["rows"]}
        assert preview["would_change"] == 2
        assert (rows["p4"]["before"]["place"], rows["p4"]["after"]["place"]) == (1, 2)
        assert (rows["p5"]["before"]["place"], rows["p5"]["after"]["place"]) == (2, 1)
        assert rows["p4"]["change"] == -2
        # A preview changes nothing.
        assert _tally(await server.state(), "cap20")["p4"] == 3


async def test_every_action_is_attributed_and_needs_a_reason(server: LiveServer) -> None:
    assert await _vote(server, server.cookie(), "cap20", "p1", "attrib-0001") == 200
    cookie, csrf = await staff_login(server, "moderator", "Mona")
    async with staff_client(server, cookie) as http:
        no_reason = await _moderate(http, csrf, op="void", vote_ids=["attrib-0001"], reason="")
        assert no_reason.status_code == 400 and no_reason.json()["error"]["code"] == "bad_request"
        both = await _moderate(http, csrf, op="void", vote_ids=["attrib-0001"], cluster="x:y")
        assert both.status_code == 400
        ok = await _moderate(http, csrf, op="void", vote_ids=["attrib-0001"], reason="bot farm")
        assert ok.status_code == 200
        by = ok.json()["by"]
    admin, _ = await staff_login(server, "admin")
    async with staff_client(server, admin) as http:
        log = (await http.get("/api/shows/t/moderation-log")).json()["actions"]
    assert [(a["op"], a["by"], a["why"], a["changed"]) for a in log] == [
        ("void", by, "bot farm", 1)
    ]
    assert by.startswith("moderator:")
    entries = [f for f in await all_entries(server) if f["k"] == "void"]
    assert [(e["vid"], e["by"], e["why"]) for e in entries] == [("attrib-0001", by, "bot farm")]


async def test_the_cap_policy_for_voided_votes_comes_from_the_show_file(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    returned = tmp_path / "returned.toml"
    returned.write_text(SHOW.read_text() + '\n[integrity]\nvoided_cap = "returned"\n')
    for path, can_vote_again in ((SHOW, False), (returned, True)):
        settings = make_settings(redis_url, prefix + path.stem, tmp_path, path)
        async with serve(settings) as server:
            device = server.cookie()
            assert await _vote(server, device, "cap1", "p1", f"cap-{path.stem}-1") == 200
            assert await _vote(server, device, "cap1", "p2", f"cap-{path.stem}-2") == 409
            cookie, csrf = await staff_login(server, "moderator")
            async with staff_client(server, cookie) as http:
                body: dict[str, Any] = {
                    "op": "void",
                    "vote_ids": [f"cap-{path.stem}-1"],
                    "reason": "dup",
                }
                assert (await _moderate(http, csrf, **body)).status_code == 200
            again = await _vote(server, device, "cap1", "p2", f"cap-{path.stem}-3")
            assert (again == 200) is can_vote_again


async def test_a_moderator_of_one_show_cannot_act_on_another(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    async with serve(make_settings(redis_url, prefix, tmp_path, SHOW, RATE_LIMITED)) as server:
        cookie, csrf = await staff_login(server, "moderator")
        async with staff_client(server, cookie) as http:
            body: dict[str, Any] = {
                "op": "void",
                "vote_ids": ["whatever-1"],
                "reason": "cross-show",
            }
            other = await _moderate(http, csrf, "/api/shows/rl/voids", **body)
            flags = await http.get("/api/shows/rl/flags")
            mine = await http.get("/api/shows/t/flags")
        assert other.status_code == 401 and other.json()["error"]["code"] == "not_signed_in"
        assert flags.status_code == 401
        assert mine.status_code == 200


async def test_scripted_votes_are_flagged_and_a_cluster_can_be_voided(server: LiveServer) -> None:
    bot = {"user-agent": "python-requests/2.31.0"}
    for i in range(4):
        assert (
            await _vote(server, server.cookie(), "cap20", "p2", f"bot-{i:04d}", headers=bot) == 200
        )
    assert await _vote(server, server.cookie(), "cap20", "p2", "human-0001") == 200
    cookie, csrf = await staff_login(server, "moderator")
    async with staff_client(server, cookie) as http:
        clusters: list[dict[str, Any]] = []
        async with asyncio.timeout(5):
            # The flagger writes what it has read so far (at most once a second): wait until it
            # has written all four, not for its first write.
            while not clusters or clusters[0]["flagged"] < 4:
                reply = await http.get("/api/shows/t/flags")
                clusters = [c for c in reply.json()["clusters"] if c["rule"] == "scripted_agent"]
                await asyncio.sleep(0.1)
        cluster = clusters[0]
        assert cluster["flagged"] == 4
        assert "python-requests" in cluster["reason"]
        assert {v["vid"] for v in cluster["votes"]} == {f"bot-{i:04d}" for i in range(4)}
        done = await _moderate(http, csrf, op="void", cluster=cluster["id"], reason="scripted")
        assert done.json()["changed"] == 4
        # Flags never drop a vote by themselves: all five were accepted and counted until now.
        assert _tally(await server.state(), "cap20")["p2"] == 1
        listed = (await http.get("/api/shows/t/flags")).json()["clusters"]
        voided = [v["voided"] for c in listed if c["id"] == cluster["id"] for v in c["votes"]]
        assert all(v and v["why"] == "scripted" for v in voided)


async def test_the_flagger_runs_in_its_own_process(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """`live flagger` flags what a serving process without a detector (the default) records,
    and stops cleanly on SIGTERM."""
    settings = make_settings(redis_url, prefix, tmp_path, flagger_inline=False)
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "LIVE_KEY_PREFIX": prefix,
        "LIVE_SHOW_FILES": ",".join(str(p) for p in settings.show_files),
        "LIVE_DATA_DIR": str(tmp_path),
        "LIVE_REDIS_CLUSTER": "1" if settings.redis_cluster else "",
    }
    async with serve(settings) as live:
        assert live.rt.flagger is None and "flagger" not in live.rt.supervisor.health()
        bot = {"user-agent": "python-requests/2.31.0"}
        for i in range(4):
            assert (
                await _vote(live, live.cookie(), "cap20", "p2", f"bot-{i:04d}", headers=bot) == 200
            )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "live", "flagger", env=env, stdout=asyncio.subprocess.PIPE
        )
        try:
            cookie, _ = await staff_login(live, "moderator")
            async with staff_client(live, cookie) as http, asyncio.timeout(30):
                flagged = 0
                while flagged < 4:
                    reply = await http.get("/api/shows/t/flags")
                    flagged = sum(
                        c["flagged"]
                        for c in reply.json()["clusters"]
                        if c["rule"] == "scripted_agent"
                    )
                    await asyncio.sleep(0.1)
            proc.terminate()
            out, _ = await asyncio.wait_for(proc.communicate(), 10)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert flagged == 4
    assert proc.returncode == 0
    assert b"following t" in out
