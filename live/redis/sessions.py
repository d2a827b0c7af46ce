"""Staff members, one-time invites, server-side sessions, and the overlay key, in Redis.

Sessions live on the server (revocable, rotated at login, expiring); the cookie holds only a
random id. Ids and invite tokens are stored hashed, so a read of Redis does not yield a
usable credential.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from live.domain.access import ROLES
from live.domain.errors import BadRequest, LiveError, NotFound
from live.redis.base import Op
from live.redis.store import Store

INVITE_TTL = 24 * 3600
SESSION_TTL = 12 * 3600


class InviteInvalid(LiveError):
    code = "invite_invalid"
    status = 400


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StaffMember:
    id: str
    name: str
    role: str
    active: bool


@dataclass(frozen=True, slots=True)
class Session:
    show: str
    key: str
    """The hash of the session id (what Redis stores)."""
    staff: str
    name: str
    role: str
    csrf: str


class Sessions:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.client = store.client
        self._staff = store.script("staff.lua")
        self._sessions = store.script("session.lua")

    def _k(self, show: str) -> str:
        return self.store.keys(show).base

    async def invite(self, show: str, role: str, name: str) -> tuple[StaffMember, str]:
        """A new staff member and a one-time login token for them."""
        if role not in ROLES:
            raise BadRequest(f"role: one of {', '.join(ROLES)}")
        if not 1 <= len(name) <= 80:
            raise BadRequest("name: 1 to 80 characters")
        member = StaffMember("s" + secrets.token_hex(6), name, role, True)
        token = secrets.token_urlsafe(32)
        base = self._k(show)
        record = {"name": name, "role": role, "active": True, "created": int(time.time())}
        ops: list[Op] = [
            ("HSET", f"{base}:staff", member.id, json.dumps(record)),
            ("SET", f"{base}:invite:{_hash(token)}", member.id, "EX", INVITE_TTL),
        ]
        entry = {"k": "staff", "op": "invite", "staff": member.id, "role": role}
        await self.store.change(show, ops, entry)
        return member, token

    async def members(self, show: str) -> list[StaffMember]:
        raw: Any = await self.store.call(self.client.hgetall(f"{self._k(show)}:staff"))
        out = []
        for sid, blob in raw.items():
            rec = json.loads(blob)
            out.append(StaffMember(sid, rec["name"], rec["role"], bool(rec["active"])))
        return sorted(out, key=lambda m: m.name)

    async def member(self, show: str, staff: str) -> StaffMember:
        for m in await self.members(show):
            if m.id == staff:
                return m
        raise NotFound(f"no staff member {staff!r}")

    async def login(self, show: str, token: str, old_session: str | None) -> tuple[Session, str]:
        """Use a one-time token: a fresh session (any previous one in this browser ends)."""
        base = self._k(show)
        staff: Any = await self.store.call(self.client.getdel(f"{base}:invite:{_hash(token)}"))
        if not staff:
            raise InviteInvalid("this login link is used, expired or unknown")
        if old_session:
            await self.logout(show, old_session)
        sid = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        key = _hash(sid)
        args: list[str | int] = ["login", staff, f"{base}:sess:", key, csrf, SESSION_TTL]
        args.append(0)
        keys = [f"{base}:staff", f"{base}:sessions:{staff}", self.store.keys(show).ledger]
        raw: Any = await self.store.call(self._staff(keys=keys, args=args))
        if raw[0] == "unknown":
            raise InviteInvalid("this login link names no staff member")
        if raw[0] != "ok":
            raise InviteInvalid("this staff member was revoked")
        return Session(show, key, staff, str(raw[1]), str(raw[2]), csrf), sid

    async def _read(self, show: str, keys: list[str]) -> list[Any]:
        base = self._k(show)
        args: list[str | int] = [f"{base}:sess:", f"{base}:sessions:", *keys]
        raw: list[Any] = await self.store.call(self._sessions(keys=[f"{base}:staff"], args=args))
        return raw

    async def session(self, show: str, sid: str | None) -> Session | None:
        """The live session behind a cookie value, or None (``session.lua``: only while its
        staff member exists, is active and lists it; the role is the member's)."""
        if not sid:
            return None
        key = _hash(sid)
        found = (await self._read(show, [key]))[0]
        if not found:
            return None
        staff, name, role, csrf = (str(v) for v in found)
        return Session(show, key, staff, name, role, csrf)

    async def valid_keys(self, show: str, keys: list[str]) -> list[str | None]:
        """The current role of each session (by hash), None where it ended or its staff member
        is gone or revoked: one round trip."""
        if not keys:
            return []
        return [str(found[2]) if found else None for found in await self._read(show, keys)]

    async def logout(self, show: str, sid: str) -> None:
        key = _hash(sid)
        base = self._k(show)
        staff: Any = await self.store.call(self.client.hget(f"{base}:sess:{key}", "staff"))
        ops: list[Op] = [("DEL", f"{base}:sess:{key}")]
        if staff:
            ops.append(("SREM", f"{base}:sessions:{staff}", key))
        await self.store.change(show, ops)

    async def _update(
        self, show: str, staff: str, role: str = "", revoke: bool = False
    ) -> StaffMember:
        """Change a member and every open session of theirs in one atomic step (staff.lua):
        a login racing a revocation either ends before it (and its session is ended with the
        others) or finds the member revoked."""
        base = self._k(show)
        keys = [f"{base}:staff", f"{base}:sessions:{staff}", self.store.keys(show).ledger]
        args: list[str | int] = ["update", staff, f"{base}:sess:", role]
        args += ["False" if revoke else "", 0]
        raw: Any = await self.store.call(self._staff(keys=keys, args=args))
        if not raw:
            raise NotFound(f"no staff member {staff!r}")
        rec = json.loads(raw)
        return StaffMember(staff, rec["name"], rec["role"], bool(rec["active"]))

    async def revoke(self, show: str, staff: str) -> StaffMember:
        """End every session of a staff member; their invite links stop working too."""
        return await self._update(show, staff, revoke=True)

    async def set_role(self, show: str, staff: str, role: str) -> StaffMember:
        if role not in ROLES:
            raise BadRequest(f"role: one of {', '.join(ROLES)}")
        return await self._update(show, staff, role=role)

    async def overlay_key(self, show: str, rotate: bool = False) -> str:
        """The show's secret overlay key (made on first use; a new one on rotate)."""
        key = f"{self._k(show)}:overlay_key"
        if rotate:
            new = secrets.token_urlsafe(24)
            await self.store.call(self.client.set(key, new))
            return new
        current: Any = await self.store.call(self.client.get(key))
        if current:
            return str(current)
        candidate = secrets.token_urlsafe(24)
        await self.store.call(self.client.set(key, candidate, nx=True))
        return str(await self.store.call(self.client.get(key)))
