"""Comments over HTTP: phones post; moderators list and decide; admins edit the word lists and
the overlay's danmaku layer.

``POST /api/shows/{show}/comments`` needs the device cookie (and an allowed Origin); every other
route is in :data:`live.domain.access.ROUTES`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from live.domain.errors import BadRequest
from live.redis.sessions import Session
from live.web.http.common import client_ip, device_of, read_body
from live.web.http.staff import actor, staff_route
from live.web.runtime import Runtime, runtime

LIMIT = 500
"""Comments one list answer holds at most."""


async def post_comment(request: Request) -> JSONResponse:
    """``{"text", "comment_id"}`` -> ``{"id", "comment_id", "state", "reason"}``: the state of
    the sender's own comment (``pending``, ``approved``, ``rejected`` with the filter's reason,
    ``dropped`` for the same text again). 403 ``comment_banned``, 429 ``comment_limited``."""
    rt = runtime(request.app)
    show = request.path_params["show"]
    rt.service.show(show)
    device = device_of(request, rt.devices, rt.settings.allowed_origins)
    body = await read_body(request, rt.settings.max_body_bytes)
    posted = await rt.comments.post(show, body, device, ip=client_ip(request))
    return JSONResponse(posted.public())


async def get_comments(request: Request, rt: Runtime, session: Session) -> Response:
    state = request.query_params.get("state", "pending")
    raw = request.query_params.get("limit", "100")
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= LIMIT):
        raise BadRequest(f"limit: a whole number from 1 to {LIMIT}")
    found = await rt.comments.listed(request.path_params["show"], state, int(raw))
    return JSONResponse(found, headers={"Cache-Control": "no-store"})


async def post_decision(request: Request, rt: Runtime, session: Session) -> Response:
    body = await read_body(request, 10_000)
    done = await rt.comments.decide(
        request.path_params["show"], request.path_params["id"], body, actor(session)
    )
    return JSONResponse(done)


async def get_wordlist(request: Request, rt: Runtime, session: Session) -> Response:
    return JSONResponse(await rt.comments.wordlist(request.path_params["show"]))


async def post_wordlist(request: Request, rt: Runtime, session: Session) -> Response:
    body = await read_body(request, 200_000)
    return JSONResponse(await rt.comments.edit_words(request.path_params["show"], body))


async def post_danmaku(request: Request, rt: Runtime, session: Session) -> Response:
    body = await read_body(request, 10_000)
    done = await rt.comments.set_danmaku(request.path_params["show"], body, actor(session))
    return JSONResponse(done)


routes = [
    Route("/api/shows/{show}/comments", post_comment, methods=["POST"]),
    staff_route("GET", "/api/shows/{show}/comments", get_comments),
    staff_route("POST", "/api/shows/{show}/comments/{id}", post_decision),
    staff_route("GET", "/api/shows/{show}/wordlist", get_wordlist),
    staff_route("POST", "/api/shows/{show}/wordlist", post_wordlist),
    staff_route("POST", "/api/shows/{show}/danmaku", post_danmaku),
]
