"""The batched folds (``Recount.add_many``, ``Replay.feed_many``) equal entry-by-entry folding,
whatever the order of votes, voids, restores, refusals, likes and sheet entries. Pure."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from live.domain.ledger.recount import Recount
from live.domain.ledger.replay import Replay
from live.domain.show import load_show
from tests.helpers import SHOW

SHOW_T = load_show(SHOW)

vid = st.sampled_from([f"v{i}" for i in range(8)])
accepted = st.builds(
    lambda v, cat, c: {"k": "vote", "st": "accepted", "vid": v, "cat": cat, "c": c},
    vid,
    st.sampled_from(["cap20", "open"]),
    st.sampled_from(["p1", "p2", "p3"]),
)
refused = st.builds(
    lambda more: {"k": "vote", "st": "limited", "vid": "r", "more": str(more)},
    st.integers(0, 5),
)
moderation = st.builds(lambda k, v: {"k": k, "vid": v}, st.sampled_from(["void", "restore"]), vid)
likes = st.builds(
    lambda t, c: {"k": "likes", "taps": str(t), "counted": str(c)},
    st.integers(0, 50),
    st.integers(0, 50),
)
entries = st.lists(st.one_of(accepted, accepted, refused, moderation, likes), max_size=60)


def fields(r: Recount) -> tuple[Any, ...]:
    return (
        r.tally_dict(),
        r.entries,
        r.refused,
        r.voided,
        r.targets,
        r.likes_taps,
        r.likes_counted,
        r.voided_counts(),
    )


@given(seq=entries)
def test_add_many_equals_adding_one_by_one(seq: list[dict[str, str]]) -> None:
    one = Recount()
    for e in seq:
        one.add(e)
    many = Recount()
    many.add_many(seq)
    assert fields(many) == fields(one)


@given(seq=entries)
def test_feed_many_equals_feeding_one_by_one(seq: list[dict[str, str]]) -> None:
    rows = [(f"{i + 1}-0", e) for i, e in enumerate(seq)]
    one, many = Replay(SHOW_T), Replay(SHOW_T)
    for entry_id, e in rows:
        one.feed(entry_id, e)
    many.feed_many(rows)
    assert fields(many.counted) == fields(one.counted)
    assert many.position == one.position
    assert many.result("cap20").to_json() == one.result("cap20").to_json()
