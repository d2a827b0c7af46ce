"""Websocket messages: what the server sends and what it accepts. Pure.

Server -> client:

- ``show``: what changes only by an admin's edit (title, contestants and their texts, the
  categories' names, contestants and settings: ``votes_per_device``, ``per_contestant``,
  ``hide_tallies``, ``rules_frozen``, ``identity``), with its ``show_rev``; sent first on every
  connection, and again only when it changes (an edit before the show starts, a category's
  voting opening for the first time).
- ``snapshot``: everything else, the whole of it, with an integer ``version`` and the
  ``show_rev`` it goes with; sent on connect and on every change. Never a delta: a missed
  message heals itself with the next one. :func:`snapshot` is the whole state (both merged),
  which pages and ``GET /api/shows/{show}`` serve; :func:`split` makes the two messages of it.
- ``vote_result``: ``{"type", "vote_id", "status", "reason", "retry_after", "version"}``, and
  ``left`` (the device's votes left in the category) when the answer knows it.
- ``like_ack``: ``{"type", "n"}``: taps received (counting happens on the next flush).
- ``comments``: ``{"type", "comments_rev", "comments"}``: the newest approved comments
  (``{id, text, src, at}``, oldest first), sent before the snapshot whose ``comments_rev``
  names them, on connect and whenever they change (not while none is approved: a snapshot's
  empty ``comments_rev`` means none).
- ``comment_result``: ``{"type", "id", "comment_id", "state", "reason"}``: the sender's own
  comment (``pending`` until a moderator approves it, ``approved``, ``rejected`` with the
  filter's reason, or ``dropped``: the same text again within the repeat window).
- ``error``: ``{"type", "code", "message"}`` for a message that could not be handled.

Pushed snapshots of a show with comments carry ``comments_rev``; the whole snapshot (pages,
``GET /api/shows/{show}``) carries ``comments`` itself. Staff and overlay snapshots also carry
``danmaku`` (``{enabled, density, pinned}``).

Client -> server: ``{"type": "vote", "category", "contestant", "vote_id"}``,
``{"type": "like", "n"}``, ``{"type": "comment", "text", "comment_id"}``, ``{"type": "ping"}``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from live.domain.errors import BadRequest, LiveError
from live.domain.show import Show
from live.domain.stage import Stage
from live.domain.state import ShowState


@dataclass(frozen=True, slots=True)
class Encoded:
    """One read of a show, encoded once for every socket and page of one audience."""

    show: str
    """The ``show`` message."""
    push: str
    """The ``snapshot`` message as sockets get it (no static part)."""
    full: str
    """The whole snapshot (static part included): pages and ``GET /api/shows/{show}``."""
    comments: str = ""
    """The ``comments`` message ('' while no comment is approved, or the show has none)."""


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def decode(text: str) -> tuple[str, dict[str, Any]]:
    """The message type and the rest of an incoming message; :class:`BadRequest` if malformed."""
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest("the message is not valid JSON") from None
    if not isinstance(message, dict):
        raise BadRequest("a message is a JSON object")
    kind = message.pop("type", None)
    if not isinstance(kind, str):
        raise BadRequest("type: a string is required")
    return kind, message


def error_message(exc: LiveError) -> dict[str, Any]:
    """The websocket form of an error: its HTTP body's fields (``identity`` of an
    ``identity_required``, ...) beside ``type``, ``code`` and ``message``."""
    return {"type": "error", **exc.body()["error"]}


def show_static(show: Show) -> dict[str, Any]:
    """The parts of a snapshot that come from the show file (built once per show)."""
    return {
        "show": {
            "id": show.id,
            "title": show.title,
            "title_en": show.title_en,
            "comments": {
                "enabled": show.comments.enabled,
                "max_length": show.comments.max_length,
                "moderation": show.comments.moderation,
            },
        },
        "contestants": [
            {
                "id": c.id,
                "name": c.name,
                "name_en": c.name_en,
                "organisation": c.organisation,
                "organisation_en": c.organisation_en,
                "field": c.field,
                "innovation": c.innovation,
                "innovation_en": c.innovation_en,
                "order": c.order,
                "number": c.label,
                "story": c.story,
                "story_en": c.story_en,
                "video": c.video,
                "photo": f"/s/{show.id}/c/{c.id}/photo.webp?v={c.photo}" if c.photo else None,
            }
            for c in show.running_order()
        ],
    }


def snapshot(show: Show, state: ShowState, audience: str, now_ms: int) -> dict[str, Any]:
    """The snapshot for one audience: ``viewer``, ``staff`` (hidden tallies shown live) or
    ``overlay`` (honours the freeze). A hidden category's tallies are left out until revealed.

    ``show`` is the effective show (with the edits made before it started).
    """
    static = show_static(show)
    display = state.display
    source = state.tallies
    if audience == "overlay" and display.frozen is not None:
        source = display.frozen
    categories = []
    tallies: dict[str, dict[str, int]] = {}
    sources: dict[str, dict[str, dict[str, int]]] = {}
    for cat in show.categories:
        cs = state.categories.get(cat.id)
        hide = cs.hide if cs else cat.hide_tallies
        hidden = hide and cat.id not in display.revealed
        categories.append(
            {
                "id": cat.id,
                "name": cat.name,
                "name_en": cat.name_en,
                "open": bool(cs and cs.open),
                "only": cs.only if cs else "",
                "until": cs.until if cs else 0,
                "votes_per_device": cs.cap if cs else cat.votes_per_device,
                "per_contestant": cs.per if cs else cat.per_contestant,
                "rules_frozen": bool(cs and cs.started),
                "hidden": hidden,
                "hide_tallies": hide,
                "identity": cat.identity,
                "voided": state.voided.get(cat.id, 0),
                "ledger_head": state.heads.get(cat.id),
                "contestants": list(show.eligible(cat)),
            }
        )
        if audience == "staff" or not hidden:
            counts = source.get(cat.id, {})
            tallies[cat.id] = {c: counts.get(c, 0) for c in show.eligible(cat)}
            for platform, cats in state.sources.items():
                if any(any(chat.values()) for chat in cats.values()):  # a platform heard from
                    chat = cats.get(cat.id, {})
                    sources.setdefault(platform, {})[cat.id] = {
                        c: chat.get(c, 0) for c in show.eligible(cat)
                    }
    stage = state.stage
    message: dict[str, Any] = {
        "type": "snapshot",
        "version": state.version,
        **static,
        "stage": {
            "phase": stage.phase,
            # While waiting, "up next" is the head of the (possibly edited) running order.
            "contestant": (
                show.running_order()[0].id if stage.phase == "waiting" else stage.contestant
            ),
            "category": stage.category,
            "only": stage.only,
            "deadline": stage.deadline,
            "since": stage.since,
        },
        "server_time": now_ms,
        "categories": categories,
        "tallies": tallies,
        "likes": {"taps": state.taps, "counted": state.likes},
        "revealed": sorted(display.revealed),
        "published": dict(state.published),
    }
    if show.ingest:  # platform rooms: their chat votes (once any came), likes and gifts
        message["sources"] = sources
        message["likes"]["sources"] = {p: n for p, n in state.source_likes.items() if n}
        message["gifts"] = {p: n for p, n in state.source_gifts.items() if n}
    if show.comments.enabled:  # approved comments only: nothing else ever leaves the server
        message["comments"] = list(state.comments)
        if audience != "viewer":
            message["danmaku"] = danmaku_of(show, state)
    if audience != "viewer":
        pinned = display.overlay_category in {c.id for c in show.categories}
        message["overlay"] = {
            "category": display.overlay_category if pinned else followed(categories, stage),
            "pinned": pinned,
            "frozen": display.frozen is not None,
            "top": display.overlay_top,
        }
    return message


def followed(categories: list[dict[str, Any]], stage: Stage) -> str:
    """The category the overlay's board shows when the admin has pinned none: it follows the
    show. The stage's category (the one whose voting window is open, or whose results are on
    stage), else the first category whose voting is open, else the first category. A pinned
    category that the show no longer has (dropped by a redefinition) counts as none."""
    ids: list[str] = [str(c["id"]) for c in categories]
    if stage.category in ids:
        return stage.category
    return next((i for i, c in zip(ids, categories, strict=True) if c["open"]), ids[0])


def danmaku_of(show: Show, state: ShowState) -> dict[str, Any]:
    """The overlay's danmaku layer: on or off, how many at once, the pinned messages."""
    raw = state.danmaku
    on = raw.get("enabled", "1" if show.comments.danmaku else "0") == "1"
    density = int(raw.get("density") or show.comments.density)
    pinned = json.loads(raw["pinned"]) if raw.get("pinned") else []
    return {"enabled": on, "density": density, "pinned": pinned}


