"""Every route that takes a body has a size bound and answers malformed input with a 4xx.

The table below is this test's own, written out by hand (not read from the router): each POST
route, who may send it, the largest body it reads, and a malformed body. A route added to the
app without a row here fails the first test; a bound that goes (a body read whole) fails the
second; a parser that crashes on garbage fails the third.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.routing import Route

from tests.conftest import make_settings
from tests.helpers import LiveServer, serve, staff_login
from tests.test_ingest import DOUYIN_SECRET, SECRET_ENV, push_headers, with_ingest

KB, MB = 1024, 1024 * 1024


@dataclass(frozen=True)
class Row:
    limit: int | None
    """The largest body read (None: the route reads no body at all)."""
    who: str
    """``device``, ``public``, ``douyin`` or a staff role."""
    malformed: bytes = b"{not json"
    query: str = ""
    content_type: str = "application/json"
    show: str = "t"
    """``gala`` for what only a show set up in the browser takes (``t`` is a file's)."""


TABLE: dict[str, Row] = {
    "/api/shows/{show}/votes": Row(4 * KB, "device"),
    "/api/shows/{show}/likes": Row(4 * KB, "device"),
    "/api/shows/{show}/comments": Row(4 * KB, "device"),
    "/api/identity/phone/start": Row(4 * KB, "device"),
    "/api/identity/phone/verify": Row(4 * KB, "device"),
    "/ingest/douyin/{show}": Row(1_000_000, "douyin", b"\xff not json"),
    "/staff/login": Row(
        1 * KB,
        "public",
        b"a=1&b=2&c=3&d=4&e=5&f=6",
        content_type="application/x-www-form-urlencoded",
    ),
    "/staff/logout": Row(None, "admin"),
    "/api/shows": Row(4 * KB, "admin"),
    "/api/shows/{show}/stage": Row(4 * KB, "admin"),
    "/api/shows/{show}/display": Row(4 * KB, "admin"),
    "/api/shows/{show}/overlay-key": Row(None, "admin"),
    "/api/shows/{show}/categories/{category}/rules": Row(4 * KB, "admin"),
    "/api/shows/{show}/contestants/{contestant}": Row(4 * KB, "admin"),
    "/api/shows/{show}/contestants/{contestant}/photo": Row(
        8 * MB, "admin", b"GIF89a not ours", content_type="image/png"
    ),
    "/api/shows/{show}/running-order": Row(16 * KB, "admin"),
    "/api/shows/{show}/sheets/{category}/{contestant}": Row(4 * KB, "judge"),
    "/api/shows/{show}/approvals/{category}/{contestant}": Row(4 * KB, "judge"),
    "/api/shows/{show}/corrections/{category}/{contestant}": Row(4 * KB, "admin"),
    "/api/shows/{show}/results/{category}/preview": Row(4 * KB, "admin"),
    "/api/shows/{show}/results/{category}/publish": Row(4 * KB, "admin"),
    "/api/shows/{show}/voids": Row(1_000_000, "moderator"),
    "/api/shows/{show}/voids/preview": Row(1_000_000, "moderator"),
    "/api/shows/{show}/definition": Row(
        4 * MB, "admin", b"[[[", content_type="application/toml", show="gala"
    ),
    "/api/shows/{show}/roster": Row(
        5 * MB, "admin", b"PK\x03\x04 no zip", query="?name=r.xlsx", show="gala"
    ),
    "/api/shows/{show}/rules-preview": Row(16 * KB, "admin"),
    "/api/shows/{show}/staff": Row(4 * KB, "admin"),
    "/api/shows/{show}/comments/{id}": Row(10_000, "moderator"),
    "/api/shows/{show}/wordlist": Row(200_000, "admin"),
    "/api/shows/{show}/danmaku": Row(10_000, "admin"),
}


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    """One server for the module (each case signs in anew): a Douyin room, a file's show t,
    and a show ``gala`` set up in the browser."""
    data = tmp_path_factory.mktemp("bounds")
    before = os.environ.get(SECRET_ENV)
    os.environ[SECRET_ENV] = DOUYIN_SECRET
    try:
        settings = make_settings(redis_url, "b" + uuid.uuid4().hex[:12], data, with_ingest(data))
        async with serve(settings) as server:
            await server.rt.setup.registry.quota("grant", "t", "s-bounds", 1)
            await server.rt.setup.create(
                "gala", "盛典", "Gala", "test", "test", 1, ("t", "s-bounds")
            )
            yield server
    finally:
        if before is None:
            os.environ.pop(SECRET_ENV, None)
        else:
            os.environ[SECRET_ENV] = before


def url(path: str, row: Row, comment: str) -> str:
    contestant = "c01" if row.show == "gala" else "p1"
    return path.format(show=row.show, category="cap20", contestant=contestant, id=comment)


async def send(live: LiveServer, path: str, row: Row, body: bytes, comment: str) -> httpx.Response:
    """``body`` to ``path`` as someone who may send it there."""
    headers = {"Content-Type": row.content_type, "Origin": live.url}
    cookies: dict[str, str] = {}
    if row.who == "device":
        cookies["live_device"] = live.cookie()
    elif row.who == "douyin":
        headers |= push_headers(body, "live_comment")
    elif row.who != "public":
        cookie, csrf = await staff_login(live, row.who, show=row.show, organiser=5)
        cookies["live_staff"] = cookie
        headers["X-CSRF-Token"] = csrf
    async with httpx.AsyncClient(base_url=live.url, cookies=cookies, timeout=60) as http:
        return await http.post(url(path, row, comment) + row.query, content=body, headers=headers)


async def a_comment(live: LiveServer) -> str:
    async with live.client(live.cookie()) as phone:
        posted = await phone.post(
            "/api/shows/t/comments", json={"text": "好", "comment_id": "bounds-123"}
        )
    return str(posted.json()["id"])


async def test_the_table_names_every_route_that_takes_a_post(live: LiveServer) -> None:
    posts = {
        r.path
        for r in live.app.routes
        if isinstance(r, Route) and r.methods is not None and "POST" in r.methods
    }
    assert posts == set(TABLE)


def error_of(reply: httpx.Response) -> dict[str, Any]:
    body = reply.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return dict(body["error"])


@pytest.mark.parametrize("path", sorted(TABLE))
async def test_a_body_past_the_routes_bound_is_a_413(live: LiveServer, path: str) -> None:
    row = TABLE[path]
    comment = await a_comment(live)
    if row.limit is None:
        # A route that reads no body: a large one changes nothing and is no error.
        reply = await send(live, path, row, b"x" * MB, comment)
        assert reply.status_code < 400, reply.text
        return
    reply = await send(live, path, row, b"x" * (row.limit + 1), comment)
    assert reply.status_code == 413, (path, reply.status_code, reply.text[:200])
    assert error_of(reply)["code"] == "payload_too_large"


@pytest.mark.parametrize("path", sorted(p for p, r in TABLE.items() if r.limit is not None))
async def test_a_malformed_body_is_a_clear_4xx(live: LiveServer, path: str) -> None:
    row = TABLE[path]
    reply = await send(live, path, row, row.malformed, await a_comment(live))
    assert 400 <= reply.status_code < 500, (path, reply.status_code, reply.text[:200])
    error = error_of(reply)
    assert error["code"] in ("bad_request", "bad_image", "show_invalid", "bad_signature")
