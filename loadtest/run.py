"""One load run: start the phones over the ramp, hold for the duration, stop, report.

The generator measures itself (CPU from ``getrusage``) next to the server (CPU and RSS of the
server and Redis processes, when their PIDs are known), so a run limited by the generator is
not mistaken for one limited by the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import resource
import sys
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from tqdm import tqdm

from loadtest.phones import Phones, Plan
from loadtest.stats import Stats, summary
from loadtest.target import Watched


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _progress_line(stats: Stats) -> str:
    now = time.monotonic()
    sec = stats.seconds.get(int(now - stats.t0) - 1)
    votes = sec.votes if sec else 0
    worst = max(sec.latency) if sec and sec.latency else 0.0
    stale = max(sec.staleness) if sec and sec.staleness else 0.0
    errors = sum(stats.errors.values())
    c = stats.connected
    return (
        f"viewers {c['viewers']} voters {c['voters']} likers {c['likers']} | "
        f"votes {votes}/s max {worst:.0f} ms | taps {sec.taps if sec else 0}/s | "
        f"stale max {stale:.0f} ms | errors {errors}"
    )


async def run(
    plan: Plan,
    watched: Watched | None = None,
    progress: bool = True,
    procs: int = 1,
    stats: Stats | None = None,
) -> tuple[Stats, dict[str, Any]]:
    """Run the plan; returns the raw stats and the report's figures (without the recount).

    ``procs`` > 1: the phones are split over that many processes (this one and ``procs - 1``
    forked children, each with its own event loop), merged into one :class:`Stats` at the end;
    the generator's CPU is theirs summed.
    """
    stats = stats or Stats()
    shards = [_spawn(p, stats.votes.prefix) for p in split(plan, procs)[1:]]
    if shards:
        plan = split(plan, procs)[0]
    phones = Phones(plan, stats)
    total = plan.viewers + plan.voters + plan.likers
    stats.measure_from = stats.t0 + plan.ramp
    cpu0, wall0 = _cpu_self(), time.monotonic()

    async def start_all() -> list[asyncio.Task[None]]:
        tasks: list[asyncio.Task[None]] = []
        b = plan.index_base  # shards of one run use disjoint phones (source addresses, seeds)
        roles = [("voter", b + i) for i in range(plan.voters)]
        roles += [("liker", b + i) for i in range(plan.likers)]
        roles += [("viewer", b + plan.voters + plan.likers + i) for i in range(plan.viewers)]
        # Interleave the roles so each ramps up evenly.
        roles.sort(key=lambda r: (r[1] * 7919) % max(total, 1))
        for n, (role, index) in enumerate(roles):
            due = stats.t0 + plan.ramp * n / max(total, 1)
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if phones.stop.is_set():
                break
            coro = getattr(phones, role)(index)
            tasks.append(asyncio.create_task(coro))
        return tasks

    bar = tqdm(
        total=round(plan.ramp + plan.duration),
        unit="s",
        disable=not progress,
        file=sys.stderr,
        bar_format="{l_bar}{bar:20}| {n_fmt}/{total_fmt} s {postfix}",
        desc="load",
    )
    starter = asyncio.create_task(start_all())
    rss_samples: list[dict[str, int]] = []
    measured_cores: dict[str, float] = {}
    reset = False  # the server's CPU is counted from the end of the ramp
    end = stats.t0 + plan.ramp + plan.duration
    try:
        while (now := time.monotonic()) < end:
            await asyncio.sleep(min(1.0, end - now))
            if watched is not None:
                if not reset and time.monotonic() >= stats.measure_from:
                    watched.reset()
                    reset = True
                rss_samples.append(watched.rss())
            bar.set_postfix_str(_progress_line(stats), refresh=False)
            bar.update(1)
        if watched is not None and reset:
            measured_cores = watched.cores()
    finally:
        bar.close()
        phones.stop.set()
        tasks = await starter
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(plan.timeout * (plan.retries + 2)):
                await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            task.cancel()
        await phones.close_all()
    wall = time.monotonic() - wall0
    generator_cpu = _cpu_self() - cpu0
    for proc, conn in shards:
        with contextlib.suppress(EOFError, OSError):
            if await asyncio.to_thread(conn.poll, plan.timeout * (plan.retries + 4)):
                child, cpu = conn.recv()
                stats.merge(child)
                generator_cpu += cpu
            else:
                stats.error("generator_shard_lost")
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    measured = max(plan.duration, 1e-9)
    accepted = stats.outcomes["accepted"]
    figures: dict[str, Any] = {
        "votes": {
            "accepted": accepted,
            "accepted_per_s": round(accepted / measured, 1),
            "answered_per_s": round(sum(stats.outcomes.values()) / measured, 1),
            "outcomes": dict(stats.outcomes),
            "retries": stats.retries,
            "latency_ms": summary(stats.latency),
        },
        "viewers": {
            "snapshots": stats.snapshots,
            "snapshots_per_s": round(len(stats.staleness) / measured, 1),
            "staleness_ms": summary(stats.staleness),
        },
        "likes": {
            "taps_sent": stats.taps_sent,
            "taps_acked": stats.taps_acked,
            "taps_per_s": round(
                sum(s.taps for k, s in stats.seconds.items() if k >= plan.ramp) / measured, 1
            ),
        },
        "errors": dict(stats.errors),
        "generator": {
            "cpu_cores": round(generator_cpu / wall, 3),
            "processes": 1 + len(shards),
            "wall_s": round(wall, 1),
        },
    }
    if watched is not None:
        peak = (
            {n: max(s.get(n, 0) for s in rss_samples) for n in watched.procs} if rss_samples else {}
        )
        figures["server"] = {
            "cpu_cores": {n: round(c, 3) for n, c in measured_cores.items()},
            "rss_mb_peak": {n: round(b / 2**20, 1) for n, b in peak.items()},
        }
    return stats, figures


def split(plan: Plan, procs: int) -> list[Plan]:
    """The plan cut into ``procs`` shards of phones (as even as whole phones allow)."""
    procs = max(1, procs)

    def part(n: int, i: int) -> int:
        return n // procs + (1 if i < n % procs else 0)

    return [
        replace(
            plan,
            viewers=part(plan.viewers, i),
            voters=part(plan.voters, i),
            likers=part(plan.likers, i),
            index_base=plan.index_base + i * SHARD_SPAN,
        )
        for i in range(procs)
    ]


SHARD_SPAN = 1_000_000
"""Phone indices per shard: shard i's phones are i * SHARD_SPAN + 0, 1, ..."""


def _shard_main(plan: Plan, prefix: str, conn: Connection) -> None:
    stats = Stats()
    stats.votes.prefix = prefix  # one run, one vote-id prefix: the recount tells it apart
    cpu0 = _cpu_self()
    try:
        asyncio.run(run(plan, None, progress=False, stats=stats))
        conn.send((stats, _cpu_self() - cpu0))
    finally:
        conn.close()


def _spawn(plan: Plan, prefix: str) -> tuple[BaseProcess, Connection]:
    # spawn, not fork: a forked child would inherit this process's running event loop.
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_shard_main, args=(plan, prefix, child), daemon=True)
    proc.start()
    child.close()
    return proc, parent
