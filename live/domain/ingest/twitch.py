"""Twitch EventSub over websocket: its messages. Pure.

Every message is ``{"metadata": {message_id, message_type, message_timestamp, ...},
"payload": ...}``; types ``session_welcome`` (the session id to subscribe with),
``session_keepalive``, ``session_reconnect`` (``payload.session.reconnect_url``: connect there,
then leave the old one), ``notification`` (``channel.chat.message``: a comment;
``channel.cheer``: a gift of ``bits``) and ``revocation``. Delivery is at least once:
``message_id`` de-duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from live.domain.ingest.event import Event, clean_count, clean_id, clean_text


@dataclass(frozen=True, slots=True)
class Control:
    """A message that steers the connection rather than carrying an event."""

    type: str
    session_id: str = ""
    reconnect_url: str = ""
    keepalive_s: int = 10


def _ms(stamp: object) -> int:
    if not isinstance(stamp, str):
        return 0
    try:
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    except (ValueError, OverflowError):
        return 0


def _obj(value: object) -> Mapping[str, Any]:
    """A JSON object of the message, or an empty one for anything else (a platform's message
    is input from outside: a field of the wrong type is absent, never a crash)."""
    return value if isinstance(value, dict) else {}


def parse(message: Mapping[str, Any], room: str) -> Event | Control | None:
    """What one EventSub message means; None for what we do not use."""
    meta = _obj(message.get("metadata"))
    payload = _obj(message.get("payload"))
    kind = meta.get("message_type")
    if kind in ("session_welcome", "session_reconnect"):
        session = _obj(payload.get("session"))
        return Control(
            kind,
            str(session.get("id", ""))[:200],
            str(session.get("reconnect_url") or "")[:2000],
            max(1, min(clean_count(session.get("keepalive_timeout_seconds"), 10), 600)),
        )
    if kind in ("session_keepalive", "revocation"):
        return Control(kind)
    if kind != "notification":
        return None
    sub = _obj(payload.get("subscription")).get("type")
    ev = _obj(payload.get("event"))
    msg_id = clean_id(meta.get("message_id"))
    if not msg_id:
        return None
    ts = _ms(meta.get("message_timestamp"))
    if sub == "channel.cheer":  # Twitch's gift: bits (anonymous cheers have no user id)
        user = clean_id(ev.get("user_id")) or "anonymous"
        bits = clean_count(ev.get("bits"), 0)
        return Event("twitch", room, msg_id, user, "gift", "bits", bits, ts) if bits else None
    if sub != "channel.chat.message":
        return None
    text = clean_text(_obj(ev.get("message")).get("text"))
    user = clean_id(ev.get("chatter_user_id"))
    if not user:
        return None
    return Event("twitch", room, msg_id, user, "comment", text, 1, ts)
