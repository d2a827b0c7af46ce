"""``make bench``: every figure of the load targets beside a baseline measured in the same run.

The machine is shared and noisy, so absolute rates mean little; each figure is printed with
its ratio to a floor measured minutes apart on the same machine:

============================  ===============================================================
figure                        baseline
============================  ===============================================================
votes over HTTP               an empty Starlette ``POST`` on the same uvicorn settings
votes over the websocket      a Starlette websocket echo on the same settings
fan-out (viewers at 4 Hz)     a bare ``websockets.broadcast`` server pushing the same bytes
server CPU per push           the same bare server's CPU per message sent
likes                         the websocket echo (messages/s)
memory per idle viewer        the bare ``websockets`` server holding the same idle sockets
ledger recount                reading the same entries with XRANGE and doing nothing
reconcile of 1 M votes        counting the same entries with a ``Counter``
============================  ===============================================================

One line per figure: value, baseline, ratio, target and ``met`` or ``missed``; the JSON goes to
``artifacts/bench/`` and a row to ``loadtest/RESULTS.md`` (``--no-results``: not). Everything
runs on loopback, bounded in time, and stops its own processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
import urllib.request
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from loadtest import report
from loadtest.phones import Plan
from loadtest.recount import recount
from loadtest.run import run
from loadtest.stats import summary
from loadtest.target import (
    BENCH_SHOW,
    LiveTarget,
    Process,
    Watched,
    free_port,
    raise_fd_limit,
    wait_http,
)
from loadtest.wire import HttpConn, WireError, WsConn, http_request, source_address

OUT = Path("artifacts") / "bench"
PHASES = (
    "votes",
    "likes",
    "recount",
    "fanout",
    "memory",
    "reconcile",
    "ingest",
    "comments",
    "cluster",
)


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None
    baseline_unit: str
    target: str
    met: bool
    detail: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    def line(self) -> str:
        ratio = "" if self.ratio is None else f" = {self.ratio:.2f}x baseline"
        base = (
            "" if self.baseline is None else f"; baseline {self.baseline:,.1f} {self.baseline_unit}"
        )
        word = "met" if self.met else "missed"
        return (
            f"{self.name:<26} {self.value:>12,.1f} {self.unit}{base}{ratio}"
            f"; target {self.target}: {word}" + (f"  ({self.detail})" if self.detail else "")
        )


# -- closed-loop drivers for the baselines ---------------------------------------------------


async def closed_loop_http(
    port: int, conns: int, seconds: float, path: str, body: bytes
) -> tuple[int, array[float]]:
    """``conns`` keep-alive connections each sending the next request on the last answer."""
    latency: array[float] = array("d")
    raw = http_request(
        "POST", path, f"127.0.0.1:{port}", body, {"Content-Type": "application/json"}
    )
    end = time.monotonic() + seconds
    done = 0

    async def one(i: int) -> None:
        nonlocal done
        conn = await HttpConn.open("127.0.0.1", port, source_address(i))
        while time.monotonic() < end:
            sent = time.monotonic()
            try:
                await conn.request(raw, 5.0)
            except WireError:
                return
            latency.append((time.monotonic() - sent) * 1000)
            done += 1
        conn.close()

    await asyncio.gather(*(one(i) for i in range(conns)))
    return done, latency


async def closed_loop_ws(
    port: int, conns: int, seconds: float, path: str, message: bytes
) -> tuple[int, array[float]]:
    latency: array[float] = array("d")
    end = time.monotonic() + seconds
    done = 0

    async def one(i: int) -> None:
        nonlocal done
        answer: asyncio.Future[None] | None = None

        def on_text(data: bytes) -> None:
            if answer is not None and not answer.done():
                answer.set_result(None)

        ws = await WsConn.connect("127.0.0.1", port, path, on_text, source=source_address(i))
        loop = asyncio.get_running_loop()
        while time.monotonic() < end:
            answer = loop.create_future()
            sent = time.monotonic()
            ws.send_text(message)
            try:
                async with asyncio.timeout(5.0):
                    await answer
            except TimeoutError:
                break
            latency.append((time.monotonic() - sent) * 1000)
            done += 1
        await ws.close()

    await asyncio.gather(*(one(i) for i in range(conns)))
    return done, latency


def wait_tcp(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def baseline_server(kind: str, *extra: str) -> tuple[Process, int]:
    port = free_port()
    argv = [sys.executable, "-m", "loadtest.baseline", kind, "--port", str(port), *extra]
    proc = Process(argv)
    if kind == "starlette":
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc.proc)
    else:
        wait_tcp(port)
    return proc, port


# -- the benchmark ----------------------------------------------------------------------------

WS_VOTE_RATE = 8.0
"""Votes a second one websocket voter sends at most (paced, each after its answer): a fast
thumb, below the per-socket message limit (``LIVE_WS_MSG_RATE``, 20)."""


def per_vote(figures: dict[str, Any], rate: float) -> str:
    """Server and Redis CPU per accepted vote, from the run's measured cores."""
    cores = figures["server"]["cpu_cores"]
    if not rate:
        return "no votes"
    return (
        f"{cores.get('server', 0) * 1e6 / rate:,.0f} us app + "
        f"{cores.get('redis', 0) * 1e6 / rate:,.0f} us Redis per vote"
    )


