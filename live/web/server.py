"""uvicorn's sans-I/O websocket protocol, closing with 1001 (going away) on shutdown.

On SIGTERM uvicorn closes every open websocket before the app's lifespan ends; its default code
is 1012 (service restart). Phones treat both alike (they reconnect with jittered backoff), but
1001 is the one RFC 6455 names for "the server is going down", which is what every client
library maps to a normal reconnect. The override is the close code alone; the rest is
uvicorn's own ``shutdown``.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

GOING_AWAY = 1001
PROTOCOL = "live.web.server:GoingAwayProtocol"
"""What ``uvicorn.Config(ws=...)`` is given (an import string, so workers can load it)."""


class GoingAwayProtocol(WebSocketsSansIOProtocol):
    def shutdown(self) -> None:
        if self.close_sent or not self.handshake_complete:
            super().shutdown()
            return
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": GOING_AWAY})
        self.conn.send_close(GOING_AWAY, "server shutting down")
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()
