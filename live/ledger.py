"""The ledger as data: entries, and the recount that rebuilds every tally from them. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(slots=True)
class Recount:
    """What the ledger says the live counters must be."""

    tallies: dict[str, Counter[str]] = field(default_factory=dict)
    likes_taps: int = 0
    likes_counted: int = 0
    entries: int = 0
    accepted_vote_ids: set[str] = field(default_factory=set)
    voided: set[str] = field(default_factory=set)
    """Accepted vote ids currently voided by a moderator (left out of the tallies)."""
    targets: dict[str, tuple[str, str]] = field(default_factory=dict)

    def tally_dict(self) -> dict[str, dict[str, int]]:
        return {
            cat: {c: n for c, n in counter.items() if n}
            for cat, counter in self.tallies.items()
            if +counter
        }


def recount(entries: Iterable[Mapping[str, str]]) -> Recount:
    """Fold ledger entries (decoded stream fields) into tallies and like totals.

    A ``void`` entry takes an accepted vote out of its tally and a ``restore`` puts it back;
    both are idempotent (voiding a voided vote, or restoring a counted one, changes nothing),
    and entries naming an unknown vote change nothing.
    """
    out = Recount()
    for entry in entries:
        out.entries += 1
        kind = entry.get("k")
        if kind == "vote" and entry.get("st") == "accepted":
            out.tallies.setdefault(entry["cat"], Counter())[entry["c"]] += 1
            out.accepted_vote_ids.add(entry["vid"])
            out.targets[entry["vid"]] = (entry["cat"], entry["c"])
        elif kind in ("void", "restore"):
            vid = entry.get("vid", "")
            target = out.targets.get(vid)
            if target is None or (kind == "void") == (vid in out.voided):
                continue
            cat, contestant = target
            if kind == "void":
                out.voided.add(vid)
                out.tallies[cat][contestant] -= 1
            else:
                out.voided.discard(vid)
                out.tallies[cat][contestant] += 1
        elif kind == "likes":
            out.likes_taps += int(entry["taps"])
            out.likes_counted += int(entry["counted"])
    return out
