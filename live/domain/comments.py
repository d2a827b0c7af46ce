"""Comments (and danmaku): a show's settings, what a phone sends, what a moderator does, and the
one record each comment is. Pure.

A comment's life: posted (checked here: length, id), filtered (:mod:`live.domain.wordfilter`):
``rejected`` with the filter's reason, else ``pending`` (``moderation = "pre"``, the default:
nothing reaches the stream before a moderator approves it) or ``approved`` at once
(``moderation = "post"``); a moderator then approves, rejects or bans (rejects the comment and
refuses the device's comments for the rest of the show). Only ``approved`` comments ever leave
the server (in snapshots); the sender is answered with the state of their own.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from live.domain.errors import BadRequest
from live.domain.wordfiles import WordFile, name_problem

STATES = ("pending", "approved", "rejected")
CommentId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
Word = Annotated[str, Field(min_length=1, max_length=40)]
Words = Annotated[tuple[Word, ...], Field(max_length=1000, strict=False)]


class CommentsConfig(BaseModel):
    """``[comments]`` of a show file."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    enabled: bool = True
    max_length: Annotated[int, Field(ge=1, le=500)] = 60
    """Characters of one comment (after trimming)."""
    moderation: Literal["pre", "post"] = "pre"
    """``pre``: a comment waits for a moderator before anyone sees it; ``post``: one the filter
    passes is shown at once (a moderator may still reject it)."""
    per_minute: Annotated[int, Field(ge=1, le=600)] = 6
    """Comments one device may post in one minute."""
    per_address_minute: Annotated[int, Field(ge=1, le=100_000)] = 60
    """Comments one client address may post in one minute, whatever its cookies (a venue's
    Wi-Fi puts many phones behind one address: set it to the crowd's size)."""
    per_subnet_minute: Annotated[int, Field(ge=1, le=100_000)] = 240
    """Comments one /24 (IPv4) or /64 (IPv6) may post in one minute."""
    repeat_seconds: Annotated[int, Field(ge=1, le=86_400)] = 60
    """The same text from one device within this many seconds is dropped."""
    wordlists: Annotated[
        tuple[Annotated[str, Field(max_length=300)], ...], Field(max_length=20, strict=False)
    ] = ()
    """Word-list files (relative to the show file, inside its folder: :mod:`live.domain.wordfiles`):
    one word a line (``=word``: not matched by sound), ``!phrase`` allows a phrase, ``#`` a
    comment line. A show set up in the browser names none (its words are edited in Redis)."""
    shown: Annotated[int, Field(ge=1, le=100)] = 20
    """Approved comments every snapshot carries (the newest)."""
    danmaku: bool = True
    """Whether the overlay's danmaku layer starts on (the admin turns it on and off)."""
    density: Annotated[int, Field(ge=1, le=50)] = 8
    """Danmaku on the overlay's screen at once, at most (the admin changes it live)."""

    _files: tuple[WordFile, ...] = PrivateAttr(default=())
    """The word lists as read when the show file was loaded (:func:`live.domain.show.load_show`);
    never set from a document, so nothing a request sends makes the server read a file."""

    @field_validator("wordlists")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            problem = name_problem(name)
            if problem is not None:
                raise ValueError(f"{name!r}: {problem}")
        return value

    @property
    def files(self) -> tuple[WordFile, ...]:
        """The word lists read from the show file's folder (none for a browser show)."""
        return self._files

    def with_files(self, files: tuple[WordFile, ...]) -> CommentsConfig:
        """This config holding the word lists read for it (the names stay as the file says)."""
        out = self.model_copy()
        out._files = files
        return out


class CommentIn(BaseModel):
    """The body of ``POST /api/shows/{show}/comments`` (and of a websocket ``comment``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    text: Annotated[str, Field(min_length=1, max_length=2000)]
    comment_id: CommentId
    """Made by the phone, so that a retry of the same comment is safe."""


class CommentOpIn(BaseModel):
    """The body of ``POST /api/shows/{show}/comments/{id}``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    op: Literal["approve", "reject", "ban"]
    reason: Annotated[str, Field(max_length=200)] = ""
    """Why (kept with the decision; a ban's reason is in the moderation log)."""


class WordListIn(BaseModel):
    """The body of ``POST /api/shows/{show}/wordlist``: words to list, to unlist, phrases to
    allow and to stop allowing. Applied to the next comment, in every process."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    add: Words = ()
    remove: Words = ()
    allow: Words = ()
    disallow: Words = ()


class DanmakuIn(BaseModel):
    """The body of ``POST /api/shows/{show}/danmaku``: the overlay's danmaku layer."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    enabled: bool | None = None
    density: Annotated[int, Field(ge=1, le=50)] | None = None
    pin: Annotated[str, Field(max_length=64)] | None = None
    """An approved comment's id to pin at the top of the overlay (at most :data:`PINS`)."""
    unpin: Annotated[str, Field(max_length=64)] | None = None


PINS = 3
"""Pinned messages on the overlay at once."""


def clean_text(text: str, max_length: int) -> str:
    """The text as kept: control characters (but not the zero-width ones the filter must see)
    become spaces, runs of spaces one, the ends trimmed; :class:`BadRequest` when nothing is
    left or it is longer than ``max_length`` characters."""
    chars = [
        " " if unicodedata.category(c) == "Cc" or c.isspace() else c for c in text
    ]  # newlines and tabs: one line on a strip and on a screen
    out = " ".join("".join(chars).split())
    if not out:
        raise BadRequest("text: a comment needs some text")
    if len(out) > max_length:
        raise BadRequest(f"text: at most {max_length} characters (this one has {len(out)})")
    return out


def comment_key(device: str, comment_id: str) -> str:
    """The server's id of a device's comment: 16 hex digits of SHA-256 of both (two phones may
    pick the same ``comment_id``; one phone's retry finds its own)."""
    return hashlib.sha256(f"{device}\0{comment_id}".encode()).hexdigest()[:16]


def text_key(text: str) -> str:
    """What "the same text" means for the repeat check: case and spacing ignored."""
    return hashlib.sha256(" ".join(text.casefold().split()).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Comment:
    """One comment as stored (JSON in the show's comments hash)."""

    id: str
    text: str
    state: str
    """``pending``, ``approved`` or ``rejected``."""
    at: int
    """When it was posted (ms)."""
    src: str
    """``web``, or the platform it came from (``bilibili``, ``douyin``, ``twitch``)."""
    dev: str
    """The device's (or platform user's) keyed pseudonym: what a ban names."""
    reason: str = ""
    """Why it was rejected: a filter reason (``word``, ``link``, ``phone``, ``qq``) or
    ``moderator``."""
    masked: str = ""
    """The text with the filter's matches masked (what moderators read first)."""
    hits: tuple[tuple[int, int, str], ...] = ()
    """The filter's matches: (start, end, kind) in the text's characters."""
    by: str = ""
    """Who decided (a moderator's name), '' for the filter or the show's mode."""
    note: str = ""
    """The moderator's reason."""
    decided: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Comment:
        data = json.loads(raw)
        data["hits"] = tuple(tuple(h) for h in data.get("hits", ()))
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def shown(self) -> str:
        """What viewers and the overlay get of an approved comment (no pseudonym): the member
        of the show's feed, as exact JSON (a rejection removes it by this value)."""
        return json.dumps(
            {"id": self.id, "text": self.text, "src": self.src, "at": self.at},
            ensure_ascii=False,
            separators=(",", ":"),
        )

    def public(self) -> dict[str, Any]:
        """What a moderator's list shows."""
        out = asdict(self)
        out["hits"] = [list(h) for h in self.hits]
        return out
