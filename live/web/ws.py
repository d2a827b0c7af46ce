"""Websocket endpoints: snapshots out; a few operations in.

- ``WS /ws/shows/{show}``: viewers. Without a device cookie a socket may watch but not vote or
  like; a forged cookie is closed with 4401.
- ``WS /ws/staff/{show}``: staff consoles (staff snapshots show hidden tallies live). Needs a
  staff session whose role the access table allows, and an allowed Origin (a missing Origin is
  refused here: the session cookie is ambient authority).
- ``WS /ws/overlay/{show}?key=...``: the streamer overlay (honours the freeze).

Who may send which operation is :data:`live.domain.access.WS_OPS`. Close codes:
:mod:`live.domain.errors`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from starlette.routing import Match, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from live.domain.access import SOCKETS, op_allowed, same_secret
from live.domain.ballot import Voter
from live.domain.errors import (
    WS_FLOODING,
    WS_FORBIDDEN,
    WS_FORBIDDEN_ORIGIN,
    WS_FORGED_DEVICE,
    WS_TOO_MANY_SOCKETS,
    WS_UNKNOWN_SHOW,
    BadRequest,
    CommentLimited,
    DeviceRequired,
    Forbidden,
    LiveError,
    Throttled,
)
from live.domain.origin import origin_allowed
from live.domain.protocol import decode, encode, error_message
from live.realtime.flood import Bucket
from live.realtime.hub import Connection, text_frame
from live.web.http.staff import STAFF_COOKIE, actor
from live.web.identity import COOKIE, IDENTITY_COOKIE
from live.web.refusals import ANONYMOUS, refused
from live.web.runtime import Runtime, runtime
from live.web.server import SINK

VIEWER, STAFF, OVERLAY = "/ws/shows/{show}", "/ws/staff/{show}", "/ws/overlay/{show}"
THROTTLED = text_frame(encode(error_message(Throttled("slow down: this message was not handled"))))
NOT_TEXT = text_frame(encode(error_message(BadRequest("send text frames with JSON"))))
log = logging.getLogger("live.ws")


async def _handle(
    rt: Runtime, endpoint: str, who: str, show: str, voter: Voter | None, text: str, ip: str
) -> dict[str, Any]:
    """Answer one incoming message; every failure becomes a typed ``error`` message."""
    try:
        kind, body = decode(text)
    except LiveError as exc:
        return error_message(exc)
    try:
        if kind not in ("vote", "like", "comment", "ping"):
            refused(who, f"ws {endpoint} {kind[:40]!r}", BadRequest.code, ip, warn=False)
            raise BadRequest(f"unknown message type {kind[:40]!r}")
        if not op_allowed(endpoint, kind, who):
            refused(who, f"ws {endpoint} {kind}", "forbidden_op", ip)
            if endpoint == VIEWER and who == "viewer":
                raise DeviceRequired("no device cookie: open the show page first")
            raise Forbidden(f"{kind!r} is not allowed on this socket")
        if kind == "ping":
            return {"type": "pong"}
        assert voter is not None  # the table allows vote/like/comment to "device" only
        if kind == "vote":
            vote_id, outcome = await rt.service.vote(show, body, voter)
            return {
                "type": "vote_result",
                "vote_id": vote_id,
                "status": outcome.status,
                "reason": outcome.reason,
                "retry_after": -(-outcome.retry_after_ms // 1000),
                "version": outcome.version,
                **({"left": outcome.left} if outcome.left >= 0 else {}),
            }
        if kind == "comment":
            posted = await rt.comments.post(show, body, voter.device, ip=voter.ip)
            return {"type": "comment_result", **posted.public()}
        return {"type": "like_ack", "n": rt.service.like(show, body, voter.device)}
    except LiveError as exc:
        reply = error_message(exc)
        if kind == "vote" and isinstance(body.get("vote_id"), str):
            reply["vote_id"] = body["vote_id"]
        if kind == "comment" and isinstance(body.get("comment_id"), str):
            reply["comment_id"] = body["comment_id"][:64]
        if isinstance(exc, CommentLimited):
            reply["retry_after"] = exc.retry_after
        return reply


async def _read(
    rt: Runtime,
    ws: WebSocket,
    conn: Connection,
    endpoint: str,
    who: str,
    voter: Voter | None,
    ip: str,
) -> None:
    """The socket's one task: read operations and answer each (writes go straight to the
    transport). Ends on the peer's disconnect or when the server closes the connection (its
    close puts a disconnect in this socket's receive queue)."""
    settings = rt.settings
    bucket = Bucket(settings.ws_msg_rate, settings.ws_msg_burst, time.monotonic())
    with contextlib.suppress(WebSocketDisconnect):
        while not conn.done:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            if not bucket.take(time.monotonic()):
                if bucket.flooding:
                    refused(who, f"ws {endpoint}", WS_FLOODING, ip)
                    conn.close(WS_FLOODING)
                    break
                conn.reply(THROTTLED)
                continue
            text = message.get("text")
            if text is None:
                conn.reply(NOT_TEXT)
                continue
            reply = await _handle(rt, endpoint, who, conn.show, voter, text, ip)
            conn.reply(text_frame(encode(reply)))


async def _run(
    rt: Runtime,
    ws: WebSocket,
    endpoint: str,
    who: str,
    audience: str,
    credential: str = "",
    device: str | None = None,
) -> None:
    """Serve an accepted, authorised socket until either side ends it (or refuse it: 4030)."""
    ip = _ip(ws)
    if not rt.addresses.acquire(ip):
        refused(who, f"ws {endpoint}", WS_TOO_MANY_SOCKETS, ip)
        await ws.close(WS_TOO_MANY_SOCKETS, "too many sockets from this address")
        return
    try:
        await _serve(rt, ws, endpoint, who, audience, credential, device, ip)
    finally:
        rt.addresses.release(ip)


