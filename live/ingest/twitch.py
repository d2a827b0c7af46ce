"""Twitch EventSub over websocket: chat messages (``channel.chat.message``) and cheers
(``channel.cheer``, counted as gifts of bits) of a channel.

Connect, read the welcome (its session id), subscribe to both through Helix
(``POST /helix/eventsub/subscriptions`` with the app's client id and a user token), then read
notifications. A socket silent past its keepalive timeout (plus a margin) is given up; a
``session_reconnect`` names a new URL: connect there, wait for its welcome, then leave the old
socket (the subscription moves with the session). Delivery is at least once: duplicates are
dropped by ``message_id`` when counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from live.domain.ingest import twitch as proto
from live.domain.ingest.event import Event
from live.domain.ingest.source import IngestSource
from live.ingest.link import LEASE_MS, Adapter, recv_beating
from live.services.ingest import Ingest

MARGIN_S = 5.0
"""Beyond the keepalive timeout the platform announced, before a silent socket is given up."""
MAX_MESSAGE = 1_000_000


class SessionLost(RuntimeError):
    pass


class Twitch(Adapter):
    def __init__(self, show_id: str, src: IngestSource, ingest: Ingest) -> None:
        super().__init__(show_id, src, ingest)
        self.client_id = ingest.credential(show_id, src, "client_id_env")
        self.token = ingest.credential(show_id, src, "token_env")

    async def _welcome(self, ws: ClientConnection) -> proto.Control:
        async with asyncio.timeout(10 + MARGIN_S):
            while True:
                got = proto.parse(_json(await ws.recv()), self.src.room)
                if isinstance(got, proto.Control) and got.type == "session_welcome":
                    return got

    async def subscribe(self, session_id: str) -> None:
        """Chat messages (votes and comments) and cheers (gifts) of the broadcaster's channel."""
        room = self.src.room
        conditions = {
            "channel.chat.message": {
                "broadcaster_user_id": room,
                "user_id": self.src.user_id or room,
            },
            "channel.cheer": {"broadcaster_user_id": room},
        }
        headers = {"Client-Id": self.client_id, "Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.src.api_url, timeout=10) as http:
            for kind, condition in conditions.items():
                body = {
                    "type": kind,
                    "version": "1",
                    "condition": condition,
                    "transport": {"method": "websocket", "session_id": session_id},
                }
                reply = await http.post("/helix/eventsub/subscriptions", json=body, headers=headers)
                if reply.status_code != 202:
                    raise SessionLost(
                        f"{kind}: subscription refused: HTTP {reply.status_code} {reply.text[:200]}"
                    )

    async def session(self, beat: Callable[[], None]) -> None:
        if not (self.client_id and self.token):
            raise SessionLost("credentials missing: set the environment variables it names")
        refused = self.ingest.endpoint_problem(self.src)
        if refused:
            raise SessionLost(refused)
        self.ws = await connect(self.src.base_url, max_size=MAX_MESSAGE, open_timeout=10)
        keep: asyncio.Task[None] | None = None
        try:
            welcome = await self._welcome(self.ws)
            await self.subscribe(welcome.session_id)
            self.connected(True)
            self.backoff.reset()
            keep = asyncio.create_task(self._keep())
            await self._read(welcome.keepalive_s, beat, keep)
        finally:
            if keep is not None:
                keep.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await keep
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def _keep(self) -> None:
        """The lease, renewed on whichever socket is current (a reconnect replaces it)."""
        while True:
            await asyncio.sleep(LEASE_MS / 3000)
            if not await self.hold():
                await self.ws.close()
                return

    async def _read(
        self, keepalive: int, beat: Callable[[], None], keep: asyncio.Task[None]
    ) -> None:
        while True:
            raw = await recv_beating(self.ws, keepalive + MARGIN_S, beat, keep)
            got = proto.parse(_json(raw), self.src.room)
            if isinstance(got, Event):
                await self.ingest.accept(self.show_id, [got])
            elif isinstance(got, proto.Control) and got.type == "revocation":
                raise SessionLost("the subscription was revoked")
            elif isinstance(got, proto.Control) and got.type == "session_reconnect":
                if not got.reconnect_url:
                    raise SessionLost("session_reconnect without a reconnect_url")
                # Connect to the new URL and read its welcome before leaving the old socket:
                # the subscription moves with the session, nothing is subscribed again.
                new = await connect(got.reconnect_url, max_size=MAX_MESSAGE, open_timeout=10)
                try:
                    keepalive = (await self._welcome(new)).keepalive_s
                except BaseException:
                    await new.close()
                    raise
                old, self.ws = self.ws, new
                with contextlib.suppress(Exception):
                    await old.close()


def _json(raw: str | bytes) -> dict[str, Any]:
    try:
        found = json.loads(raw)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
