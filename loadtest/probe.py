"""Vote-to-screen: from a vote's answer to the first push, at a viewer, that counts it.

``python -m loadtest.probe --port P [--show bench] [--votes 40] [--out FILE]``

One viewer socket and one voter (HTTP, with a device cookie from the show page, as a phone).
For each vote the probe notes when its answer arrived and the version it returned; the viewer
notes when each snapshot version arrived. A vote's figure is the arrival of the first snapshot
whose version is at least the vote's, minus the answer's arrival (0 when the push came first:
the server pushes as soon as the vote is in Redis, and the HTTP answer may still be on its way).

Votes are 0.3-0.6 s apart, so on a quiet show each measures "push at once"; run beside a load
(``make bench`` runs it beside 10k viewers) it measures the push under load. Prints one JSON
line (``median_ms``, ``p99_ms``, ``max_ms``, ``votes``, ``missed``: accepted but never seen
pushed within 5 s, ``refused``: not accepted, so not measured).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from loadtest.phones import COOKIE, UA
from loadtest.stats import summary
from loadtest.wire import HttpConn, WireError, WsConn, http_request

_VERSION = re.compile(rb'"version":(\d+)')


async def probe(host: str, port: int, show: str, votes: int, seed: int = 5) -> dict[str, Any]:
    hostport = f"{host}:{port}"
    arrivals: list[tuple[int, float]] = []  # (version, monotonic arrival), in arrival order

    def on_text(data: bytes) -> None:
        if data.startswith(b'{"type":"snapshot"'):
            found = _VERSION.search(data)
            if found:
                arrivals.append((int(found.group(1)), time.monotonic()))

    # Source 127.0.0.254: away from the generator's addresses (its per-address limits).
    ws = await WsConn.connect(
        host, port, f"/ws/shows/{show}", on_text, {"User-Agent": UA}, "127.0.0.253"
    )
    conn = await HttpConn.open(host, port, "127.0.0.254")
    raw = http_request("GET", f"/s/{show}", hostport, headers={"User-Agent": UA})
    cookie = (await conn.request(raw, 10.0)).cookies.get(COOKIE, "")
    headers = {
        "Content-Type": "application/json",
        "Cookie": f"{COOKIE}={cookie}",
        "User-Agent": UA,
        "Origin": f"http://{hostport}",
    }
    rng = random.Random(seed)
    run = secrets.token_hex(4)  # every probe's vote ids are its own (a reused id is refused)
    lags: list[float] = []
    missed = refused = 0
    try:
        for i in range(votes):
            await asyncio.sleep(rng.uniform(0.3, 0.6))
            body = json.dumps(
                {"category": "popular", "contestant": "c01", "vote_id": f"probe-{run}-{i:06d}"}
            ).encode()
            raw = http_request("POST", f"/api/shows/{show}/votes", hostport, body, headers)
            for attempt in range(4):  # a reset under load: retry with the same vote_id
                try:
                    if conn.closed:
                        conn = await HttpConn.open(host, port, "127.0.0.254")
                    reply = await conn.request(raw, 10.0)
                    break
                except (WireError, OSError):
                    conn.close()
                    if attempt == 3:
                        raise
                    await asyncio.sleep(0.1)
            answered = time.monotonic()
            answer = json.loads(reply.body)
            if answer.get("status") != "accepted":  # nothing to show: not a vote-to-screen
                refused += 1
                continue
            version = int(answer.get("version", 0))
            deadline = answered + 5.0
            seen = None
            while seen is None and time.monotonic() < deadline:
                seen = next((t for v, t in arrivals if v >= version), None)
                if seen is None:
                    await asyncio.sleep(0.002)
            if seen is None:
                missed += 1
                continue
            lags.append(max(0.0, (seen - answered) * 1000))
            arrivals.clear()
    finally:
        conn.close()
        await ws.close()
    s = summary(lags)
    return {
        "votes": len(lags),
        "missed": missed,
        "refused": refused,
        "median_ms": s["p50"],
        "p99_ms": s["p99"],
        "max_ms": s["max"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtest.probe", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--show", default="bench")
    p.add_argument("--votes", type=int, default=40)
    p.add_argument("--delay", type=float, default=0.0, help="seconds to wait before the first")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    time.sleep(args.delay)
    try:
        result = asyncio.run(probe(args.host, args.port, args.show, args.votes))
    except (WireError, OSError, ValueError) as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"}
    text = json.dumps(result)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
