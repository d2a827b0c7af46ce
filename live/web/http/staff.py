"""Staff pages and commands. Every route here is built from :data:`live.domain.access.ROUTES`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from live.domain.access import ROUTES, allowed, same_secret
from live.domain.errors import BadRequest, CsrfFailed, Forbidden, ForbiddenOrigin, NotSignedIn
from live.domain.origin import origin_allowed
from live.domain.show import ContestantEdit, RulesEdit, RunningOrder
from live.domain.stage import Action
from live.redis.sessions import Session
from live.web import photos
from live.web.http.common import read_body
from live.web.runtime import Runtime, runtime
from live.web.schemas import DisplayIn, StageIn, parse_model

STAFF_COOKIE = "live_staff"
ROLE_HOME = {
    "admin": "/admin/{show}",
    "judge": "/judge/{show}",
    "moderator": "/moderate/{show}",
    "streamer": "/overlay/{show}",
}
Endpoint = Callable[[Request, Runtime, Session], Awaitable[Response]]


def cookie_parts(request: Request) -> tuple[str, str] | None:
    raw = request.cookies.get(STAFF_COOKIE, "")
    show, _, sid = raw.partition(".")
    return (show, sid) if show and sid else None


async def session_of(request: Request, rt: Runtime, show: str) -> Session | None:
    parts = cookie_parts(request)
    if parts is None or parts[0] != show:
        return None
    return await rt.sessions.session(show, parts[1])


def staff_route(method: str, path: str, endpoint: Endpoint) -> Route:
    """A route guarded by its entry in the access table (and CSRF + Origin on POST)."""
    if (method, path) not in ROUTES:
        raise KeyError(f"{method} {path} is not in live.access.ROUTES")

    async def guarded(request: Request) -> Response:
        rt = runtime(request.app)
        show = request.path_params.get("show")
        if show is None:
            parts = cookie_parts(request)
            show = parts[0] if parts else ""
        if show:
            rt.service.show(show)
        session = await session_of(request, rt, show) if show else None
        if session is None:
            raise NotSignedIn("sign in with your staff link first")
        request.state.who = actor(session)
        if not allowed(method, path, session.role):
            raise Forbidden(f"a {session.role} may not do this")
        if method == "POST":
            origin = request.headers.get("origin")
            if not origin_allowed(origin, request.headers.get("host"), rt.settings.allowed_origins):
                raise ForbiddenOrigin("requests from another site are not accepted")
            if not same_secret(request.headers.get("x-csrf-token"), session.csrf):
                raise CsrfFailed("missing or wrong CSRF token")
        return await endpoint(request, rt, session)

    return Route(path, guarded, methods=[method])


def actor(session: Session) -> str:
    return f"{session.role}:{session.staff}"


async def _console(request: Request, rt: Runtime, session: Session, page: str) -> Response:
    show = rt.service.show(request.path_params["show"])
    state = await rt.service.state(show.id, "staff")
    response = rt.templates.TemplateResponse(
        request,
        page,
        {"show": show, "state": state, "session": session, "lang": "zh-CN"},
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def admin_page(request: Request, rt: Runtime, session: Session) -> Response:
    return await _console(request, rt, session, "admin.html")


async def judge_page(request: Request, rt: Runtime, session: Session) -> Response:
    return await _console(request, rt, session, "judge.html")


async def moderate_page(request: Request, rt: Runtime, session: Session) -> Response:
    return await _console(request, rt, session, "moderate.html")


async def staff_state(request: Request, rt: Runtime, session: Session) -> Response:
    return JSONResponse(await rt.service.state(request.path_params["show"], "staff"))


async def post_stage(request: Request, rt: Runtime, session: Session) -> Response:
    body = parse_model(StageIn, await read_body(request, rt.settings.max_body_bytes))
    action = Action(body.action, body.contestant, body.category, body.for_contestant, body.seconds)
    stage = await rt.service.stage_action(request.path_params["show"], action, actor(session))
    return JSONResponse({"status": "ok", "stage": stage.to_redis()})


async def post_display(request: Request, rt: Runtime, session: Session) -> Response:
    body = parse_model(DisplayIn, await read_body(request, rt.settings.max_body_bytes))
    show, who, svc = request.path_params["show"], actor(session), rt.service
    if body.op in ("reveal", "hide"):
        version = await svc.reveal(show, body.category, body.op == "reveal", who)
    elif body.op == "overlay_category":
        version = await svc.set_overlay_category(show, body.category, who)
    elif body.op == "overlay_top":
        version = await svc.set_overlay_top(show, body.n, who)
    else:
        version = await svc.freeze(show, body.op == "freeze", who)
    return JSONResponse({"status": "ok", "version": version})


async def post_rules(request: Request, rt: Runtime, session: Session) -> Response:
    body = parse_model(RulesEdit, await read_body(request, rt.settings.max_body_bytes))
    p = request.path_params
    version = await rt.service.edit_rules(p["show"], p["category"], body, actor(session))
    return JSONResponse({"status": "ok", "version": version})


async def post_contestant(request: Request, rt: Runtime, session: Session) -> Response:
    body = parse_model(ContestantEdit, await read_body(request, rt.settings.max_body_bytes))
    p = request.path_params
    version = await rt.service.edit_contestant(p["show"], p["contestant"], body, actor(session))
    return JSONResponse({"status": "ok", "version": version})


async def post_photo(request: Request, rt: Runtime, session: Session) -> Response:
    """The body is the image itself (JPEG, PNG or WebP, at most 8 MB): checked and re-encoded
    (:mod:`live.web.photos`) off the event loop, then kept."""
    data = await read_body(request, photos.MAX_BYTES)
    webp, rev = await photos.reencode_one(data, rt.decoding)
    p = request.path_params
    version = await rt.service.set_photo(p["show"], p["contestant"], webp, rev, actor(session))
    url = f"/s/{p['show']}/c/{p['contestant']}/photo.webp?v={rev}"
    return JSONResponse({"status": "ok", "version": version, "photo": url, "bytes": len(webp)})


async def post_running_order(request: Request, rt: Runtime, session: Session) -> Response:
    body = parse_model(RunningOrder, await read_body(request, rt.settings.max_body_bytes * 4))
    show = request.path_params["show"]
    version = await rt.service.set_running_order(show, body.order, actor(session))
    return JSONResponse({"status": "ok", "version": version})


async def get_activity(request: Request, rt: Runtime, session: Session) -> Response:
    """Votes per minute per category and like taps per minute since voting first opened."""
    out = await rt.activity.read(request.path_params["show"])
    return JSONResponse(out, headers={"Cache-Control": "no-store"})


def overlay_url(request: Request, show: str, key: str) -> str:
    return str(request.base_url).rstrip("/") + f"/overlay/{show}?" + urlencode({"key": key})


async def get_overlay_key(request: Request, rt: Runtime, session: Session) -> Response:
    show = request.path_params["show"]
    key = await rt.sessions.overlay_key(show)
    return JSONResponse({"key": key, "url": overlay_url(request, show, key)})


async def rotate_overlay_key(request: Request, rt: Runtime, session: Session) -> Response:
    show = request.path_params["show"]
    key = await rt.sessions.overlay_key(show, rotate=True)
    return JSONResponse({"key": key, "url": overlay_url(request, show, key)})


async def logout(request: Request, rt: Runtime, session: Session) -> Response:
    parts = cookie_parts(request)
    if parts:
        await rt.sessions.logout(parts[0], parts[1])
    response = JSONResponse({"status": "signed_out"})
    response.delete_cookie(STAFF_COOKIE, path="/")
    return response


async def login_page(request: Request) -> Response:
    rt = runtime(request.app)
    show = request.query_params.get("show", "")
    token = request.query_params.get("token", "")
    rt.service.show(show)
    if not token or len(token) > 100:
        raise BadRequest("token: the login link is incomplete")
    # A page with a button rather than a login on GET: link previews must not use the link up.
    next_page = "setup" if request.query_params.get("next") == "setup" else ""
    return rt.templates.TemplateResponse(
        request,
        "login.html",
        {"show_id": show, "token": token, "next": next_page, "lang": "zh-CN"},
    )


LOGIN_MAX_BYTES = 1024
"""The login form (a show id, a 43-character token and a page name) is far below this. Read
with this bound before parsing: Starlette's form parser keeps a urlencoded body whole."""


