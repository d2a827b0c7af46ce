"""Comments: posted by phones (and platform chats), filtered, decided in one atomic step each
(:mod:`live.redis.comments`), moderated, and shown (approved ones only) in every snapshot.

Guarantees:

- A comment is filtered by the word lists as they are when it arrives, in every process: each
  process keeps one filter per show with the lists' revision; ``comment.lua`` refuses a decision
  made with an older revision, and the process builds its filter again and decides again.
- Only approved comments leave the server (snapshots read the feed of approved ones); a
  rejected or pending comment is seen by moderators and by its sender's own answer only.
- The stored record names the device by its keyed pseudonym (the vote ledger's), never by its
  id; the text is kept as posted (what a moderator judges), with the filter's masked copy.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from live import metrics
from live.domain.comments import (
    PINS,
    STATES,
    Comment,
    CommentIn,
    CommentOpIn,
    DanmakuIn,
    WordListIn,
    clean_text,
    comment_key,
    text_key,
)
from live.domain.errors import (
    BadRequest,
    CommentBanned,
    CommentLimited,
    CommentsDisabled,
    LiveError,
    Unavailable,
    UnknownComment,
    parse_model,
)
from live.domain.ingest.event import Event
from live.domain.net import subnet_of
from live.domain.show import Show
from live.domain.wordfilter import WordFilter
from live.redis.comments import CommentStore, Sender, WordEdits
from live.services.shows import Service

log = logging.getLogger("live.comments")

WINDOW_MS = 60_000
"""The per-device cap counts comments per minute of the service's clock."""

BACKLOG = 2000
"""Platform chat comments waiting to be filtered (per process); beyond it the oldest are
dropped (counted in ``live_comments_total{status="backlog"}``): a flood of chat must not grow
memory or delay the votes counted beside it."""


@dataclass(frozen=True, slots=True)
class Posted:
    """The answer to a post: the comment as the sender may see it."""

    id: str
    comment_id: str
    state: str
    """``pending``, ``approved``, ``rejected`` or ``dropped`` (the same text again)."""
    reason: str = ""

    def public(self) -> dict[str, str]:
        return {
            "id": self.id,
            "comment_id": self.comment_id,
            "state": self.state,
            "reason": self.reason,
        }


