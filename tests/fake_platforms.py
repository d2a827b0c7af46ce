"""Local fakes of the platforms, speaking their real protocols on loopback: the bilibili open
platform (signed HTTP API + a websocket of 16-byte-header packets, plain, zlib or brotli) and
Twitch EventSub (a websocket with welcome, keepalive, reconnect; the Helix subscription call).
Each is a Starlette app on a real uvicorn server; a test scripts it through its attributes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from live.domain.ingest import bilibili as proto
from tests.helpers import bound_socket, uvicorn_on


@asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[int]:
    """Serve ``app`` on a free loopback port in this event loop; yields the port."""
    sock = bound_socket()
    async with uvicorn_on(uvicorn.Config(app, log_level="warning", lifespan="off"), sock):
        yield sock.getsockname()[1]


async def next_frame(queue: asyncio.Queue[Any], reader: asyncio.Task[None]) -> Any:
    """The next queued item, or None once the client has gone (its reader ended)."""
    get = asyncio.ensure_future(queue.get())
    done, _ = await asyncio.wait({get, reader}, return_when=asyncio.FIRST_COMPLETED)
    if get in done:
        return get.result()
    get.cancel()
    return None


async def quietly_close(ws: WebSocket) -> None:
    try:
        await ws.close()
    except (RuntimeError, WebSocketDisconnect):
        pass


# -- bilibili --------------------------------------------------------------------------------


def dm(msg_id: str, open_id: str, msg: str, ts: int = 1_900_000_000) -> dict[str, Any]:
    return {"cmd": "LIVE_OPEN_PLATFORM_DM", "data": {"msg_id": msg_id, "open_id": open_id,
            "msg": msg, "timestamp": ts, "room_id": 1, "uname": "观众"}}  # fmt: skip


def like(msg_id: str, open_id: str, n: int) -> dict[str, Any]:
    return {"cmd": "LIVE_OPEN_PLATFORM_LIKE", "data": {"msg_id": msg_id, "open_id": open_id,
            "like_count": n, "timestamp": 1_900_000_000}}  # fmt: skip


def gift(msg_id: str, open_id: str, n: int) -> dict[str, Any]:
    return {"cmd": "LIVE_OPEN_PLATFORM_SEND_GIFT", "data": {"msg_id": msg_id,
            "open_id": open_id, "gift_num": n, "gift_name": "小心心",
            "timestamp": 1_900_000_000}}  # fmt: skip


def frame(messages: list[dict[str, Any]], version: int = proto.PLAIN) -> bytes:
    """One websocket frame carrying ``messages`` (op 5 packets back to back; with version 2 or
    3, compressed inside one outer packet)."""
    inner = b"".join(
        proto.encode(proto.Packet(proto.OP_MESSAGE, json.dumps(m, ensure_ascii=False).encode()))
        for m in messages
    )
    if version == proto.PLAIN:
        return inner
    return proto.encode(proto.Packet(proto.OP_MESSAGE, inner, version))


@dataclass
class FakeBilibili:
    key_id: str
    secret: str
    code: str
    port: int = 0
    auth_ok: bool = True
    answer_heartbeats: bool = True
    starts: int = 0
    ends: int = 0
    project_heartbeats: int = 0
    socket_heartbeats: int = 0
    refused_signatures: int = 0
    connections: int = 0
    frames: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    """What the next connected socket sends; ``None`` closes it (a dropped connection)."""
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v2/app/start", self.start, methods=["POST"]),
                Route("/v2/app/heartbeat", self.heartbeat, methods=["POST"]),
                Route("/v2/app/end", self.end, methods=["POST"]),
                WebSocketRoute("/sub", self.socket),
            ]
        )

    async def _signed(self, request: Request) -> dict[str, Any] | None:
        body = await request.body()
        if not proto.check_signature(dict(request.headers), body, self.secret):
            self.refused_signatures += 1
            return None
        found: dict[str, Any] = json.loads(body)
        return found

    async def start(self, request: Request) -> Response:
        body = await self._signed(request)
        if body is None:
            return JSONResponse({"code": 4000, "message": "signature invalid"})
        if body.get("code") != self.code:
            return JSONResponse({"code": 7007, "message": "身份码错误"})
        self.starts += 1
        return JSONResponse(
            {
                "code": 0,
                "message": "0",
                "data": {
                    "game_info": {"game_id": f"game-{self.starts}"},
                    "websocket_info": {
                        "auth_body": json.dumps({"key": "k", "game": self.starts}),
                        "wss_link": [f"ws://127.0.0.1:{self.port}/sub"],
                    },
                    "anchor_info": {"room_id": 1},
                },
            }
        )

    async def heartbeat(self, request: Request) -> Response:
        ok = await self._signed(request) is not None
        self.project_heartbeats += ok
        return JSONResponse({"code": 0 if ok else 4000, "message": "0", "data": {}})

    async def end(self, request: Request) -> Response:
        ok = await self._signed(request) is not None
        self.ends += ok
        return JSONResponse({"code": 0 if ok else 4000, "message": "0", "data": {}})

    async def socket(self, ws: WebSocket) -> None:
        await ws.accept()
        first = proto.decode(await ws.receive_bytes())
        if not first or first[0].op != proto.OP_AUTH or not self.auth_ok:
            reply = proto.Packet(proto.OP_AUTH_REPLY, b'{"code":-101}')
            await ws.send_bytes(proto.encode(reply))
            await ws.close()
            return
        await ws.send_bytes(proto.encode(proto.Packet(proto.OP_AUTH_REPLY, b'{"code":0}')))
        self.connections += 1
        self.connected.set()

        async def answer() -> None:
            while True:
                for packet in proto.decode(await ws.receive_bytes()):
                    if packet.op == proto.OP_HEARTBEAT:
                        self.socket_heartbeats += 1
                        if self.answer_heartbeats:
                            reply = proto.Packet(proto.OP_HEARTBEAT_REPLY, b"\x00\x00\x00\x01")
                            await ws.send_bytes(proto.encode(reply))

        reader = asyncio.create_task(answer())
        try:
            while (data := await next_frame(self.frames, reader)) is not None:
                await ws.send_bytes(data)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.connected.clear()
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await quietly_close(ws)


# -- Twitch ----------------------------------------------------------------------------------


def chat(message_id: str, user: str, text: str) -> dict[str, Any]:
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "metadata": {"message_id": message_id, "message_type": "notification",
                     "message_timestamp": stamp, "subscription_type": "channel.chat.message"},
        "payload": {"subscription": {"type": "channel.chat.message"},
                    "event": {"chatter_user_id": user, "message": {"text": text}}},
    }  # fmt: skip


def cheer(message_id: str, user: str, bits: int) -> dict[str, Any]:
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "metadata": {"message_id": message_id, "message_type": "notification",
                     "message_timestamp": stamp, "subscription_type": "channel.cheer"},
        "payload": {"subscription": {"type": "channel.cheer"},
                    "event": {"user_id": user, "bits": bits, "message": "Cheer100"}},
    }  # fmt: skip


@dataclass
class FakeTwitch:
    client_id: str
    token: str
    port: int = 0
    keepalive_s: int = 10
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    sessions: int = 0
    frames: asyncio.Queue[dict[str, Any] | str | None] = field(default_factory=asyncio.Queue)
    """What the current socket sends: a message, ``"reconnect"`` (a session_reconnect naming
    a new URL; the new socket takes over the queue), or ``None`` (the socket is dropped)."""
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/helix/eventsub/subscriptions", self.subscribe, methods=["POST"]),
                WebSocketRoute("/ws", self.socket),
            ]
        )

    async def subscribe(self, request: Request) -> Response:
        good = (
            request.headers.get("client-id") == self.client_id
            and request.headers.get("authorization") == f"Bearer {self.token}"
        )
        if not good:
            return JSONResponse({"error": "Unauthorized", "status": 401}, status_code=401)
        body = await request.json()
        self.subscriptions.append(body)
        return JSONResponse({"data": [{"id": "sub-1", "status": "enabled"}]}, status_code=202)

    async def socket(self, ws: WebSocket) -> None:
        await ws.accept()
        self.sessions += 1
        session = f"session-{self.sessions}"
        welcome = {
            "metadata": {"message_id": f"w-{session}", "message_type": "session_welcome"},
            "payload": {"session": {"id": session, "status": "connected",
                                    "keepalive_timeout_seconds": self.keepalive_s,
                                    "reconnect_url": None}},
        }  # fmt: skip
        await ws.send_text(json.dumps(welcome))
        self.connected.set()

        async def drain() -> None:  # ends when the client leaves this socket
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass

        reader = asyncio.create_task(drain())
        try:
            while True:
                item = await next_frame(self.frames, reader)
                if item is None:
                    break
                if item == "reconnect":
                    msg = {
                        "metadata": {"message_id": f"r-{session}",
                                     "message_type": "session_reconnect"},
                        "payload": {"session": {"id": session, "status": "reconnecting",
                                                "reconnect_url":
                                                    f"ws://127.0.0.1:{self.port}/ws"}},
                    }  # fmt: skip
                    await ws.send_text(json.dumps(msg))
                    # The old socket stays open until the client leaves it; the new one
                    # takes over what is queued.
                    await reader
                    break
                await ws.send_text(json.dumps(item))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await quietly_close(ws)
