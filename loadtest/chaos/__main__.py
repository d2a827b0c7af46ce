"""``make chaos``: every long experiment of the faults, floods, fuzzing and attacks suite, one
after another, each printing its figure line. Loopback only; every process it starts is
stopped by its PID. Exit 1 if any experiment failed.

``python -m loadtest.chaos [--fuzz-seconds 240] [--only kills,overload,api,ws,atheris]``
writes every figure to ``artifacts/chaos/chaos-<date>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadtest.chaos import api, kills, overload, wsfuzz
from loadtest.chaos.access import cli_env, invite, sign_in
from loadtest.fuzz.__main__ import fuzz
from loadtest.fuzz.targets import TARGETS
from loadtest.target import BENCH_SHOW, LiveTarget

OUT = Path(__file__).resolve().parent.parent.parent / "artifacts" / "chaos"


async def schemathesis(max_examples: int) -> dict[str, Any]:
    with LiveTarget(BENCH_SHOW) as target:
        env = cli_env(target.data_dir, BENCH_SHOW)
        staff = [
            await sign_in(target.url, "bench", invite("bench", role, f"{role} fuzz", env))
            for role in ("admin", "judge", "moderator")
        ]
        figures = await api.run(target.url, "bench", staff, max_examples)
    print(figures.line(), flush=True)
    for failure in figures.failures:
        print(failure)
    return {
        "requests": figures.requests,
        "server_errors": figures.server_errors,
        "failed_checks": len(figures.failures),
        "statuses": dict(figures.statuses),
        "ok": figures.requests >= 10_000 and not figures.failures and not figures.server_errors,
    }


async def ws_fuzz(per_role: int) -> dict[str, Any]:
    with LiveTarget(BENCH_SHOW, env=wsfuzz.ENV) as target:
        env = cli_env(target.data_dir, BENCH_SHOW)
        outcomes, served = await wsfuzz.fuzz_roles(target.url, target.port, env, per_role, 11)
    for role, out in outcomes.items():
        print(out.line(role), flush=True)
    return {
        "per_role": {
            r: {
                "sent": o.sent,
                "replies": dict(o.replies),
                "unexpected": len(o.bad),
                "closed": o.close_code,
            }
            for r, o in outcomes.items()
        },
        "bystander_served": served,
        "ok": served and not any(o.bad for o in outcomes.values()),
    }


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.chaos", description=__doc__)
    parser.add_argument("--only", default="kills,overload,api,ws,atheris")
    parser.add_argument("--fuzz-seconds", type=int, default=240)
    parser.add_argument("--max-examples", type=int, default=40)
    parser.add_argument("--ws-per-role", type=int, default=20_000)
    parser.add_argument("--viewers", type=int, default=1000)
    args = parser.parse_args(argv)
    only = args.only.split(",")
    started = time.monotonic()
    report: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                              "commit": commit(), "results": {}}  # fmt: skip
    results = report["results"]
    if "kills" in only:
        ns = argparse.Namespace(only="redis,app", seeds=[1, 2, 3], viewers=args.viewers)
        results.update(asyncio.run(kills.main_async(ns)))
    if "overload" in only:
        out = asyncio.run(overload.experiment(8, 15, 15, 2000))
        print(f"overload     {'ok ' if out['ok'] else 'FAILED'} " + json.dumps(out), flush=True)
        results["overload"] = out
    if "api" in only:
        results["schemathesis"] = asyncio.run(schemathesis(args.max_examples))
    if "ws" in only:
        results["ws_fuzz"] = asyncio.run(ws_fuzz(args.ws_per_role))
    if "atheris" in only:
        for name in TARGETS:
            out = fuzz(name, args.fuzz_seconds)
            out["ok"] = not out["crashed"]
            print(f"atheris {name:7} {out['seconds']} s  {out['runs']:,} runs  corpus "
                  f"{out['corpus_before']} -> {out['corpus_after']}  crashed {out['crashed']}",
                  flush=True)  # fmt: skip
            results[f"atheris_{name}"] = out
    report["seconds"] = round(time.monotonic() - started)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"chaos-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    failed = [k for k, v in results.items() if not v.get("ok")]
    print(f"chaos: {len(results) - len(failed)} of {len(results)} ok in {report['seconds']} s"
          f"{'; FAILED: ' + ', '.join(failed) if failed else ''}; {path}")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
