"""Redis side of comments: one ``comment.lua`` step per post, one ``comment_op.lua`` step per
moderator decision, the word-list edits, the danmaku layer's settings, and the reads behind the
moderators' queue. Everything of a show's comments lives in partition 0 (``{show}``)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from live.domain.comments import Comment
from live.redis.base import Op, Read
from live.redis.store import Store

WORD_KINDS = ("add", "remove", "allow", "disallow")


@dataclass(frozen=True, slots=True)
class Posted:
    """What ``comment.lua`` decided."""

    status: str
    """``ok``, ``exists``, ``stale``, ``banned``, ``duplicate`` or ``limited``."""
    version: int = 0
    retry_after_ms: int = 0
    existing: Comment | None = None
    rev: str = ""
    limit: str = ""
    """Which window refused a ``limited`` comment: ``device``, ``address`` or ``subnet``."""


@dataclass(frozen=True, slots=True)
class Sender:
    """Where a phone's comment came from, as its windows name it (pseudonyms), and the
    comments each window allows a minute."""

    address: str
    per_address: int
    subnet: str
    per_subnet: int


@dataclass(frozen=True, slots=True)
class WordEdits:
    """The admins' edits over the show file's lists, at one revision."""

    rev: str
    add: frozenset[str]
    remove: frozenset[str]
    allow: frozenset[str]
    disallow: frozenset[str]


class CommentStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.client = store.client
        self._post = store.script("comment.lua")
        self._decide = store.script("comment_op.lua")
        self._pin = store.script("pin.lua")

    async def post(
        self,
        show: str,
        comment: Comment,
        rev: str,
        per_window: int,
        window: int,
        window_end_ms: int,
        repeat_ms: int,
        text_key: str,
        sender: Sender | None = None,
    ) -> Posted:
        """Decide one comment (``comment.lua``). ``sender``: the address and subnet windows
        (by pseudonym) of a comment from a phone; a platform's chat comment has none."""
        k = self.store.keys(show)
        sender = sender or Sender("-", 0, "-", 0)
        keys = [
            k.comments,
            k.comment_state(comment.state),
            k.comment_feed,
            k.version,
            k.comment_bans,
            k.words_rev,
            k.comment_window(comment.dev, window),
            k.comment_repeat(comment.dev, text_key),
            k.comment_device(comment.dev),
            k.comment_address_window(sender.address, window),
            k.comment_subnet_window(sender.subnet, window),
        ]
        args: list[str | int] = [
            comment.id, comment.at, rev, comment.state, comment.to_json(), per_window,
            window_end_ms, repeat_ms, comment.dev, comment.shown(), sender.per_address,
            sender.per_subnet,
        ]  # fmt: skip
        raw: list[Any] = await self.store.call(self._post(keys=keys, args=args))
        status = str(raw[0])
        if status == "ok":
            return Posted(status, version=int(raw[1]))
        if status == "exists":
            return Posted(status, existing=Comment.from_json(raw[1]))
        if status == "stale":
            return Posted(status, rev=str(raw[1]))
        if status == "limited":
            return Posted(status, retry_after_ms=int(raw[1]), limit=str(raw[2]))
        return Posted(status)

    async def decide(
        self, show: str, comment: Comment, op: str, by: str, note: str, now_ms: int
    ) -> tuple[Comment, int, int] | None:
        """Apply a moderator's ``op``; (the comment after it, the show's version if viewers'
        view changed else 0, comments a ban also rejected), or None if there is no such
        comment."""
        k = self.store.keys(show)
        keys = [
            k.comments,
            *(k.comment_state(s) for s in ("pending", "approved", "rejected")),
            k.comment_feed,
            k.version,
            k.comment_bans,
            k.moderation_log,
            k.comment_device(comment.dev),
        ]
        args: list[str | int] = [comment.id, op, by, note, now_ms, comment.shown()]
        raw: list[Any] = await self.store.call(self._decide(keys=keys, args=args))
        if str(raw[0]) != "ok":
            return None
        return Comment.from_json(raw[1]), int(raw[2]), int(raw[3])

    async def get(self, show: str, comment_id: str) -> Comment | None:
        raw: Any = await self.store.call(
            self.client.hget(self.store.keys(show).comments, comment_id)
        )
        return Comment.from_json(raw) if raw else None

    async def listed(self, show: str, state: str, limit: int, oldest_first: bool) -> list[Comment]:
        """The comments in ``state``: the oldest ``limit`` (a queue) or the newest."""
        k = self.store.keys(show)
        zset = k.comment_state(state)
        if oldest_first:
            ids: Any = await self.store.call(self.client.zrange(zset, 0, limit - 1))
        else:
            ids = await self.store.call(self.client.zrange(zset, 0, limit - 1, desc=True))
        if not ids:
            return []
        raw: Any = await self.store.call(self.client.hmget(k.comments, ids))
        return [Comment.from_json(r) for r in raw if r]

    async def counts(self, show: str) -> dict[str, int]:
        k = self.store.keys(show)
        pipe = self.client.pipeline(transaction=False)
        for state in ("pending", "approved", "rejected"):
            pipe.zcard(k.comment_state(state))
        pipe.scard(k.comment_bans)
        raw: list[Any] = await self.store.call(pipe.execute())
        return {
            "pending": int(raw[0]),
            "approved": int(raw[1]),
            "rejected": int(raw[2]),
            "banned": int(raw[3]),
        }

    async def word_edits(self, show: str) -> WordEdits:
        k = self.store.keys(show)
        reads: list[Read] = [("HGET", k.words_rev, "rev")]
        reads += [("SMEMBERS", k.words(kind)) for kind in WORD_KINDS]
        raw = await self.store.read_at_once(show, reads)
        sets = [frozenset(str(w) for w in r) for r in raw[1:]]
        return WordEdits(str(raw[0] or "0"), *sets)

    async def edit_words(self, show: str, changes: dict[str, list[str]]) -> str:
        """Apply the edits (kind -> words to put in that set and take out of its opposite) and
        give the lists a new revision, in one atomic step; the new revision."""
        k = self.store.keys(show)
        opposite = {"add": "remove", "remove": "add", "allow": "disallow", "disallow": "allow"}
        ops: list[Op] = []
        for kind, words in changes.items():
            if words:
                ops.append(("SADD", k.words(kind), *words))
                ops.append(("SREM", k.words(opposite[kind]), *words))
        rev = secrets.token_hex(8)
        ops.append(("HSET", k.words_rev, "rev", rev))
        await self.store.change(show, ops)
        return rev

    async def danmaku(self, show: str) -> dict[str, str]:
        raw: Any = await self.store.call(self.client.hgetall(self.store.keys(show).danmaku))
        return {str(f): str(v) for f, v in raw.items()}

    async def pin(self, show: str, op: str, comment_id: str, most: int) -> list[Any] | None:
        """Pin an approved comment (the oldest pin leaves beyond ``most``) or unpin one, in one
        atomic step; the pinned messages after it, or None when there is no such approved
        comment to pin."""
        k = self.store.keys(show)
        raw: list[Any] = await self.store.call(
            self._pin(
                keys=[k.danmaku, k.version, k.comments],
                args=[op, comment_id, most, k.events, show],
            )
        )
        if str(raw[0]) != "ok":
            return None
        pinned: list[Any] = json.loads(raw[1])
        return pinned

    async def set_danmaku(self, show: str, fields: dict[str, str]) -> int:
        """Change the overlay's danmaku layer and push it (the show's version moves)."""
        ops: list[Op] = [
            ("HSET", self.store.keys(show).danmaku, *(x for pair in fields.items() for x in pair))
        ]
        return (await self.store.change(show, ops, announce=True))[1]
