"""Sliding-window limits per device and per IP, decided inside the vote script."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from live.domain.ballot import Voter
from tests.conftest import make_settings
from tests.helpers import RATE_LIMITED, serve, vote_body


async def test_device_window_limits_with_retry_after(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    async with serve(make_settings(redis_url, prefix, tmp_path, RATE_LIMITED)) as live:
        async with live.client(live.cookie()) as http:
            replies = [
                await http.post(
                    "/api/shows/rl/votes", json=vote_body("many", "p1", f"rl-dev-{i:03d}")
                )
                for i in range(5)
            ]
    assert [r.json()["status"] for r in replies] == ["accepted"] * 3 + ["limited"] * 2
    limited = replies[3]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["reason"] == "device_rate"


async def test_ip_window_limits_many_devices_on_one_address(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    async with serve(make_settings(redis_url, prefix, tmp_path, RATE_LIMITED)) as live:
        statuses = []
        for i in range(8):
            async with live.client(live.cookie()) as http:
                reply = await http.post(
                    "/api/shows/rl/votes", json=vote_body("many", "p2", f"rl-ip-{i:03d}")
                )
                statuses.append((reply.json()["status"], reply.json()["reason"]))
    assert statuses[:5] == [("accepted", "")] * 5
    assert statuses[5:] == [("limited", "ip_rate")] * 3


async def test_ten_thousand_limited_votes_add_a_handful_of_ledger_entries(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """A phone that keeps voting past its limit must not grow the ledger (and the AOF) without
    bound: its first refusal in each window is an entry, the others are counted into the next."""
    async with serve(make_settings(redis_url, prefix, tmp_path, RATE_LIMITED)) as live:
        rt = live.rt
        voter = Voter(live.cookie().split(".")[0], "203.0.113.9", "phone")
        before = await rt.store.ledger_length("rl")
        outcomes: Counter[str] = Counter()
        for i in range(10_003):
            _, outcome = await rt.service.vote(
                "rl", vote_body("many", "p1", f"flood-{i:05d}"), voter
            )
            outcomes[outcome.status] += 1
        added = await rt.store.ledger_length("rl") - before
        recount = await rt.store.recount("rl")
        marks: Any = await rt.store.client.hgetall(rt.store.keys("rl").refusals)
        pseudonym = await rt.store.pseudonym("rl")  # the marks are keyed by pseudonym
    print(f"10,000 limited votes from one device: {added} ledger entries")
    assert outcomes == {"accepted": 3, "limited": 10_000}
    assert added <= 3 + 5  # the accepted three, and one refusal entry per 60 s window
    # Every refusal is accounted for: the entries, what they carry, and the open window's count.
    pending = int(marks[pseudonym(voter.device)].split(":")[1])
    assert recount.refused + pending == 10_000
