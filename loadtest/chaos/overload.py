"""Overload: three times the measured capacity, then back to normal (loopback only, bounded).

1. **Capacity**: closed-loop voters for ``--calm`` seconds: accepted votes a second (C) and the
   calm p99 latency.
2. **Burst**: ``--phones`` phones offering 3·C votes a second in all for ``--burst`` seconds,
   each waiting for its answer (a phone has one request in flight). Every answer is counted by
   status; every 429 and 503 must carry ``Retry-After``; a 500, a reset or a crash fails.
3. **After**: closed-loop voters again; the first second from which the p99 of all later
   answers is within twice the calm p99 (at least +20 ms).

``python -m loadtest.chaos.overload`` prints the figures; exit 1 on a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from loadtest.stats import percentiles
from loadtest.target import BENCH_SHOW, LiveTarget, raise_fd_limit
from loadtest.wire import HttpConn, WireError, http_request, source_address

UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
CONTESTANTS = [f"c{i:02d}" for i in range(1, 13)]


@dataclass
class Tape:
    statuses: Counter[int] = field(default_factory=Counter)
    missing_retry_after: int = 0
    broken: Counter[str] = field(default_factory=Counter)
    per_second: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    accepted: int = 0


async def phone(
    port: int, index: int, rate: float, until: float, t0: float, tape: Tape, tag: str
) -> None:
    """Votes at ``rate`` a second (0: back to back) until ``until``; one request at a time."""
    rng = random.Random(index)
    source = source_address(index)
    cookie = ""
    try:
        conn = await HttpConn.open("127.0.0.1", port, source)
        while not cookie and time.monotonic() < until:  # a shed page load is tried again
            page = await conn.request(http_request("GET", "/s/bench", f"127.0.0.1:{port}"), 10)
            tape.statuses[page.status] += 1
            cookie = page.cookies.get("live_device", "")
            if not cookie:
                await asyncio.sleep(float(page.headers.get("retry-after", "1")))
    except (WireError, OSError) as exc:
        tape.broken[getattr(exc, "kind", "connect")] += 1
        return
    headers = {"Content-Type": "application/json", "User-Agent": UA,
               "Cookie": f"live_device={cookie}"}  # fmt: skip
    n = 0
    next_at = time.monotonic() + (rng.random() / rate if rate else 0)
    while time.monotonic() < until:
        if rate:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += 1 / rate
        body = json.dumps({"category": "popular", "contestant": rng.choice(CONTESTANTS),
                           "vote_id": f"{tag}{index:05d}x{n:06d}"}).encode()  # fmt: skip
        n += 1
        raw = http_request("POST", "/api/shows/bench/votes", f"127.0.0.1:{port}", body, headers)
        if conn.closed:
            try:
                conn = await HttpConn.open("127.0.0.1", port, source)
            except OSError:
                tape.broken["connect"] += 1
                continue
        sent = time.monotonic()
        try:
            reply = await conn.request(raw, 10)
        except WireError as exc:
            tape.broken[exc.kind] += 1
            continue
        now = time.monotonic()
        tape.statuses[reply.status] += 1
        tape.per_second[int(now - t0)].append((now - sent) * 1000)
        if reply.status in (429, 503):
            if "retry-after" not in reply.headers:
                tape.missing_retry_after += 1
            # A phone waits as it is told; the others keep the pressure on.
            await asyncio.sleep(float(reply.headers.get("retry-after", "1")) * rng.random())
        elif reply.status == 200:
            tape.accepted += 1
    conn.close()


async def crowd(port: int, phones: int, rate: float, seconds: float, tag: str, first: int = 0
                ) -> tuple[Tape, float]:  # fmt: skip
    tape, t0 = Tape(), time.monotonic()
    until = t0 + seconds
    await asyncio.gather(*(phone(port, first + i, rate, until, t0, tape, tag)
                           for i in range(phones)))  # fmt: skip
    return tape, time.monotonic() - t0


async def experiment(calm: float, burst: float, after: float, phones: int) -> dict[str, Any]:
    raise_fd_limit()
    with LiveTarget(BENCH_SHOW) as target:
        port = target.port
        base, took = await crowd(port, 32, 0, calm, "calm")
        capacity = base.accepted / took
        calm_p99 = percentiles([x for v in base.per_second.values() for x in v], (99,))[0]
        offered = 3 * capacity
        storm, _ = await crowd(port, phones, offered / phones, burst, "storm", first=1000)
        later, _ = await crowd(port, 32, 0, after, "after", first=5000)
        alive = target.server is not None and target.server.proc.poll() is None
        log = target.log_tail(400)
    bound = max(2 * calm_p99, calm_p99 + 20)
    seconds = sorted(later.per_second)
    p99s = {s: percentiles(later.per_second[s], (99,))[0] for s in seconds}
    # Recovered at the first second from which the p99 of everything after it is within the
    # bound: one stray slow second (a collection, the flagger's batch) does not reset it, a
    # lasting slowdown does.
    recovered = next(
        (
            s
            for s in seconds
            if percentiles([x for t in seconds if t >= s for x in later.per_second[t]], (99,))[0]
            <= bound
        ),
        None,
    )
    storm_p99 = percentiles([x for v in storm.per_second.values() for x in v], (99,))[0]
    out = {
        "capacity_votes_per_s": round(capacity, 1),
        "calm_p99_ms": round(calm_p99, 1),
        "offered_votes_per_s": round(offered, 1),
        "phones": phones,
        "burst_statuses": dict(sorted(storm.statuses.items())),
        "burst_accepted_per_s": round(storm.accepted / burst, 1),
        "burst_p99_ms": round(storm_p99, 1),
        "missing_retry_after": storm.missing_retry_after,
        "broken": dict(storm.broken),
        "after_p99_by_second_ms": {s: round(v, 1) for s, v in p99s.items()},
        "recovered_after_s": recovered,
        "server_alive": alive,
        "tracebacks_in_log": log.count("Traceback"),
    }
    out["ok"] = bool(
        alive and capacity > 0 and set(storm.statuses) <= {200, 409, 429, 503} and not storm.broken
        and storm.missing_retry_after == 0 and recovered is not None and recovered <= 10
        and out["tracebacks_in_log"] == 0
        and (storm.statuses.get(503, 0) + storm.statuses.get(429, 0)) > 0
    )  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.chaos.overload", description=__doc__)
    parser.add_argument("--calm", type=float, default=8)
    parser.add_argument("--burst", type=float, default=15)
    parser.add_argument("--after", type=float, default=15)
    parser.add_argument("--phones", type=int, default=2000)
    args = parser.parse_args(argv)
    out = asyncio.run(experiment(args.calm, args.burst, args.after, args.phones))
    print(f"overload     {'ok ' if out['ok'] else 'FAILED'} " + json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
