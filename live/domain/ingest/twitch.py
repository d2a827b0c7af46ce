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

from live.domain.ingest.event import Event, clean_count, clean_text


@dataclass(frozen=True, slots=True)
class Control:
    """A message that steers the connection rather than carrying an event."""

    type: str
    session_id: str = ""
    reconnect_url: str = ""
    keepalive_s: int = 10


def _ms(stamp: object) -> int:
    try:
        return int(datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def parse(message: Mapping[str, Any], room: str) -> Event | Control | None:
    """What one EventSub message means; None for what we do not use."""
    meta = message.get("metadata") or {}
    payload = message.get("payload") or {}
    kind = meta.get("message_type")
    if kind in ("session_welcome", "session_reconnect"):
        session = payload.get("session") or {}
        return Control(
            kind,
            str(session.get("id", "")),
            str(session.get("reconnect_url") or ""),
            int(session.get("keepalive_timeout_seconds") or 10),
        )
    if kind in ("session_keepalive", "revocation"):
        return Control(kind)
    if kind != "notification":
        return None
    sub = (payload.get("subscription") or {}).get("type")
    ev = payload.get("event") or {}
    if not meta.get("message_id"):
        return None
    msg_id = str(meta["message_id"])[:128]
    ts = _ms(meta.get("message_timestamp"))
    if sub == "channel.cheer":  # Twitch's gift: bits (anonymous cheers have no user id)
        user = str(ev.get("user_id") or "anonymous")[:128]
        bits = clean_count(ev.get("bits"), 0)
        return Event("twitch", room, msg_id, user, "gift", "bits", bits, ts) if bits else None
    if sub != "channel.chat.message":
        return None
    text = clean_text((ev.get("message") or {}).get("text"))
    user = str(ev.get("chatter_user_id") or "")[:128]
    if not user:
        return None
    return Event("twitch", room, msg_id, user, "comment", text, 1, ts)
