"""The setup page and its API: create a show, edit it whole, import a contestant sheet or a
show file, preview a category's rules, invite staff. Every route is an admin's (the access
table), every POST needs the CSRF token and a same-site Origin (:func:`staff_route`)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live.domain.errors import BadRequest
from live.redis.sessions import Session
from live.web.http.common import read_body
from live.web.http.staff import actor, staff_route
from live.web.runtime import Runtime
from live.web.schemas import DefinitionIn, RulesPreviewIn, ShowIn, StaffIn, parse_model

MAX_DEFINITION_BYTES = 4 * 1024 * 1024
"""A whole show (1,000 contestants with their stories) as JSON or TOML."""
MAX_SHEET_BYTES = 5 * 1024 * 1024
"""A contestant sheet uploaded in the browser (a 1,000-row XLSX is ~100 KB)."""
TOML_TYPES = ("application/toml", "text/plain")


def login_path(show: str, token: str, next_page: str = "") -> str:
    query = {"show": show, "token": token} | ({"next": next_page} if next_page else {})
    return f"/staff/login?{urlencode(query)}"


async def setup_page(request: Request, rt: Runtime, session: Session) -> Response:
    show = rt.service.show(request.path_params["show"])
    state = await rt.service.state(show.id, "staff")
    response = rt.templates.TemplateResponse(
        request, "setup.html", {"show": show, "state": state, "session": session, "lang": "zh-CN"}
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def create_show(request: Request, rt: Runtime, session: Session) -> Response:
    """A new show; answers its id and a one-time login link making the creator its admin. The
    session's staff member must be an organiser (the operator's grant) with quota left."""
    body = parse_model(ShowIn, await read_body(request, rt.settings.max_body_bytes))
    token = await rt.setup.create(
        body.id,
        body.title,
        body.title_en,
        actor(session),
        session.name,
        body.partitions,
        organiser=(session.show, session.staff),
    )
    return JSONResponse(
        {"status": "created", "show": body.id, "login": login_path(body.id, token, "setup")},
        status_code=201,
    )


async def get_definition(request: Request, rt: Runtime, session: Session) -> Response:
    show = request.path_params["show"]
    form = request.query_params.get("format", "json")
    if form not in ("json", "toml"):
        raise BadRequest("format: json or toml")
    out = await rt.setup.read(show)
    if form == "toml":
        return Response(
            out["toml"],
            media_type="application/toml; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{show}.toml"',
                "Cache-Control": "no-store",
            },
        )
    return JSONResponse(out, headers={"Cache-Control": "no-store"})


async def post_definition(request: Request, rt: Runtime, session: Session) -> Response:
    """JSON ``{"rev", "show"}``, or a show file (``Content-Type: application/toml``, the
    revision in ``?rev=``)."""
    show = request.path_params["show"]
    raw = await read_body(request, MAX_DEFINITION_BYTES)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in TOML_TYPES:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("a show file must be UTF-8") from None
        rev = request.query_params.get("rev", "")
        out = await rt.setup.redefine(show, text, rev, actor(session))
    else:
        body = parse_model(DefinitionIn, raw)
        out = await rt.setup.redefine(show, body.show, body.rev, actor(session))
    return JSONResponse(out)


async def post_roster(request: Request, rt: Runtime, session: Session) -> Response:
    """The body is the sheet (CSV or XLSX; ``?name=`` is its file name, whose suffix says
    which); ``?rev=`` the revision it replaces."""
    data = await read_body(request, MAX_SHEET_BYTES)
    q = request.query_params
    out = await rt.setup.import_roster(
        request.path_params["show"], data, q.get("name", ""), q.get("rev", ""), actor(session)
    )
    return JSONResponse(out)


async def rules_preview(request: Request, rt: Runtime, session: Session) -> Response:
    body = parse_model(RulesPreviewIn, await read_body(request, rt.settings.max_body_bytes * 4))
    return JSONResponse(rt.setup.preview(request.path_params["show"], body.category))


async def get_staff(request: Request, rt: Runtime, session: Session) -> Response:
    members = await rt.sessions.members(request.path_params["show"])
    listed = [{"id": m.id, "name": m.name, "role": m.role, "active": m.active} for m in members]
    return JSONResponse({"staff": listed})


async def post_staff(request: Request, rt: Runtime, session: Session) -> Response:
    """Invite (answers the one-time login link, shown once), change a role, or revoke."""
    body = parse_model(StaffIn, await read_body(request, rt.settings.max_body_bytes))
    show = request.path_params["show"]
    if body.op == "invite":
        member, token = await rt.sessions.invite(show, body.role, body.name.strip())
        base = rt.settings.public_url or str(request.base_url).rstrip("/")
        return JSONResponse(
            {"status": "invited", "staff": member.id, "login": base + login_path(show, token)},
            status_code=201,
        )
    if body.staff == session.staff:
        raise BadRequest("you cannot change or revoke yourself")
    if body.op == "role":
        member = await rt.sessions.set_role(show, body.staff, body.role)
    else:
        member = await rt.sessions.revoke(show, body.staff)
    return JSONResponse(
        {"status": "ok", "staff": member.id, "role": member.role, "active": member.active}
    )


routes = [
    staff_route("GET", "/admin/{show}/setup", setup_page),
    staff_route("POST", "/api/shows", create_show),
    staff_route("GET", "/api/shows/{show}/definition", get_definition),
    staff_route("POST", "/api/shows/{show}/definition", post_definition),
    staff_route("POST", "/api/shows/{show}/roster", post_roster),
    staff_route("POST", "/api/shows/{show}/rules-preview", rules_preview),
    staff_route("GET", "/api/shows/{show}/staff", get_staff),
    staff_route("POST", "/api/shows/{show}/staff", post_staff),
]
