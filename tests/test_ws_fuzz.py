"""5,000 generated hostile websocket messages per role, over real sockets: each one gets a
documented answer (a typed error, pong, vote_result or like_ack), no socket is closed, and a
viewer connected throughout is still served afterwards."""

from __future__ import annotations

import json

from loadtest.chaos import wsfuzz
from loadtest.chaos.access import cli_env
from loadtest.target import BENCH_SHOW, LiveTarget

PER_ROLE = 5_000


async def test_generated_messages_each_get_a_documented_answer_for_every_role() -> None:
    # A `live serve` process of its own: 35,000 round trips run ~10x faster than against a
    # server sharing the test's event loop.
    with LiveTarget(BENCH_SHOW, env=wsfuzz.ENV) as target:
        env = cli_env(target.data_dir, BENCH_SHOW)
        outcomes, served = await wsfuzz.fuzz_roles(target.url, target.port, env, PER_ROLE, 1)
        health = target.log_tail(200)
    for role, out in outcomes.items():
        print(f"\n{out.line(role)}", end="")
    assert set(outcomes) == {"viewer", "device", "admin", "judge", "moderator", "streamer",
                             "overlay-key"}  # fmt: skip
    for out in outcomes.values():
        assert out.bad == [] and out.close_code is None
        assert out.sent == PER_ROLE and sum(out.replies.values()) == PER_ROLE
        assert out.replies["bad_request"] > 1000
    assert outcomes["device"].replies["vote_result"] > 0
    assert served
    assert "Traceback" not in health and "unexpected error" not in health


def test_the_generator_covers_every_kind_of_hostile_message() -> None:
    sample = list(wsfuzz.messages(seed=7, n=2000))
    assert len(set(sample)) > 900
    assert any(m.startswith('{"type":"like","n":9999') for m in sample)  # huge numbers
    assert any("[[[[[[[[[[" in m for m in sample)  # deep nesting
    assert any(m.startswith('{"type":"ping","type"') for m in sample)  # duplicate keys
    invalid = 0
    for m in sample:
        try:
            json.loads(m)
        except (ValueError, RecursionError):
            invalid += 1
    assert invalid > 50
