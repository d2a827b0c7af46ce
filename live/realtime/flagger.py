"""The fraud consumer: reads each show's ledger and keeps its flag clusters in Redis.

One process at a time holds a show's lease and runs the :class:`~live.domain.fraud.Detector` over
the ledger from its first entry, then follows new entries. The detector is deterministic, so
a process that takes over (the holder died) rebuilds the same clusters from the ledger.
Flags are advisory: this task never changes a vote.

Personal data: a ledger entry names its device, address and user agent by pseudonyms; the
detector is fed the raw values from the show's expiring ``pii`` hash (once they are gone, the
pseudonyms themselves: a burst from one address is still seen, a network or a scripted user
agent no longer). A stored cluster names them only by pseudonym (``@`` and 32 hex digits, in
its id, key, reason and votes); the raw value of each goes to the same ``pii`` hash, where the
moderation queue looks it up, so nothing raw outlives the show's ``retention`` or a purge.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from live import metrics
from live.domain.errors import LiveError
from live.domain.fraud import Cluster, Detector
from live.domain.ledger.chain import Pseudonym, personal_of
from live.domain.show import Show
from live.redis.moderation import ModerationStore
from live.redis.personal import Personal
from live.redis.store import Store

log = logging.getLogger("live.flagger")

LEASE_MS = 10_000
BATCH = 500
"""Entries fed per step. Small, and the loop yields between steps: the detector runs in the
serving process, and a batch of thousands would hold every request for tens of ms."""
LISTED = 200
"""Votes listed per cluster for the console (all of them are kept for a cluster action)."""
UNRESOLVED = "\0"
"""Marks a value fed to the detector as a pseudonym whose raw value is gone (no header holds a
NUL, so no raw value starts with one)."""


class Masker:
    """Puts ``@`` + pseudonym in place of a raw value, and collects the raw values it replaced
    (kept in the show's expiring ``pii`` hash, for moderators)."""

    def __init__(self, pseudonym: Pseudonym) -> None:
        self.pseudonym = pseudonym
        self.raw: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        if value.startswith(UNRESOLVED):
            return "@" + value[len(UNRESOLVED) :]
        p = self.pseudonym(value)
        self.raw[p] = value
        return "@" + p


def encode_cluster(detector: Detector, cluster: Cluster, mask: Masker) -> tuple[str, str]:
    """A cluster's id and record as stored: personal values masked."""
    votes = []
    for vid in cluster.vids[:LISTED]:
        info = detector.votes[vid]
        votes.append(
            {
                "vid": vid,
                "t": info.t,
                "cat": info.cat,
                "c": info.contestant,
                "ip": mask(info.ip),
                "ua": mask(info.ua),
                "score": round(info.score, 2),
                "rules": sorted({s.rule for s in info.signals.values()}),
                "flagged": info.score >= 1,
            }
        )
    key, reason = cluster.key, cluster.reason
    if cluster.subject:
        token = mask(cluster.subject)
        key, reason = key.replace(cluster.subject, token), reason.replace(cluster.subject, token)
    cid = f"{cluster.rule}:{key}"
    record: dict[str, Any] = {
        "id": cid,
        "rule": cluster.rule,
        "key": key,
        "reason": reason,
        "first": cluster.first,
        "last": cluster.last,
        "count": len(cluster.vids),
        "flagged": len(cluster.flagged),
        "votes": votes,
    }
    return cid, json.dumps(record, ensure_ascii=False)


async def resolved(
    personal: Personal, show: str, part: int, rows: list[tuple[str, dict[str, str]]]
) -> list[tuple[str, dict[str, str]]]:
    """The rows as the detector reads them: an accepted vote's pseudonyms replaced by the raw
    values (``dev``, ``ip``, ``ua``) while the ``pii`` hash holds them, else by the pseudonyms
    marked :data:`UNRESOLVED`. Entries of older ledgers carry raw values already."""
    wanted: set[str] = set()
    votes = []
    for i, (_, fields) in enumerate(rows):
        if fields.get("k") == "vote" and fields.get("st") == "accepted" and "pdev" in fields:
            votes.append(i)
            wanted.update(personal_of(fields)[:3])
    found = await personal.resolve(show, part, sorted(wanted))
    out = list(rows)
    for i in votes:
        entry_id, fields = rows[i]
        dev, ip, ua, _ = personal_of(fields)
        out[i] = (
            entry_id,
            fields
            | {
                "dev": found.get(dev, UNRESOLVED + dev),
                "ip": found.get(ip, UNRESOLVED + ip),
                "ua": found.get(ua, UNRESOLVED + ua),
            },
        )
    return out


class Flagger:
    def __init__(
        self,
        shows: dict[str, Show],
        store: Store,
        flags: ModerationStore,
        poll: float = 0.25,
        write_every: float = 1.0,
    ) -> None:
        self.shows = shows
        self.store = store
        store.register(shows.values())  # their partitions: the chains to follow
        self.flags = flags
        self.personal = Personal(store)
        self.poll = poll
        self.holder = secrets.token_hex(8)
        self.write_every = write_every

    async def run(self, beat: Callable[[], None] = lambda: None) -> None:
        """Follow every show; a show added later (set up in the browser) is followed within a
        second. A follower's failure ends the run (the others are stopped), and the supervisor
        starts it again."""
        tasks: dict[str, asyncio.Task[None]] = {}
        try:
            while True:
                for show in list(self.shows.values()):
                    if show.id not in tasks:
                        self.store.register([show])
                        tasks[show.id] = asyncio.create_task(self._follow(show.id, beat))
                done, _ = await asyncio.wait(
                    tasks.values(), timeout=1.0, return_when=asyncio.FIRST_EXCEPTION
                )
                for task in done:
                    task.result()  # raises the follower's error
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)

    async def _follow(self, show_id: str, beat: Callable[[], None]) -> None:
        show = self.shows[show_id]
        detector: Detector | None = None
        cursor = Chains(show.partitions)
        renewed = 0.0
        written: dict[str, int] = {}  # cluster id -> flagged vote ids already appended
        last_write = 0.0
        purged = ""
        loop = asyncio.get_running_loop()
        while True:
            beat()
            try:
                if loop.time() - renewed > LEASE_MS / 3000:
                    held = await self.flags.hold_lease(show.id, "flagger", self.holder, LEASE_MS)
                    renewed = loop.time()
                    if not held:
                        detector, cursor, written = None, Chains(show.partitions), {}
                        await asyncio.sleep(LEASE_MS / 3000)
                        continue
                    if (now := await self.personal.purged(show.id)) != purged:
                        # Purged: forget the raw values read so far (rebuilt on pseudonyms).
                        if detector is not None:
                            detector, cursor, written = None, Chains(show.partitions), {}
                        purged = now
                if detector is None:
                    show = self.shows[show_id]  # the definition now (redefined before the show)
                    integrity = show.integrity
                    detector = Detector(integrity.signals, integrity.trusted_networks)
                n = await self._step(show.id, detector, cursor)
                # Clusters are re-encoded at most every `write_every`: a busy cluster changes
                # with every vote, and its record lists up to LISTED votes.
                if detector.changed and loop.time() - last_write >= self.write_every:
                    await self._write(show, detector, written)
                    last_write = loop.time()
                await asyncio.sleep(self.poll if n == 0 else 0)
            except LiveError as exc:
                log.warning("flagger for %s paused: %s", show.id, exc.message)
                renewed = 0.0
                await asyncio.sleep(1.0)

    async def _write(self, show: Show, detector: Detector, written: dict[str, int]) -> None:
        """Write the clusters changed since the last write (records and new flagged ids)."""
        mask = Masker(await self.store.pseudonym(show.id))
        out, new, stored = {}, {}, {}
        for cid in detector.changed:
            cluster = detector.cluster(cid)
            if cluster is not None and cluster.flagged:
                stored[cid], out[stored[cid]] = encode_cluster(detector, cluster, mask)
                new[stored[cid]] = cluster.flagged[written.get(cid, 0) :]
        await self.flags.write_flags(show.id, out, new, mask.raw, show.retention_ms)
        detector.changed.clear()
        for cid, masked in stored.items():
            vids = new[masked]
            written[cid] = written.get(cid, 0) + len(vids)
            cluster = detector.cluster(cid)
            if cluster is not None and vids:
                metrics.FLAGS.labels(cluster.rule).inc(len(vids))

    async def _step(self, show: str, detector: Detector, chains: Chains) -> int:
        """Feed the next entries (at most about :data:`BATCH` per chain); how many."""
        wanted = chains.wanted()
        got = await asyncio.gather(
            *(self.store.ledger_after(show, chains.cursors[p], BATCH, p) for p in wanted)
        )
        for part, rows in zip(wanted, got, strict=True):
            chains.add(part, await resolved(self.personal, show, part, rows))
        ready = chains.ready()
        for fields in ready:
            detector.feed(fields)
        return len(ready)


