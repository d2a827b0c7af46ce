"""Votes, voids and restores in any order, on a real Redis: the live tallies equal the ledger's
recount, and the result equals the one computed from scratch."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from live.domain.ballot import Voter, make_ballot, parse_vote
from live.domain.judging import inputs_from
from live.domain.ledger.audit import Audit, compare
from live.domain.ledger.replay import Replay, same_result
from live.domain.reconcile import Inputs, reconcile
from live.domain.show import load_show
from live.redis.moderation import ModerationStore
from live.redis.store import Store, make_client
from tests.helpers import SHOW

SHOW_T = load_show(SHOW)
CAT = SHOW_T.category("cap20")

vote = st.tuples(
    st.just("vote"),
    st.sampled_from(["d1", "d2", "d3", "d4"]),
    st.sampled_from(["p1", "p2", "p3", "p4", "p5"]),
)
some = st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=4)
void = st.tuples(st.sampled_from(["void", "restore"]), some)
ops = st.lists(st.one_of(vote, vote, void), max_size=50)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seq=ops)
def test_tallies_equal_the_recount_and_the_result_equals_one_from_scratch(
    redis_url: str, seq: list[Any]
) -> None:
    async def run() -> None:
        client = make_client(redis_url, 4, 2000)
        store = Store(client, "v" + uuid.uuid4().hex[:10], 2000)
        moderation = ModerationStore(store)
        try:
            await store.init_show(SHOW_T)
            cast: list[tuple[str, str]] = []  # (vote id, contestant) of accepted votes
            voided: set[str] = set()
            for n, op in enumerate(seq):
                if op[0] == "vote":
                    _, device, who = op
                    vid = f"prop-{n:04d}"
                    body = {"category": CAT.id, "contestant": who, "vote_id": vid}
                    ballot = make_ballot(SHOW_T, parse_vote(body), Voter(device, "10.0.0.1"))
                    if (await store.cast_vote(ballot, n, SHOW_T)).status == "accepted":
                        cast.append((vid, who))
                    continue
                vids = [cast[i][0] for i in op[1] if i < len(cast)] + ["prop-none"]
                done = await moderation.moderate(SHOW_T, op[0], vids, "moderator:m", "why", "")
                targets = set(vids[:-1])
                expected = targets - voided if op[0] == "void" else targets & voided
                assert done.changed == len(expected) and done.unknown == 1
                voided = voided | targets if op[0] == "void" else voided - targets

            # The model: accepted minus voided.
            model = Counter(who for vid, who in cast if vid not in voided)
            state = await store.read_state(SHOW_T)
            assert {c: n for c, n in state.tallies[CAT.id].items() if n} == +model
            assert state.voided.get(CAT.id, 0) == len(voided)

            # The ledger: chain intact, recount with voids applied equals the live tallies.
            audit = Audit(await store.pseudonym(SHOW_T.id))
            replay = Replay(SHOW_T)
            async for entry_id, fields in store.ledger_entries(SHOW_T.id):
                audit.feed(entry_id, fields)
                replay.feed(entry_id, fields)
            verdict = audit.verdict()
            compare(verdict, state.tallies, state.likes, state.voided)
            assert verdict.ok, verdict.lines()

            # The reconciler: live read == ledger replay == inputs built from the model.
            read = await store.judging_read(SHOW_T.id, CAT.id)
            live = reconcile(CAT.rules, inputs_from(SHOW_T, CAT, read, ()))
            assert same_result(live.to_json(), replay.result(CAT.id))
            order = SHOW_T.eligible(CAT)
            scratch = Inputs(
                order=order, votes={c: model[c] for c in order}, position=read.position
            )
            assert same_result(live.to_json(), reconcile(CAT.rules, scratch))
        finally:
            await client.aclose()
            await client.connection_pool.disconnect()

    asyncio.run(run())