class Comments:
    def __init__(
        self,
        service: Service,
        store: CommentStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.store = store
        self.clock = clock
        self._filters: dict[str, tuple[str, tuple[str, ...], WordFilter]] = {}
        """show -> (the lists' revision, the files it was built from, the filter)."""
        self._chat: deque[tuple[str, Event]] = deque()
        self._wake = asyncio.Event()

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- word lists ----------------------------------------------------------------------------

    def file_lists(self, show: Show) -> tuple[list[str], list[str]]:
        """The show file's word lists (words, allowed phrases), as read when the show file was
        loaded (:mod:`live.domain.wordfiles`): nothing here opens a file."""
        words: list[str] = []
        allowed: list[str] = []
        for found in show.comments.files:
            words += found.words
            allowed += found.allowed
        return words, allowed

    def build(self, show: Show, edits: WordEdits) -> WordFilter:
        words, allowed = self.file_lists(show)
        listed = (set(words) | edits.add) - edits.remove
        allow = (set(allowed) | edits.allow) - edits.disallow
        return WordFilter(listed, allow)

    async def filter(self, show: Show, rev: str | None = None) -> tuple[str, WordFilter]:
        """The show's filter at the lists' current revision (built again when ``rev``, the
        revision Redis has, differs from the one it was built at, or the files changed)."""
        cached = self._filters.get(show.id)
        files = show.comments.wordlists
        if cached is not None and cached[1] == files and (rev is None or rev == cached[0]):
            return cached[0], cached[2]
        edits = await self.store.word_edits(show.id)
        built = self.build(show, edits)
        self._filters[show.id] = (edits.rev, files, built)
        return edits.rev, built

    async def wordlist(self, show_id: str) -> dict[str, Any]:
        """The effective lists and the admins' edits (``GET /api/shows/{show}/wordlist``)."""
        show = self._show(show_id)
        edits = await self.store.word_edits(show.id)
        words, allowed = self.file_lists(show)
        return {
            "rev": edits.rev,
            "files": list(show.comments.wordlists),
            "file_words": len(words),
            "file_allowed": len(allowed),
            "added": sorted(edits.add),
            "removed": sorted(edits.remove),
            "allowed": sorted(edits.allow),
            "disallowed": sorted(edits.disallow),
            "words": len((set(words) | edits.add) - edits.remove),
        }

    async def edit_words(self, show_id: str, raw: bytes | dict[str, Any]) -> dict[str, Any]:
        show = self._show(show_id)
        body = parse_model(WordListIn, raw)
        changes = {
            "add": list(body.add),
            "remove": list(body.remove),
            "allow": list(body.allow),
            "disallow": list(body.disallow),
        }
        for kind, words in changes.items():
            for w in words:
                if "\n" in w or not w.strip():
                    raise BadRequest(f"{kind}: {w!r} is not a word")
        if not any(changes.values()):
            raise BadRequest("name words to add, remove, allow or disallow")
        await self.store.edit_words(show.id, changes)
        self._filters.pop(show.id, None)
        return await self.wordlist(show_id)

    # -- posting -------------------------------------------------------------------------------

    def _show(self, show_id: str) -> Show:
        show = self.service.show(show_id)
        if not show.comments.enabled:
            raise CommentsDisabled(f"show {show_id!r} takes no comments")
        return show

    async def post(
        self,
        show_id: str,
        raw: bytes | dict[str, Any],
        device: str,
        src: str = "web",
        ip: str = "",
    ) -> Posted:
        """Filter and keep one comment; its state for the sender. Raises
        :class:`BadRequest` (empty, too long), :class:`CommentBanned`, :class:`CommentLimited`
        (more than ``per_minute`` from the device, ``per_address_minute`` from its address or
        ``per_subnet_minute`` from its /24 or /64; ``ip``: the phone's address, '' for a
        platform's chat)."""
        show = self._show(show_id)
        cfg = show.comments
        body = parse_model(CommentIn, raw)
        text = clean_text(body.text, cfg.max_length)
        pseudonym = await self.service.store.pseudonym(show.id)
        dev = pseudonym(device)
        sender = (
            Sender(
                pseudonym(ip),
                cfg.per_address_minute,
                pseudonym(subnet_of(ip)),
                cfg.per_subnet_minute,
            )
            if ip
            else None
        )
        cid = comment_key(dev, body.comment_id)
        rev, wf = await self.filter(show)
        for _ in range(3):  # the lists changed under us: build again, decide again
            verdict = wf.check(text)
            now = self.now_ms()
            if verdict.hits:
                state, reason = "rejected", verdict.reason
            else:
                state, reason = ("pending" if cfg.moderation == "pre" else "approved"), ""
            comment = Comment(
                id=cid,
                text=text,
                state=state,
                at=now,
                src=src,
                dev=dev,
                reason=reason,
                masked=verdict.masked() if verdict.hits else "",
                hits=tuple((h.start, h.end, h.kind) for h in verdict.hits),
            )
            window = now // WINDOW_MS
            done = await self.store.post(
                show.id,
                comment,
                rev,
                cfg.per_minute,
                window,
                (window + 1) * WINDOW_MS,
                cfg.repeat_seconds * 1000,
                text_key(text),
                sender,
            )
            if done.status != "stale":
                break
            rev, wf = await self.filter(show, done.rev)
        else:
            raise Unavailable("the word lists are being edited: try again")
        if done.status == "exists" and done.existing is not None:
            old = done.existing
            return Posted(old.id, body.comment_id, old.state, old.reason)
        metrics.COMMENTS.labels(show.id, done.status if done.status != "ok" else state).inc()
        if done.status == "banned":
            raise CommentBanned("a moderator stopped this device's comments for this show")
        if done.status == "limited":
            seconds = max(1, -(-done.retry_after_ms // 1000))
            most = {"address": cfg.per_address_minute, "subnet": cfg.per_subnet_minute}
            where = {"address": " from this address", "subnet": " from this network"}
            raise CommentLimited(
                f"at most {most.get(done.limit, cfg.per_minute)} comments a minute"
                f"{where.get(done.limit, '')}; try again in {seconds} s",
                seconds,
            )
        if done.status == "duplicate":
            return Posted(cid, body.comment_id, "dropped", "duplicate")
        if done.version and self.service.changed is not None:
            self.service.changed(show.id)
        return Posted(cid, body.comment_id, state, reason)

    # -- platform chat -------------------------------------------------------------------------

    def offer(self, show_id: str, events: list[Event]) -> None:
        """Platform chat comments (not votes) to join the show's comments: queued, filtered and
        kept by :meth:`run` (the ingest path never waits for them)."""
        show = self.service.shows.get(show_id)
        if show is None or not show.comments.enabled:
            return
        for e in events:
            if len(self._chat) >= BACKLOG:
                self._chat.popleft()
                metrics.COMMENTS.labels(show_id, "backlog").inc()
            self._chat.append((show_id, e))
        self._wake.set()

    async def run(self, beat: Callable[[], None] = lambda: None) -> None:
        """The supervised task ``comments``: platform chat comments into the stream, each as a
        comment of its platform user (pseudonymised like a device: caps and bans hold)."""
        while True:
            beat()
            if not self._chat:
                self._wake.clear()
                try:
                    async with asyncio.timeout(1.0):
                        await self._wake.wait()
                except TimeoutError:
                    continue
            while self._chat:
                show_id, e = self._chat.popleft()
                key = hashlib.sha256(f"{e.platform}:{e.room}:{e.event_id}".encode()).hexdigest()
                show = self.service.shows.get(show_id)
                limit = show.comments.max_length if show is not None else 60
                # A platform's chat cannot be refused to its sender: a long message is cut.
                body = {"text": e.text[:limit] or " ", "comment_id": key[:32]}
                try:
                    await self.post(show_id, body, f"{e.platform}:{e.user}", src=e.platform)
                except LiveError as exc:  # too long, limited, banned: that comment only
                    log.debug("platform comment %s not kept: %s", e.event_id, exc.code)
                beat()

    # -- moderation ----------------------------------------------------------------------------

    async def listed(self, show_id: str, state: str, limit: int = 100) -> dict[str, Any]:
        show = self._show(show_id)
        if state not in STATES:
            raise BadRequest(f"state: one of {', '.join(STATES)}")
        found = await self.store.listed(show.id, state, limit, oldest_first=state == "pending")
        return {
            "state": state,
            "comments": [c.public() for c in found],
            "counts": await self.store.counts(show.id),
            "moderation": show.comments.moderation,
        }

    async def decide(
        self, show_id: str, comment_id: str, raw: bytes | dict[str, Any], actor: str
    ) -> dict[str, Any]:
        show = self._show(show_id)
        body = parse_model(CommentOpIn, raw)
        found = await self.store.get(show.id, comment_id)
        if found is None:
            raise UnknownComment(f"no comment {comment_id!r} in show {show_id!r}")
        done = await self.store.decide(show.id, found, body.op, actor, body.reason, self.now_ms())
        if done is None:
            raise UnknownComment(f"no comment {comment_id!r} in show {show_id!r}")
        after, version, swept = done
        metrics.COMMENT_DECISIONS.labels(show.id, body.op).inc()
        if after.state != "approved":
            await self._unpin(show, after.id)
        if version and self.service.changed is not None:
            self.service.changed(show.id)
        log.info(
            "comment %s %s by %s%s",
            after.id,
            body.op,
            actor,
            f" ({swept} more of the device's pending comments rejected)" if swept else "",
        )
        return {"op": body.op, "comment": after.public(), "also_rejected": swept}

    # -- the overlay's danmaku layer -----------------------------------------------------------

    async def set_danmaku(
        self, show_id: str, raw: bytes | dict[str, Any], actor: str
    ) -> dict[str, Any]:
        show = self._show(show_id)
        body = parse_model(DanmakuIn, raw)
        fields: dict[str, str] = {}
        if body.enabled is not None:
            fields["enabled"] = "1" if body.enabled else "0"
        if body.density is not None:
            fields["density"] = str(body.density)
        if not fields and body.pin is None and body.unpin is None:
            raise BadRequest("name enabled, density, pin or unpin")
        if body.pin is not None:
            if await self.store.pin(show.id, "pin", body.pin, PINS) is None:
                raise UnknownComment(f"no approved comment {body.pin!r} to pin")
        if body.unpin is not None:
            await self.store.pin(show.id, "unpin", body.unpin, PINS)
        if fields:
            await self.store.set_danmaku(show.id, fields)
        log.info("danmaku %s by %s", body.model_dump(exclude_none=True), actor)
        if self.service.changed is not None:
            self.service.changed(show.id)
        after = await self.store.danmaku(show.id)
        return {
            "enabled": after.get("enabled", "1" if show.comments.danmaku else "0") == "1",
            "density": int(after.get("density") or show.comments.density),
            "pinned": json.loads(after.get("pinned") or "[]"),
        }

    async def _unpin(self, show: Show, comment_id: str) -> None:
        """A comment no longer approved leaves the pinned messages too."""
        await self.store.pin(show.id, "unpin", comment_id, PINS)
