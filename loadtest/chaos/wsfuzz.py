"""Generated hostile websocket messages, and a driver that sends them over a real socket.

``messages(seed, n)`` yields ``n`` text frames: invalid JSON, wrong types, unknown operations,
huge and non-finite numbers, deep nesting, duplicate keys, odd unicode, and near-valid votes and
likes with one thing wrong. Every frame stays under ``LIVE_WS_MAX_BYTES`` (an oversize frame is
its own flood test: 1009).

``python -m loadtest.chaos.wsfuzz [--per-role N]`` runs it against a fresh ``live serve`` for
every role and prints the figures; exit 1 on any unexpected answer or close.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import websockets

KNOWN = {"show", "snapshot", "comments", "error", "pong", "vote_result", "like_ack",
         "comment_result"}  # fmt: skip
STAFF_OPS = ["stage", "void", "restore", "publish", "display", "sheet", "correction", "login"]
MAX_BYTES = 4000


def _scalar(rng: random.Random) -> Any:
    return rng.choice(
        [
            None, True, False, 0, -1, 1, 2**31, 2**63, -(2**63), 10**300, 1.5, -0.0, 1e308,
            "", "x", "vote", "like", "ping", "🎉", "\u0000", "\ud7ff", "a" * 200,
            "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "${jndi:x}",
            [], {}, [1, 2], {"a": 1},
        ]
    )  # fmt: skip


def _valid_vote(rng: random.Random) -> dict[str, Any]:
    return {
        "type": "vote",
        "category": rng.choice(["cap20", "cap1", "shut", "secret", "popular", "display"]),
        "contestant": rng.choice(["p1", "p2", "p3", "c01", "c02"]),
        "vote_id": f"fz{rng.getrandbits(48):012x}",
    }


def _one(rng: random.Random) -> str:
    kind = rng.randrange(12)
    if kind == 0:  # invalid JSON
        return rng.choice(['{"type":', "{", "]", "nul", "{'type': 'ping'}", '{"type" "ping"}',
                           "\ufeff{}", "", " ", "\x00", '{"type":"ping"}}', "[" * 5])  # fmt: skip
    if kind == 1:  # not an object, or a type of the wrong kind
        return json.dumps(rng.choice([[], 1, "ping", None, {"type": _scalar(rng)}]))
    if kind == 2:  # unknown or staff operations
        op = rng.choice([*STAFF_OPS, "VOTE", "Ping", "vote ", "__proto__", "a" * 300])
        return json.dumps({"type": op, "action": "end", "vote_ids": ["x" * 8]})
    if kind == 3:  # huge and non-finite numbers
        n = rng.choice(["1e999", "-1e999", "NaN", "Infinity", "9" * 3000, "1" + "0" * 400])
        return '{"type":"like","n":' + n + "}"
    if kind == 4:  # deep nesting
        depth = rng.randrange(100, 1900)
        return '{"type":"vote","category":' + "[" * depth + "]" * depth + "}"
    if kind == 5:  # duplicate keys
        return '{"type":"ping","type":"vote","category":"cap20","category":1}'
    if kind == 6:  # a vote with one field wrong
        body = _valid_vote(rng)
        body[rng.choice(["category", "contestant", "vote_id"])] = _scalar(rng)
        return json.dumps(body)
    if kind == 7:  # a vote with an extra field
        return json.dumps({**_valid_vote(rng), rng.choice(["weight", "role", "by"]): 100})
    if kind == 8:  # likes out of range
        return json.dumps({"type": "like", "n": _scalar(rng)})
    if kind == 9:  # odd unicode
        text = "".join(chr(rng.randrange(0x20, 0x2FFFF)) for _ in range(rng.randrange(1, 60)))
        return json.dumps({"type": text, "x": text}, ensure_ascii=rng.random() < 0.5)
    if kind == 10:  # well-formed
        return json.dumps(rng.choice([_valid_vote(rng), {"type": "ping"},
                                      {"type": "like", "n": rng.randrange(1, 50)}]))  # fmt: skip
    return json.dumps({"type": rng.choice(["vote", "like", "ping"]), **{
        str(_scalar(rng))[:20]: _scalar(rng) for _ in range(rng.randrange(0, 6))}})  # fmt: skip


def messages(seed: int, n: int) -> Iterator[str]:
    rng = random.Random(seed)
    made = 0
    while made < n:
        text = _one(rng)
        if len(text.encode("utf-8", "surrogatepass")) <= MAX_BYTES:
            made += 1
            yield text


@dataclass
class Outcome:
    sent: int = 0
    replies: Counter[str] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)
    close_code: int | None = None

    def line(self, role: str) -> str:
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(self.replies.items()))
        return (
            f"ws fuzz {role:10} {self.sent:,} messages; replies {{{kinds}}}; "
            f"closed {self.close_code}; unexpected {len(self.bad)}"
        )


def check_reply(msg: Any, out: Outcome) -> bool:
    """Whether ``msg`` is a documented answer (a typed error, pong, vote_result, like_ack)."""
    if not isinstance(msg, dict) or msg.get("type") not in KNOWN:
        out.bad.append(f"unknown reply {str(msg)[:200]}")
        return False
    if msg["type"] == "error" and not (
        isinstance(msg.get("code"), str) and isinstance(msg.get("message"), str)
    ):
        out.bad.append(f"untyped error {msg}")
    return msg["type"] not in ("show", "snapshot", "comments")


async def drive(connect: Any, seed: int, n: int, batch: int = 16) -> Outcome:
    """Send ``n`` generated messages ``batch`` at a time; every one must get one answer."""
    out = Outcome()
    gen = messages(seed, n)
    try:
        async with connect as ws:
            while out.sent < n:
                chunk = [m for _, m in zip(range(batch), gen, strict=False)]
                if not chunk:
                    break
                for text in chunk:
                    await ws.send(text.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
                out.sent += len(chunk)
                answered = 0
                while answered < len(chunk):
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if check_reply(msg, out):
                        answered += 1
                        out.replies[msg.get("code") or msg["type"]] += 1
    except websockets.ConnectionClosed as exc:
        out.close_code = exc.rcvd.code if exc.rcvd else None
        out.bad.append(f"closed with {out.close_code} after {out.sent} messages")
    except TimeoutError:
        out.bad.append(f"no answer within 10 s after {out.sent} messages")
    return out


async def _bystander_sees_a_new_vote(url: str, base: str, device: str, n: int) -> bool:
    """A viewer that was connected throughout still gets a snapshot newer than a vote."""
    import httpx

    async with websockets.connect(f"{base}/ws/shows/bench") as viewer:
        first = json.loads(await viewer.recv())
        while first.get("type") != "snapshot":  # the show message comes first
            first = json.loads(await viewer.recv())
        async with httpx.AsyncClient(base_url=url, cookies={"live_device": device}) as http:
            body = {"category": "popular", "contestant": "c12", "vote_id": f"bystander-{n:04d}"}
            reply = await http.post("/api/shows/bench/votes", json=body)
            if reply.json().get("status") != "accepted":
                return False
        async with asyncio.timeout(5):
            while True:
                snap = json.loads(await viewer.recv())
                if snap.get("type") == "snapshot" and snap["version"] > first["version"]:
                    return True


async def fuzz_roles(url: str, port: int, env: dict[str, str], per_role: int, seed: int
                     ) -> tuple[dict[str, Outcome], bool]:  # fmt: skip
    """Every role's socket gets ``per_role`` messages; then whether a bystander is still served.

    The server must allow the rate (``LIVE_WS_MSG_RATE``): throttling is its own flood test.
    """
    from loadtest.chaos.access import device_cookie, invite, sign_in

    base = f"ws://127.0.0.1:{port}"
    device = await device_cookie(url, "bench")
    roles: dict[str, Any] = {
        "viewer": lambda: websockets.connect(f"{base}/ws/shows/bench"),
        "device": lambda: websockets.connect(
            f"{base}/ws/shows/bench", additional_headers={"Cookie": f"live_device={device}"}
        ),
    }
    for role in ("admin", "judge", "moderator", "streamer"):
        staff = await sign_in(url, "bench", invite("bench", role, role, env))
        cookie = {"Cookie": f"live_staff={staff.cookie}", "Origin": url}
        path = "overlay" if role == "streamer" else "staff"
        roles[role] = lambda p=path, h=cookie: websockets.connect(
            f"{base}/ws/{p}/bench", additional_headers=h
        )
        if role == "admin":
            import httpx

            async with httpx.AsyncClient(base_url=url, headers=staff.headers()) as http:
                key = (await http.get("/api/shows/bench/overlay-key")).json()["key"]
    roles["overlay-key"] = lambda: websockets.connect(f"{base}/ws/overlay/bench?key={key}")
    outcomes: dict[str, Outcome] = {}
    async with websockets.connect(f"{base}/ws/shows/bench"):  # a bystander throughout
        for i, (role, connect) in enumerate(roles.items()):
            outcomes[role] = await drive(connect(), seed + i, per_role)
        served = await _bystander_sees_a_new_vote(url, base, device, seed)
    return outcomes, served


ENV = {"LIVE_WS_MSG_RATE": "1000000", "LIVE_WS_MSG_BURST": "1000000"}


async def main_async(args: argparse.Namespace) -> int:
    from loadtest.chaos.access import cli_env
    from loadtest.target import BENCH_SHOW, LiveTarget

    with LiveTarget(BENCH_SHOW, env=ENV) as target:
        env = cli_env(target.data_dir, BENCH_SHOW)
        outcomes, served = await fuzz_roles(target.url, target.port, env, args.per_role, args.seed)
    for role, out in outcomes.items():
        print(out.line(role))
        for bad in out.bad[:5]:
            print("   ", bad)
    print(f"ws fuzz bystander viewer still served: {served}")
    return 0 if served and not any(o.bad for o in outcomes.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.chaos.wsfuzz", description=__doc__)
    parser.add_argument("--per-role", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
