"""Origin checks: the defence against cross-site requests that ride on a viewer's cookie.

Browsers always send ``Origin`` on websocket handshakes and on cross-site POSTs. A request
whose Origin is present must match an allowed origin (``LIVE_ALLOWED_ORIGINS``) or, when none is
configured, the server's own host. ``null`` (sandboxed frames, file pages) is never allowed. A
request without Origin comes from a non-browser client, which carries no ambient cookie from
another site, so it is let through. Pure.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def origin_allowed(origin: str | None, host: str | None, allowed: tuple[str, ...]) -> bool:
    if origin is None:
        return True
    origin = origin.strip().lower()
    if origin == "null" or not origin:
        return False
    if allowed:
        return origin.rstrip("/") in allowed
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    return host is not None and parts.netloc == host.strip().lower()
