"""Moderation over HTTP: the flag queue, void/restore (with a preview), the moderation log.

Every route is in :data:`live.domain.access.ROUTES` (admins and the show's moderators); a session
belongs to one show, so a moderator of one show cannot act on another.
"""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live.redis.sessions import Session
from live.web.http.common import read_body
from live.web.http.staff import actor, staff_route
from live.web.runtime import Runtime
from live.web.schemas import ModerationIn, parse_model

MAX_BODY = 1_000_000
"""A cluster action may name up to 10,000 vote ids (about 0.7 MB of JSON)."""


async def get_flags(request: Request, rt: Runtime, session: Session) -> Response:
    return JSONResponse({"clusters": await rt.moderation.flags(request.path_params["show"])})


async def post_preview(request: Request, rt: Runtime, session: Session) -> Response:
    body = parse_model(ModerationIn, await read_body(request, MAX_BODY))
    return JSONResponse(await rt.moderation.preview(request.path_params["show"], body))


async def post_voids(request: Request, rt: Runtime, session: Session) -> Response:
    body = parse_model(ModerationIn, await read_body(request, MAX_BODY))
    done = await rt.moderation.apply(request.path_params["show"], body, actor(session))
    return JSONResponse({"op": body.op, "by": actor(session), **asdict(done)})


async def get_log(request: Request, rt: Runtime, session: Session) -> Response:
    return JSONResponse({"actions": await rt.moderation.log(request.path_params["show"])})


routes = [
    staff_route("GET", "/api/shows/{show}/flags", get_flags),
    staff_route("POST", "/api/shows/{show}/voids/preview", post_preview),
    staff_route("POST", "/api/shows/{show}/voids", post_voids),
    staff_route("GET", "/api/shows/{show}/moderation-log", get_log),
]
