"""The ledger as data: entries, and the recount that rebuilds every tally from them. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, KeysView, Mapping
from dataclasses import dataclass, field


@dataclass(slots=True)
class Recount:
    """What the ledger says the live counters must be."""

    tallies: dict[str, Counter[str]] = field(default_factory=dict)
    likes_taps: int = 0
    likes_counted: int = 0
    entries: int = 0
    refused: int = 0
    """Refused votes the ledger accounts for: each refusal entry, plus the refusals it says
    were answered without an entry of their own (``more``) since the device's previous one."""
    voided: set[str] = field(default_factory=set)
    """Accepted vote ids currently voided by a moderator (left out of the tallies)."""
    targets: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Accepted vote id -> (category, contestant)."""

    @property
    def accepted_vote_ids(self) -> KeysView[str]:
        return self.targets.keys()

    def tally_dict(self) -> dict[str, dict[str, int]]:
        return {
            cat: {c: n for c, n in counter.items() if n}
            for cat, counter in self.tallies.items()
            if +counter
        }

    def voided_counts(self) -> dict[str, int]:
        """category -> accepted votes currently voided (the public count)."""
        out: dict[str, int] = {}
        for vid in self.voided:
            cat = self.targets[vid][0]
            out[cat] = out.get(cat, 0) + 1
        return out

    def add(self, entry: Mapping[str, str]) -> None:
        """Fold one entry in (oldest first).

        A ``void`` entry takes an accepted vote out of its tally and a ``restore`` puts it back;
        both are idempotent (voiding a voided vote, or restoring a counted one, changes
        nothing), and entries naming an unknown vote change nothing.
        """
        self.entries += 1
        kind = entry.get("k")
        if kind == "vote":  # the hot path: nearly every entry is one
            if entry.get("st") == "accepted":
                cat, who = entry["cat"], entry["c"]
                tally = self.tallies.get(cat)
                if tally is None:
                    tally = self.tallies[cat] = Counter()
                tally[who] += 1
                self.targets[entry["vid"]] = (cat, who)
            else:
                self.refused += 1 + int(entry.get("more", 0))
        elif kind in ("void", "restore"):
            vid = entry.get("vid", "")
            target = self.targets.get(vid)
            if target is None or (kind == "void") == (vid in self.voided):
                return
            cat, contestant = target
            # setdefault: within add_many the vote's own count may not be merged in yet.
            tally = self.tallies.setdefault(cat, Counter())
            if kind == "void":
                self.voided.add(vid)
                tally[contestant] -= 1
            else:
                self.voided.discard(vid)
                tally[contestant] += 1
        elif kind == "likes":
            self.likes_taps += int(entry["taps"])
            self.likes_counted += int(entry["counted"])

    def add_many(self, entries: Iterable[Mapping[str, str]]) -> None:
        """Fold entries in, oldest first: the same as :meth:`add` on each, with the hot path
        (an accepted vote) inlined and its tally counted per (category, contestant) pair,
        merged at the end. Counting is commutative, so a void that comes before the merge
        still subtracts from the right total; ``targets`` and ``voided`` follow entry order."""
        targets = self.targets
        pairs: dict[tuple[str, str], int] = {}
        get = pairs.get
        n = 0
        for entry in entries:
            if entry.get("k") == "vote" and entry.get("st") == "accepted":
                n += 1
                pair = targets[entry["vid"]] = (entry["cat"], entry["c"])
                pairs[pair] = get(pair, 0) + 1
            else:
                self.add(entry)
        self.entries += n
        tallies = self.tallies
        for (cat, who), count in pairs.items():
            tally = tallies.get(cat)
            if tally is None:
                tally = tallies[cat] = Counter()
            tally[who] += count


def recount(entries: Iterable[Mapping[str, str]]) -> Recount:
    """Fold ledger entries (decoded stream fields) into tallies and like totals."""
    out = Recount()
    out.add_many(entries)
    return out
