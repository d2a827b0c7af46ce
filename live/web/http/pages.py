"""Pages: the show index and the viewer page. The first state is rendered into the page."""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from live.domain.access import SOCKETS, same_secret
from live.domain.errors import DeviceRequired, Forbidden, NotFound
from live.web.http.staff import session_of
from live.web.identity import COOKIE, MAX_AGE
from live.web.runtime import Runtime, runtime
from live.web.share import poster_png, qr_svg


def _top(raw: str) -> int:
    """The overlay's board size from ``&top=N`` (1 to 40); 0: what the admin set."""
    return min(40, max(1, int(raw))) if raw.isdigit() else 0


async def index(request: Request) -> Response:
    """The shows on this server, each with its state and a QR code of its page."""
    rt = runtime(request.app)
    base = public_base(request, rt)
    shows = []
    for show in sorted(rt.service.shows.values(), key=lambda s: s.id):
        state = json.loads(await rt.hub.current(show.id))
        url = f"{base}/s/{show.id}"
        shows.append(
            {
                "show": show,
                "phase": state["stage"]["phase"],
                "open": [c for c in state["categories"] if c["open"]],
                "url": url,
                "qr": qr_svg(url, 4, "QR"),
            }
        )
    return rt.templates.TemplateResponse(request, "index.html", {"shows": shows})


def public_base(request: Request, rt: Runtime) -> str:
    """The address phones use: ``LIVE_PUBLIC_URL``, else the one this request came to."""
    return rt.settings.public_url or str(request.base_url).rstrip("/")


async def viewer(request: Request) -> Response:
    rt = runtime(request.app)
    show = rt.service.show(request.path_params["show"])
    lang = "en" if request.query_params.get("lang") == "en" else "zh-CN"
    state = json.loads(await rt.hub.current(show.id))
    url = f"{public_base(request, rt)}/s/{show.id}"
    response = rt.templates.TemplateResponse(
        request, "viewer.html", {"show": show, "state": state, "lang": lang, "page_url": url}
    )
    return _with_device(request, rt, response)


def _with_device(request: Request, rt: Runtime, response: Response) -> Response:
    """A phone without a device cookie gets one (it votes with it)."""
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


async def contestant_page(request: Request) -> Response:
    """One contestant: photo, number, story, a vote button per open category, share."""
    rt = runtime(request.app)
    show = await rt.service.current(request.path_params["show"])
    person = show.contestant(request.path_params["contestant"])
    lang = "en" if request.query_params.get("lang") == "en" else "zh-CN"
    state = json.loads(await rt.hub.current(show.id))
    base = public_base(request, rt)
    page = f"{base}/s/{show.id}/c/{person.id}"
    response = rt.templates.TemplateResponse(
        request,
        "contestant.html",
        {
            "show": show,
            "c": person,
            "state": state,
            "lang": lang,
            "page_url": page,
            "poster_url": f"{page}/poster.png",
        },
    )
    return _with_device(request, rt, response)


async def poster(request: Request) -> Response:
    """``GET /s/{show}/c/{contestant}/poster.png``: a share poster with a QR code of the
    contestant's page (drawn once per contestant as shown and address, then kept)."""
    rt = runtime(request.app)
    show = await rt.service.current(request.path_params["show"])
    person = show.contestant(request.path_params["contestant"])
    url = f"{public_base(request, rt)}/s/{show.id}/c/{person.id}"
    picture = await rt.store.photo(show.id, person.id, person.photo) if person.photo else None
    png = await asyncio.to_thread(poster_png, show, person, url, picture)
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=300"})


async def photo(request: Request) -> Response:
    """``GET /s/{show}/c/{contestant}/photo.webp?v=rev``: a kept photo revision (immutable:
    a new photo has a new revision); without ``v``, the current one."""
    rt = runtime(request.app)
    show = await rt.service.current(request.path_params["show"])
    person = show.contestant(request.path_params["contestant"])
    rev = request.query_params.get("v") or person.photo or ""
    data = await rt.store.photo(show.id, person.id, rev) if rev.isalnum() else None
    if data is None:
        raise NotFound(f"no photo of {person.id!r}")
    cache = "public, max-age=31536000, immutable" if request.query_params.get("v") else "no-cache"
    return Response(data, media_type="image/webp", headers={"Cache-Control": cache, "ETag": rev})


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
    viewer_url = f"{public_base(request, rt)}/s/{show.id}"
    context = {
        "show": show,
        "state": state,
        "key": key,
        "lang": lang,
        "qr": qr_svg(viewer_url, 5, "QR") if request.query_params.get("qr", "1") != "0" else "",
        "viewer_url": viewer_url,
        "top": _top(request.query_params.get("top", "")),
        # Award names in English per category, for the results scene (rows carry the name).
        "awards": {
            cat.id: {a.name: a.name_en for a in cat.rules.awards} for cat in show.categories
        },
    }
    response = rt.templates.TemplateResponse(request, "overlay.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


routes = [
    Route("/", index, methods=["GET"]),
    Route("/s/{show}", viewer, methods=["GET"]),
    Route("/s/{show}/c/{contestant}", contestant_page, methods=["GET"]),
    Route("/s/{show}/c/{contestant}/poster.png", poster, methods=["GET"]),
    Route("/s/{show}/c/{contestant}/photo.webp", photo, methods=["GET"]),
    Route("/overlay/{show}", overlay, methods=["GET"]),
]
