"""Fraud signals on a generated show night: most bots flagged, almost no viewers."""

from __future__ import annotations

from collections import Counter

from live.domain.fraud import Detector, Signals
from tests.fraud_scenario import VENUE, generate


def test_bots_are_flagged_and_viewers_are_not() -> None:
    scenario = generate(seed=7)
    detector = Detector(Signals(), trusted=[f"{VENUE}/32"])
    for entry in scenario.entries:
        detector.feed(entry)
    flagged = detector.flagged()
    kinds = Counter(scenario.kind.values())
    hits = Counter(scenario.kind[v] for v in flagged)
    bots = sum(n for k, n in kinds.items() if k != "organic")
    bot_hits = sum(n for k, n in hits.items() if k != "organic")
    recall, false_rate = bot_hits / bots, hits["organic"] / kinds["organic"]
    print(
        f"\nbots flagged {bot_hits}/{bots} = {recall:.1%}; "
        f"organic flagged {hits['organic']}/{kinds['organic']} = {false_rate:.2%}"
    )
    for kind in sorted(kinds):
        print(f"  {kind:10} {hits[kind]:>5}/{kinds[kind]}")
    rules = Counter(c.rule for c in detector.clusters())
    print("  clusters by rule:", dict(sorted(rules.items())))
    assert kinds["organic"] == 10_000 and bots == 1_000
    assert recall >= 0.95
    assert false_rate <= 0.01
