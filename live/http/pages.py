"""Pages: the show index and the viewer page. The first state is rendered into the page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from live.errors import DeviceRequired
from live.identity import COOKIE, MAX_AGE
from live.runtime import runtime


async def index(request: Request) -> Response:
    rt = runtime(request.app)
    shows = sorted(rt.service.shows.values(), key=lambda s: s.id)
    return rt.templates.TemplateResponse(request, "index.html", {"shows": shows})


async def viewer(request: Request) -> Response:
    rt = runtime(request.app)
    show = rt.service.show(request.path_params["show"])
    lang = "en" if request.query_params.get("lang") == "en" else "zh-CN"
    state = await rt.service.state(show.id)
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


routes = [
    Route("/", index, methods=["GET"]),
    Route("/s/{show}", viewer, methods=["GET"]),
]
