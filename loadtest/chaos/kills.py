"""Process kills under load (loopback only, bounded): Redis SIGKILLed mid-run, and the app
SIGKILLed with a thousand viewers connected.

``python -m loadtest.chaos.kills [--only redis,app] [--seeds 1,2,3] [--viewers 1000]`` prints
one line per run. A run fails (exit 1) when a vote answered ``accepted`` is missing from the
ledger, an unexpected vote is in it, a tally differs from the ledger, a 503 took 2 s or more,
votes were not accepted again within 2 s of Redis's return, a viewer saw a version go down,
or (app kill) fewer than 95 % of viewers were back within 10 s or any was not back in 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

from live.redis.embedded import EmbeddedRedis
from loadtest.chaos.access import device_cookie
from loadtest.chaos.voters import Answers, voter
from loadtest.phones import Plan
from loadtest.recount import recount
from loadtest.run import run
from loadtest.stats import summary
from loadtest.target import BENCH_SHOW, LiveTarget, free_port, raise_fd_limit
from loadtest.wire import source_address

CONTESTANTS = [f"c{i:02d}" for i in range(1, 13)]


async def redis_kill(seed: int, workdir: Path, duration: float = 14.0) -> dict[str, Any]:
    """The load generator runs; at a seeded moment Redis is SIGKILLed, and restarted on the
    same data folder after a seeded outage. Probe phones time every answer."""
    rng = random.Random(seed)
    kill_at, outage = 4.0 + rng.random() * 4.0, 1.5 + rng.random() * 1.5
    redis = EmbeddedRedis(workdir / f"redis-{seed}")
    redis.start()
    target = LiveTarget(BENCH_SHOW, env={"REDIS_URL": redis.url}, data_dir=workdir / f"app-{seed}")
    try:
        target.start()
        plan = Plan(
            host="127.0.0.1", port=target.port, viewers=300, voters=24, likers=10, ramp=2.0,
            duration=duration, seed=seed, retries=12, timeout=5.0,
        )  # fmt: skip
        probes, stop = Answers(), asyncio.Event()
        cookies = [await device_cookie(target.url, "bench") for _ in range(4)]
        probe_tasks = [
            asyncio.create_task(voter(lambda: target.url, "bench", c, "popular", CONTESTANTS,
                                      f"probe{seed}x{k}", stop, probes, pause=0.05))
            for k, c in enumerate(cookies)
        ]  # fmt: skip
        marks: dict[str, float] = {}

        async def killer() -> None:
            await asyncio.sleep(plan.ramp + kill_at)
            marks["kill"] = time.monotonic()
            await asyncio.to_thread(redis.kill)
            await asyncio.sleep(outage)
            await asyncio.to_thread(redis.start)  # same port, password, data folder
            marks["back"] = time.monotonic()

        (stats, _figures), _ = await asyncio.gather(run(plan, progress=False), killer())
        stop.set()
        await asyncio.gather(*probe_tasks)
        counted = await asyncio.to_thread(recount, redis.url, "bench", stats.votes)
        in_outage = [t for sent, t in probes.unavailable if marks["kill"] <= sent < marks["back"]]
        back = probes.first_accept_after(marks["back"])
        errors = Counter(stats.errors)
        return {
            "seed": seed,
            "kill_at_s": round(kill_at, 2),
            "outage_s": round(outage, 2),
            "generator_accepted": len(stats.votes.accepted),
            "lost": counted["lost"],
            "unexpected": counted["unexpected"],
            "tally_mismatch": counted["tally_mismatch"],
            "probe_503s": len(in_outage),
            "slowest_503_ms": round(max(in_outage, default=0.0) * 1000),
            "accepted_again_ms": None if back is None else round(back * 1000),
            "versions_down": errors.get("version_went_down", 0),
            "viewers_closed": sum(v for k, v in errors.items() if k.startswith("viewer_closed")),
            "server_errors": probes.server_errors,
            "ok": bool(
                counted["ok"]
                and in_outage
                and max(in_outage) < 2.0
                and back is not None
                and back < 2.0
                and not errors.get("version_went_down")
                and not probes.server_errors
            ),
        }
    finally:
        target.stop()
        redis.stop()


@dataclass
class Viewer:
    """A phone's socket that keeps itself connected like ``frontend/static/socket.js``: capped
    exponential backoff with full jitter (``random() * min(30 s, 0.5 s * 2**attempt)``)."""

    index: int
    url: str
    versions: list[int] = field(default_factory=list)
    went_down: int = 0
    connects: list[float] = field(default_factory=list)
    attempts: list[float] = field(default_factory=list)
    closes: list[tuple[float, int | None]] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        rng = random.Random(self.index)
        attempt = 0
        while not stop.is_set():
            self.attempts.append(time.monotonic())
            try:
                async with websockets.connect(
                    self.url, local_addr=(source_address(self.index), 0), open_timeout=10,
                    close_timeout=1, compression=None,
                ) as ws:  # fmt: skip
                    attempt = 0
                    self.connects.append(time.monotonic())
                    while not stop.is_set():
                        try:
                            raw = await asyncio.wait_for(ws.recv(), 0.5)
                        except TimeoutError:
                            continue
                        msg = json.loads(raw)
                        if msg.get("type") == "snapshot":
                            if self.versions and msg["version"] < self.versions[-1]:
                                self.went_down += 1
                            self.versions.append(msg["version"])
                    return
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                code = getattr(getattr(exc, "rcvd", None), "code", None)
                self.closes.append((time.monotonic(), code))
            cap = min(30.0, 0.5 * 2**attempt)
            attempt += 1
            await asyncio.sleep(rng.random() * cap)


async def app_kill(viewers: int, workdir: Path) -> dict[str, Any]:
    """``viewers`` reconnecting phones; the app process is SIGKILLed and started again on the
    same port (as a process manager does). When is each phone back, and on which version?"""
    raise_fd_limit()
    redis = EmbeddedRedis(workdir / "redis-app")
    redis.start()
    port = free_port()
    env = {"REDIS_URL": redis.url}
    first = LiveTarget(BENCH_SHOW, env=env, data_dir=workdir / "app-1")
    first.port = port
    second = LiveTarget(BENCH_SHOW, env=env, data_dir=workdir / "app-2")
    second.port = port
    try:
        first.start()
        url = f"ws://127.0.0.1:{port}/ws/shows/bench"
        phones = [Viewer(i, url) for i in range(viewers)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(p.run(stop)) for p in phones]
        async with asyncio.timeout(60):
            while sum(1 for p in phones if p.connects) < viewers:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        assert first.server is not None
        killed = time.monotonic()
        first.server.proc.kill()  # SIGKILL: no close frames, no goodbye
        await asyncio.to_thread(first.server.proc.wait)
        first.server.stop()
        first.server = None
        await asyncio.to_thread(second.start)
        up = time.monotonic() - killed
        async with asyncio.timeout(40):
            while any(not [t for t in p.connects if t > killed] for p in phones):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        # One more change after everyone is back: each must end on it.
        cookie = await device_cookie(second.url, "bench")
        async with httpx.AsyncClient(base_url=second.url, cookies={"live_device": cookie}) as http:
            await http.post(
                "/api/shows/bench/votes",
                json={"category": "popular", "contestant": "c01", "vote_id": "after-restart-1"},
            )
            await asyncio.sleep(1.5)
            latest = (await http.get("/api/shows/bench")).json()["version"]
        stop.set()
        await asyncio.gather(*tasks)
    finally:
        second.stop()
        first.stop()
        redis.stop()
    back = sorted(min(t for t in p.connects if t > killed) - killed for p in phones)
    retries = sorted(t - killed for p in phones for t in p.attempts if t > killed)
    per_100ms = Counter(int(t * 10) for t in retries)
    within10 = sum(1 for b in back if b <= 10) / len(back)
    on_latest = sum(1 for p in phones if p.versions and p.versions[-1] == latest)
    return {
        "viewers": viewers,
        "server_back_s": round(up, 2),
        "reconnect_s": summary(back),
        "within_10s": round(within10, 4),
        "within_30s": round(sum(1 for b in back if b <= 30) / len(back), 4),
        "attempts_after_kill": len(retries),
        "busiest_100ms_attempts": max(per_100ms.values(), default=0),
        "on_latest_version": on_latest,
        "versions_down": sum(p.went_down for p in phones),
        "ok": within10 >= 0.95
        and back[-1] <= 30
        and on_latest == viewers
        and not any(p.went_down for p in phones),
    }


def line(name: str, out: dict[str, Any]) -> str:
    return f"{name:12} {'ok ' if out['ok'] else 'FAILED'} " + json.dumps(
        {k: v for k, v in out.items() if k != "ok"}
    )


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="live-kills-") as tmp:
        if "redis" in args.only:
            for seed in args.seeds:
                out = await redis_kill(seed, Path(tmp))
                results[f"redis_kill_{seed}"] = out
                print(line(f"redis kill {seed}", out), flush=True)
        if "app" in args.only:
            out = await app_kill(args.viewers, Path(tmp))
            results["app_kill"] = out
            print(line("app kill", out), flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.chaos.kills", description=__doc__)
    parser.add_argument("--only", default="redis,app")
    parser.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 3])
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    results = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
