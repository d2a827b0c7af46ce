"""``live verify``: check the ledger's hash chain and recount every tally from it.

One pass over the ledger, oldest first, in batches, so a ledger of millions of entries is
checked in bounded memory. The verdict names the first entry where the chain does not hold
and every tally that differs from the recount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from live.domain.ledger.chain import Break, ChainCheck, Pseudonym
from live.domain.ledger.recount import Recount


@dataclass(slots=True)
class Verdict:
    """What ``live verify`` found."""

    entries: int
    """Also the position of the head: a chain that holds numbers its entries 1..n."""
    head: str
    first_break: Break | None
    recount: Recount
    mismatches: list[str] = field(default_factory=list)
    chains: list[tuple[int, str]] = field(default_factory=list)
    """A partitioned show's chains, partition 0 first: (entries, head) of each. Empty for a
    show with one chain (whose head is :attr:`head`)."""

    @property
    def ok(self) -> bool:
        return self.first_break is None and not self.mismatches

    def lines(self) -> list[str]:
        out = [f"ledger entries  {self.entries}"]
        if self.first_break is None:
            out.append("chain           intact")
        else:
            b = self.first_break
            out.append(
                f"chain           BROKEN at entry #{b.position} (id {b.entry_id}): {b.reason}"
            )
        if self.chains:
            for part, (n, head) in enumerate(self.chains):
                out.append(f"chain {part} head    #{n} {head}")
        else:
            out.append(f"chain head      #{self.entries} {self.head}")
        r = self.recount
        for platform in sorted(set(r.sources) | set(+r.source_likes) | set(+r.source_gifts)):
            votes = sum(sum(c.values()) for c in r.sources.get(platform, {}).values())
            out.append(
                f"source {platform:9}votes {votes}  likes {r.source_likes[platform]}  "
                f"gifts {r.source_gifts[platform]}"
            )
        out += [f"MISMATCH        {m}" for m in self.mismatches]
        out.append("verified" if self.ok else "VERIFY FAILED")
        return out


class Audit:
    """Chain check and recount in one pass: :meth:`feed` every entry, oldest first.

    ``pseudonym`` is the show's keyed hash for the live ledger, ``None`` for an anonymised
    export (whose personal fields are already hashed).
    """

    def __init__(self, pseudonym: Pseudonym | None) -> None:
        self.chain = ChainCheck(pseudonym)
        self.counted = Recount()

    def feed(self, entry_id: str, fields: Mapping[str, str]) -> None:
        self.chain.feed(entry_id, fields)
        self.counted.add(fields)

    def verdict(self) -> Verdict:
        c = self.chain
        return Verdict(c.count, c.head, c.first_break, self.counted)


def combine(verdicts: list[Verdict]) -> Verdict:
    """One verdict over a show's chains (partition 0 first): entries and recounts added, the
    first break found (its position is within its own chain), each chain's head kept."""
    if len(verdicts) == 1:
        return verdicts[0]
    total = Recount()
    for v in verdicts:
        total.merge(v.recount)
    first = next((v.first_break for v in verdicts if v.first_break is not None), None)
    out = Verdict(sum(v.entries for v in verdicts), verdicts[0].head, first, total)
    out.chains = [(v.entries, v.head) for v in verdicts]
    return out


def compare(
    verdict: Verdict,
    tallies: Mapping[str, Mapping[str, int]],
    likes: int,
    voided: Mapping[str, int],
    sources: Mapping[str, Mapping[str, Mapping[str, int]]] | None = None,
    source_likes: Mapping[str, int] | None = None,
    source_gifts: Mapping[str, int] | None = None,
) -> None:
    """Add a mismatch for every live figure that differs from the ledger's recount."""
    counted = verdict.recount
    ledger_tallies = counted.tally_dict()
    for cat in sorted(set(ledger_tallies) | {c for c, t in tallies.items() if any(t.values())}):
        live = {c: n for c, n in tallies.get(cat, {}).items() if n}
        mine = ledger_tallies.get(cat, {})
        for contestant in sorted(set(live) | set(mine)):
            if live.get(contestant, 0) != mine.get(contestant, 0):
                verdict.mismatches.append(
                    f"tally {cat}/{contestant}: live {live.get(contestant, 0)}, "
                    f"ledger {mine.get(contestant, 0)}"
                )
    sources = sources or {}
    ledger_sources = counted.source_dict()
    for platform in sorted(set(sources) | set(ledger_sources)):
        live_cats, mine_cats = sources.get(platform, {}), ledger_sources.get(platform, {})
        for cat in sorted(set(live_cats) | set(mine_cats)):
            live_t = {c: n for c, n in live_cats.get(cat, {}).items() if n}
            if live_t != mine_cats.get(cat, {}):
                verdict.mismatches.append(
                    f"chat votes {platform} {cat}: live {live_t}, ledger {mine_cats.get(cat, {})}"
                )
    for what, live_n, mine_n in (
        ("likes", source_likes or {}, counted.source_likes),
        ("gifts", source_gifts or {}, counted.source_gifts),
    ):
        for platform in sorted({p for p, n in live_n.items() if n} | set(+mine_n)):
            if live_n.get(platform, 0) != mine_n.get(platform, 0):
                verdict.mismatches.append(
                    f"{platform} {what}: live {live_n.get(platform, 0)}, "
                    f"ledger {mine_n.get(platform, 0)}"
                )
    if likes != counted.likes_counted:
        verdict.mismatches.append(f"likes counted: live {likes}, ledger {counted.likes_counted}")
    mine_voided = counted.voided_counts()
    for cat in sorted(set(mine_voided) | {c for c, n in voided.items() if n}):
        if voided.get(cat, 0) != mine_voided.get(cat, 0):
            verdict.mismatches.append(
                f"voided {cat}: live {voided.get(cat, 0)}, ledger {mine_voided.get(cat, 0)}"
            )
