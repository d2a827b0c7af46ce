"""Security headers on every HTTP response (pure ASGI middleware, so streaming is untouched).

The CSP allows no inline script and no inline style; data for a page travels in a
``<script type="application/json">`` block, which is never executed. Consoles may not be
framed; the overlay may (OBS and other streaming tools embed it).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BASE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; "
)


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    embeddable = path.startswith("/overlay/")
    csp = BASE_CSP + ("frame-ancestors *" if embeddable else "frame-ancestors 'none'")
    out = [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        # Login links and overlay URLs carry secrets in the query: never send them to another
        # site. ("no-referrer" would also make Chromium send `Origin: null` on our own forms.)
        (b"referrer-policy", b"same-origin"),
    ]
    if not embeddable:
        out.append((b"x-frame-options", b"DENY"))
    return out


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
