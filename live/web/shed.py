"""Load shedding: past ``LIVE_MAX_INFLIGHT`` HTTP requests in one process, answer at once.

An overloaded process that queues every request makes every answer late; one that refuses the
excess straight away (503, ``Retry-After``, the usual error body) keeps the requests it took
fast, and phones retry the rest after the pause (with the same ``vote_id``). Health checks are
never shed. Pure ASGI, so a shed request costs no routing and no Redis call (only a small body
is read, so that the answer is not raced by a reset).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from live.domain.errors import Overloaded
from live.web.refusals import ANONYMOUS, refused

BODY = json.dumps(Overloaded("the server is busy; try again after Retry-After").body()).encode()
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
    (b"retry-after", str(Overloaded.retry_after).encode()),
]

DRAIN_LIMIT = 65_536


PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
"""Never shed: an overloaded process must still say how it is."""


class Shed:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.inflight = 0
        self.shed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PROBES:
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.limit:
            self.shed += 1
            if self.shed % 1000 == 1:  # one line per thousand: a flood must not flood the log
                client = scope.get("client")
                refused(ANONYMOUS, f"{scope['method']} {scope['path']}", Overloaded.code,
                        client[0] if client else "unknown", warn=True)  # fmt: skip
            # Read (and drop) a small body first: answering with it unread would make the
            # server close the socket with data pending, a TCP reset that can beat the answer.
            drained, more = 0, scope["method"] in ("POST", "PUT", "PATCH")
            while more and drained < DRAIN_LIMIT:
                message = await receive()
                drained += len(message.get("body", b""))
                more = message.get("more_body", False) and message["type"] == "http.request"
            await send({"type": "http.response.start", "status": 503, "headers": HEADERS})
            await send({"type": "http.response.body", "body": BODY})
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1
