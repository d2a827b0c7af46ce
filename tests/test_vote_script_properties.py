"""Properties of the vote script on a real Redis, for many generated sequences of votes."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from live.domain.ballot import Voter, make_ballot, parse_vote
from live.domain.show import load_show
from live.redis.store import Store, make_client
from tests.helpers import SHOW

SHOW_T = load_show(SHOW)

votes = st.lists(
    st.tuples(
        st.sampled_from(["d1", "d2", "d3"]),
        st.sampled_from(["cap1", "cap20", "shut"]),
        st.sampled_from(["p1", "p2", "p3"]),
        st.integers(min_value=0, max_value=40),  # small id space: retries and reuse happen
    ),
    max_size=60,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seq=votes)
def test_caps_idempotency_and_recount_hold_for_any_sequence(
    redis_url: str, seq: list[tuple[str, str, str, int]]
) -> None:
    async def run() -> None:
        client = make_client(redis_url, 4, 2000)
        store = Store(client, "p" + uuid.uuid4().hex[:10], 2000)
        try:
            await store.init_show(SHOW_T)
            first_use: dict[str, tuple[str, str, str]] = {}
            accepted: Counter[tuple[str, str]] = Counter()
            for device, cat, who, n in seq:
                vote = parse_vote({"category": cat, "contestant": who, "vote_id": f"vote-{n:04d}"})
                outcome = await store.cast_vote(
                    make_ballot(SHOW_T, vote, Voter(device, "10.0.0.1")), 0, SHOW_T
                )
                key = vote.vote_id
                if (
                    key in first_use
                    and first_use[key] == (device, cat, who)
                    and outcome.reason == "replay"
                ):
                    continue
                if outcome.status == "accepted":
                    assert key not in first_use  # a vote_id is counted at most once
                    first_use[key] = (device, cat, who)
                    accepted[(device, cat)] += 1
                assert outcome.status != "accepted" or cat != "shut"
            for (_device, cat), n in accepted.items():
                assert n <= SHOW_T.category(cat).votes_per_device
            state = await store.read_state(SHOW_T)
            counted = await store.recount(SHOW_T.id)
            live = {c: {k: v for k, v in t.items() if v} for c, t in state.tallies.items()}
            assert counted.tally_dict() == {c: t for c, t in live.items() if t}
            assert sum(accepted.values()) == len(counted.accepted_vote_ids)
        finally:
            await client.aclose()
            await client.connection_pool.disconnect()

    asyncio.run(run())
