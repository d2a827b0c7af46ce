"""What the server reads and decides, as plain values: a show's state, vote and like outcomes,
judging reads. Pure data; the Redis adapter builds these, everything above reads them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from live.domain.stage import Stage


@dataclass(frozen=True, slots=True)
class VoteOutcome:
    status: str
    """``accepted``, ``duplicate``, ``limited`` or ``closed``."""
    reason: str
    retry_after_ms: int
    ledger_id: str
    version: int
    left: int = -1
    """Votes the device has left in the category after this one (accepted, or refused at its
    cap: 0); -1 when this answer does not say (ask ``GET /api/shows/{show}/me``)."""


@dataclass(frozen=True, slots=True)
class LikeOutcome:
    taps: int
    counted: int
    version: int


@dataclass(frozen=True, slots=True)
class CategoryState:
    open: bool
    only: str
    until: int = 0
    started: bool = False
    cap: int = 1
    per: int = 0
    hide: bool = False


@dataclass(frozen=True, slots=True)
class Display:
    """What the admin chose to show: revealed categories, the overlay's category, a freeze."""

    revealed: frozenset[str] = frozenset()
    overlay_category: str = ""
    frozen: dict[str, dict[str, int]] | None = None
    overlay_top: int = 10
    """How many contestants the overlay's board shows (set by the admin)."""

    @classmethod
    def from_redis(cls, raw: dict[str, str], revealed: set[str]) -> Display:
        frozen = raw.get("frozen")
        return cls(
            revealed=frozenset(revealed),
            overlay_category=raw.get("overlay_category", ""),
            frozen=json.loads(frozen) if frozen else None,
            overlay_top=int(raw.get("overlay_top") or 10),
        )


@dataclass(frozen=True, slots=True)
class ShowState:
    """A consistent read of everything a viewer sees (taken in one atomic script call)."""

    version: int
    stage: Stage
    categories: dict[str, CategoryState]
    tallies: dict[str, dict[str, int]]
    taps: int
    likes: int
    display: Display = Display()
    edits: dict[str, dict[str, str]] = field(default_factory=dict)
    """Contestant details edited before the show: contestant -> field -> value."""
    published: dict[str, int] = field(default_factory=dict)
    """category -> the latest published result's version."""
    voided: dict[str, int] = field(default_factory=dict)
    """category -> accepted votes a moderator voided (public)."""
    heads: dict[str, dict[str, Any]] = field(default_factory=dict)
    """category -> the ledger's head ``{n, h, id, t}`` when its voting last closed."""
    sources: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    """Chat votes from each platform: platform -> category -> contestant -> votes."""
    source_likes: dict[str, int] = field(default_factory=dict)
    source_gifts: dict[str, int] = field(default_factory=dict)
    ledger_last: str = "0-0"
    """The id of the ledger's last entry when this was read: the figures above are exactly
    those of the ledger up to it (a recount reads that far and no further)."""
    comments: tuple[dict[str, Any], ...] = ()
    """The newest approved comments, oldest first: ``{id, text, src, at}``."""
    danmaku: dict[str, str] = field(default_factory=dict)
    """The overlay's danmaku layer as the admin set it: ``enabled``, ``density``, ``pinned``."""


@dataclass(frozen=True, slots=True)
class SheetRef:
    """One judge's sheet for one contestant in one category."""

    show: str
    category: str
    contestant: str
    judge: str

    @property
    def key(self) -> str:
        """The field of the sheets (and approvals) hash: ``judge|contestant``."""
        return f"{self.judge}|{self.contestant}"


@dataclass(frozen=True, slots=True)
class JudgingRead:
    """One consistent read (one atomic script call) of what a category's result depends on."""

    tallies: dict[str, int]
    position: str
    """The id of the last ledger entry at the time of the read ("0-0": empty ledger)."""
    sheets: dict[str, dict[str, Any]]
    approvals: dict[str, str]
    sources: dict[str, dict[str, int]] = field(default_factory=dict)
    """Chat votes per platform in the category at the same instant: platform -> contestant ->
    votes (partition 0's, where every platform event is counted)."""


def parse_edits(raw: dict[str, str]) -> dict[str, dict[str, str]]:
    """``{"c01:name": "X"}`` -> ``{"c01": {"name": "X"}}`` (one hash field per edited value,
    so two admins editing different fields never overwrite each other)."""
    out: dict[str, dict[str, str]] = {}
    for key, value in raw.items():
        who, _, name = key.partition(":")
        out.setdefault(who, {})[name] = value
    return out