STATIC_CATEGORY = (
    "name",
    "name_en",
    "contestants",
    "votes_per_device",
    "per_contestant",
    "hide_tallies",
    "rules_frozen",
    "identity",
)
"""A category's fields that change only by an admin's edit or once, when its voting first
opens: they travel in the ``show`` message, not in every push."""


def split(full: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A whole :func:`snapshot` as two messages: ``show`` (the show file's part and the
    categories' settings, with ``show_rev``, a hash of it) and the ``snapshot`` the sockets get
    on every change (the rest, with the same ``show_rev``)."""
    static: dict[str, Any] = {
        "show": full["show"],
        "contestants": full["contestants"],
        "categories": [
            {"id": cat["id"], **{k: cat[k] for k in STATIC_CATEGORY}} for cat in full["categories"]
        ],
    }
    rev = hashlib.sha256(encode(static).encode()).hexdigest()[:16]
    pushed = {k: v for k, v in full.items() if k not in ("show", "contestants")}
    pushed["categories"] = [
        {k: v for k, v in cat.items() if k not in STATIC_CATEGORY} for cat in full["categories"]
    ]
    pushed["show_rev"] = rev
    return {"type": "show", "show_rev": rev, **static}, pushed


def split_comments(pushed: dict[str, Any]) -> dict[str, Any] | None:
    """Take the approved comments out of a pushed snapshot (which keeps their ``comments_rev``,
    a hash of them, '' for none) into their own ``comments`` message, sent to a socket only
    when they change: a push after a vote does not carry them again. None when there are
    none (the snapshot's empty ``comments_rev`` says so) or the show takes no comments."""
    said = pushed.pop("comments", None)
    if said is None:
        return None
    rev = hashlib.sha256(encode(said).encode()).hexdigest()[:16] if said else ""
    pushed["comments_rev"] = rev
    return {"type": "comments", "comments_rev": rev, "comments": said} if said else None
