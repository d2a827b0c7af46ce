"""A run's report: JSON, a plot of rate and latency over time, a row in ``RESULTS.md``."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "RESULTS.md"
HEADER = (
    "| date | commit | machine | settings | votes/s | latency p50/p95/p99/max ms "
    "| staleness p50/p99 ms | taps/s | errors | server CPU / RSS | generator CPU | recount |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)
INTRO = (
    "# Load test results\n\nOne row per run of `python -m loadtest`, newest first. Figures come "
    "from one machine running the server, Redis and the generator together (see the README).\n\n"
)


def _git(*args: str) -> str:
    where = Path(__file__).parent
    done = subprocess.run(["git", *args], capture_output=True, text=True, check=False, cwd=where)
    return done.stdout.strip()


def commit() -> str:
    """The checked-out commit, ``+dirty`` when tracked files differ from it."""
    try:
        rev = _git("rev-parse", "--short", "HEAD") or "unknown"
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except OSError:
        return "unknown"
    return rev + ("+dirty" if dirty else "")


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "system": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def plot(timeline: list[dict[str, Any]], path: Path, title: str) -> None:
    """Rate (votes/s, taps/s) and latency/staleness p99 per second, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [row["t"] for row in timeline]

    def col(name: str) -> list[float]:
        return [math.nan if row[name] is None else row[name] for row in timeline]

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot(t, col("votes"), label="votes accepted/s")
    top.plot(t, [x / 100 for x in col("taps")], label="taps/s ÷ 100")
    top.plot(t, [x / 10 for x in col("snapshots")], label="snapshots received/s ÷ 10")
    top.set_ylabel("per second")
    top.legend(loc="upper left", fontsize=8)
    top.set_title(title, fontsize=10)
    bottom.plot(t, col("latency_p50_ms"), label="vote latency p50")
    bottom.plot(t, col("latency_p99_ms"), label="vote latency p99")
    bottom.plot(t, col("staleness_p99_ms"), label="staleness p99")
    bottom.set_ylabel("ms")
    bottom.set_xlabel("seconds since start")
    bottom.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _q(s: dict[str, Any], *names: str) -> str:
    return "/".join(
        "–" if isinstance(s.get(n), float) and math.isnan(s[n]) else str(s.get(n)) for n in names
    )


def row(report: dict[str, Any]) -> str:
    f = report["figures"]
    p = report["plan"]
    server = f.get("server", {})
    cpu = server.get("cpu_cores", {})
    rss = server.get("rss_mb_peak", {})
    rc = report.get("recount", {})
    settings = (
        f"{p['viewers']} viewers, {p['voters']} {p['vote_transport']} voters"
        f"{'' if not p['vote_rate'] else ' @' + str(p['vote_rate']) + '/s'}, "
        f"{p['likers']} likers ×{p['like_batch']}@{p['like_rate']}/s, "
        f"ramp {p['ramp']:g}s, {p['duration']:g}s, seed {p['seed']}"
    )
    errors = ", ".join(f"{k} {v}" for k, v in sorted(f["errors"].items())) or "0"
    server_txt = (
        " + ".join(f"{n} {c:.2f}" for n, c in cpu.items())
        + " cores / "
        + " + ".join(f"{n} {m:.0f}" for n, m in rss.items())
        + " MB"
        if cpu
        else "–"
    )
    recount = (
        f"{rc.get('lost')} lost, {rc.get('unexpected')} unexpected, "
        f"{rc.get('tally_mismatch')} tally"
        if rc
        else "not run"
    )
    m = report["machine"]
    cells = [
        report["date"],
        report["commit"],
        f"{m['cpus']} cores, {m['memory_gb']} GiB",
        settings,
        str(f["votes"]["accepted_per_s"]),
        _q(f["votes"]["latency_ms"], "p50", "p95", "p99", "max"),
        _q(f["viewers"]["staleness_ms"], "p50", "p99"),
        str(f["likes"]["taps_per_s"]),
        errors,
        server_txt,
        f"{f['generator']['cpu_cores']:.2f} cores",
        recount,
    ]
    return "| " + " | ".join(c.replace("|", "/") for c in cells) + " |\n"


def add_row(report: dict[str, Any], path: Path = RESULTS) -> None:
    """Insert the run's row at the top of the table (newest first)."""
    text = path.read_text(encoding="utf-8") if path.exists() else INTRO + HEADER
    if HEADER not in text:
        text = text.rstrip("\n") + "\n\n" + HEADER
    head, _, rest = text.partition(HEADER)
    path.write_text(head + HEADER + row(report) + rest, encoding="utf-8")


def stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime())


BENCH_HEADER = (
    "| date | commit | machine | figure: value (ratio to its baseline) met/missed |\n"
    "|---|---|---|---|\n"
)
BENCH_TITLE = (
    "\n## `make bench` runs\n\nOne row per run, newest first (`python -m loadtest.bench`).\n\n"
)


def bench_row(out: dict[str, Any]) -> str:
    cells = []
    for f in out["figures"]:
        ratio = "" if f.get("ratio") is None else f" ({f['ratio']:.2f}x)"
        word = "met" if f["met"] else "missed"
        cells.append(f"{f['name']}: {f['value']:,.1f} {f['unit']}{ratio} {word}")
    m = out["machine"]
    return (
        f"| {out['date']} | {out['commit']} | {m['cpus']} cores, {m['memory_gb']} GiB | "
        + "; ".join(cells).replace("|", "/")
        + " |\n"
    )


def add_bench_row(out: dict[str, Any], path: Path = RESULTS) -> None:
    """Insert a bench run's row at the top of the bench table (made on first use)."""
    text = path.read_text(encoding="utf-8") if path.exists() else INTRO + HEADER
    if BENCH_HEADER not in text:
        text = text.rstrip("\n") + "\n" + BENCH_TITLE + BENCH_HEADER
    head, _, rest = text.partition(BENCH_HEADER)
    path.write_text(head + BENCH_HEADER + bench_row(out) + rest, encoding="utf-8")
