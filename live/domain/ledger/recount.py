"""The ledger as data: entries, and the recount that rebuilds every tally from them. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, KeysView, Mapping
from dataclasses import dataclass, field
from itertools import islice


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
    sources: dict[str, dict[str, Counter[str]]] = field(default_factory=dict)
    """Chat votes counted from each platform: platform -> category -> contestant -> votes."""
    source_likes: Counter[str] = field(default_factory=Counter)
    source_gifts: Counter[str] = field(default_factory=Counter)
    _targets: dict[str, tuple[str, str]] = field(default_factory=dict)
    _vids: list[str] = field(default_factory=list)
    _pairs: list[tuple[str, str]] = field(default_factory=list)
    """Accepted votes not indexed by id yet (ids and targets, in ledger order): indexing a
    million ids costs more than the rest of a recount, and most ledgers are never asked (no
    void, no caller reading :attr:`targets`)."""

    @property
    def targets(self) -> dict[str, tuple[str, str]]:
        """Accepted vote id -> (category, contestant)."""
        if self._vids:
            self._targets.update(zip(self._vids, self._pairs, strict=True))
            self._vids.clear()
            self._pairs.clear()
        return self._targets

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

    def merge(self, other: Recount) -> None:
        """Add another chain's recount (a partition of the same show: its own votes and the
        voids of those votes) to this one."""
        for cat, counter in other.tallies.items():
            self.tallies.setdefault(cat, Counter()).update(counter)
        self.likes_taps += other.likes_taps
        self.likes_counted += other.likes_counted
        self.entries += other.entries
        self.refused += other.refused
        self.targets.update(other.targets)
        self.voided |= other.voided
        for platform, cats in other.sources.items():
            mine = self.sources.setdefault(platform, {})
            for cat, counter in cats.items():
                mine.setdefault(cat, Counter()).update(counter)
        self.source_likes.update(other.source_likes)
        self.source_gifts.update(other.source_gifts)

    def source_dict(self) -> dict[str, dict[str, dict[str, int]]]:
        return {
            platform: {cat: dict(+counter) for cat, counter in cats.items() if +counter}
            for platform, cats in self.sources.items()
        }

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
                self._vids.append(entry["vid"])
                self._pairs.append((cat, who))
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
        elif kind == "chat":
            cats = self.sources.setdefault(entry["src"], {})
            cats.setdefault(entry["cat"], Counter())[entry["c"]] += 1
        elif kind == "srclike":
            self.source_likes[entry["src"]] += int(entry["num"])
        elif kind == "gift":
            self.source_gifts[entry["src"]] += int(entry["num"])

    def add_many(
        self,
        entries: Iterable[Mapping[str, str]],
        then: Callable[[Mapping[str, str]], None] | None = None,
    ) -> None:
        """Fold entries in, oldest first: the same as :meth:`add` on each, with the hot path
        (an accepted vote) inlined: two appends, its tally counted per run of votes (in C, by
        ``Counter``). Counting is commutative, so a void after a run subtracts from the right
        total; ``targets`` and ``voided`` follow entry order. ``then`` is called with every
        entry that is not an accepted vote, after it is folded (a replay folds the rest)."""
        vids, pairs = self._vids, self._pairs
        add_vid, add_pair = vids.append, pairs.append
        start, votes = len(pairs), 0
        for entry in entries:
            if entry.get("k") == "vote" and entry.get("st") == "accepted":
                add_vid(entry["vid"])
                add_pair((entry["cat"], entry["c"]))
            else:
                votes += self._count(start)
                self.add(entry)
                if then is not None:
                    then(entry)
                start = len(pairs)  # a void indexes (and so empties) the pending lists
        votes += self._count(start)
        self.entries += votes

    def _count(self, start: int) -> int:
        """Add the tallies of the pending accepted votes from ``start`` on; how many."""
        run = Counter(islice(self._pairs, start, None))
        tallies = self.tallies
        for (cat, who), n in run.items():
            tally = tallies.get(cat)
            if tally is None:
                tally = tallies[cat] = Counter()
            tally[who] += n
        return len(self._pairs) - start


def recount(entries: Iterable[Mapping[str, str]]) -> Recount:
    """Fold ledger entries (decoded stream fields) into tallies and like totals."""
    out = Recount()
    out.add_many(entries)
    return out
