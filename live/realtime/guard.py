"""Re-checks the credentials behind open staff and overlay sockets, twice a second.

A revoked, logged-out or expired session closes its sockets with 4401; a role downgraded below
what the socket needs closes them with 4003; a rotated overlay key closes the overlays that
used the old one with 4003. Viewer sockets carry no revocable credential and are not touched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from live.domain.access import SOCKETS, same_secret
from live.domain.errors import WS_FORBIDDEN, WS_FORGED_DEVICE, LiveError
from live.realtime.hub import Hub
from live.redis.sessions import Sessions

log = logging.getLogger("live.guard")
NEEDS = {"staff": SOCKETS["/ws/staff/{show}"], "overlay": SOCKETS["/ws/overlay/{show}"]}


async def check(hub: Hub, sessions: Sessions) -> None:
    for show, conns in list(hub.connections.items()):
        guarded = [c for c in conns if c.audience in NEEDS and c.credential]
        if not guarded:
            continue
        by_session = [c for c in guarded if c.credential.startswith("session:")]
        roles = await sessions.valid_keys(show, [c.credential[8:] for c in by_session])
        for conn, role in zip(by_session, roles, strict=True):
            if role is None:
                conn.close(WS_FORGED_DEVICE)
            elif role not in NEEDS[conn.audience]:
                conn.close(WS_FORBIDDEN)
        by_key = [c for c in guarded if c.credential.startswith("key:")]
        if by_key:
            current = await sessions.overlay_key(show)
            for conn in by_key:
                if not same_secret(conn.credential[4:], current):
                    conn.close(WS_FORBIDDEN)


async def run(
    hub: Hub, sessions: Sessions, interval: float = 0.5, beat: Callable[[], None] = lambda: None
) -> None:
    while True:
        beat()
        await asyncio.sleep(interval)
        try:
            await check(hub, sessions)
        except LiveError as exc:
            log.warning("socket guard skipped: %s", exc.message)