async def _serve(
    rt: Runtime,
    ws: WebSocket,
    endpoint: str,
    who: str,
    audience: str,
    credential: str,
    device: str | None,
    ip: str,
) -> None:
    show = ws.path_params["show"]
    voter = None
    if device is not None:  # identities verified after the socket opened need a reconnect
        claims = rt.identities.read(ws.cookies.get(IDENTITY_COOKIE), device)
        voter = Voter(device, ip, ws.headers.get("user-agent", ""), claims)
    sink = ws.scope.get("extensions", {}).get(SINK)
    if sink is None:
        log.error("websocket served without live's protocol: run `live serve`")
        await ws.close(1011, "server misconfigured")
        return
    client = (ws.client.host, ws.client.port) if ws.client else None
    slow_after = rt.settings.slow_client_ms / 1000
    conn = Connection(sink, show, slow_after, audience, credential, client=client)
    try:
        first = await rt.hub.first_snapshot(show, audience)
    except LiveError:
        await ws.close(1013, "try again later")
        return
    rt.hub.add(conn)
    try:
        conn.offer_show(first.show)
        if first.comments:
            conn.offer_comments(first.comments)
        conn.offer_snapshot(first.push, time.monotonic())
        await _read(rt, ws, conn, endpoint, who, voter, ip)
    finally:
        rt.hub.remove(conn)
        conn.done = True
        sink.on_drain = None


def _ip(ws: WebSocket) -> str:
    return ws.client.host if ws.client else "unknown"


async def _refuse(ws: WebSocket, who: str, code: int, why: str) -> None:
    refused(who, f"ws {ws.url.path}", code, _ip(ws))
    await ws.close(code, why)


async def _open(ws: WebSocket, require_origin: bool) -> Runtime | None:
    """Accept, then check Origin and the show; None when the socket was closed."""
    rt = runtime(ws.app)
    await ws.accept()
    origin = ws.headers.get("origin")
    if (require_origin and origin is None) or not origin_allowed(
        origin, ws.headers.get("host"), rt.settings.allowed_origins
    ):
        await _refuse(ws, ANONYMOUS, WS_FORBIDDEN_ORIGIN, "origin not allowed")
        return None
    if ws.path_params["show"] not in rt.service.shows:
        await ws.close(WS_UNKNOWN_SHOW, "unknown show")
        return None
    return rt


async def viewer_endpoint(ws: WebSocket) -> None:
    rt = await _open(ws, require_origin=False)
    if rt is None:
        return
    device: str | None = None
    cookie = ws.cookies.get(COOKIE)
    if cookie:
        try:
            device = rt.devices.verify(cookie)
        except DeviceRequired:
            await _refuse(ws, ANONYMOUS, WS_FORGED_DEVICE, "device cookie is not valid")
            return
    await _run(rt, ws, VIEWER, "device" if device else "viewer", "viewer", device=device)


async def staff_endpoint(ws: WebSocket) -> None:
    rt = await _open(ws, require_origin=True)
    if rt is None:
        return
    show = ws.path_params["show"]
    raw = ws.cookies.get(STAFF_COOKIE, "")
    cookie_show, _, sid = raw.partition(".")
    session = await rt.sessions.session(show, sid) if cookie_show == show else None
    if session is None:
        await _refuse(ws, ANONYMOUS, WS_FORGED_DEVICE, "no staff session")
        return
    if session.role not in SOCKETS[STAFF]:
        await _refuse(ws, actor(session), WS_FORBIDDEN, "role not allowed")
        return
    await _run(rt, ws, STAFF, session.role, "staff", credential="session:" + session.key)


async def overlay_endpoint(ws: WebSocket) -> None:
    rt = await _open(ws, require_origin=False)
    if rt is None:
        return
    show = ws.path_params["show"]
    key = ws.query_params.get("key")
    if key:
        if not same_secret(key, await rt.sessions.overlay_key(show)):
            await _refuse(ws, ANONYMOUS, WS_FORBIDDEN, "wrong overlay key")
            return
        await _run(rt, ws, OVERLAY, "overlay-key", "overlay", credential="key:" + key)
        return
    raw = ws.cookies.get(STAFF_COOKIE, "")
    cookie_show, _, sid = raw.partition(".")
    session = await rt.sessions.session(show, sid) if cookie_show == show else None
    if session is None or session.role not in SOCKETS[OVERLAY]:
        who = actor(session) if session else ANONYMOUS
        await _refuse(ws, who, WS_FORBIDDEN, "overlay key or streamer session required")
        return
    await _run(rt, ws, OVERLAY, session.role, "overlay", credential="session:" + session.key)


routes = [
    WebSocketRoute(VIEWER, viewer_endpoint),
    WebSocketRoute(STAFF, staff_endpoint),
    WebSocketRoute(OVERLAY, overlay_endpoint),
]
"""Served by :class:`SocketsFirst`, not by the app's router."""


class SocketsFirst:
    """The outermost middleware: a websocket whose path one of :data:`routes` matches goes
    straight to its endpoint, past the HTTP middleware (shedding, headers), the exception
    middleware and the router. Each of those keeps a coroutine frame for the socket's whole
    life (~5 KB per idle viewer); none of them does anything for these sockets. Everything else
    takes the normal way."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            for route in routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)  # path_params, as the router would set them
                    await route.endpoint(WebSocket(scope, receive, send))
                    return
        await self.app(scope, receive, send)
