"""Helpers shared by the HTTP edges: bounded body reads, client address, the device."""

from __future__ import annotations

from starlette.requests import Request

from live.domain.errors import ForbiddenOrigin, PayloadTooLarge
from live.domain.origin import origin_allowed
from live.web.identity import COOKIE, Devices


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes.

    Hand-written because Starlette has no body limit and ``await request.body()`` would buffer
    whatever a client sends.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def client_ip(request: Request) -> str:
    """The peer address (uvicorn has already applied X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else "unknown"


def device_of(request: Request, devices: Devices, allowed: tuple[str, ...]) -> str:
    """The device behind a state-changing request, after the Origin check (CSRF)."""
    if not origin_allowed(request.headers.get("origin"), request.headers.get("host"), allowed):
        raise ForbiddenOrigin("requests from another site are not accepted")
    return devices.verify(request.cookies.get(COOKIE))
