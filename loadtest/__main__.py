"""``python -m loadtest``: drive a live server with simulated phones and report.

Without ``--url`` it starts its own server (``live serve`` on a free loopback port, the bench
show, a fresh data folder and embedded Redis with ``appendfsync always``), watches its CPU and
memory, and recounts the ledger at the end. With ``--url`` it drives a server you started; give
``--redis-url`` (and ``--server-pid``) to get the recount (and server figures) too.

Exit status: 0 when the recount found nothing lost or unexpected, 1 otherwise, 2 on bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from live.domain.show import load_show
from loadtest import report
from loadtest.phones import Plan
from loadtest.recount import recount
from loadtest.run import run
from loadtest.target import BENCH_SHOW, LiveTarget, Watched, raise_fd_limit

OUT = Path("artifacts") / "loadtest"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__.splitlines()[0])
    p.add_argument("--url", help="a running server (default: start one)")
    p.add_argument("--redis-url", help="with --url: the server's Redis, for the recount")
    p.add_argument("--server-pid", type=int, help="with --url: watch this process's CPU/RSS")
    p.add_argument("--show", default="bench")
    p.add_argument("--show-file", type=Path, default=BENCH_SHOW, help="when starting a server")
    p.add_argument("--viewers", type=int, default=1000)
    p.add_argument("--voters", type=int, default=50)
    p.add_argument("--likers", type=int, default=50)
    p.add_argument("--vote-transport", choices=("http", "ws"), default="http")
    p.add_argument("--vote-rate", type=float, default=0.0, help="per voter; 0: closed loop")
    p.add_argument("--like-rate", type=float, default=5.0, help="like messages/s per liker")
    p.add_argument("--like-batch", type=int, default=20, help="taps per like message")
    p.add_argument("--ramp", type=float, default=5.0, help="seconds to start every phone")
    p.add_argument("--duration", type=float, default=20.0, help="seconds measured after ramp")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--retries", type=int, default=3)
    p.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    p.add_argument("--out", type=Path, default=OUT, help="folder for the JSON and the plot")
    p.add_argument("--results", type=Path, default=report.RESULTS, help="table to add a row to")
    p.add_argument("--no-results", action="store_true", help="do not add a row")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--procs", type=int, default=1, help="generator processes the phones are spread over"
    )
    return p


def plan_of(args: argparse.Namespace, host: str, port: int) -> Plan:
    if min(args.viewers, args.voters, args.likers) < 0 or args.duration <= 0 or args.ramp < 0:
        raise ValueError("counts must be ≥ 0, --duration > 0, --ramp ≥ 0")
    return Plan(
        host=host,
        port=port,
        show=args.show,
        viewers=args.viewers,
        voters=args.voters,
        likers=args.likers,
        vote_transport=args.vote_transport,
        vote_rate=args.vote_rate,
        like_rate=args.like_rate,
        like_batch=args.like_batch,
        ramp=args.ramp,
        duration=args.duration,
        seed=args.seed,
        retries=args.retries,
        timeout=args.timeout,
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    raise_fd_limit()
    target: LiveTarget | None = None
    try:
        if args.url:
            parts = urlsplit(args.url)
            host, port = parts.hostname or "127.0.0.1", parts.port or 80
            redis_url = args.redis_url
            pids = {"server": args.server_pid} if args.server_pid else {}
        else:
            target = LiveTarget(args.show_file).start()
            host, port = "127.0.0.1", target.port
            redis_url = str(target.redis_info()["admin_url"])
            pids = target.pids()
        plan = plan_of(args, host, port)
        watched = Watched(pids) if pids else None
        stats, figures = asyncio.run(
            run(plan, watched, progress=not args.no_progress, procs=max(1, args.procs))
        )
        rc: dict[str, Any] = {}
        if redis_url:
            partitions = load_show(args.show_file).partitions  # the show file's chains
            rc = recount(redis_url, plan.show, stats.votes, partitions=partitions)
    except ValueError as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return 2
    finally:
        if target is not None:
            target.stop()
    out: dict[str, Any] = {
        "date": report.stamp(),
        "commit": report.commit(),
        "machine": report.machine(),
        "plan": asdict(plan),
        "figures": figures,
        "recount": rc,
        "timeline": stats.timeline(),
    }
    name = out["date"].replace(" ", "T").replace(":", "")
    json_path = args.out / f"run-{name}.json"
    png_path = args.out / f"run-{name}.png"
    report.write_json(out, json_path)
    report.plot(out["timeline"], png_path, f"{out['commit']} {out['date']}")
    if not args.no_results:
        report.add_row(out, args.results)
    print(summary_text(out))
    print(f"report: {json_path}  plot: {png_path}")
    return 0 if (not rc or rc["ok"]) else 1


def summary_text(out: dict[str, Any]) -> str:
    f = out["figures"]
    lat, st = f["votes"]["latency_ms"], f["viewers"]["staleness_ms"]
    lines = [
        f"votes      {f['votes']['accepted_per_s']}/s accepted; latency ms p50 {lat['p50']} "
        f"p95 {lat['p95']} p99 {lat['p99']} max {lat['max']}; retries {f['votes']['retries']}",
        f"viewers    {f['viewers']['snapshots_per_s']} snapshots/s; staleness ms p50 {st['p50']} "
        f"p95 {st['p95']} p99 {st['p99']} max {st['max']}",
        f"likes      {f['likes']['taps_per_s']} taps/s sent; {f['likes']['taps_acked']} acked",
        "errors     " + (", ".join(f"{k}: {v}" for k, v in f["errors"].items()) or "none"),
        f"generator  {f['generator']['cpu_cores']} cores of CPU",
    ]
    if "server" in f:
        s = f["server"]
        lines.append(f"server     CPU cores {s['cpu_cores']}; peak RSS MB {s['rss_mb_peak']}")
    rc = out["recount"]
    if rc:
        lines.append(
            f"recount    {rc['lost']} lost, {rc['unexpected']} unexpected, "
            f"{rc['tally_mismatch']} tally mismatches ({rc['seen_accepted']} accepted seen, "
            f"{rc['ledger_accepted']} in the ledger, {rc['unknown_in_flight']} unanswered)"
        )
    else:
        lines.append("recount    not run (give --redis-url with --url)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
