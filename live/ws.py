"""``WS /ws/shows/{show}``: snapshots out; votes, likes and pings in.

Without a device cookie a socket may watch but not vote or like; a forged cookie is closed
with 4401; an unknown show with 4404. See :mod:`live.errors` for every close code.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from live.errors import (
    WS_FORBIDDEN_ORIGIN,
    WS_FORGED_DEVICE,
    WS_UNKNOWN_SHOW,
    BadRequest,
    DeviceRequired,
    LiveError,
)
from live.hub import Connection
from live.identity import COOKIE
from live.origin import origin_allowed
from live.protocol import decode, encode, error_message
from live.runtime import Runtime, runtime


async def _handle(rt: Runtime, show: str, device: str | None, ip: str, text: str) -> dict[str, Any]:
    """Answer one incoming message; every failure becomes a typed ``error`` message."""
    try:
        kind, body = decode(text)
    except LiveError as exc:
        return error_message(exc)
    try:
        if kind == "ping":
            return {"type": "pong"}
        if kind not in ("vote", "like"):
            raise BadRequest(f"unknown message type {kind!r}")
        if device is None:
            raise DeviceRequired("no device cookie: open the show page first")
        if kind == "vote":
            vote_id, outcome = await rt.service.vote(show, body, device, ip)
            return {
                "type": "vote_result",
                "vote_id": vote_id,
                "status": outcome.status,
                "reason": outcome.reason,
                "retry_after": -(-outcome.retry_after_ms // 1000),
                "version": outcome.version,
            }
        return {"type": "like_ack", "n": rt.service.like(show, body, device)}
    except LiveError as exc:
        reply = error_message(exc)
        if kind == "vote" and isinstance(body.get("vote_id"), str):
            reply["vote_id"] = body["vote_id"]
        return reply


async def _read(rt: Runtime, conn: Connection, show: str, device: str | None, ip: str) -> None:
    ws = conn.ws
    try:
        while not conn.done.is_set():
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None:
                conn.reply(encode(error_message(BadRequest("send text frames with JSON"))))
                continue
            conn.reply(encode(await _handle(rt, show, device, ip, text)))
    except WebSocketDisconnect:
        pass
    finally:
        conn.done.set()


async def endpoint(ws: WebSocket) -> None:
    rt = runtime(ws.app)
    show = ws.path_params["show"]
    await ws.accept()
    if not origin_allowed(
        ws.headers.get("origin"), ws.headers.get("host"), rt.settings.allowed_origins
    ):
        await ws.close(WS_FORBIDDEN_ORIGIN, "origin not allowed")
        return
    if show not in rt.service.shows:
        await ws.close(WS_UNKNOWN_SHOW, "unknown show")
        return
    device: str | None = None
    cookie = ws.cookies.get(COOKIE)
    if cookie:
        try:
            device = rt.devices.verify(cookie)
        except DeviceRequired:
            await ws.close(WS_FORGED_DEVICE, "device cookie is not valid")
            return
    ip = ws.client.host if ws.client else "unknown"
    conn = Connection(ws, show, rt.settings.slow_client_ms / 1000)
    try:
        first = await rt.hub.first_snapshot(show, "viewer")
    except LiveError:
        await ws.close(1013, "try again later")
        return
    rt.hub.add(conn)
    conn.offer_snapshot(first, 0.0)
    sender = asyncio.create_task(conn.run_sender())
    reader = asyncio.create_task(_read(rt, conn, show, device, ip))
    try:
        await conn.done.wait()
    finally:
        rt.hub.remove(conn)
        sender.cancel()
        reader.cancel()
        await asyncio.gather(sender, reader, return_exceptions=True)
    if conn.close_code is not None:
        # Bounded: the close frame may never leave a socket whose peer stopped reading.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await ws.close(conn.close_code)


routes = [WebSocketRoute("/ws/shows/{show}", endpoint)]
