"""Pages: the show index and the viewer page. The first state is rendered into the page."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from live.domain.access import SOCKETS, same_secret
from live.domain.errors import DeviceRequired, Forbidden
from live.web.http.staff import session_of
from live.web.identity import COOKIE, MAX_AGE
from live.web.runtime import runtime


async def index(request: Request) -> Response:
    rt = runtime(request.app)
    shows = sorted(rt.service.shows.values(), key=lambda s: s.id)
    return rt.templates.TemplateResponse(request, "index.html", {"shows": shows})


async def viewer(request: Request) -> Response:
    rt = runtime(request.app)
    show = rt.service.show(request.path_params["show"])
    lang = "en" if request.query_params.get("lang") == "en" else "zh-CN"
    state = json.loads(await rt.hub.current(show.id))
    response = rt.templates.TemplateResponse(
        request, "viewer.html", {"show": show, "state": state, "lang": lang}
    )
    try:
        rt.devices.verify(request.cookies.get(COOKIE))
    except DeviceRequired:
        _, cookie = rt.devices.issue()
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=rt.settings.cookie_secure,
            path="/",
        )
    response.headers["Cache-Control"] = "no-store"
    return response


async def overlay(request: Request) -> Response:
    """The OBS overlay: the show's overlay key in the URL, or an admin/streamer session."""
    rt = runtime(request.app)
    show = rt.service.show(request.path_params["show"])
    key = request.query_params.get("key", "")
    if key:
        if not same_secret(key, await rt.sessions.overlay_key(show.id)):
            raise Forbidden("wrong overlay key")
    else:
        session = await session_of(request, rt, show.id)
        if session is None or session.role not in SOCKETS["/ws/overlay/{show}"]:
            raise Forbidden("an overlay key or a streamer session is required")
    lang = "en" if request.query_params.get("lang") == "en" else "zh-CN"
    state = json.loads(await rt.hub.current(show.id, "overlay"))
    response = rt.templates.TemplateResponse(
        request, "overlay.html", {"show": show, "state": state, "key": key, "lang": lang}
    )
    response.headers["Cache-Control"] = "no-store"
    return response


routes = [
    Route("/", index, methods=["GET"]),
    Route("/s/{show}", viewer, methods=["GET"]),
    Route("/overlay/{show}", overlay, methods=["GET"]),
]
