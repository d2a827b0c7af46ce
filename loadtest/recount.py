"""The end of every run: is every vote the generator saw accepted in the ledger and the tally?

- ``lost``: answered ``accepted`` to the generator but absent from the ledger (must be 0);
- ``unexpected``: accepted in the ledger but never answered ``accepted`` to the generator and not
  among the votes whose answer was lost in flight (must be 0);
- ``tally_mismatch``: contestants whose live tally differs from the ledger's count (must be 0).

Lost and unexpected look at this run's votes (their ids carry the run's prefix); the tallies
are checked whole.

It reads Redis directly (the server's data folder names it): this is the auditor's view, not
load, so it is not bound to the public surface the phones use.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import redis

from live.redis.keys import ShowKeys
from loadtest.stats import Accepted


def recount(
    redis_url: str, show: str, seen: Accepted, prefix: str = "live", partitions: int = 1
) -> dict[str, Any]:
    """Every partition's chain and tallies (``partitions`` as in the show file)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    ledger: dict[str, tuple[str, str]] = {}
    entries = 0
    mismatches = []
    try:
        for part in range(partitions):
            keys = ShowKeys(prefix, show, part, partitions)
            counted: Counter[tuple[str, str]] = Counter()
            start = "-"
            while True:
                rows: Any = client.xrange(keys.ledger, min=start, max="+", count=20_000)
                for _, f in rows:
                    entries += 1
                    if f.get("k") == "vote" and f.get("st") == "accepted":
                        if f["vid"].startswith(seen.prefix):
                            ledger[f["vid"]] = (f["cat"], f["c"])
                        counted[(f["cat"], f["c"])] += 1
                if len(rows) < 20_000:
                    break
                start = "(" + rows[-1][0]
            for cat in {c for c, _ in counted}:
                live: Any = client.zrange(keys.tally(cat), 0, -1, withscores=True)
                for who, score in live:
                    if int(score) != counted[(cat, who)]:
                        mismatches.append(
                            f"{cat}/{who} (partition {part}): tally {int(score)}, "
                            f"ledger {counted[(cat, who)]}"
                        )
    finally:
        client.close()
    lost = [v for v in seen.accepted if v not in ledger]
    unexpected = [v for v in ledger if v not in seen.accepted and v not in seen.unknown]
    return {
        "ledger_entries": entries,
        "ledger_accepted": len(ledger),
        "seen_accepted": len(seen.accepted),
        "unknown_in_flight": len(seen.unknown),
        "unknown_found_accepted": sum(1 for v in seen.unknown if v in ledger),
        "lost": len(lost),
        "unexpected": len(unexpected),
        "tally_mismatch": len(mismatches),
        "examples": (lost[:3] + unexpected[:3] + mismatches[:3]),
        "ok": not lost and not unexpected and not mismatches,
    }
