"""The one event every platform adapter produces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Platform = Literal["bilibili", "douyin", "twitch"]
PLATFORMS: tuple[Platform, ...] = ("bilibili", "douyin", "twitch")
Kind = Literal["comment", "like", "gift"]

MAX_TEXT = 200
"""Characters of a comment kept (a chat vote is a few; the rest is chat)."""


@dataclass(slots=True)  # not frozen: one is built per platform event (frozen: 2x the cost)
class Event:
    """A platform's live event, normalised.

    ``event_id`` is the platform's own id (``msg_id``, ``message_id``): delivery is at least
    once, and ``platform:event_id`` is what de-duplicates. ``user`` is the platform's id of the
    viewer (an app-scoped open id), ``count`` how many likes or gifts the event carries (1 for
    a comment), ``platform_ts`` when the platform says it happened (ms).
    """

    platform: Platform
    room: str
    event_id: str
    user: str
    kind: Kind
    text: str = ""
    count: int = 1
    platform_ts: int = 0

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.event_id}"


def clean_text(text: object) -> str:
    """A text of a platform's JSON: a string (or a number) cut to :data:`MAX_TEXT`; anything
    else (a list, an object: never printed, which could recurse) is no text."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        return ""
    return str(text)[:MAX_TEXT]


def clean_id(value: object) -> str:
    """An id of a platform's JSON (a message's, a user's): a string or a number, at most 128
    characters; '' for anything else."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    return str(value)[:128]


def clean_count(value: object, default: int = 1) -> int:
    """A count from a platform's JSON: a non-negative int, at most a million per event."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return default
    try:
        n = int(str(value))
    except (TypeError, ValueError):
        return default
    return max(0, min(n, 1_000_000))


def seconds_ms(value: object) -> int:
    """A platform's timestamp in seconds (as JSON gives it) in ms; 0 when absent or absurd."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return 0
    try:
        seconds = float(str(value))
    except ValueError:
        return 0
    return int(seconds * 1000) if 0 < seconds < 10_000_000_000 else 0
