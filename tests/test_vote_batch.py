"""Votes cast together go to Redis in one script call, and each is decided exactly as it would
be alone: the same answers, tallies and ledger as casting them one by one. Real Redis."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

from live.domain.ballot import Ballot, Voter, make_ballot, parse_vote
from live.domain.show import load_show
from live.redis.store import Store, make_client
from tests.helpers import BIG, SHOW, vote_body

SHOW_T = load_show(SHOW)


def ballots(n: int, seed: int) -> list[Ballot]:
    """A mix that makes every rule fire inside one batch: caps of 1 and 20, a closed category,
    the same vote sent twice (a replay) and a vote_id reused for another contestant."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        vid = f"batch-{seed}-{rng.randrange(max(1, n // 2)):04d}"  # some ids come twice
        body = {
            "category": rng.choice(["cap1", "cap20", "cap20", "shut"]),
            "contestant": rng.choice(["p1", "p2", "p3"]),
            "vote_id": vid,
        }
        device = f"d{rng.randrange(6)}"
        out.append(make_ballot(SHOW_T, parse_vote(body), Voter(device, f"10.0.{i % 3}.1")))
    return out


def count_calls(store: Store) -> list[int]:
    """Count the store's vote.lua calls (a spy around the real script: it still runs)."""
    calls: list[int] = []
    script = store.script("vote.lua")

    def counted(**kw: Any) -> Any:
        calls.append(len(kw["args"]))
        return script(**kw)

    store._scripts["vote.lua"] = counted  # type: ignore[assignment]
    return calls


async def test_a_batch_is_one_call_and_equals_voting_one_by_one(redis_url: str) -> None:
    client = make_client(redis_url, 4, 5000)
    together = Store(client, "b" + uuid.uuid4().hex[:10], 5000)
    alone = Store(client, "b" + uuid.uuid4().hex[:10], 5000)
    try:
        for store in (together, alone):
            await store.init_show(SHOW_T)
            await store.cast_vote(ballots(1, 0)[0], 1, SHOW_T)  # the script is loaded
        votes = ballots(60, 7)
        calls = count_calls(together)
        batched = await asyncio.gather(*(together.cast_vote(b, 10, SHOW_T) for b in votes))
        assert calls == [60]  # 60 votes, one call
        single = [await alone.cast_vote(b, 10, SHOW_T) for b in votes]
        answers = [(o.status, o.reason, o.retry_after_ms) for o in batched]
        assert answers == [(o.status, o.reason, o.retry_after_ms) for o in single]
        assert {a[1] for a in answers} >= {"", "replay", "vote_id_reused", "cap_reached"}
        assert {a[0] for a in answers} >= {"accepted", "closed", "duplicate"}
        a, b = await together.read_state(SHOW_T), await alone.read_state(SHOW_T)
        assert a.tallies == b.tallies and a.version == b.version
        live = {cat: {c: n for c, n in t.items() if n} for cat, t in a.tallies.items()}
        assert (await together.recount(SHOW_T.id)).tally_dict() == {
            k: v for k, v in live.items() if v
        }
    finally:
        await client.aclose()
        await client.connection_pool.disconnect()


async def test_a_batch_never_mixes_shows(redis_url: str) -> None:
    """One call per show: a call's keys all carry one ``{show}`` tag (one Cluster slot)."""
    big = load_show(BIG)
    client = make_client(redis_url, 4, 5000)
    store = Store(client, "b" + uuid.uuid4().hex[:10], 5000)
    try:
        for show in (SHOW_T, big):
            await store.init_show(show)
            await store.pseudonym(show.id)  # made once per show: then votes queue at once
        calls: list[list[str]] = []
        script = store.script("vote.lua")

        def spy(**kw: Any) -> Any:
            calls.append(kw["keys"])
            return script(**kw)

        store._scripts["vote.lua"] = spy  # type: ignore[assignment]
        t_votes = ballots(10, 3)
        bodies = [parse_vote(vote_body("all", "b1", f"big-vote-{i:04d}")) for i in range(10)]
        big_votes = [make_ballot(big, b, Voter(f"e{i}", "10.1.0.1")) for i, b in enumerate(bodies)]
        answers = await asyncio.gather(
            *(store.cast_vote(b, 10, SHOW_T) for b in t_votes),
            *(store.cast_vote(b, 10, big) for b in big_votes),
        )
        assert [o.status for o in answers[10:]] == ["accepted"] * 10
        assert len(calls) == 2
        tags = [{key.split("}")[0] for key in keys} for keys in calls]
        assert sorted(len(t) for t in tags) == [1, 1] and tags[0] != tags[1]
    finally:
        await client.aclose()
        await client.connection_pool.disconnect()
