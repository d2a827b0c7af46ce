"""The show's stage machine: phases, legal transitions, countdowns. Pure.

::

    waiting ──present/next──▶ presenting ──open_voting──▶ voting ──close_voting──▶ closed
                                 ▲   ▲                       │  (or its countdown ends)
                                 │   └──────next/present─────┼──────────────┐      │
                                 │                           ▼              │      ▼
                                 └───────next/present──── results ◀──show_results──┘
    pause: waiting|presenting|closed|results ⇄ paused (resume)     end: any ─▶ ended

An illegal action raises :class:`IllegalTransition` (HTTP 409). The Redis side applies a new
stage with a compare-and-set on ``rev``, so of two racing actions exactly one wins.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from live.domain.errors import BadRequest, LiveError
from live.domain.show import Show

Phase = Literal["waiting", "presenting", "voting", "closed", "results", "paused", "ended"]
PHASES: tuple[Phase, ...] = (
    "waiting",
    "presenting",
    "voting",
    "closed",
    "results",
    "paused",
    "ended",
)
ACTIONS = (
    "present",
    "next",
    "open_voting",
    "close_voting",
    "show_results",
    "pause",
    "resume",
    "end",
    "countdown",
)
MAX_SECONDS = 24 * 3600


class IllegalTransition(LiveError):
    code = "illegal_transition"
    status = 409


class StageConflict(LiveError):
    """Another change won the race too many times in a row."""

    code = "stage_conflict"
    status = 409


@dataclass(frozen=True, slots=True)
class Stage:
    phase: Phase = "waiting"
    contestant: str = ""
    """On stage (or, while waiting, up next)."""
    category: str = ""
    """The category of the voting window, or whose results are shown."""
    only: str = ""
    """While voting: the one contestant votes may go to; empty: any in the category."""
    deadline: int = 0
    """Countdown end (ms since the epoch); 0: no countdown."""
    resume: str = ""
    """While paused: the phase to go back to."""
    rev: int = 0
    since: int = 0

    def to_redis(self) -> dict[str, str]:
        return {
            "phase": self.phase,
            "contestant": self.contestant,
            "category": self.category,
            "only": self.only,
            "deadline": str(self.deadline),
            "resume": self.resume,
            "rev": str(self.rev),
            "since": str(self.since),
        }

    @classmethod
    def from_redis(cls, raw: dict[str, str]) -> Stage:
        phase = raw.get("phase", "waiting")
        return cls(
            phase=phase if phase in PHASES else "waiting",
            contestant=raw.get("contestant", ""),
            category=raw.get("category", ""),
            only=raw.get("only", ""),
            deadline=int(raw.get("deadline", 0) or 0),
            resume=raw.get("resume", ""),
            rev=int(raw.get("rev", 0) or 0),
            since=int(raw.get("since", 0) or 0),
        )


@dataclass(frozen=True, slots=True)
class Action:
    kind: str
    contestant: str = ""
    category: str = ""
    for_contestant: bool = False
    seconds: int = 0


@dataclass(frozen=True, slots=True)
class CategoryChange:
    """What a transition does to a category's live state in Redis."""

    category: str
    open: bool
    only: str
    until: int


def _need(stage: Stage, action: str, *phases: Phase) -> None:
    if stage.phase not in phases:
        allowed = ", ".join(phases)
        raise IllegalTransition(f"cannot {action} while {stage.phase} (only from {allowed})")


def _seconds(action: Action) -> int:
    if not 0 <= action.seconds <= MAX_SECONDS:
        raise BadRequest(f"seconds: between 0 and {MAX_SECONDS}")
    return action.seconds


def apply(stage: Stage, action: Action, show: Show, now_ms: int) -> Stage:
    """The stage after ``action``; :class:`IllegalTransition` if the action is not legal now."""
    seconds = _seconds(action)
    deadline = now_ms + seconds * 1000 if seconds else 0
    new: Stage
    if action.kind in ("present", "next"):
        _need(stage, action.kind, "waiting", "presenting", "closed", "results")
        order = [c.id for c in show.running_order()]
        if action.kind == "present":
            if action.contestant not in order:
                raise BadRequest(f"contestant: no contestant {action.contestant!r}")
            who = action.contestant
        elif stage.phase == "waiting":
            who = order[0]  # the running order may have been edited while waiting
        else:
            at = order.index(stage.contestant) if stage.contestant in order else -1
            if at + 1 >= len(order):
                raise IllegalTransition("the last contestant is on stage: there is no next")
            who = order[at + 1]
        new = Stage("presenting", who, deadline=deadline)
    elif action.kind == "open_voting":
        _need(stage, "open voting", "presenting", "closed", "results")
        cat = show.category(action.category)
        only = ""
        if action.for_contestant:
            if stage.contestant not in show.eligible(cat):
                raise IllegalTransition("the contestant on stage is not in that category")
            only = stage.contestant
        new = Stage("voting", stage.contestant, cat.id, only, deadline)
    elif action.kind == "close_voting":
        _need(stage, "close voting", "voting")
        new = Stage("closed", stage.contestant, stage.category)
    elif action.kind == "show_results":
        _need(stage, "show results", "closed", "results", "presenting")
        cat = show.category(action.category or stage.category)
        new = Stage("results", stage.contestant, cat.id)
    elif action.kind == "pause":
        _need(stage, "pause", "waiting", "presenting", "closed", "results")
        new = replace(stage, phase="paused", resume=stage.phase, deadline=0)
    elif action.kind == "resume":
        _need(stage, "resume", "paused")
        back = stage.resume if stage.resume in PHASES else "presenting"
        new = replace(stage, phase=back, resume="", deadline=deadline)
    elif action.kind == "end":
        if stage.phase == "ended":
            raise IllegalTransition("the show has already ended")
        new = Stage("ended", stage.contestant)
    elif action.kind == "countdown":
        _need(stage, "set the countdown", "waiting", "presenting", "voting", "closed", "results")
        new = replace(stage, deadline=deadline)
    else:
        raise BadRequest(f"action: unknown action {action.kind!r}")
    return replace(new, rev=stage.rev + 1, since=now_ms)


def category_changes(old: Stage, new: Stage) -> list[CategoryChange]:
    """Opening, re-timing or closing the voting window's category."""
    changes: list[CategoryChange] = []
    if old.phase == "voting" and (new.phase != "voting" or new.category != old.category):
        changes.append(CategoryChange(old.category, False, "", 0))
    if new.phase == "voting":
        changes.append(CategoryChange(new.category, True, new.only, new.deadline))
    return changes


def expired(stage: Stage, now_ms: int) -> bool:
    """Whether the voting window's countdown has run out (the server then closes it)."""
    return stage.phase == "voting" and 0 < stage.deadline <= now_ms
