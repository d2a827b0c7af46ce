"""The one uvicorn configuration (``live serve``, the Procfile through it, and the tests), and
the websocket protocol every socket runs on: uvicorn's sans-I/O one, plus two things.

- The frame sink. The hub writes one pre-built frame (the same ``bytes`` for every socket) to
  each socket's transport synchronously: no UTF-8 encoding, framing, ASGI ``send`` or task per
  socket and push (they were two thirds of a fan-out's CPU). The protocol offers itself to the
  app under ``scope["extensions"]["live.sink"]``; its transport's high-water mark is
  :data:`HIGH_WATER`, above which the hub keeps only the latest snapshot for that socket.
- 1001 on shutdown. On SIGTERM uvicorn closes every open websocket before the app's lifespan
  ends; its default code is 1012 (service restart). Phones treat both alike (they reconnect with
  jittered backoff), but 1001 is the one RFC 6455 names for "the server is going down".

Both touch the protocol's attributes that uvicorn's own ``send`` and ``shutdown`` use (present
since 0.35, where this protocol first shipped); ``pyproject.toml`` pins the uvicorn versions
this was tested on.
"""

from __future__ import annotations

import asyncio
from asyncio import BaseTransport
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from live.settings import Settings
from live.web.logs import log_config

GOING_AWAY = 1001
PROTOCOL = "live.web.server:GoingAwayProtocol"
"""What ``uvicorn.Config(ws=...)`` is given (an import string, so workers can load it)."""
APP = "live.web.app:create_app"
"""The app factory (``factory=True``)."""


def uvicorn_options(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``/``uvicorn.run``, from the settings: the
    websocket protocol, frame limit, no compression, which proxies are believed, no server
    header, and a bounded graceful shutdown. ``overrides`` win (a test's log level, say)."""
    options: dict[str, Any] = {
        "ws": PROTOCOL,
        "ws_max_size": settings.ws_max_bytes,
        "ws_per_message_deflate": False,
        # X-Forwarded-For is believed only from LIVE_TRUSTED_PROXIES.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or "",
        "server_header": False,
        "timeout_graceful_shutdown": 5,
        "log_level": "info",
    }
    if settings.log_json:
        options["log_config"] = log_config(True)
    options.update(overrides)
    return options


SINK = "live.sink"
"""The ASGI scope extension under which :class:`GoingAwayProtocol` offers itself to the app
as a :class:`live.realtime.hub.Sink` (``scope["extensions"]["live.sink"]``)."""
HIGH_WATER = 16 * 1024
"""Bytes a socket's transport may hold beyond the kernel's buffer before the hub keeps only
the latest snapshot for it (about 18 demo pushes); it writes again below a quarter of that."""
SLOW_CLOSE_S = 1.0
"""How long a close frame may wait for a socket that is not draining before it is aborted."""


class Inbox:
    """What uvicorn's protocol uses of its ``asyncio.Queue`` (``put_nowait``, ``get``,
    ``empty``) for its one reader, the app. An ``asyncio.Queue`` holds three deques (~2.3 KB);
    a socket holds one inbox for its whole life, and a show night holds tens of thousands."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)  # a handful at most: the reader drains it as it comes


class Flag:
    """What uvicorn's protocol uses of its ``asyncio.Event`` (``writable``) without the Event's
    deque of waiters (~0.6 KB per socket); waiters are rare (a send while the buffer is full)."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        if self._set:
            return
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        await waiter


class GoingAwayProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O protocol, plus: 1001 on shutdown, and the frame sink the hub writes
    the same pre-built frame bytes to (no per-socket encoding, no ASGI ``send`` per push)."""

    on_drain: Callable[[], None] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per socket, for the socket's whole life: lighter stand-ins of the same interface.
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete:
            # The handshake's request and response (all their headers) are not needed again.
            self.request = self.response = None  # type: ignore[assignment]

    def connection_made(self, transport: BaseTransport) -> None:
        super().connection_made(transport)
        self.transport.set_write_buffer_limits(high=HIGH_WATER)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # the app's task is created but has not run yet
            scope["extensions"][SINK] = self

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.on_drain is not None:
            self.on_drain()

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_drain = None
        super().connection_lost(exc)

    def takes_more(self) -> bool:
        return self.writable.is_set()

    def write_frame(self, frame: bytes) -> bool:
        if (
            self.close_sent
            or self.disconnected
            or not self.handshake_complete
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True

    def close_now(self, code: int) -> None:
        """What ASGI ``websocket.close`` does, without first waiting for the transport to
        drain (the socket being closed may be the one that stopped reading)."""
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code})
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return
        self.conn.send_close(code, "")
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        if self.writable.is_set():
            self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)
        else:  # the peer stopped reading: its close frame will not get through in time
            self.close_timer = self.loop.call_later(SLOW_CLOSE_S, self.transport.abort)

    def shutdown(self) -> None:
        conn = getattr(self, "conn", None)
        if (
            conn is None
            or getattr(self, "close_sent", True)
            or not getattr(self, "handshake_complete", False)
        ):
            super().shutdown()
            return
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": GOING_AWAY})
        conn.send_close(GOING_AWAY, "server shutting down")
        self.transport.write(b"".join(conn.data_to_send()))
        self.transport.close()
