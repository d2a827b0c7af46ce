"""Pure rules: ballot validation, subnets, the recount fold, settings."""

from __future__ import annotations

import pytest

from live.domain.ballot import Voter, make_ballot, parse_like, parse_vote
from live.domain.errors import BadRequest, ConfigError, UnknownCategory, UnknownContestant
from live.domain.ledger.recount import recount
from live.domain.net import subnet_of
from live.domain.show import load_show
from live.settings import Settings
from tests.helpers import SHOW


def test_parse_vote_names_every_bad_field() -> None:
    with pytest.raises(BadRequest) as err:
        parse_vote(b'{"category": 1, "vote_id": "short"}')
    assert "category" in err.value.message
    assert "contestant" in err.value.message
    assert "vote_id" in err.value.message


def test_make_ballot_checks_category_and_contestant() -> None:
    show = load_show(SHOW)
    vote = parse_vote({"category": "cap1", "contestant": "p1", "vote_id": "abcdefgh"})
    ballot = make_ballot(show, vote, Voter("dev", "10.1.2.3"))
    assert (ballot.category.id, ballot.subnet) == ("cap1", "10.1.2.0/24")
    with pytest.raises(UnknownCategory):
        make_ballot(
            show, parse_vote({**vote.model_dump(), "category": "zz"}), Voter("d", "1.1.1.1")
        )
    with pytest.raises(UnknownContestant):
        make_ballot(
            show, parse_vote({**vote.model_dump(), "contestant": "zz"}), Voter("d", "1.1.1.1")
        )


def test_like_size_is_bounded_by_the_show() -> None:
    show = load_show(SHOW)
    assert parse_like({"n": 200}, show).n == 200
    with pytest.raises(BadRequest):
        parse_like({"n": 201}, show)
    with pytest.raises(BadRequest):
        parse_like({"n": True}, show)


@pytest.mark.parametrize(
    ("ip", "net"),
    [
        ("192.168.7.200", "192.168.7.0/24"),
        ("2001:db8::1", "2001:db8::/64"),
        ("x", "x"),
        ("::ffff:192.168.7.9", "192.168.7.0/24"),
    ],  # a dual-stack socket's IPv4 client: its /24
)
def test_subnet_of(ip: str, net: str) -> None:
    assert subnet_of(ip) == net


def test_recount_counts_accepted_votes_and_likes_only() -> None:
    entries = [
        {"k": "vote", "st": "accepted", "cat": "a", "c": "x", "vid": "1"},
        {"k": "vote", "st": "accepted", "cat": "a", "c": "x", "vid": "2"},
        {"k": "vote", "st": "limited", "cat": "a", "c": "y", "vid": "3"},
        {"k": "likes", "taps": "30", "counted": "20"},
        {"k": "stage", "phase": "presenting", "c": "x"},
    ]
    out = recount(entries)
    assert out.tally_dict() == {"a": {"x": 2}}
    assert (out.likes_taps, out.likes_counted, out.entries) == (30, 20, 5)
    assert out.accepted_vote_ids == {"1", "2"}


def test_settings_are_read_once_and_checked() -> None:
    s = Settings.from_env({"REDIS_URL": "redis://x", "LIVE_PUSH_INTERVAL_MS": "100"})
    assert (s.redis_url, s.push_interval_ms, s.key_prefix) == ("redis://x", 100, "live")
    with pytest.raises(ConfigError):
        Settings.from_env({"LIVE_PUSH_INTERVAL_MS": "fast"})
    with pytest.raises(ConfigError):
        Settings.from_env({"LIVE_KEY_PREFIX": "a{b}"})
