"""Judging and results over HTTP: sheets, approvals, corrections, provisional, preview, publish
(staff, from :data:`live.domain.access.ROUTES`), and the published results (public)."""

from __future__ import annotations

import csv
import io
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from live.domain.errors import BadRequest, NotPublished
from live.domain.state import SheetRef
from live.redis.sessions import Session
from live.web.http.common import read_body
from live.web.http.staff import actor, staff_route
from live.web.runtime import Runtime, runtime
from live.web.schemas import ApprovalIn, CorrectionIn, PreviewIn, PublishIn, SheetIn, parse_model


async def get_sheets(request: Request, rt: Runtime, session: Session) -> Response:
    p = request.path_params
    judge = None if session.role == "admin" else session.staff
    return JSONResponse(await rt.judging.sheets(p["show"], p["category"], judge))


def _ref(request: Request, judge: str) -> SheetRef:
    p = request.path_params
    return SheetRef(p["show"], p["category"], p["contestant"], judge)


async def post_sheet(request: Request, rt: Runtime, session: Session) -> Response:
    body = parse_model(SheetIn, await read_body(request, rt.settings.max_body_bytes))
    ref = _ref(request, session.staff)
    marks = dict(body.marks)
    return JSONResponse(await rt.judging.change(ref, body.op, marks, body.save_id, body.base))


async def post_approval(request: Request, rt: Runtime, session: Session) -> Response:
    body = parse_model(ApprovalIn, await read_body(request, rt.settings.max_body_bytes))
    await rt.judging.approve(_ref(request, session.staff), body.approve)
    return JSONResponse({"status": "saved", "approve": body.approve})


async def post_correction(request: Request, rt: Runtime, session: Session) -> Response:
    body = parse_model(CorrectionIn, await read_body(request, rt.settings.max_body_bytes))
    ref = _ref(request, body.judge)
    return JSONResponse(
        await rt.judging.correct(ref, dict(body.marks), body.reason, actor(session))
    )


async def get_results(request: Request, rt: Runtime, session: Session) -> Response:
    p = request.path_params
    _, result = await rt.judging.result(p["show"], p["category"])
    return JSONResponse({"provisional": True, **result.to_json()})


async def post_preview(request: Request, rt: Runtime, session: Session) -> Response:
    body = parse_model(PreviewIn, await read_body(request, rt.settings.max_body_bytes))
    p = request.path_params
    show = await rt.service.current(p["show"])
    rules = rt.judging.what_if(show, p["category"], body.model_dump(exclude_none=True))
    _, result = await rt.judging.result(p["show"], p["category"], rules)
    return JSONResponse({"provisional": True, "preview": True, **result.to_json()})


async def post_publish(request: Request, rt: Runtime, session: Session) -> Response:
    body = parse_model(PublishIn, await read_body(request, rt.settings.max_body_bytes))
    p = request.path_params
    return JSONResponse(
        await rt.judging.publish(p["show"], p["category"], actor(session), body.note)
    )


def _version(request: Request) -> int | None:
    raw = request.query_params.get("version")
    if raw is None:
        return None
    # isascii too: str.isdigit() is also true of "²" and "١", which int() rejects or reads.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise BadRequest("version: a positive whole number")
    return int(raw)


def _csv(record: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["place", "entry", "name", "expert", "audience", "total", "award", "decided_by"])
    for row in record["result"]["rows"]:
        name = record["names"].get(row["contestant"], {}).get("name", "")
        w.writerow(
            [
                row["place"],
                row["contestant"],
                name,
                row["expert"],
                row["audience"],
                row["total"],
                row["award"] or "",
                row["decided_by"],
            ]
        )
    return buf.getvalue()


async def get_published(request: Request) -> Response:
    """A published result (latest, or ``?version=n``) as JSON or ``?format=csv``. Public."""
    rt = runtime(request.app)
    p = request.path_params
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("format: json or csv")
    record = await rt.judging.published(p["show"], p["category"], _version(request))
    if fmt == "csv":
        name = f"{p['show']}-{p['category']}-v{record['version']}.csv"
        return Response(
            _csv(record),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return JSONResponse(record)


async def results_page(request: Request) -> Response:
    rt = runtime(request.app)
    p = request.path_params
    show = await rt.service.current(p["show"])
    cat = show.category(p["category"])
    try:
        record: dict[str, Any] | None = await rt.judging.published(
            show.id, cat.id, _version(request)
        )
    except NotPublished:
        record = None
    lang = "en" if request.query_params.get("lang") == "en" else "zh-CN"
    response = rt.templates.TemplateResponse(
        request,
        "results.html",
        {"show": show, "category": cat, "record": record, "lang": lang},
        status_code=200 if record else 404,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


routes = [
    staff_route("GET", "/api/shows/{show}/sheets/{category}", get_sheets),
    staff_route("POST", "/api/shows/{show}/sheets/{category}/{contestant}", post_sheet),
    staff_route("POST", "/api/shows/{show}/approvals/{category}/{contestant}", post_approval),
    staff_route("POST", "/api/shows/{show}/corrections/{category}/{contestant}", post_correction),
    staff_route("GET", "/api/shows/{show}/results/{category}", get_results),
    staff_route("POST", "/api/shows/{show}/results/{category}/preview", post_preview),
    staff_route("POST", "/api/shows/{show}/results/{category}/publish", post_publish),
    Route("/api/shows/{show}/published/{category}", get_published, methods=["GET"]),
    Route("/results/{show}/{category}", results_page, methods=["GET"]),
]
