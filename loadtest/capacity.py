"""The capacity model of README "Running at scale": what a show of a given size takes, from the
per-operation costs ``make bench`` measured (one core each), and its plot.

``python -m loadtest.capacity [--viewers 500000] [--votes 50000] [--svg docs/capacity.svg]``
prints the model for that show and writes the plot (an SVG drawn here: two panels, cores
against viewers and against votes a second). The costs are the measured ones below; change them
when ``make bench`` on your hardware says otherwise.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

SVG = Path("docs") / "capacity.svg"


@dataclass(frozen=True)
class Costs:
    """Per-operation costs, measured by ``make bench`` on the 2-core development machine."""

    push_app_us: float = 37.4
    """App CPU per snapshot delivered to one viewer (issue 15's fan-out: 5,000 viewers at 4 Hz)."""
    push_nginx_us: float = 24.3
    """nginx CPU per pushed frame it proxies (cluster bench: 0.196 cores for 8,075 pushes/s)."""
    push_bytes: int = 686
    """Bytes of one push after a vote on the bench show."""
    push_hz: float = 4.0
    vote_app_us: float = 705.0
    """App CPU per vote on the cluster with WAIT 1 (cluster bench, HTTP, closed loop)."""
    vote_nginx_us: float = 93.0
    vote_redis_us: float = 434.0
    """Redis CPU per vote over master and replica (cluster bench: small batches)."""
    partition_votes_s: float = 7000.0
    """Votes a second one hash slot (one Redis core) takes with ``appendfsync always``."""
    vote_bytes: int = 476
    """Redis memory per accepted vote (ledger entry, vote-id index, counts, live rate windows;
    measured over 20,000 votes from distinct devices)."""
    viewers_per_process: int = 5000
    """Viewers one app process kept at 4 Hz with p99 staleness <= 250 ms (fan-out bench)."""


@dataclass(frozen=True)
class Need:
    viewers: int
    votes_s: int
    app_cores: float
    nginx_cores: float
    redis_cores: float
    partitions: int
    app_processes: int
    egress_gbit_s: float
    redis_gb_per_hour: float

    def lines(self) -> list[str]:
        return [
            f"{self.viewers:,} viewers at 4 Hz and {self.votes_s:,} votes/s take:",
            f"  app processes   {self.app_processes:,} ({self.app_cores:,.0f} cores: "
            "one process per core)",
            f"  nginx (L7)      {self.nginx_cores:,.0f} cores (an L4 balancer for /ws/ saves "
            "most of it)",
            f"  Redis           {self.redis_cores:,.0f} cores over masters and replicas; one "
            f"show needs {self.partitions} hash slot(s) at {self.votes_s:,}/s",
            f"  egress          {self.egress_gbit_s:,.1f} Gbit/s",
            f"  Redis memory    {self.redis_gb_per_hour:,.1f} GB per hour at that vote rate",
        ]


def need(viewers: int, votes_s: int, c: Costs = Costs()) -> Need:
    pushes = viewers * c.push_hz
    app = (pushes * c.push_app_us + votes_s * c.vote_app_us) / 1e6
    processes = max(math.ceil(viewers / c.viewers_per_process), math.ceil(app))
    return Need(
        viewers=viewers,
        votes_s=votes_s,
        app_cores=app,
        nginx_cores=(pushes * c.push_nginx_us + votes_s * c.vote_nginx_us) / 1e6,
        redis_cores=votes_s * c.vote_redis_us / 1e6,
        partitions=max(1, math.ceil(votes_s / c.partition_votes_s)),
        app_processes=processes,
        egress_gbit_s=pushes * c.push_bytes * 8 / 1e9,
        redis_gb_per_hour=votes_s * 3600 * c.vote_bytes / 1e9,
    )


def _panel(
    x0: float,
    title: str,
    xlabel: str,
    xs: list[int],
    series: list[tuple[str, str, list[float]]],
    ylabel: str = "cores",
) -> list[str]:
    """One line chart 420x300 at x0: axes, ticks, one polyline per series, a legend."""
    w, h, left, bottom = 420.0, 300.0, 50.0, 40.0
    top = max(max(ys) for _, _, ys in series) * 1.1 or 1.0
    xmax = xs[-1] or 1

    def px(x: float) -> float:
        return x0 + left + (w - left - 10) * x / xmax

    def py(y: float) -> float:
        return h - bottom - (h - bottom - 30) * y / top

    out = [
        f'<text x="{x0 + w / 2}" y="18" text-anchor="middle" font-weight="bold">'
        f"{escape(title)}</text>",
        f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(xmax)}" y2="{py(0)}" stroke="#333"/>',
        f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(0)}" y2="{py(top)}" stroke="#333"/>',
        f'<text x="{x0 + w / 2}" y="{h - 5}" text-anchor="middle">{escape(xlabel)}</text>',
        f'<text x="{x0 + 12}" y="{h / 2}" transform="rotate(-90 {x0 + 12} {h / 2})" '
        f'text-anchor="middle">{escape(ylabel)}</text>',
    ]
    for i in range(5):
        y = top / 1.1 * i / 4
        out.append(
            f'<text x="{px(0) - 4}" y="{py(y) + 4}" text-anchor="end" font-size="10">'
            f"{y:,.0f}</text>"
        )
    for x in xs[:: max(1, len(xs) // 5)]:
        out.append(
            f'<text x="{px(x)}" y="{py(0) + 14}" text-anchor="middle" font-size="10">'
            f"{x / 1000:,.0f}k</text>"
        )
    for n, (name, colour, ys) in enumerate(series):
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys, strict=True))
        out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        ly = 40 + 16 * n
        out.append(
            f'<line x1="{px(0) + 10}" y1="{ly}" x2="{px(0) + 30}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        out.append(f'<text x="{px(0) + 36}" y="{ly + 4}" font-size="11">{escape(name)}</text>')
    return out


def plot(c: Costs = Costs(), viewers: int = 500_000, votes_s: int = 50_000) -> str:
    """The SVG: cores against viewers (no votes), and against votes a second (no viewers)."""
    vx = [viewers * i // 20 for i in range(21)]
    by_viewers = [need(v, 0, c) for v in vx]
    sx = [votes_s * i // 20 for i in range(21)]
    by_votes = [need(0, s, c) for s in sx]
    body = _panel(
        0,
        "Viewers at 4 Hz",
        "viewers",
        vx,
        [
            ("app processes (cores)", "#c0392b", [n.app_cores for n in by_viewers]),
            ("nginx, L7 websockets", "#2980b9", [n.nginx_cores for n in by_viewers]),
        ],
    )
    body += _panel(
        440,
        "Votes a second (one show)",
        "votes/s",
        sx,
        [
            ("app processes (cores)", "#c0392b", [n.app_cores for n in by_votes]),
            ("Redis (master + replica)", "#27ae60", [n.redis_cores for n in by_votes]),
            ("hash slots (partitions)", "#8e44ad", [float(n.partitions) for n in by_votes]),
        ],
        "cores; slots",
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="880" height="300" '
        'font-family="sans-serif" font-size="12">\n'
        '<rect width="880" height="300" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtest.capacity", description=__doc__)
    p.add_argument("--viewers", type=int, default=500_000)
    p.add_argument("--votes", type=int, default=50_000, help="votes a second at the peak")
    p.add_argument("--svg", type=Path, default=SVG)
    args = p.parse_args(argv)
    print("\n".join(need(args.viewers, args.votes).lines()))
    args.svg.parent.mkdir(parents=True, exist_ok=True)
    args.svg.write_text(plot(viewers=args.viewers, votes_s=args.votes), encoding="utf-8")
    print(f"plot: {args.svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
