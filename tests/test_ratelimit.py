"""Sliding-window limits per device and per IP, decided inside the vote script."""

from __future__ import annotations

from pathlib import Path

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