def login_form(raw: bytes) -> dict[str, str]:
    """The fields of the login form (``application/x-www-form-urlencoded``, at most 4)."""
    try:
        pairs = parse_qsl(raw.decode("utf-8"), max_num_fields=4, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the login form is not a form of at most 4 fields") from None
    return dict(pairs)


async def login(request: Request) -> Response:
    rt = runtime(request.app)
    if not origin_allowed(
        request.headers.get("origin"), request.headers.get("host"), rt.settings.allowed_origins
    ):
        raise ForbiddenOrigin("requests from another site are not accepted")
    form = login_form(await read_body(request, LOGIN_MAX_BYTES))
    show, token = form.get("show", ""), form.get("token", "")
    # Only a named page of this server: never a URL taken from the form (no open redirect).
    to_setup = form.get("next") == "setup"
    rt.service.show(show)
    old = cookie_parts(request)
    session, sid = await rt.sessions.login(show, token, old[1] if old and old[0] == show else None)
    home = ROLE_HOME[session.role].format(show=show)
    if to_setup and session.role == "admin":
        home += "/setup"
    response = RedirectResponse(home, status_code=303)
    response.set_cookie(
        STAFF_COOKIE,
        f"{show}.{sid}",
        max_age=12 * 3600,
        httponly=True,
        samesite="strict",
        secure=rt.settings.cookie_secure or request.url.scheme == "https",
        path="/",
    )
    return response


routes = [
    staff_route("GET", "/admin/{show}", admin_page),
    staff_route("GET", "/judge/{show}", judge_page),
    staff_route("GET", "/moderate/{show}", moderate_page),
    staff_route("GET", "/api/shows/{show}/staff-state", staff_state),
    staff_route("POST", "/api/shows/{show}/stage", post_stage),
    staff_route("POST", "/api/shows/{show}/display", post_display),
    staff_route("POST", "/api/shows/{show}/categories/{category}/rules", post_rules),
    staff_route("POST", "/api/shows/{show}/contestants/{contestant}", post_contestant),
    staff_route("POST", "/api/shows/{show}/running-order", post_running_order),
    staff_route("POST", "/api/shows/{show}/contestants/{contestant}/photo", post_photo),
    staff_route("GET", "/api/shows/{show}/overlay-key", get_overlay_key),
    staff_route("GET", "/api/shows/{show}/activity", get_activity),
    staff_route("POST", "/api/shows/{show}/overlay-key", rotate_overlay_key),
    staff_route("POST", "/staff/logout", logout),
    Route("/staff/login", login_page, methods=["GET"]),
    Route("/staff/login", login, methods=["POST"]),
]