class Chains:
    """Where the flagger stands in each of a show's chains, and the entries read but not fed
    yet. A partitioned show's chains are fed merged by time (the detector's windows are in
    time): an entry is fed once no chain that may hold more can still deliver an earlier one.
    A chain's buffer holds at most about two batches."""

    def __init__(self, partitions: int) -> None:
        self.cursors = ["-"] * partitions
        self.buffers: list[list[dict[str, str]]] = [[] for _ in range(partitions)]
        self.more = [True] * partitions
        """Whether the chain's last read was full (it may hold more right now)."""

    def wanted(self) -> list[int]:
        return [p for p, buf in enumerate(self.buffers) if len(buf) < BATCH]

    def add(self, part: int, rows: list[tuple[str, dict[str, str]]]) -> None:
        if rows:
            self.cursors[part] = "(" + rows[-1][0]
        self.buffers[part] += [fields for _, fields in rows]
        self.more[part] = len(rows) == BATCH

    def ready(self) -> list[dict[str, str]]:
        if len(self.buffers) == 1:
            out, self.buffers[0] = self.buffers[0], []
            return out
        full = [
            int(buf[-1].get("t", 0)) for p, buf in enumerate(self.buffers) if self.more[p] and buf
        ]
        horizon = min(full) if full else None
        out, kept = [], []
        for buf in self.buffers:
            cut = len(buf)
            if horizon is not None:
                cut = next((i for i, f in enumerate(buf) if int(f.get("t", 0)) > horizon), cut)
            out += buf[:cut]
            kept.append(buf[cut:])
        self.buffers = kept
        out.sort(key=lambda f: int(f.get("t", 0)))  # stable: a chain's own order is kept
        return out
