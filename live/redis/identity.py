"""Phone codes and their send limits, and spent sign-in codes, in Redis.

Every key lives under one hash tag, ``{prefix}:{~identity}`` (``idcode:*``, ``idsend:*``,
``idspent:*``, ephemeral families of the app's Redis ACL): the scripts touch a number's
code, its send log and the address's and device's logs at once, which a Redis Cluster allows
only in one slot. Codes are sent a few times a second at most, so one slot is no bottleneck.
No key or value holds a phone number: numbers are named by their keyed hash, codes kept as
keyed digests, addresses, subnets and devices by their keyed hashes (under the identity key)
too: an unkeyed hash of an IPv4 address is reversed in 2^32 guesses.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from live.domain.identity import CODE_ATTEMPTS, CODE_TTL_MS, SendPolicy
from live.redis.store import Store

SIGN_IN_CODE_TTL = 600
"""Seconds a WeChat or OIDC authorisation code is remembered as spent (they live minutes)."""


def _h(value: str) -> str:
    """An unkeyed digest: for provider sign-in codes only (one-time, not personal data)."""
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
        subnet: str,
        device: str,
        digest: str,
        now_ms: int,
        policy: SendPolicy,
        solved: bool,
    ) -> tuple[str, str, int]:
        """Keep a new code's ``digest`` for ``number`` unless the policy refuses:
        ``("sent", "", 0)``, ``("limited", reason, retry_after_ms)`` or ``("captcha", "", 0)``
        (this address has asked for its share without a captcha and ``solved`` is False).
        ``number``, ``address``, ``subnet`` and ``device`` are keyed hashes already: no key
        names a number, an address or a device id."""
        base = self._base()
        keys = [
            f"{base}:idcode:{number}",
            f"{base}:idsend:n:{number}",
            f"{base}:idsend:a:{address}",
            f"{base}:idsend:s:{subnet}",
            f"{base}:idsend:d:{device}",
            f"{base}:idsend:g",
            f"{base}:idsend:breaker",
        ]
        args: list[str | int] = [now_ms, digest, CODE_TTL_MS, secrets.token_hex(8)]
        args.append(len(policy.number))
        for lim in (*policy.number, policy.address, policy.subnet, policy.device, policy.budget):
            args += [lim.count, lim.seconds * 1000, lim.reason]
        args += [policy.captcha_after, 1 if solved else 0]
        raw: list[Any] = await self.store.call(self._send(keys=keys, args=args))
        return _text(raw[0]), _text(raw[1]), int(raw[2])

    async def forget_senders(self) -> int:
        """Delete the send logs of addresses, subnets and devices (``live purge``); how many."""
        found = []
        for family in ("a", "s", "d"):
            match = f"{self._base()}:idsend:{family}:*"
            async for name in self.client.scan_iter(match=match, count=1000):
                found.append(_text(name))
        gone = 0
        for name in found:
            gone += int(await self.store.call(self.client.delete(name)))
        return gone

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
