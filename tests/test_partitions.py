"""A show with ``partitions = 4``: its votes spread over four hash tags, each with its own chain;
caps stay exact, tallies are summed, and recount, verify, export and reconcile handle the chains."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from live.domain.show import partition_of
from live.realtime.flagger import BATCH, Chains
from live.redis.personal import Personal
from tests.conftest import make_settings, partitioned
from tests.helpers import (
    SHOW,
    LiveServer,
    assert_recount,
    run_cli,
    serve,
    staff_client,
    staff_login,
    vote_body,
)
from tests.test_judging import FULL, admin, judge, sheet

N = 4


@pytest.fixture
async def parted(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    show = partitioned(SHOW, tmp_path / "shows", N)
    async with serve(make_settings(redis_url, prefix, tmp_path, show)) as live:
        yield live


async def _vote_from_devices(
    live: LiveServer, devices: int, category: str, start: int = 0
) -> list[str]:
    """One vote per new device (contestants in turn); the vote ids, all accepted."""

    async def one(i: int) -> str:
        async with live.client(live.cookie()) as http:
            vid = f"part-{category}-{i:04d}"
            reply = await http.post(
                "/api/shows/t/votes", json=vote_body(category, f"p{1 + i % 5}", vid)
            )
            assert reply.json()["status"] == "accepted", reply.text
        return vid

    return list(await asyncio.gather(*(one(i) for i in range(start, start + devices))))


async def _chains(live: LiveServer) -> list[list[dict[str, str]]]:
    store = live.rt.store
    return [[f async for _, f in store.ledger_entries("t", part=p)] for p in range(N)]


async def test_each_device_votes_in_its_own_partition_and_tallies_are_summed(
    parted: LiveServer,
) -> None:
    await _vote_from_devices(parted, 60, "cap20")
    chains = await _chains(parted)
    personal = Personal(parted.rt.store)
    for part, chain in enumerate(chains):
        votes = [e for e in chain if e["k"] == "vote"]
        assert votes, f"partition {part} got no vote of 60 devices"
        # The ledger names devices by pseudonym; the partition's own pii hash has their raw ids,
        # each of which hashes to this partition.
        raw = await personal.resolve("t", part, [e["pdev"] for e in votes])
        assert {partition_of(raw[e["pdev"]], N) for e in votes} == {part}
    state = await parted.state()
    assert sum(state["tallies"]["cap20"].values()) == 60
    per_partition = [sum(e["k"] == "vote" for e in chain) for chain in chains]
    assert sum(per_partition) == 60
    await assert_recount(parted)


async def test_a_device_cap_holds_exactly_under_concurrency(parted: LiveServer) -> None:
    cookies = [parted.cookie() for _ in range(3)]

    async def burst(cookie: str, d: int) -> list[str]:
        async with parted.client(cookie) as http:
            replies = await asyncio.gather(
                *(
                    http.post(
                        "/api/shows/t/votes", json=vote_body("cap20", "p1", f"cap-{d}-{i:04d}")
                    )
                    for i in range(60)
                )
            )
        return [r.json().get("status", r.text) for r in replies]

    results = await asyncio.gather(*(burst(c, d) for d, c in enumerate(cookies)))
    assert [r.count("accepted") for r in results] == [20, 20, 20], results[0][:3]
    state = await parted.state()
    assert state["tallies"]["cap20"]["p1"] == 60
    await assert_recount(parted)


async def test_closing_a_category_closes_every_partition_and_pins_each_chain(
    parted: LiveServer,
) -> None:
    await _vote_from_devices(parted, 20, "cap1")
    await parted.rt.service.set_voting("t", "cap1", False)
    async with parted.client(parted.cookie()) as http:
        for i in range(20):  # new devices, so every partition is asked
            http.cookies.set("live_device", parted.cookie())
            reply = await http.post(
                "/api/shows/t/votes", json=vote_body("cap1", "p1", f"late-vote-{i:03d}")
            )
            assert reply.json()["reason"] == "category_closed"
    chains = await _chains(parted)
    state = await parted.rt.store.read_state(parted.rt.service.show("t"))
    heads = state.heads["cap1"]["partitions"]
    for part, chain in enumerate(chains):
        close = next(i for i, e in enumerate(chain) if e["k"] == "voting" and e["open"] == "0")
        # The head pinned when the partition closed is its chain's entry of that close.
        assert heads[part]["n"] == int(chain[close]["n"])
        assert heads[part]["h"] == chain[close]["h"]
        accepted = [e for e in chain[close:] if e["k"] == "vote" and e["st"] == "accepted"]
        assert accepted == []
    await assert_recount(parted)


async def test_live_verify_checks_every_chain(
    parted: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    await _vote_from_devices(parted, 30, "cap20")
    code, out, _ = await run_cli(parted, monkeypatch, capsys, "verify", "--show", "t")
    assert code == 0, out
    chains = await _chains(parted)
    for part, chain in enumerate(chains):
        assert f"chain {part} head    #{len(chain)} {chain[-1]['h']}" in out
    code, out, _ = await run_cli(parted, monkeypatch, capsys, "recount", "--show", "t")
    assert code == 0 and "recount matches" in out


async def test_a_void_in_another_partition_and_an_export_that_reproduces_results(
    parted: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Path
) -> None:
    vids = await _vote_from_devices(parted, 40, "cap20")
    chains = await _chains(parted)
    target = next(e for e in chains[2] if e["k"] == "vote")  # a vote of partition 2
    async with await judge(parted, "judge A") as a:
        await sheet(a, "p1", "lock", "a1", FULL)
    cookie, csrf = await staff_login(parted, "moderator")
    async with staff_client(parted, cookie, headers={"X-CSRF-Token": csrf}) as http:
        void = {"op": "void", "vote_ids": [target["vid"], "no-such-vote"], "reason": "test void"}
        reply = await http.post("/api/shows/t/voids", json=void)
        assert reply.status_code == 200, reply.text
        assert (reply.json()["changed"], reply.json()["unknown"]) == (1, 1)
        log = (await http.get("/api/shows/t/moderation-log")).json()
        assert any(e["op"] == "void" and e["changed"] == 1 for e in log["actions"])
    chains = await _chains(parted)
    assert any(e["k"] == "void" and e["vid"] == target["vid"] for e in chains[2])
    state = await parted.state()
    assert sum(state["tallies"]["cap20"].values()) == len(vids) - 1
    async with await admin(parted) as http:
        assert (await http.post("/api/shows/t/results/cap20/publish", json={})).status_code == 200
    await _vote_from_devices(
        parted, 8, "cap20", start=40
    )  # after the publication: not in its position
    async with await admin(parted) as http:
        assert (await http.post("/api/shows/t/results/cap20/publish", json={})).status_code == 200
    await assert_recount(parted)

    out = tmp_path / "export"
    code, _, err = await run_cli(
        parted, monkeypatch, capsys, "export", "--show", "t", "--out", str(out), "--no-progress"
    )
    assert code == 0, err
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert [c["file"] for c in manifest["chains"]] == [
        "ledger.jsonl", "ledger.p1.jsonl", "ledger.p2.jsonl", "ledger.p3.jsonl"
    ]  # fmt: skip
    code, report, _ = await run_cli(parted, monkeypatch, capsys, "verify", "--export", str(out))
    assert code == 0, report
    assert "published       cap20 v1: reproduced from the ledger" in report
    assert "published       cap20 v2: reproduced from the ledger" in report
    code, _, err = await run_cli(
        parted, monkeypatch, capsys, "reconcile", "--export", str(out), "--category", "cap20"
    )
    assert code == 0 and "reproduces published version 2" in err

    # A vote moved to another contestant in partition 2's chain: the check names that chain.
    path = out / "ledger.p2.jsonl"
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if '"k":"vote"' in line)
    row = json.loads(lines[at])
    row["fields"]["c"] = "p5" if row["fields"]["c"] != "p5" else "p4"
    lines[at] = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")
    code, report, _ = await run_cli(parted, monkeypatch, capsys, "verify", "--export", str(out))
    assert code == 1
    assert f"BROKEN at entry #{at + 1} " in report
    assert "ledger.p2.jsonl: its SHA-256 differs from the manifest" in report


async def test_a_lost_copy_of_the_categories_is_healed_by_the_stage_clock(
    parted: LiveServer, redis_admin_url: str
) -> None:
    from redis.asyncio import Redis

    key = parted.rt.store.keys("t", 3).category("cap1")
    async with Redis.from_url(redis_admin_url, decode_responses=True) as admin_redis:
        await admin_redis.delete(key, parted.rt.store.keys("t", 3).mirrored)
        for _ in range(100):  # the stage clock ticks every 0.2 s
            if await admin_redis.hget(key, "open") == "1":
                break
            await asyncio.sleep(0.05)
        assert await admin_redis.hget(key, "open") == "1"


def test_the_flagger_feeds_chains_merged_by_time() -> None:
    chains = Chains(2)
    full = [(f"{t}-0", {"t": str(t), "k": "vote"}) for t in range(100, 100 + BATCH)]
    chains.add(0, full)  # may hold more after t = 100 + BATCH - 1
    chains.add(1, [("50-0", {"t": "50"}), ("99999-0", {"t": "99999"})])  # caught up
    ready = chains.ready()
    times = [int(f["t"]) for f in ready]
    assert times == sorted(times) and times[0] == 50
    assert 99999 not in times  # chain 0 may still deliver earlier entries
    assert chains.wanted() == [0, 1]
    chains.add(0, [])
    chains.add(1, [])
    assert [f["t"] for f in chains.ready()] == ["99999"]


def test_an_address_window_is_shared_out_but_never_below_one_device() -> None:
    from live.redis.votes import _share

    assert _share(600, 1, 20) == 600
    assert _share(600, 4, 20) == 150  # an even share
    assert _share(5, 4, 3) == 3  # a phone alone on its address: its own window decides
    assert _share(2, 4, 3) == 2  # never above the address's own count


async def test_the_number_of_partitions_is_fixed_once_a_show_is_seeded(
    parted: LiveServer, tmp_path: Path
) -> None:
    from live.domain.errors import ConfigError
    from live.domain.show import load_show

    store = parted.rt.store
    with pytest.raises(ConfigError, match="was started with partitions = 4"):
        await store.init_show(load_show(SHOW))  # the same show id, partitions = 1
    assert store.partitions("t") == range(N)  # unchanged: the serving process keeps working


async def test_the_flagger_follows_every_chain(parted: LiveServer) -> None:
    bot = {"user-agent": "python-requests/2.31.0"}
    for i in range(8):  # 8 devices: several partitions
        async with parted.client(parted.cookie(), headers=bot) as http:
            reply = await http.post(
                "/api/shows/t/votes", json=vote_body("cap20", "p2", f"bot-vote-{i:03d}")
            )
            assert reply.json()["status"] == "accepted"
    chains = await _chains(parted)
    assert sum(1 for chain in chains if any(e["k"] == "vote" for e in chain)) >= 2
    cookie, _ = await staff_login(parted, "moderator")
    async with staff_client(parted, cookie) as http, asyncio.timeout(20):
        flagged = 0
        while flagged < 8:
            clusters = (await http.get("/api/shows/t/flags")).json()["clusters"]
            flagged = sum(c["flagged"] for c in clusters if c["rule"] == "scripted_agent")
            await asyncio.sleep(0.1)
    assert flagged == 8
