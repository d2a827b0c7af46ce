"""Prometheus metrics (prometheus-client): what an operator watches on show night.

Names follow Prometheus conventions; no label ever holds a device, an address or anything a
viewer sends (only show, category and status, which the show file bounds). Under ``live serve
--workers N`` each worker writes its values to ``PROMETHEUS_MULTIPROC_DIR`` (set and wiped by
``live serve``) and a scrape of any worker sums them all (:func:`render`); a single process
serves its own registry, with the process collectors.

A layer of its own, below the settings: every layer may count, none depends on how.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series beside every counter: noise on a dashboard

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

VOTES = Counter(
    "live_votes", "Votes decided, by show, category and status", ["show", "category", "status"]
)
LIKES_TAPS = Counter("live_likes_taps", "Like taps received (before caps)", ["show"])
LIKES_COUNTED = Counter("live_likes_counted", "Like taps counted (within the caps)", ["show"])
WS_CONNECTIONS = Gauge(
    "live_ws_connections",
    "Open websockets, by kind (viewer, staff, overlay)",
    ["kind"],
    multiprocess_mode="livesum",
)
PUSHES = Counter("live_pushes", "Snapshots written to sockets (one per socket and push)")
PUSH_BYTES = Counter("live_push_bytes", "Bytes of snapshots written to sockets")
PUSH_SECONDS = Histogram(
    "live_push_seconds",
    "Time to fan one show's snapshot out to its sockets",
    buckets=LATENCY_BUCKETS,
)
VOTE_SECONDS = Histogram(
    "live_vote_seconds",
    "Time to decide one vote, the ledger write included (server side)",
    buckets=LATENCY_BUCKETS,
)
STALENESS = Gauge(
    "live_staleness_seconds",
    "Since the sockets last got, or were found to have, their show's current state",
    multiprocess_mode="livemax",
)
INGEST_EVENTS = Counter(
    "live_ingest_events",
    "Platform events decided, by platform, kind and status",
    ["platform", "kind", "status"],
)
COMMENTS = Counter(
    "live_comments",
    "Comments posted, by show and outcome (pending, approved, rejected, duplicate, limited, "
    "banned)",
    ["show", "status"],
)
COMMENT_DECISIONS = Counter(
    "live_comment_decisions", "Moderators' decisions on comments, by show and op", ["show", "op"]
)
INGEST_BAD_SIGNATURES = Counter(
    "live_ingest_bad_signatures", "Platform pushes refused for a bad signature", ["platform"]
)
INGEST_CONNECTED = Gauge(
    "live_ingest_connected",
    "1 while a platform adapter is connected (the highest over processes)",
    ["platform"],
    multiprocess_mode="livemax",
)
INGEST_LAG = Gauge(
    "live_ingest_lag_seconds",
    "From the platform's timestamp of its latest event to its arrival",
    ["platform"],
    multiprocess_mode="livemax",
)
SMS_REFUSED = Counter(
    "live_sms_refused",
    "Phone codes not sent, by reason (country, captcha, number_*, address, subnet, device, budget)",
    ["reason"],
)
SMS_BREAKER = Gauge(
    "live_sms_breaker_open",
    "1 while the hourly budget of phone codes is spent and nothing is sent (alert on it)",
    multiprocess_mode="livemax",
)
REDIS_ERRORS = Counter("live_redis_errors", "Redis calls that failed or ran out of time")
FLAGS = Counter("live_flags", "Votes newly flagged by the fraud detector, by rule", ["rule"])
TASK_UP = Gauge(
    "live_task_up",
    "1 while the background task is up, 0 while it is down (the lowest over processes)",
    ["task"],
    multiprocess_mode="livemin",
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_workers(path: str) -> list[int]:
    """Drop the live gauges (connections, staleness, tasks up) of workers that are gone: a
    worker that crashed or was restarted leaves its files behind, and a sum over live workers
    would go on counting it. Counters and histograms are kept (a total must not fall). Which
    pids it forgot."""
    gone = []
    for name in os.listdir(path):
        if not (name.startswith("gauge_live") and name.endswith(".db")):
            continue
        pid = name[: -len(".db")].rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), path)  # type: ignore[no-untyped-call]
            gone.append(int(pid))
    return gone


class _Workers(multiprocess.MultiProcessCollector):
    """Every worker's metrics, summed, once the dead workers' live gauges are dropped."""

    def collect(self):  # type: ignore[no-untyped-def]
        forget_dead_workers(self._path)
        return super().collect()  # type: ignore[no-untyped-call]


def workers_registry(path: str) -> CollectorRegistry:
    """A registry that answers every worker's metrics from the shared directory ``path``."""
    registry = CollectorRegistry()
    _Workers(registry, path=path)  # type: ignore[no-untyped-call]
    return registry


def render() -> tuple[bytes, str]:
    """The exposition of every metric (summed over the workers in multiprocess mode), and its
    content type."""
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        registry = workers_registry(path)
        ProcessCollector(registry=registry)  # the scraped worker's own CPU and memory
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
