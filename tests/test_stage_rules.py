"""The stage machine, pure: legal transitions, refusals, countdowns, category effects."""

from __future__ import annotations

import pytest

from live.domain.errors import BadRequest
from live.domain.show import load_show
from live.domain.stage import (
    Action,
    CategoryChange,
    IllegalTransition,
    Stage,
    apply,
    category_changes,
    expired,
)
from tests.helpers import SHOW

S = load_show(SHOW)
NOW = 1_000_000


def run(*actions: Action, start: Stage | None = None) -> Stage:
    stage = start or Stage(contestant="p1")
    for action in actions:
        stage = apply(stage, action, S, NOW)
    return stage


def test_a_full_round_for_one_contestant() -> None:
    stage = run(
        Action("next"),
        Action("open_voting", category="cap20", for_contestant=True, seconds=30),
        Action("close_voting"),
        Action("show_results"),
        Action("next"),
    )
    assert (stage.phase, stage.contestant, stage.rev) == ("presenting", "p2", 5)


def test_voting_window_carries_its_deadline_and_contestant() -> None:
    stage = run(
        Action("next"), Action("open_voting", category="cap20", for_contestant=True, seconds=30)
    )
    assert (stage.phase, stage.category, stage.only, stage.deadline) == (
        "voting",
        "cap20",
        "p1",
        NOW + 30_000,
    )
    assert not expired(stage, NOW + 29_999)
    assert expired(stage, NOW + 30_000)


@pytest.mark.parametrize(
    ("start", "action"),
    [
        ("waiting", Action("close_voting")),
        ("waiting", Action("open_voting", category="cap1")),
        ("voting", Action("next")),
        ("voting", Action("pause")),
        ("presenting", Action("resume")),
        ("ended", Action("next")),
        ("ended", Action("end")),
        ("paused", Action("countdown", seconds=5)),
    ],
)
def test_illegal_transitions_are_refused(start: str, action: Action) -> None:
    with pytest.raises(IllegalTransition):
        apply(Stage(phase=start, contestant="p1", category="cap1"), action, S, NOW)  # type: ignore[arg-type]


def test_next_after_the_last_contestant_is_refused() -> None:
    with pytest.raises(IllegalTransition):
        apply(Stage(phase="presenting", contestant="p5"), Action("next"), S, NOW)


def test_pause_and_resume_return_to_the_same_phase() -> None:
    stage = run(Action("next"), Action("pause"), Action("resume"))
    assert (stage.phase, stage.contestant) == ("presenting", "p1")


def test_bad_arguments_are_bad_requests() -> None:
    with pytest.raises(BadRequest):
        run(Action("present", contestant="ghost"))
    with pytest.raises(BadRequest):
        run(Action("next", seconds=-1))
    with pytest.raises(BadRequest):
        run(Action("dance"))


def test_category_changes_open_retime_and_close_the_window() -> None:
    presenting = run(Action("next"))
    voting = apply(presenting, Action("open_voting", category="cap1", seconds=10), S, NOW)
    retimed = apply(voting, Action("countdown", seconds=60), S, NOW)
    closed = apply(retimed, Action("close_voting"), S, NOW)
    ended = apply(voting, Action("end"), S, NOW)
    assert category_changes(presenting, voting) == [CategoryChange("cap1", True, "", NOW + 10_000)]
    assert category_changes(voting, retimed) == [CategoryChange("cap1", True, "", NOW + 60_000)]
    assert category_changes(retimed, closed) == [CategoryChange("cap1", False, "", 0)]
    assert category_changes(voting, ended) == [CategoryChange("cap1", False, "", 0)]
