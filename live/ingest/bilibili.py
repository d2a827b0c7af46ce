"""bilibili live open platform adapter: start a project session with the streamer's 身份码,
read the room's events over its websocket, keep both heartbeats, end the session.

``POST /v2/app/start`` (signed, see :func:`~live.domain.ingest.bilibili.sign_headers`)
answers the ``game_id``, the websocket's ``auth_body`` and its ``wss_link`` list; the socket is
authenticated with one packet (op 7), answered ``{"code": 0}`` (op 8); the client sends a
heartbeat packet every 30 s (op 2, answered by op 3) and the project heartbeat
``POST /v2/app/heartbeat`` every 20 s; messages (op 5) arrive plain, zlib'd or brotli'd, several
to a frame. A socket silent for longer than :data:`SILENCE_S` (no heartbeat reply either) is
given up and the session started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from live.domain.ingest import bilibili as proto
from live.domain.ingest.event import Event
from live.domain.ingest.source import IngestSource
from live.ingest.link import LEASE_MS, Adapter, recv_beating
from live.services.ingest import Ingest

HEARTBEAT_S = 30.0
PROJECT_HEARTBEAT_S = 20.0
SILENCE_S = 70.0
AUTH_TIMEOUT_S = 10.0


class PlatformError(RuntimeError):
    """The open platform refused a call (its ``code`` and ``message``)."""


class Bilibili(Adapter):
    def __init__(self, show_id: str, src: IngestSource, ingest: Ingest) -> None:
        super().__init__(show_id, src, ingest)
        self.key_id = ingest.credential(show_id, src, "key_id_env")
        self.secret = ingest.credential(show_id, src, "secret_env")
        self.code = ingest.credential(show_id, src, "code_env")

    async def call(self, http: httpx.AsyncClient, path: str, payload: dict[str, Any]) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = proto.sign_headers(
            body, self.key_id, self.secret, secrets.token_hex(8), int(time.time())
        )
        reply = await http.post(path, content=body, headers=headers)
        reply.raise_for_status()
        answer = reply.json()
        if answer.get("code") != 0:
            raise PlatformError(f"{path}: code {answer.get('code')}: {answer.get('message')}")
        return answer.get("data") or {}

    async def session(self, beat: Callable[[], None]) -> None:
        if not (self.key_id and self.secret and self.code):
            raise PlatformError("credentials missing: set the environment variables it names")
        refused = self.ingest.endpoint_problem(self.src)
        if refused:
            raise PlatformError(refused)
        async with httpx.AsyncClient(base_url=self.src.base_url, timeout=10) as http:
            start = {"code": self.code, "app_id": self.src.app_id}
            data = await self.call(http, "/v2/app/start", start)
            game_id = str((data.get("game_info") or {}).get("game_id", ""))
            socket_info = data.get("websocket_info") or {}
            links = socket_info.get("wss_link") or []
            if not links:
                raise PlatformError("/v2/app/start answered no wss_link")
            try:
                async with connect(links[0], max_size=proto.MAX_PACKET, open_timeout=10) as ws:
                    await self._authenticate(ws, str(socket_info.get("auth_body", "")))
                    self.connected(True)
                    self.backoff.reset()
                    keep = asyncio.create_task(self._heartbeats(ws, http, game_id))
                    try:
                        await self._read(ws, beat, keep)
                    finally:
                        keep.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await keep
            finally:
                if game_id:
                    with contextlib.suppress(Exception):
                        await self.call(
                            http, "/v2/app/end", {"game_id": game_id, "app_id": self.src.app_id}
                        )

    async def _authenticate(self, ws: ClientConnection, auth_body: str) -> None:
        await ws.send(proto.auth_packet(auth_body))
        async with asyncio.timeout(AUTH_TIMEOUT_S):
            while True:
                frame = await ws.recv()
                for packet in proto.decode(_bytes(frame)):
                    if packet.op == proto.OP_AUTH_REPLY:
                        reply = packet.json() or {}
                        if reply.get("code") != 0:
                            raise PlatformError(f"websocket auth refused: {reply}")
                        return

    async def _heartbeats(
        self, ws: ClientConnection, http: httpx.AsyncClient, game_id: str
    ) -> None:
        """Both heartbeats and the lease, until the session ends (a failure ends it)."""
        loop = asyncio.get_running_loop()
        next_ws = next_project = next_lease = loop.time()
        while True:
            now = loop.time()
            if now >= next_ws:
                await ws.send(proto.HEARTBEAT)
                next_ws = now + HEARTBEAT_S
            if now >= next_project:
                await self.call(http, "/v2/app/heartbeat", {"game_id": game_id})
                next_project = now + PROJECT_HEARTBEAT_S
            if now >= next_lease:
                if not await self.hold():
                    await ws.close()  # another process holds the room now
                    return
                next_lease = now + LEASE_MS / 3000
            await asyncio.sleep(max(0.05, min(next_ws, next_project, next_lease) - loop.time()))

    async def _read(
        self, ws: ClientConnection, beat: Callable[[], None], keep: asyncio.Task[None]
    ) -> None:
        while True:
            frame = await recv_beating(ws, SILENCE_S, beat, keep)  # heartbeat replies count
            events: list[Event] = []
            for packet in proto.decode(_bytes(frame)):
                if packet.op != proto.OP_MESSAGE:
                    continue
                message = packet.json()
                if isinstance(message, dict):
                    event = proto.event_of(message, self.src.room)
                    if event is not None:
                        events.append(event)
            if events:
                await self.ingest.accept(self.show_id, events)


def _bytes(frame: str | bytes) -> bytes:
    return frame if isinstance(frame, bytes) else frame.encode()
