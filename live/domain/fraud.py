"""Fraud signals: read ledger entries in order, raise explainable flags. Pure and streaming.

Each signal marks votes with a rule, a cluster key (what the flagged votes share: an address,
a network, a timing pattern) and a reason a moderator can read. A strong signal (weight 1)
flags a vote on its own; a weak one (fresh device, contestant surge) only together with
another. Flags are advisory: nothing here changes a tally; a moderator decides.

Only accepted votes are considered (they are what a moderator can void). The detector is
deterministic: the same ledger gives the same flags, so any process may rebuild them.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from live.domain.net import born_of, subnet_of

SCRIPTED = (
    "headless",
    "python",
    "curl/",
    "wget/",
    "go-http-client",
    "phantomjs",
    "selenium",
    "puppeteer",
    "playwright",
    "okhttp",
    "httpx",
    "aiohttp",
    "java/",
    "libwww",
    "scrapy",
    "bot",
    "spider",
    "crawler",
)

STRONG = 1.0


class Signals(BaseModel):
    """Thresholds of the fraud signals (the show file's ``[integrity.signals]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    burst_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    ip_burst: Annotated[int, Field(ge=2)] = 30
    """More accepted votes than this from one address within ``burst_seconds``."""
    subnet_burst: Annotated[int, Field(ge=2)] = 80
    """... from one /24 (IPv4) or /64 (IPv6)."""
    devices_seconds: Annotated[int, Field(ge=1, le=86_400)] = 120
    devices_per_ip: Annotated[int, Field(ge=2)] = 25
    """More distinct devices than this voting from one address within ``devices_seconds``."""
    regular_votes: Annotated[int, Field(ge=4, le=100)] = 8
    """Votes in a row (one network, or one user agent for one contestant) whose gaps are..."""
    regular_cv: Annotated[float, Field(gt=0, le=1)] = 0.15
    """... this regular: standard deviation / mean of the gaps below it (a crowd's is ~1)."""
    fresh_ms: Annotated[int, Field(ge=0)] = 3000
    """A device issued this soon before its first vote (weak: some people are quick)."""
    snipe_ms: Annotated[int, Field(ge=0)] = 700
    """A vote this soon after its window opened (faster than a push, a look and a tap)."""
    surge_seconds: Annotated[int, Field(ge=1)] = 60
    surge_factor: Annotated[float, Field(gt=1)] = 4.0
    surge_min: Annotated[int, Field(ge=2)] = 40
    """A contestant's share of the last ``surge_seconds`` at least ``surge_factor`` times its
    share before, over at least ``surge_min`` recent votes (weak)."""
    scripted_agents: tuple[str, ...] = SCRIPTED
    """Lower-case fragments of user agents that are scripts or headless browsers (an empty
    user agent counts too)."""


@dataclass(frozen=True, slots=True)
class Signal:
    rule: str
    key: str
    weight: float


@dataclass(slots=True)
class Cluster:
    """Votes that one rule flagged for one shared trait, with the reason."""

    rule: str
    key: str
    reason: str
    subject: str = ""
    """The personal value (an address, a network, a user agent) the key and the reason name
    verbatim, or ''; whoever stores the cluster may put a pseudonym in its place."""
    vids: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    """The votes among ``vids`` whose score reached a flag (a score only ever rises)."""
    first: int = 0
    last: int = 0

    @property
    def id(self) -> str:
        return f"{self.rule}:{self.key}"


@dataclass(slots=True)
class VoteInfo:
    t: int
    cat: str
    contestant: str
    dev: str
    ip: str
    ua: str
    signals: dict[str, Signal] = field(default_factory=dict)

    @property
    def score(self) -> float:
        best: dict[str, float] = {}
        for s in self.signals.values():
            best[s.rule] = max(best.get(s.rule, 0.0), s.weight)
        return sum(best.values())


class _Window:
    """Accepted votes of one key within a sliding time window.

    Kept incrementally so that each vote costs O(1) however busy the key: the distinct devices
    are a counter, and ``unmarked`` counts the newest votes not yet marked by the window's rule
    (once a window is over its limit, each new vote is the only one left to mark).
    """

    __slots__ = ("devices", "items", "unmarked")

    def __init__(self) -> None:
        self.items: deque[tuple[int, str, str]] = deque()
        self.devices: Counter[str] = Counter()
        self.unmarked = 0

    def push(self, t: int, vid: str, dev: str, span_ms: int) -> None:
        self.items.append((t, vid, dev))
        self.devices[dev] += 1
        self.unmarked += 1
        while self.items and self.items[0][0] <= t - span_ms:
            _, _, old = self.items.popleft()
            left = self.devices[old] - 1
            if left:
                self.devices[old] = left
            else:
                del self.devices[old]
        self.unmarked = min(self.unmarked, len(self.items))

    def take_unmarked(self) -> list[str]:
        """The votes not yet marked (oldest first); they count as marked from now on."""
        n, self.unmarked = self.unmarked, 0
        return [self.items[i][1] for i in range(len(self.items) - n, len(self.items))]


class Detector:
    """Feed ledger entries oldest first; read :meth:`flagged` and :meth:`clusters`."""

    def __init__(self, signals: Signals, trusted: Iterable[str] = ()) -> None:
        self.s = signals
        self.trusted = tuple(ipaddress.ip_network(n, strict=False) for n in trusted)
        self.votes: dict[str, VoteInfo] = {}
        self._trusted_ips: dict[str, bool] = {}
        self._clusters: dict[str, Cluster] = {}
        self._ip: dict[str, _Window] = {}
        self._net: dict[str, _Window] = {}
        self._ip_devices: dict[str, _Window] = {}
        self._regular: dict[str, deque[tuple[int, str]]] = {}
        self._seen_devices: set[str] = set()
        self._opened: dict[str, int] = {}
        self._phase = ("", "")
        self._recent: dict[str, deque[tuple[int, str]]] = {}
        self._recent_count: dict[str, Counter[str]] = {}
        self._before: dict[str, Counter[str]] = {}
        self.changed: set[str] = set()
        """Cluster ids changed since the caller last cleared this set."""

    # -- input ---------------------------------------------------------------------------

    def feed(self, entry: Mapping[str, str]) -> None:
        kind = entry.get("k")
        if kind == "vote" and entry.get("st") == "accepted":
            self._vote(entry)
        elif kind == "stage":
            phase = (entry.get("phase", ""), entry.get("category", ""))
            if phase[0] == "voting" and phase != self._phase:
                self._opened[phase[1]] = int(entry.get("t", "0"))
            self._phase = phase
        elif kind == "voting" and entry.get("open") == "1":
            self._opened[entry.get("cat", "")] = int(entry.get("t", "0"))

    def _is_trusted(self, ip: str) -> bool:
        known = self._trusted_ips.get(ip)
        if known is not None:
            return known
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        known = self._trusted_ips[ip] = any(addr in net for net in self.trusted)
        return known

    def _vote(self, e: Mapping[str, str]) -> None:
        s = self.s
        vid, t = e["vid"], int(e["t"])
        info = VoteInfo(t, e["cat"], e["c"], e.get("dev", ""), e.get("ip", ""), e.get("ua", ""))
        self.votes[vid] = info
        ua = info.ua.lower()
        if not ua or any(frag in ua for frag in s.scripted_agents):
            agent = info.ua[:60]
            self._mark(
                [vid], "scripted_agent", agent or "(none)", STRONG,
                f"user agent “{agent}”", subject=agent,
            )  # fmt: skip
        opened = self._opened.get(info.cat)
        if opened is not None and 0 <= t - opened < s.snipe_ms:
            self._mark(
                [vid], "window_snipe", info.cat, STRONG,
                f"voted within {s.snipe_ms} ms of the {info.cat} window opening",
            )  # fmt: skip
        if info.dev not in self._seen_devices:
            self._seen_devices.add(info.dev)
            born = born_of(info.dev)
            if born and 0 <= t - born < s.fresh_ms:
                self._mark(
                    [vid], "fresh_device", info.cat, 0.6,
                    f"device created under {s.fresh_ms / 1000:g} s before its first vote",
                )  # fmt: skip
        if not self._is_trusted(info.ip):
            self._bursts(vid, info)
        self._timing(vid, info)
        self._surge(vid, info)

    def _bursts(self, vid: str, info: VoteInfo) -> None:
        s = self.s
        span = s.burst_seconds * 1000
        net = subnet_of(info.ip)
        for table, key, limit, rule, what in (
            (self._ip, info.ip, s.ip_burst, "ip_burst", "address"),
            (self._net, net, s.subnet_burst, "subnet_burst", "network"),
        ):
            window = table.setdefault(key, _Window())
            window.push(info.t, vid, info.dev, span)
            if len(window.items) > limit:
                reason = f"over {limit} votes from {what} {key} within {s.burst_seconds} s"
                self._mark(window.take_unmarked(), rule, key, STRONG, reason, subject=key)
        window = self._ip_devices.setdefault(info.ip, _Window())
        window.push(info.t, vid, info.dev, s.devices_seconds * 1000)
        if len(window.devices) > s.devices_per_ip:
            reason = (
                f"over {s.devices_per_ip} devices voting from address {info.ip} "
                f"within {s.devices_seconds} s"
            )
            marked = window.take_unmarked()
            self._mark(marked, "many_devices", info.ip, STRONG, reason, subject=info.ip)

    def _timing(self, vid: str, info: VoteInfo) -> None:
        s = self.s
        net = subnet_of(info.ip)
        for key, subject, by_network in (
            (f"net {net}", net, True),
            (f"agent {info.ua[:60]} for {info.contestant}", info.ua[:60], False),
        ):
            if by_network and self._is_trusted(info.ip):
                continue
            run = self._regular.setdefault(key, deque(maxlen=s.regular_votes))
            run.append((info.t, vid))
            if len(run) < s.regular_votes:
                continue
            times = [t for t, _ in run]
            gaps = [b - a for a, b in itertools.pairwise(times)]
            mean = math.fsum(gaps) / len(gaps)
            if mean <= 0:
                continue
            # Floats, not statistics.pstdev: its exact Fractions cost ~50 µs a vote, and a
            # coefficient of variation needs no exactness.
            cv = math.sqrt(math.fsum((g - mean) ** 2 for g in gaps) / len(gaps)) / mean
            if cv < s.regular_cv:
                reason = (
                    f"{s.regular_votes}+ votes in a row every {mean / 1000:.2f} s "
                    f"(variation {cv:.2f}; a crowd's is about 1)"
                )
                marked = [v for _, v in run]
                self._mark(marked, "regular_timing", key, STRONG, reason, subject=subject)

    def _surge(self, vid: str, info: VoteInfo) -> None:
        s = self.s
        recent = self._recent.setdefault(info.cat, deque())
        counts = self._recent_count.setdefault(info.cat, Counter())
        before = self._before.setdefault(info.cat, Counter())
        recent.append((info.t, info.contestant))
        counts[info.contestant] += 1
        while recent and recent[0][0] <= info.t - s.surge_seconds * 1000:
            gone = recent.popleft()[1]
            counts[gone] -= 1
            before[gone] += 1
        total_before = sum(before.values())
        if len(recent) < s.surge_min or total_before < s.surge_min:
            return
        mine_recent = counts[info.contestant]
        share_recent = mine_recent / len(recent)
        share_before = (before[info.contestant] + 1) / (total_before + 1)
        if mine_recent >= s.surge_min / 2 and share_recent >= s.surge_factor * share_before:
            self._mark(
                [vid], "contestant_surge", f"{info.cat}/{info.contestant}", 0.5,
                f"{info.contestant} took {share_recent:.0%} of the last {s.surge_seconds} s "
                f"in {info.cat}, against {share_before:.0%} before",
            )  # fmt: skip

    def _mark(
        self, vids: list[str], rule: str, key: str, weight: float, reason: str, subject: str = ""
    ) -> None:
        cluster = self._clusters.get(f"{rule}:{key}")
        if cluster is None:
            cluster = self._clusters[f"{rule}:{key}"] = Cluster(rule, key, reason, subject)
        cluster.reason = reason
        signal = Signal(rule, key, weight)
        for vid in vids:
            info = self.votes[vid]
            if cluster.id in info.signals:
                continue
            was = info.score
            info.signals[cluster.id] = signal
            self.changed.update(info.signals)  # its score changed in each of its clusters
            cluster.vids.append(vid)
            if was >= STRONG:
                cluster.flagged.append(vid)
            elif info.score >= STRONG:  # just flagged: it is now flagged in all its clusters
                for cid in info.signals:
                    self._clusters[cid].flagged.append(vid)
            cluster.first = info.t if not cluster.first else min(cluster.first, info.t)
            cluster.last = max(cluster.last, info.t)
        self.changed.add(cluster.id)

    # -- output --------------------------------------------------------------------------

    def is_flagged(self, vid: str) -> bool:
        info = self.votes.get(vid)
        return info is not None and info.score >= STRONG

    def flagged(self) -> set[str]:
        """Votes whose signals add up to a flag."""
        return {vid for vid, info in self.votes.items() if info.score >= STRONG}

    def clusters(self) -> list[Cluster]:
        """Every cluster holding at least one flagged vote, largest first."""
        out = [c for c in self._clusters.values() if c.flagged]
        return sorted(out, key=lambda c: (-len(c.vids), c.id))

    def cluster(self, cluster_id: str) -> Cluster | None:
        return self._clusters.get(cluster_id)
