"""Phone codes and their send limits, and spent sign-in codes, in Redis.

Every key lives under one hash tag, ``{prefix}:{~identity}`` (``idcode:*``, ``idsend:*``,
``idspent:*``, ephemeral families of the app's Redis ACL): the scripts touch a number's
code, its send log and the address's and device's logs at once, which a Redis Cluster allows
only in one slot. Codes are sent a few times a second at most, so one slot is no bottleneck.
No key or value holds a phone number: numbers are named by their keyed hash, codes kept as
keyed digests, addresses and devices by their hashes too.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from live.domain.identity import CODE_ATTEMPTS, CODE_TTL_MS, SendLimit
from live.redis.store import Store

SIGN_IN_CODE_TTL = 600
"""Seconds a WeChat or OIDC authorisation code is remembered as spent (they live minutes)."""


def _h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class IdentityStore:
    """Phone codes (``code_send.lua``, ``code_check.lua``) and spent authorisation codes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.client = store.client
        self._send = store.script("code_send.lua")
        self._check = store.script("code_check.lua")

    def _base(self) -> str:
        return f"{self.store.prefix}:{{~identity}}"

    async def send(
        self,
        number: str,
        address: str,
        device: str,
        digest: str,
        now_ms: int,
        limits: tuple[tuple[SendLimit, ...], SendLimit, SendLimit],
    ) -> tuple[str, str, int]:
        """Keep a new code's ``digest`` for ``number`` (a hash) unless a send limit refuses:
        ``("sent", "", 0)`` or ``("limited", reason, retry_after_ms)``. ``address`` and
        ``device`` are hashed before they name a key."""
        base = self._base()
        per_number, per_address, per_device = limits
        keys = [
            f"{base}:idcode:{number}",
            f"{base}:idsend:n:{number}",
            f"{base}:idsend:a:{_h(address)}",
            f"{base}:idsend:d:{_h(device)}",
        ]
        args: list[str | int] = [now_ms, digest, CODE_TTL_MS, secrets.token_hex(8)]
        args.append(len(per_number))
        for lim in (*per_number, per_address, per_device):
            args += [lim.count, lim.seconds * 1000, lim.reason]
        raw: list[Any] = await self.store.call(self._send(keys=keys, args=args))
        return _text(raw[0]), _text(raw[1]), int(raw[2])

    async def check(self, number: str, digest: str, now_ms: int) -> tuple[str, int]:
        """Count one attempt at ``number``'s code: ``("ok", 0)``, ``("wrong", left)`` or
        ``("expired", 0)``."""
        keys = [f"{self._base()}:idcode:{number}"]
        args: list[str | int] = [now_ms, digest, CODE_ATTEMPTS]
        raw: list[Any] = await self.store.call(self._check(keys=keys, args=args))
        return _text(raw[0]), int(raw[1])

    async def spend(self, provider: str, code: str) -> bool:
        """Mark an authorisation code as used; False if it was used before (a replay)."""
        key = f"{self._base()}:idspent:{provider}:{_h(code)}"
        done = await self.store.call(self.client.set(key, "1", nx=True, ex=SIGN_IN_CODE_TTL))
        return bool(done)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
