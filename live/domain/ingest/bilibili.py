"""bilibili live open platform (直播开放平台): request signing, the websocket's packets and its
messages. Pure; the adapter (:mod:`live.ingest.bilibili`) does the I/O.

Packets: a 16-byte big-endian header ``>I2H2I`` (packet length, header length 16, protocol
version, operation, sequence) and a body. Version 0 (and 1) bodies are plain; 2 is zlib and 3
brotli, and a compressed body holds further packets back to back. Operations: 2 heartbeat,
3 heartbeat reply, 5 message, 7 auth, 8 auth reply.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import brotli

from live.domain.ingest.event import Event, clean_count, clean_id, clean_text, seconds_ms

HEADER = struct.Struct(">I2H2I")
OP_HEARTBEAT, OP_HEARTBEAT_REPLY, OP_MESSAGE, OP_AUTH, OP_AUTH_REPLY = 2, 3, 5, 7, 8
PLAIN, ZLIB, BROTLI = 0, 2, 3
MAX_PACKET = 4 * 1024 * 1024
"""Bytes of one packet, compressed or not: anything larger is refused (no zip bombs)."""


class BadPacket(ValueError):
    """Bytes that are not packets of this protocol."""


@dataclass(frozen=True, slots=True)
class Packet:
    op: int
    body: bytes
    version: int = PLAIN
    seq: int = 1

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def encode(packet: Packet) -> bytes:
    """One packet's bytes (its body compressed as its version says)."""
    body = packet.body
    if packet.version == ZLIB:
        body = zlib.compress(body)
    elif packet.version == BROTLI:
        body = brotli.compress(body)
    size = HEADER.size + len(body)
    return HEADER.pack(size, HEADER.size, packet.version, packet.op, packet.seq) + body


def _inflate(version: int, body: bytes) -> bytes:
    try:
        if version == ZLIB:
            d = zlib.decompressobj()
            inflated = d.decompress(body, MAX_PACKET)
            if d.unconsumed_tail:
                raise BadPacket("a compressed body larger than allowed")
            return inflated
        out: bytes = brotli.decompress(body)
    except (zlib.error, brotli.error) as exc:
        raise BadPacket(f"a body that does not decompress ({exc})") from None
    if len(out) > MAX_PACKET:
        raise BadPacket("a compressed body larger than allowed")
    return out


def decode(data: bytes, depth: int = 0) -> list[Packet]:
    """Every packet in ``data`` (one websocket message), compressed ones opened."""
    out: list[Packet] = []
    at = 0
    while at < len(data):
        if len(data) - at < HEADER.size:
            raise BadPacket("a packet shorter than its header")
        size, head, version, op, seq = HEADER.unpack_from(data, at)
        if head != HEADER.size or not HEADER.size <= size <= len(data) - at or size > MAX_PACKET:
            raise BadPacket(f"a packet header that does not fit (length {size}, header {head})")
        body = data[at + head : at + size]
        at += size
        if version in (ZLIB, BROTLI):
            if depth:
                raise BadPacket("a compressed body inside a compressed body")
            out += decode(_inflate(version, body), depth + 1)
        else:
            out.append(Packet(op, body, version, seq))
    return out


def auth_packet(auth_body: str) -> bytes:
    return encode(Packet(OP_AUTH, auth_body.encode()))


HEARTBEAT = encode(Packet(OP_HEARTBEAT, b""))


def sign_headers(
    body: bytes, key_id: str, secret: str, nonce: str, timestamp: int
) -> dict[str, str]:
    """The headers of a signed open-platform request: the ``x-bili-*`` ones and
    ``Authorization`` = hex HMAC-SHA256 (key: the access secret) of the ``x-bili-*`` headers
    as ``key:value`` lines, sorted by key, joined with ``\\n``."""
    signed = {
        "x-bili-accesskeyid": key_id,
        "x-bili-content-md5": hashlib.md5(body, usedforsecurity=False).hexdigest(),
        "x-bili-signature-method": "HMAC-SHA256",
        "x-bili-signature-nonce": nonce,
        "x-bili-signature-version": "1.0",
        "x-bili-timestamp": str(timestamp),
    }
    text = "\n".join(f"{k}:{signed[k]}" for k in sorted(signed))
    auth = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    return {**signed, "Authorization": auth, "Content-Type": "application/json"}


def check_signature(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """Whether a request carries a good signature of its body (what the platform checks; the
    fake platform in the tests uses it)."""
    lower = {k.lower(): v for k, v in headers.items()}
    if lower.get("x-bili-content-md5") != hashlib.md5(body, usedforsecurity=False).hexdigest():
        return False
    signed = {k: v for k, v in lower.items() if k.startswith("x-bili-")}
    text = "\n".join(f"{k}:{signed[k]}" for k in sorted(signed))
    want = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(lower.get("authorization", "").encode(), want.encode())


def event_of(message: Mapping[str, Any], room: str) -> Event | None:
    """The event of an ``OP_MESSAGE`` body (``{"cmd", "data"}``), or None for other commands."""
    cmd, data = message.get("cmd"), message.get("data")
    if not isinstance(data, dict):
        return None
    ts = seconds_ms(data.get("timestamp"))
    user = clean_id(data.get("open_id") or data.get("uid"))
    if cmd == "LIVE_OPEN_PLATFORM_DM":
        msg_id = clean_id(data.get("msg_id"))
        if not msg_id or not user:
            return None
        text = clean_text(data.get("msg"))
        return Event("bilibili", room, msg_id, user, "comment", text, 1, ts)
    if cmd == "LIVE_OPEN_PLATFORM_LIKE":
        msg_id = clean_id(data.get("msg_id"))
        if not msg_id or not user:
            return None
        count = clean_count(data.get("like_count"), 1)
        return Event("bilibili", room, msg_id, user, "like", "", count, ts)
    if cmd == "LIVE_OPEN_PLATFORM_SEND_GIFT":
        msg_id = clean_id(data.get("msg_id"))
        if not msg_id or not user:
            return None
        count = clean_count(data.get("gift_num"), 1)
        name = clean_text(data.get("gift_name"))
        return Event("bilibili", room, msg_id, user, "gift", name, count, ts)
    return None
