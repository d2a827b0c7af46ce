"""Douyin live data push (直播小玩法): the webhook's signature and its messages. Pure.

The platform POSTs a JSON array per ``msg_type`` (``live_comment``, ``live_like``,
``live_gift``) with headers ``x-nonce-str``, ``x-timestamp``, ``x-roomid``, ``x-msg-type`` and
``x-signature`` = base64(MD5(those four as ``k=v`` sorted by key and joined by ``&``, then the
raw body, then the secret)). MD5 is the platform's choice, not ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from live.domain.ingest.event import Event, Kind, clean_count, clean_id, clean_text, seconds_ms

SIGNED = ("x-msg-type", "x-nonce-str", "x-roomid", "x-timestamp")
KINDS: dict[str, Kind] = {"live_comment": "comment", "live_like": "like", "live_gift": "gift"}
MAX_BODY = 1_000_000
"""Bytes of one push accepted (the platform batches a few hundred messages at most)."""


MAX_SKEW_MS = 5 * 60_000
"""How far a push's ``x-timestamp`` may be from our clock, either way."""


class BadPush(ValueError):
    """A push that is not a JSON array of messages of a known type."""


def signature(headers: Mapping[str, str], body: bytes, secret: str) -> str:
    """The ``x-signature`` a push with these headers and body must carry."""
    text = "&".join(f"{name}={headers.get(name, '')}" for name in SIGNED)
    digest = hashlib.md5(text.encode() + body + secret.encode(), usedforsecurity=False)
    return base64.b64encode(digest.digest()).decode()


def signed(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """Whether the push carries the right signature (compared in constant time)."""
    given = headers.get("x-signature", "")
    return bool(given) and hmac.compare_digest(
        given.encode(), signature(headers, body, secret).encode()
    )


def timestamp_ms(headers: Mapping[str, str]) -> int:
    """A push's ``x-timestamp`` in ms (given in seconds or in ms), 0 when it is not one."""
    raw = headers.get("x-timestamp", "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 16:
        return 0
    value = int(raw)
    return value if value >= 10**11 else value * 1000


def fresh(headers: Mapping[str, str], now_ms: int) -> bool:
    """Whether a push was made within :data:`MAX_SKEW_MS` of ``now_ms`` (a replay of an old
    push, even signed, is refused)."""
    at = timestamp_ms(headers)
    return bool(at) and abs(now_ms - at) <= MAX_SKEW_MS


def parse_push(headers: Mapping[str, str], body: bytes) -> list[Event]:
    """The events of a (signed) push; :class:`BadPush` if it is not one."""
    kind = KINDS.get(headers.get("x-msg-type", ""))
    if kind is None:
        raise BadPush(f"unknown x-msg-type {headers.get('x-msg-type', '')!r}")
    room = headers.get("x-roomid", "")
    try:
        items: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadPush("the body is not JSON") from None
    if not isinstance(items, list):
        raise BadPush("the body is not a JSON array")
    out = []
    for item in items:
        if not isinstance(item, dict) or not clean_id(item.get("msg_id")):
            raise BadPush("each message needs msg_id and sec_openid")
        if not clean_id(item.get("sec_openid")):
            raise BadPush("each message needs msg_id and sec_openid")
        count = 1
        if kind == "like":
            count = clean_count(item.get("like_num"), 1)
        elif kind == "gift":
            count = clean_count(item.get("gift_num"), 1)
        out.append(
            Event(
                platform="douyin",
                room=room,
                event_id=clean_id(item["msg_id"]),
                user=clean_id(item["sec_openid"]),
                kind=kind,
                text=clean_text(item.get("content")) if kind == "comment" else "",
                count=count,
                platform_ts=seconds_ms(item.get("timestamp")),
            )
        )
    return out
