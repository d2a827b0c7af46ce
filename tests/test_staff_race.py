"""A login racing a revocation never leaves a live session for the revoked member."""

from __future__ import annotations

import asyncio

from live.redis.sessions import InviteInvalid, Sessions
from tests.helpers import LiveServer


async def _later(rounds: int) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


async def test_login_racing_revoke_leaves_no_session(server: LiveServer) -> None:
    sessions: Sessions = server.rt.sessions
    outcomes = {"logged_in_then_ended": 0, "refused": 0}
    for delay in range(40):
        member, token = await sessions.invite("t", "judge", f"judge {delay}")

        async def login(token: str = token) -> str | None:
            try:
                _, sid = await sessions.login("t", token, None)
            except InviteInvalid:
                return None
            return sid

        async def revoke(delay: int = delay, staff: str = member.id) -> None:
            await _later(delay % 8)
            await sessions.revoke("t", staff)

        sid, _ = await asyncio.gather(login(), revoke())
        if sid is None:
            outcomes["refused"] += 1
        else:
            assert await sessions.session("t", sid) is None, f"live session after revoke ({delay})"
            outcomes["logged_in_then_ended"] += 1
        assert not (await sessions.member("t", member.id)).active
    print(outcomes)
    assert sum(outcomes.values()) == 40
