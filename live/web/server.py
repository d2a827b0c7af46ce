"""The one uvicorn configuration (``live serve``, the Procfile through it, and the tests), and
uvicorn's sans-I/O websocket protocol closing with 1001 (going away) on shutdown.

On SIGTERM uvicorn closes every open websocket before the app's lifespan ends; its default code
is 1012 (service restart). Phones treat both alike (they reconnect with jittered backoff), but
1001 is the one RFC 6455 names for "the server is going down", which is what every client
library maps to a normal reconnect. The override is the close code alone; it touches the
protocol's attributes that uvicorn's own ``shutdown`` uses (present since 0.35, where this
protocol first shipped), and falls back to uvicorn's own ``shutdown`` (1012) if they are gone.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from live.settings import Settings

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
    options.update(overrides)
    return options


class GoingAwayProtocol(WebSocketsSansIOProtocol):
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