class Bench:
    def __init__(
        self,
        seconds: float,
        conns: int,
        viewer_steps: list[int],
        progress: bool,
        ws_voters: int = 2000,
        gen_procs: int = 2,
    ):
        self.seconds = seconds
        self.conns = conns
        self.ws_voters = ws_voters
        self.gen_procs = gen_procs
        self.viewer_steps = viewer_steps
        self.progress = progress
        self.figures: list[Figure] = []
        self.details: dict[str, Any] = {}

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        print(figure.line(), flush=True)

    def say(self, text: str) -> None:
        print(f"  · {text}", file=sys.stderr, flush=True)

    def plan(self, port: int, **kw: Any) -> Plan:
        base: dict[str, Any] = {
            "viewers": 0,
            "voters": 0,
            "likers": 0,
            "ramp": 2.0,
            "duration": self.seconds,
        }
        base.update(kw)
        return Plan(port=port, **base)

    def drive(self, plan: Plan, watched: Watched) -> tuple[dict[str, Any], Any]:
        """One run of the generator against whatever ``watched`` names; (figures, stats).
        Plans of more than 1,000 phones are spread over ``gen_procs`` processes."""
        phones = plan.viewers + plan.voters + plan.likers
        procs = self.gen_procs if phones > 1000 else 1
        stats, figures = asyncio.run(run(plan, watched, progress=self.progress, procs=procs))
        return figures, stats

    def load(self, target: LiveTarget, plan: Plan) -> tuple[dict[str, Any], Any]:
        return self.drive(plan, Watched(target.pids()))

    # Each phase below is one figure (or two) and its baseline.

    def baselines(self) -> tuple[float, float]:
        proc, port = baseline_server("starlette")
        try:
            body = b'{"category":"popular","contestant":"c01","vote_id":"baseline-0001"}'
            watched = Watched({"server": proc.pid})
            watched.reset()
            n, lat = asyncio.run(closed_loop_http(port, self.conns, self.seconds, "/echo", body))
            http_rps = n / self.seconds
            us = watched.cores()["server"] * 1e6 / max(http_rps, 1e-9)
            self.details["baseline_http"] = {
                "per_s": http_rps,
                "latency_ms": summary(lat),
                "server_us_per_request": round(us, 1),
            }
            self.say(
                f"empty Starlette POST: {http_rps:,.0f}/s, p99 {summary(lat)['p99']} ms, "
                f"{us:,.0f} us server CPU per request"
            )
            n, lat = asyncio.run(closed_loop_ws(port, self.conns, self.seconds, "/ws", body))
            ws_rps = n / self.seconds
            self.details["baseline_ws"] = {"per_s": ws_rps, "latency_ms": summary(lat)}
            self.say(f"Starlette websocket echo: {ws_rps:,.0f}/s, p99 {summary(lat)['p99']} ms")
        finally:
            proc.stop()
        return http_rps, ws_rps

    def votes(self, target: LiveTarget, http_base: float, ws_base: float) -> None:
        for transport, base, floor, name in (
            ("http", http_base, 8000, "votes over HTTP"),
            ("ws", ws_base, 15000, "votes over websocket"),
        ):
            if transport == "http":  # closed loop: each voter sends on the last answer
                plan = self.plan(target.port, voters=self.conns, vote_transport="http", seed=7)
            else:  # many phones, each at a phone's pace (limits on: 20 messages/s a socket)
                plan = self.plan(
                    target.port,
                    voters=self.ws_voters,
                    vote_transport="ws",
                    vote_rate=WS_VOTE_RATE,
                    # Phones arrive at 150 a second (each loads the show page once for its
                    # cookie), so the measured window holds votes, not page loads.
                    ramp=max(3.0, self.ws_voters / 150),
                    seed=7,
                )
            figures, stats = self.load(target, plan)
            rc = recount(str(target.redis_info()["admin_url"]), plan.show, stats.votes)
            v = figures["votes"]
            p99 = v["latency_ms"]["p99"]
            rate = v["accepted_per_s"]
            self.details[f"votes_{transport}"] = {**figures, "recount": rc}
            met = rate >= floor and p99 <= 50 and rc["ok"]
            if transport == "http":
                met = met and rate >= 0.5 * base
            target_txt = f">= {floor:,}/s at p99 <= 50 ms" + (
                ", >= 0.5x" if transport == "http" else " from >= 2,000 sockets at a phone's pace"
            )
            if transport == "ws":
                met = met and self.ws_voters >= 2000
            self.add(
                Figure(
                    name,
                    rate,
                    "accepted/s",
                    base,
                    "req/s",
                    target_txt,
                    met,
                    f"p99 {p99} ms; {plan.voters:,} voters"
                    + (f" at {plan.vote_rate}/s each" if plan.vote_rate else " closed-loop")
                    + f"; server {figures['server']['cpu_cores']} cores "
                    f"({per_vote(figures, rate)}); generator "
                    f"{figures['generator']['cpu_cores']} cores in "
                    f"{figures['generator']['processes']} processes; recount "
                    f"{rc['lost']} lost {rc['unexpected']} unexpected",
                )
            )

    def likes(self, target: LiveTarget, ws_base: float) -> None:
        likers, rate, batch = 500, 10.0, 50
        before = self.state(target)["likes"]
        plan = self.plan(
            target.port, likers=likers, like_rate=rate, like_batch=batch, seed=11, ramp=3.0
        )
        figures, stats = self.load(target, plan)
        time.sleep(0.5)  # one flush tick
        after = self.state(target)["likes"]
        taps = after["taps"] - before["taps"]
        cpu = figures["server"]["cpu_cores"]["server"]
        per_s = figures["likes"]["taps_per_s"]
        self.details["likes"] = {**figures, "taps_recorded": taps, "taps_sent": stats.taps_sent}
        msgs = per_s / batch
        self.add(
            Figure(
                "likes",
                per_s,
                "taps/s",
                ws_base * batch,
                "taps/s if each echo carried a batch",
                ">= 200,000/s on <= 0.5 core",
                per_s >= 200_000 and cpu <= 0.5 and taps == stats.taps_sent,
                f"{msgs:,.0f} messages/s of {batch} taps; server {cpu:.2f} cores; "
                f"{taps:,} of {stats.taps_sent:,} sent taps recorded",
            )
        )

    def state(self, target: LiveTarget) -> dict[str, Any]:
        url = f"{target.url}/api/shows/bench"
        with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310 (loopback)
            state: dict[str, Any] = json.loads(reply.read())
            return state

    def recount_speed(self, target: LiveTarget) -> None:
        """``live recount``'s path: the store's batched, prefetching read and the pure fold."""
        from live.domain.ledger.recount import Recount
        from live.redis.store import Store, make_client

        async def read(fold: Callable[[dict[str, str]], None]) -> tuple[int, float]:
            client = make_client(str(target.redis_info()["admin_url"]), 4, 10_000)
            store = Store(client, "live", 10_000)
            n, t0 = 0, time.perf_counter()
            try:
                async for _, fields in store.ledger_entries("bench"):
                    fold(fields)
                    n += 1
            finally:
                await client.aclose()
            return n, time.perf_counter() - t0

        n, raw_s = asyncio.run(read(lambda f: None))
        counted = Recount()
        n2, rec_s = asyncio.run(read(counted.add))
        self.details["recount"] = {"entries": n, "xrange_s": raw_s, "recount_s": rec_s}
        self.add(
            Figure(
                "ledger recount",
                n2 / rec_s,
                "entries/s",
                n / raw_s,
                "entries/s read only",
                ">= 200,000/s",
                n2 / rec_s >= 200_000,
                f"{n2:,} entries in {rec_s:.2f} s",
            )
        )

    def reconcile(self, votes: int = 1_000_000) -> None:
        from live.domain.ledger.replay import Replay
        from live.domain.show import load_show
        from loadtest.target import BENCH_SHOW

        show = load_show(BENCH_SHOW)
        people = [c.id for c in show.contestants]
        entries = [
            {
                "k": "vote",
                "st": "accepted",
                "why": "",
                "vid": f"v{i:010d}",
                "cat": "popular",
                "c": people[(i * 7919) % len(people)],
                "t": "0",
            }
            for i in range(votes)
        ]
        t0 = time.perf_counter()
        floor: Counter[str] = Counter()
        for e in entries:
            if e["k"] == "vote" and e["st"] == "accepted":
                floor[e["c"]] += 1
        base_s = time.perf_counter() - t0
        rows = [(f"{i + 1}-0", e) for i, e in enumerate(entries)]
        t0 = time.perf_counter()
        replay = Replay(show)
        replay.feed_many(rows)
        result = replay.result("popular")
        took = time.perf_counter() - t0
        self.details["reconcile"] = {"votes": votes, "seconds": took, "counter_s": base_s}
        self.add(
            Figure(
                "reconcile 1M votes",
                took,
                "s",
                base_s,
                "s to count them with a Counter",
                "<= 0.5 s",
                took <= 0.5,
                f"from the ledger entries (the auditor's replay); {len(result.rows)} ranked",
            )
        )

    def ingest(self, batch: int = 500) -> None:
        """Chat events (Douyin pushes of 500 comments, two in three a vote) counted by one
        process: the signed push parsed, every comment read for a vote, the users
        pseudonymised, and ``ingest.lua`` deciding the batch on an embedded redis-server.
        Baseline: the same pushes only parsed and read (no Redis)."""
        import json as json_
        import tempfile

        from live.domain.ingest import douyin
        from live.domain.ingest.chatvote import parse_vote
        from live.domain.ingest.source import IngestSource
        from live.domain.show import load_show
        from live.redis.embedded import EmbeddedRedis
        from live.redis.ingest import IngestStore
        from live.redis.store import Store, make_client
        from live.services.ingest import Ingest
        from live.services.shows import Service
        from loadtest.target import BENCH_SHOW

        base = load_show(BENCH_SHOW)
        people = [c.label for c in base.contestants]
        src = IngestSource(
            platform="douyin",
            room="1",
            category=base.categories[0].id,
            secret_env="LIVE_INGEST_BENCH__DOUYIN",  # noqa: S106
        )
        show = base.model_copy(update={"ingest": (src,)})
        texts = [f"投{people[i % len(people)]}" if i % 3 else "666" for i in range(batch)]
        headers = {"x-msg-type": "live_comment", "x-roomid": "1", "x-nonce-str": "n",
                   "x-timestamp": "1"}  # fmt: skip
        pushes = []
        for n in range(400):
            items = [
                {"msg_id": f"{n}-{i}", "sec_openid": f"user{(n * batch + i) % 50_000}",
                 "content": texts[i], "timestamp": 1_900_000_000}
                for i in range(batch)
            ]  # fmt: skip
            pushes.append(json_.dumps(items).encode())
        seconds = self.seconds

        def parse_only() -> float:
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < min(seconds, 3.0):
                for event in douyin.parse_push(headers, pushes[n % len(pushes)]):
                    parse_vote(event.text)
                n += 1
            return n * batch / (time.perf_counter() - t0)

        async def counted(url: str) -> tuple[float, int, dict[str, float]]:
            client = make_client(url, 4, 10_000)
            store = Store(client, "benchingest", 10_000)
            service = Service({show.id: show}, store)
            await store.init_show(show)
            await store.set_voting(show, show.categories[0].id, True)
            ingest = Ingest(service, IngestStore(store), env={})
            await client.config_resetstat()
            done, t0, cpu0 = 0, time.perf_counter(), time.process_time()

            async def feeder(k: int) -> None:
                # Four pushes in flight, as four webhook requests would be: the process parses
                # one while Redis counts another.
                nonlocal done
                for n in range(k, len(pushes), 4):
                    if time.perf_counter() - t0 >= seconds:
                        return
                    await ingest.accept(show.id, douyin.parse_push(headers, pushes[n]))
                    done += 1

            try:
                await asyncio.gather(*(feeder(k) for k in range(4)))
                took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                events = done * batch
                figures = await IngestStore(store).figures(show)
                stats: Any = await client.info("commandstats")
            finally:
                await client.aclose()
            redis_us = sum(v["usec"] for k, v in stats.items() if "eval" in k) / events
            costs = {"app_us": cpu / events * 1e6, "redis_us": redis_us}
            return events / took, figures.get("douyin", {}).get("votes", 0), costs

        base_rate = parse_only()
        with tempfile.TemporaryDirectory() as tmp:
            redis = EmbeddedRedis(Path(tmp))
            redis.start()
            try:
                rate, votes, costs = asyncio.run(counted(redis.admin_url))
            finally:
                redis.stop()
        self.details["ingest"] = {"events_per_s": rate, "parse_only_per_s": base_rate,
                                  "votes_counted": votes, "batch": batch, **costs}  # fmt: skip
        self.add(
            Figure(
                "chat events ingested",
                rate,
                "events/s",
                base_rate,
                "events/s parsed only",
                ">= 20,000/s per process",
                rate >= 20_000,
                f"Douyin pushes of {batch}, four in flight, one process and its Redis (AOF "
                f"always); {costs['app_us']:.0f} us app + {costs['redis_us']:.0f} us Redis per "
                f"event; {votes:,} votes counted",
            )
        )

    def comments(self, words: int = 10_000, count: int = 20_000) -> None:
        """The word filter on one core: ``count`` comments (one to four phrases of show-night
        chat; one in ten hides a random listed word behind an evasion) through a ``words``-word
        list of random words, against the same comments through a 10-word list."""
        import random

        from live.domain.wordfilter import WordFilter

        rng = random.Random(20)
        common = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
        listed = {
            "".join(rng.choice(common) for _ in range(rng.randint(2, 4))) for _ in range(words)
        }
        listed |= {f"spam{i}" for i in range(words // 50)}
        listed_list = sorted(listed)
        chat = (
            "加油 太棒了 支持3号 好厉害 哈哈哈 主持人好 这个创新真实用 现场气氛太好了 点赞 "
            "工匠精神 了不起 我来了 投给01 看哭了 真不容易 为大国工匠喝彩 期待结果 "
            "手艺太绝了 学到了 666 厉害厉害 第一次看路演 希望能得奖 老师傅辛苦了 "
            "这个技术是怎么做到的 爸爸在台上 好紧张 支持支持 😀 👍 ！！"
        ).split()
        evasions: list[Callable[[str], str]] = [
            lambda w: " ".join(w),
            lambda w: w + w[-1] * 3,
            lambda w: "\u200b".join(w),
        ]
        texts = []
        for i in range(count):
            text = " ".join(rng.choice(chat) for _ in range(rng.randint(1, 4)))
            if i % 10 == 0:
                w = rng.choice(listed_list)
                text = text[:6] + rng.choice(evasions)(w) + text[6:]
            texts.append(text)

        def run(wf: WordFilter) -> tuple[float, int]:
            caught = 0
            t0 = time.perf_counter()
            for text in texts:
                caught += not wf.check(text).clean
            return count / (time.perf_counter() - t0), caught

        t0 = time.perf_counter()
        big = WordFilter(listed_list)
        build_s = time.perf_counter() - t0
        small = WordFilter(listed_list[:10])
        run(small)  # warm the per-character caches both runs share
        base_rate, _ = run(small)
        rate, caught = run(big)
        self.details["comments"] = {
            "per_s": rate,
            "small_list_per_s": base_rate,
            "words": len(listed),
            "caught": caught,
            "build_s": build_s,
        }
        self.add(
            Figure(
                "comments filtered",
                rate,
                "comments/s",
                base_rate,
                "comments/s with a 10-word list",
                ">= 5,000/s per core",
                rate >= 5_000,
                f"{len(listed):,} listed words (built in {build_s:.2f} s); {count:,} comments, "
                f"{caught:,} caught (one in ten hides a listed word; the rest are homophones "
                "of the chat among the random words)",
            )
        )

    def first_push(self, target: LiveTarget) -> bytes:
        """The snapshot frame a viewer gets on connect: what every push weighs."""

        async def read() -> bytes:
            got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

            def on_text(data: bytes) -> None:
                if data.startswith(b'{"type":"snapshot"') and not got.done():
                    got.set_result(bytes(data))

            ws = await WsConn.connect("127.0.0.1", target.port, "/ws/shows/bench", on_text)
            try:
                async with asyncio.timeout(10):
                    return await got
            finally:
                await ws.close()

        return asyncio.run(read())

    def probe(self, port: int, votes: int, delay: float = 0.0) -> Process:
        """``loadtest.probe`` in its own process (its CPU is not the generator's)."""
        out = OUT / f"probe-{port}-{votes}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "loadtest.probe", "--port", str(port)]
        argv += ["--votes", str(votes), "--delay", str(delay), "--out", str(out)]
        return Process(argv)

    def probe_result(self, proc: Process, port: int, votes: int) -> dict[str, Any]:
        proc.proc.wait(timeout=120)
        out = OUT / f"probe-{port}-{votes}.json"
        result: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
        return result

    def cluster(self) -> None:
        """Votes and viewers on the scaled-out shape (``live cluster``) beside one Redis with
        the same two app processes, on the same two cores."""
        votes = self.plan(0, voters=self.conns, vote_transport="http", seed=7)
        viewers = 2000
        watch = self.plan(0, viewers=viewers, voters=4, vote_rate=25.0, ramp=3.0, seed=13)
        with LiveTarget(workers=2) as single:
            one, _ = self.load(single, replace(votes, port=single.port))
            one_view, _ = self.load(single, replace(watch, port=single.port))
        with ClusterTarget(apps=2) as cluster:
            pids = cluster.pids()
            many, _ = self.drive(replace(votes, port=cluster.port), Watched(pids))
            many_view, _ = self.drive(replace(watch, port=cluster.port), Watched(pids))
        with ClusterTarget(apps=2, env={"LIVE_REDIS_WAIT_REPLICAS": "0"}) as unwaited:
            nowait, _ = self.drive(replace(votes, port=unwaited.port), Watched(unwaited.pids()))
        with ClusterTarget(apps=2, partitions=4) as parted:
            four, _ = self.drive(replace(votes, port=parted.port), Watched(parted.pids()))
        self.details["cluster"] = {
            "single": {"votes": one, "viewers": one_view},
            "cluster": {"votes": many, "viewers": many_view},
            "cluster_without_wait": {"votes": nowait},
            "cluster_4_partitions": {"votes": four},
        }
        rate1 = max(many["votes"]["accepted_per_s"], 1e-9)
        rate4 = four["votes"]["accepted_per_s"]
        busiest1, busiest4 = _busiest(many, "redis"), _busiest(four, "redis")
        self.add(
            Figure(
                "votes on a Redis Cluster, 4 partitions",
                rate4,
                "accepted/s",
                rate1,
                "accepted/s with 1 partition",
                ">= 0.8x 1 partition on 2 cores, busiest Redis node's time per vote lower",
                rate4 >= 0.8 * rate1 and busiest4 * 1e6 / max(rate4, 1e-9) < busiest1 * 1e6 / rate1,
                f"p99 {four['votes']['latency_ms']['p99']} ms; busiest Redis node "
                f"{busiest4 * 1e6 / max(rate4, 1e-9):,.0f} us per vote (1 partition: "
                f"{busiest1 * 1e6 / rate1:,.0f} us): a show's votes are capped by its busiest "
                f"slot's core; per node {_per_node(four, 'redis', rate4)} "
                f"(1 partition: {_per_node(many, 'redis', rate1)}); the 2 app processes "
                f"({_cores(four, 'app') * 1e6 / max(rate4, 1e-9):,.0f} us per vote) bound "
                "both runs here",
            )
        )
        free = max(nowait["votes"]["accepted_per_s"], 1e-9)
        self.say(
            f"cluster votes without WAIT: {free:,.0f}/s, p99 "
            f"{nowait['votes']['latency_ms']['p99']} ms ({_cores(nowait, 'app') * 1e6 / free:,.0f}"
            f" us app + {_cores(nowait, 'redis') * 1e6 / free:,.0f} us Redis per vote)"
        )
        rate, base = many["votes"]["accepted_per_s"], one["votes"]["accepted_per_s"]
        app = _cores(many, "app")
        redis = _cores(many, "redis")
        self.add(
            Figure(
                "votes on a Redis Cluster",
                rate,
                "accepted/s",
                base,
                "accepted/s on one Redis",
                ">= 0.5x one Redis on the same 2 cores",
                rate >= 0.5 * base,
                f"p99 {many['votes']['latency_ms']['p99']} ms (one Redis: "
                f"{one['votes']['latency_ms']['p99']} ms); 2 apps + nginx + 3x2 Redis nodes, "
                f"WAIT 1 per batch; {app * 1e6 / max(rate, 1e-9):,.0f} us app + "
                f"{redis * 1e6 / max(rate, 1e-9):,.0f} us Redis (6 nodes) + "
                f"{_cores(many, 'nginx') * 1e6 / max(rate, 1e-9):,.0f} us nginx per vote",
            )
        )
        got = many_view["viewers"]["snapshots_per_s"]
        want = one_view["viewers"]["snapshots_per_s"]
        p99 = many_view["viewers"]["staleness_ms"]["p99"]
        self.add(
            Figure(
                "viewers across 2 processes",
                got,
                "pushes/s",
                want,
                "pushes/s from one process on one Redis",
                f">= 0.9x at {viewers:,} viewers, p99 staleness <= 250 ms",
                got >= 0.9 * want and p99 <= 250,
                f"{viewers:,} viewers through nginx; p99 staleness {p99} ms (one process: "
                f"{one_view['viewers']['staleness_ms']['p99']} ms); app "
                f"{_cores(many_view, 'app')} cores, nginx {_cores(many_view, 'nginx')} cores",
            )
        )

    def fanout(self) -> None:
        best: dict[str, Any] | None = None
        tried = []
        with LiveTarget(env={"LIVE_PUSH_INTERVAL_MS": "250"}) as target:
            push = self.first_push(target)
            quiet = self.probe_result(self.probe(target.port, 40), target.port, 40)
            self.say(f"vote-to-screen, quiet show: {quiet}")
            loaded: dict[str, Any] = {}
            for n in self.viewer_steps:
                ramp = max(3.0, n / 1500)
                plan = self.plan(
                    target.port,
                    viewers=n,
                    voters=4,
                    vote_rate=25.0,  # the version moves every tick, so every tick pushes
                    ramp=ramp,
                    seed=13,
                )
                votes = max(5, int(self.seconds / 0.5) - 2)
                prober = self.probe(target.port, votes, delay=ramp + 1.0)
                figures, _ = self.load(target, plan)
                under_load = self.probe_result(prober, target.port, votes)
                st = figures["viewers"]["staleness_ms"]
                per_s = figures["viewers"]["snapshots_per_s"]
                cores = figures["server"]["cpu_cores"]["server"]
                ok = (
                    st["p99"] <= 250
                    and per_s >= 0.9 * 4 * n
                    and not any(k.startswith("viewer") for k in figures["errors"])
                )
                row = {
                    "viewers": n,
                    "snapshots_per_s": per_s,
                    "staleness_ms": st,
                    "us_per_push": round(cores * 1e6 / per_s, 2) if per_s else None,
                    "vote_to_screen": under_load,
                    "errors": figures["errors"],
                    "server": figures["server"],
                    "generator": figures["generator"],
                    "ok": ok,
                }
                tried.append(row)
                self.say(
                    f"fan-out {n} viewers: {per_s:,.0f} snapshots/s, staleness p99 {st['p99']} ms,"
                    f" server {figures['server']['cpu_cores']} cores "
                    f"({row['us_per_push']} us/push), "
                    f"generator {figures['generator']['cpu_cores']} cores, vote-to-screen "
                    f"median {under_load.get('median_ms')} p99 {under_load.get('p99_ms')} ms: "
                    + ("kept" if ok else "not kept")
                )
                if not ok:
                    if not loaded:  # nothing kept: the first step is what there is
                        loaded = {**under_load, "viewers": n}
                    break
                best = row
                loaded = {**under_load, "viewers": n}
        self.details["fanout"] = tried
        chosen = best or tried[0]
        at = chosen["viewers"]
        live_rate = chosen["snapshots_per_s"]
        snap_file = OUT / "snapshot.json"
        snap_file.parent.mkdir(parents=True, exist_ok=True)
        snap_file.write_bytes(push)
        proc, port = baseline_server("broadcast", "--payload", str(snap_file), "--hz", "4")
        try:
            plan = self.plan(port, viewers=at, ramp=max(3.0, at / 1500), seed=13)
            watched = Watched({"server": proc.pid})
            base, _ = self.drive(plan, watched)
        finally:
            proc.stop()
        base_rate = base["viewers"]["snapshots_per_s"]
        base_us = base["server"]["cpu_cores"]["server"] * 1e6 / base_rate if base_rate else 0.0
        self.details["fanout_baseline"] = base
        p99 = chosen["staleness_ms"]["p99"]
        self.add(
            Figure(
                "bytes per push",
                float(len(push)),
                "B",
                None,
                "",
                "<= 1,024 B",
                len(push) <= 1024,
                f"one snapshot after votes on the bench show; egress "
                f"{len(push) * live_rate / max(at, 1) / 1024:.1f} KiB/s per viewer at 4 Hz",
            )
        )
        self.add(
            Figure(
                "server CPU per push",
                chosen["us_per_push"] or 0.0,
                "us",
                base_us,
                "us bare websockets.broadcast",
                "<= 1.5x",
                bool(base_us) and (chosen["us_per_push"] or 1e9) <= 1.5 * base_us,
                f"at {at:,} viewers, {live_rate:,.0f} pushes/s",
            )
        )
        self.add(
            Figure(
                "fan-out viewers at 4 Hz",
                float(at if best else 0),
                "viewers",
                None,
                "",
                ">= 10,000 with p99 staleness <= 250 ms",
                best is not None and at >= 10_000,
                f"staleness p99 {p99} ms at {at:,}",
            )
        )
        self.add(
            Figure(
                "fan-out messages",
                live_rate,
                "snapshots/s",
                base_rate,
                "msgs/s bare websockets.broadcast",
                ">= 0.7x",
                base_rate > 0 and live_rate >= 0.7 * base_rate,
                f"at {at:,} viewers; baseline staleness p99 "
                f"{base['viewers']['staleness_ms']['p99']} ms",
            )
        )
        q_med = float(quiet.get("median_ms", float("nan")))
        self.add(
            Figure(
                "vote-to-screen, quiet",
                q_med,
                "ms median",
                None,
                "",
                "median <= 60 ms",
                q_med <= 60,
                f"p99 {quiet.get('p99_ms')} ms over {quiet.get('votes')} votes, "
                f"{quiet.get('missed')} never shown",
            )
        )
        l_p99 = float(loaded.get("p99_ms", float("nan")))
        self.add(
            Figure(
                "vote-to-screen, loaded",
                l_p99,
                "ms p99",
                None,
                "",
                "p99 <= 300 ms at 10,000 viewers",
                l_p99 <= 300 and loaded.get("viewers", 0) >= 10_000 and not loaded.get("missed"),
                f"at {loaded.get('viewers', 0):,} viewers (the largest step kept), median "
                f"{loaded.get('median_ms')} ms, {loaded.get('missed')} never shown",
            )
        )

    def memory(self, idle: int = 5000) -> None:
        plan_kw = {"viewers": idle, "ramp": max(3.0, idle / 1500), "duration": 3.0, "seed": 17}
        with LiveTarget() as target:
            watched = Watched({"server": target.pids()["server"]})
            before = watched.rss()["server"]
            figures, _ = self.drive(self.plan(target.port, **plan_kw), watched)
            after = figures["server"]["rss_mb_peak"]["server"] * 2**20
        live_kb = (after - before) / idle / 1024
        proc, port = baseline_server("broadcast", "--hz", "0")
        try:
            watched = Watched({"server": proc.pid})
            b0 = watched.rss()["server"]
            figures, _ = self.drive(self.plan(port, **plan_kw), watched)
            b1 = figures["server"]["rss_mb_peak"]["server"] * 2**20
        finally:
            proc.stop()
        base_kb = (b1 - b0) / idle / 1024
        self.details["memory"] = {"idle": idle, "live_kb": live_kb, "bare_kb": base_kb}
        self.add(
            Figure(
                "memory per idle viewer",
                live_kb,
                "KB",
                base_kb,
                "KB bare websockets",
                "<= 20 KB",
                live_kb <= 20,
                f"{idle:,} idle viewers",
            )
        )


class ClusterTarget:
    """``live cluster``'s :class:`~live.cli.cluster.Stack` serving the bench show: a loopback
    Redis Cluster (3 masters, 3 replicas, ``appendfsync always``), two app processes with
    ``WAIT 1`` per vote batch, nginx in front. ``port`` is nginx's."""

    def __init__(
        self, apps: int = 2, env: dict[str, str] | None = None, partitions: int = 1
    ) -> None:
        from live.cli.cluster import Stack
        from live.settings import Settings

        self._tmp = tempfile.TemporaryDirectory(prefix="live-cluster-")
        show = BENCH_SHOW
        if partitions > 1:  # the bench show with `partitions = N`
            show = Path(self._tmp.name) / f"bench-p{partitions}.toml"
            show.write_text(f"partitions = {partitions}\n" + BENCH_SHOW.read_text("utf-8"), "utf-8")
        settings = Settings(
            show_files=(show,),
            key_prefix="bench",
            secret_key="loadtest-" + os.urandom(8).hex(),
        )
        self.stack = Stack(
            Path(self._tmp.name),
            settings,
            apps=apps,
            port=free_port(),
            quiet=True,
            extra_env=env or {},
        )

    @property
    def port(self) -> int:
        return self.stack.port

    def __enter__(self) -> ClusterTarget:
        self.stack.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.stop()
        self._tmp.cleanup()

    def pids(self) -> dict[str, int]:
        """Every app process, nginx and every Redis node, each by name (summed by the caller)."""
        out = {f"app{i}": p.pid for i, p in enumerate(self.stack.processes[:-1])}
        if self.stack.balancer is not None and self.stack.balancer.process is not None:
            out["nginx"] = self.stack.balancer.process.pid
        if self.stack.cluster is not None:
            for i, node in enumerate(self.stack.cluster.nodes):
                if node.process is not None:
                    out[f"redis{i}"] = node.process.pid
        return out


def _cores(figures: dict[str, Any], prefix: str) -> float:
    return float(sum(c for n, c in figures["server"]["cpu_cores"].items() if n.startswith(prefix)))


def _busiest(figures: dict[str, Any], prefix: str) -> float:
    """The cores of the busiest process whose name starts with ``prefix``."""
    cores = [c for n, c in figures["server"]["cpu_cores"].items() if n.startswith(prefix)]
    return float(max(cores, default=0.0))


def _per_node(figures: dict[str, Any], prefix: str, rate: float) -> str:
    """Each such process's time per vote (us), busiest first."""
    cores = [c for n, c in figures["server"]["cpu_cores"].items() if n.startswith(prefix)]
    return "/".join(f"{c * 1e6 / max(rate, 1e-9):,.0f}" for c in sorted(cores, reverse=True))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtest.bench", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per phase")
    p.add_argument("--conns", type=int, default=32, help="concurrent voters (closed loop)")
    p.add_argument("--workers", type=int, default=2, help="server processes for votes/likes")
    p.add_argument("--ws-voters", type=int, default=2000, help="websocket voters (paced)")
    p.add_argument("--gen-procs", type=int, default=2, help="generator processes for big plans")
    p.add_argument("--viewers", default="2500,5000,7500,10000", help="fan-out steps")
    p.add_argument("--idle", type=int, default=5000, help="idle viewers for the memory figure")
    p.add_argument("--only", help="phases, comma-separated: " + ",".join(PHASES))
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument(
        "--results", type=Path, default=report.RESULTS, help="table to add the run's row to"
    )
    p.add_argument("--no-results", dest="results", action="store_const", const=None)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    raise_fd_limit()
    only = set(args.only.split(",")) if args.only else None
    steps = [int(x) for x in args.viewers.split(",") if x.strip()]
    bench = Bench(
        args.seconds,
        args.conns,
        steps,
        progress=not args.no_progress,
        ws_voters=args.ws_voters,
        gen_procs=args.gen_procs,
    )
    started = time.monotonic()

    def want(name: str) -> bool:
        return only is None or name in only

    if want("votes") or want("likes") or want("recount"):
        http_base, ws_base = bench.baselines()
        # Two workers: the machine has two cores, and one Python process tops out at one.
        with LiveTarget(workers=args.workers) as target:
            if want("votes"):
                bench.votes(target, http_base, ws_base)
            if want("likes"):
                bench.likes(target, ws_base)
            if want("recount"):
                bench.recount_speed(target)
    if want("fanout"):
        bench.fanout()
    if want("memory"):
        bench.memory(args.idle)
    if want("reconcile"):
        bench.reconcile()
    if want("ingest"):
        bench.ingest()
    if want("comments"):
        bench.comments()
    if want("cluster"):
        bench.cluster()
    out: dict[str, Any] = {
        "date": report.stamp(),
        "commit": report.commit(),
        "machine": report.machine(),
        "seconds_total": round(time.monotonic() - started, 1),
        "figures": [{**asdict(f), "ratio": f.ratio} for f in bench.figures],
        "details": bench.details,
    }
    name = out["date"].replace(" ", "T").replace(":", "")
    path = args.out / f"bench-{name}.json"
    report.write_json(out, path)
    if args.results is not None and bench.figures:
        report.add_bench_row(out, args.results)
    met = sum(f.met for f in bench.figures)
    print(f"{met}/{len(bench.figures)} targets met in {out['seconds_total']} s; JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
